// In-place ops. Each computes its value with the out-of-place op (so the
// backward is shared) and writes it into self with assign_inplace; fills write
// directly. On a view of a tensor that requires grad, the base's history is
// rebased onto CopySlices (autograd/copy_slices.h).
#include "core/ops/inplace.h"

#include "autograd/copy_slices.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "core/dispatch.h"
#include "core/kernels/loops.h"
#include "core/ops.h"

namespace shanshui {

void check_inplace_allowed(const Tensor& self, const char* op, bool value_requires_grad) {
  if (!autograd::GradMode::is_enabled()) return;
  if (const TensorImpl* base = self.impl()->view_base.get()) {
    const bool base_requires_grad = base->requires_grad || base->grad_fn != nullptr;
    SS_CHECK(!self.impl()->view_made_without_grad || !(base_requires_grad || value_requires_grad), RuntimeError,
             op, ": a view (shape ", self.shape(), ") was created in no_grad mode and is being modified inplace "
             "with grad mode enabled. Given that this use case is ambiguous and error-prone, it is forbidden. "
             "Move both the view and the inplace either inside the no_grad block or outside of it.");
    SS_CHECK(base->grad_fn != nullptr || !base->requires_grad, RuntimeError, op, ": a view (shape ",
             self.shape(), ") of a leaf Variable that requires grad (shape ", base->shape,
             ") is being used in an in-place operation; wrap it in no_grad() or use an out-of-place op");
  }
  if (!self.requires_grad()) return;
  SS_CHECK(!self.is_leaf(), RuntimeError, op, ": a leaf Variable that requires grad (shape ", self.shape(),
           ") is being used in an in-place operation; wrap it in no_grad() or use an out-of-place op");
}

void check_no_internal_overlap(const Tensor& self, const char* op) {
  // As PyTorch: only the overlap broadcasting makes (stride 0) is detected.
  for (int64_t k = 0; k < self.dim(); ++k)
    SS_CHECK(self.strides()[size_t(k)] != 0 || self.shape()[size_t(k)] <= 1, RuntimeError, op,
             ": unsupported operation: more than one element of the written-to tensor (shape ", self.shape(),
             ", strides ", self.strides(), ") refers to a single memory location; clone() it first");
}

namespace {
// self (which requires grad) was overwritten by a value without a gradient: it
// keeps requiring grad, through a node that sends nothing back (PyTorch's
// FillBackward / CopyBackwards), so code downstream still sees a graph.
void rebase_without_grad(Tensor& self, const char* name) {
  autograd::record(name, {self}, self, [](const Tensor&) { return autograd::tensor_list{Tensor()}; });
}

// The out-of-place op of an in-place one may save `self` for backward, and self
// is about to be overwritten: give it a copy when a graph is being recorded.
Tensor self_for_backward(const Tensor& self, const Tensor& other) {
  return autograd::needs_grad(self, other) ? self.clone() : self;
}
}  // namespace

namespace detail {

Tensor& assign_inplace(Tensor& self, const Tensor& result, const char* op, bool cast) {
  const bool grad_mode = autograd::GradMode::is_enabled();
  const bool differentiable = grad_mode && result.requires_grad();
  check_inplace_allowed(self, op, differentiable);
  check_no_internal_overlap(self, op);
  SS_CHECK(result.shape() == self.shape(), ValueError, op, ": output with shape ", self.shape(),
           " doesn't match the broadcast shape ", result.shape());
  if (cast)
    SS_CHECK(promote_types(result.dtype(), self.dtype()) == self.dtype(), TypeError, op, ": result type ",
             dtype_name(result.dtype()), " can't be cast to the desired output type ", dtype_name(self.dtype()));
  const bool through_base = autograd::inplace_rebases_base(self, differentiable);
  // The value's history is taken before the write: the write bumps the version
  // shared by every view of this storage.
  Tensor r = differentiable && result.dtype() != self.dtype() ? result.to(self.dtype()) : result;
  autograd::Edge value_edge = differentiable ? autograd::gradient_edge(r) : autograd::Edge{};
  kernels::copy_strided(self, result);
  self.impl()->storage->bump_version();
  if (through_base) {
    autograd::rebase_view_history(self, value_edge);
  } else if (differentiable) {
    autograd::move_retains_grad(*self.impl(), self.impl()->grad_fn, self.impl()->output_nr, value_edge.fn,
                                value_edge.input_nr);
    self.impl()->grad_fn = value_edge.fn;
    self.impl()->output_nr = value_edge.input_nr;
  } else if (grad_mode && self.grad_fn()) {
    rebase_without_grad(self, "CopyBackwards");
  }
  return self;
}

}  // namespace detail

Tensor& Tensor::add_(const Tensor& o, Scalar alpha) {
  return detail::assign_inplace(*this, shanshui::add(*this, o, alpha), "add_");
}
Tensor& Tensor::sub_(const Tensor& o, Scalar alpha) {
  return detail::assign_inplace(*this, shanshui::sub(*this, o, alpha), "sub_");
}
Tensor& Tensor::mul_(const Tensor& o) {
  return detail::assign_inplace(*this, shanshui::mul(self_for_backward(*this, o), o), "mul_");
}
Tensor& Tensor::div_(const Tensor& o) {
  return detail::assign_inplace(*this, shanshui::div(*this, o), "div_");  // div does not save its first input
}
Tensor& Tensor::add_(Scalar s) { return detail::assign_inplace(*this, shanshui::add(*this, s), "add_"); }
Tensor& Tensor::mul_(Scalar s) { return detail::assign_inplace(*this, shanshui::mul(*this, s), "mul_"); }
Tensor& Tensor::masked_fill_(const Tensor& m, Scalar v) {
  return detail::assign_inplace(*this, shanshui::masked_fill(*this, m, v), "masked_fill_");
}
Tensor& Tensor::clamp_(std::optional<double> lo, std::optional<double> hi) {
  return detail::assign_inplace(*this, shanshui::clamp(self_for_backward(*this, Tensor()), lo, hi), "clamp_");
}

Tensor& Tensor::fill_(Scalar v) {
  check_inplace_allowed(*this, "fill_");
  SS_DISPATCH_ALL(dtype(), "fill_", [&](auto tag) {
    using T = decltype(tag);
    T value = static_cast<T>(v.v);
    T* d = static_cast<T*>(raw_data());
    kernels::for_each_run<1>(shape(), {strides()}, 1,
                             [&](const std::array<int64_t, 1>& off, int64_t n, const std::array<int64_t, 1>& st) {
                               T* p = d + off[0];
                               for (int64_t i = 0; i < n; ++i) p[i * st[0]] = value;
                             });
  });
  impl()->storage->bump_version();
  if (autograd::inplace_rebases_base(*this, false))
    autograd::rebase_view_history(*this, {});  // the region gets no gradient
  else if (autograd::GradMode::is_enabled() && grad_fn())
    rebase_without_grad(*this, "FillBackward");
  return *this;
}

Tensor& Tensor::zero_() { return fill_(0); }

}  // namespace shanshui
