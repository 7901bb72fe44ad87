// In-place ops. Each computes its value with the out-of-place op (so the
// backward is shared) and writes it into self with assign_inplace; fills write
// directly.
#include "core/ops/inplace.h"

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "core/dispatch.h"
#include "core/kernels/loops.h"
#include "core/ops.h"

namespace shanshui {

void check_inplace_allowed(const Tensor& self, const char* op) {
  if (!autograd::GradMode::is_enabled() || !self.requires_grad()) return;
  SS_CHECK(!self.is_leaf(), RuntimeError, op, ": a leaf Variable that requires grad (shape ", self.shape(),
           ") is being used in an in-place operation; wrap it in no_grad() or use an out-of-place op");
  // PyTorch rebases the base's history here (CopySlices); we do not, so refuse
  // rather than write into memory that another tensor's history depends on.
  SS_CHECK(!self.impl()->is_view, RuntimeError, op, ": in-place operation on a view (shape ", self.shape(),
           ") of a tensor that requires grad is not supported; apply it to the base tensor or use an "
           "out-of-place op");
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
  check_inplace_allowed(self, op);
  SS_CHECK(result.shape() == self.shape(), ValueError, op, ": output with shape ", self.shape(),
           " doesn't match the broadcast shape ", result.shape());
  if (cast)
    SS_CHECK(promote_types(result.dtype(), self.dtype()) == self.dtype(), TypeError, op, ": result type ",
             dtype_name(result.dtype()), " can't be cast to the desired output type ", dtype_name(self.dtype()));
  bool differentiable = autograd::GradMode::is_enabled() && result.requires_grad();
  if (differentiable)
    SS_CHECK(!self.impl()->is_view, RuntimeError, op, ": in-place operation with gradient on a view (shape ",
             self.shape(), ") is not supported; apply it to the base tensor or use an out-of-place op");
  kernels::copy_strided(self, result);
  self.impl()->storage->bump_version();
  if (differentiable) {
    Tensor r = result.dtype() == self.dtype() ? result : result.to(self.dtype());
    self.impl()->grad_fn = r.grad_fn();
    self.impl()->output_nr = r.impl()->output_nr;
  } else if (autograd::GradMode::is_enabled() && self.grad_fn()) {
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
  if (autograd::GradMode::is_enabled() && grad_fn()) rebase_without_grad(*this, "FillBackward");
  return *this;
}

Tensor& Tensor::zero_() { return fill_(0); }

}  // namespace shanshui
