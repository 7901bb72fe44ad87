#include "core/tensor.h"

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "core/ops.h"

namespace shanshui {

TensorImpl::~TensorImpl() = default;

Tensor empty(const Shape& shape, DType dtype) {
  int64_t n = checked_numel(shape, "empty");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(size_t(n) * itemsize(dtype));
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor empty_strided(const Shape& shape, const Shape& strides, DType dtype) {
  SS_CHECK(strides.size() == shape.size(), ValueError, "empty_strided: shape ", shape, " and strides ", strides,
           " differ in length");
  int64_t n = checked_numel(shape, "empty_strided"), extent = n > 0 ? 1 : 0;
  for (size_t d = 0; d < shape.size() && n > 0; ++d) {
    SS_CHECK(strides[d] >= 0, ValueError, "empty_strided: negative stride ", strides[d], " in ", strides);
    extent += (shape[d] - 1) * strides[d];
  }
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(size_t(extent) * itemsize(dtype));
  impl->shape = shape;
  impl->strides = strides;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor make_view(const Tensor& base, Shape shape, Shape strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = base.dtype();
  impl->is_view = true;
  const auto& root = base.impl()->view_base;
  impl->view_base = root ? root : base.impl_ptr();
  impl->view_version = impl->storage->version();
  impl->view_made_without_grad = !autograd::GradMode::is_enabled();
  return Tensor(std::move(impl));
}

int64_t Tensor::size(int64_t d) const { return impl_->shape[wrap_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int64_t d) const { return impl_->strides[wrap_dim(d, dim(), "stride")]; }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    if (impl_->shape[i] == 1) continue;
    if (impl_->strides[i] != expected) return false;
    expected *= impl_->shape[i];
  }
  return true;
}

double Tensor::item_double() const {
  SS_CHECK(numel() == 1, ValueError, "item: a Tensor with ", numel(), " elements (shape ", shape(),
           ") cannot be converted to a scalar");
  const void* p = raw_data();
  switch (dtype()) {
    case DType::Float32: return *static_cast<const float*>(p);
    case DType::Float64: return *static_cast<const double*>(p);
    case DType::Int64: return double(*static_cast<const int64_t*>(p));
    case DType::Bool: return *static_cast<const bool*>(p) ? 1.0 : 0.0;
  }
  return 0;
}

template <class T> T Tensor::item() const {
  SS_CHECK(numel() == 1, ValueError, "item: a Tensor with ", numel(), " elements (shape ", shape(),
           ") cannot be converted to a scalar");
  if (dtype() == DType::Int64) return static_cast<T>(*static_cast<const int64_t*>(raw_data()));
  return static_cast<T>(item_double());
}
template float Tensor::item<float>() const;
template double Tensor::item<double>() const;
template int64_t Tensor::item<int64_t>() const;
template bool Tensor::item<bool>() const;

// ---- autograd ---------------------------------------------------------------

Tensor& Tensor::requires_grad_(bool r) {
  SS_CHECK(is_leaf() || r, RuntimeError, "requires_grad_: you can only change requires_grad flags of leaf "
           "variables. If you want to use a computed variable in a subgraph that doesn't require "
           "differentiation use var_no_grad = var.detach().");
  SS_CHECK(!r || is_floating_point(), RuntimeError, "requires_grad_: only tensors of floating point dtype can "
           "require gradients (got ", dtype_name(dtype()), ")");
  if (is_leaf()) impl_->requires_grad = r;  // a non-leaf already requires grad through its grad_fn
  return *this;
}

void Tensor::set_grad(const Tensor& g) {
  if (g.defined()) {
    SS_CHECK(g.shape() == shape(), ValueError, "grad: assigned grad has shape ", g.shape(),
             " but the tensor has shape ", shape());
    SS_CHECK(g.dtype() == dtype(), TypeError, "grad: assigned grad has dtype ", dtype_name(g.dtype()),
             " but the tensor has dtype ", dtype_name(dtype()));
    SS_CHECK(!g.is_same(*this), RuntimeError, "grad: can't assign Variable as its own grad");
  }
  impl_->grad = g.defined() ? g.impl_ptr() : nullptr;
}

void Tensor::retain_grad() {
  SS_CHECK(requires_grad(), RuntimeError, "retain_grad: can't retain_grad on a Tensor that has requires_grad=False");
  if (is_leaf() || impl_->retains_grad) return;
  impl_->retains_grad = true;
  // Weak: the node must not keep its own output alive.
  std::weak_ptr<TensorImpl> weak = impl_;
  impl_->grad_fn->retains_grad_hooks.push_back({impl_->output_nr, [weak](const Tensor& g) {
    auto self = weak.lock();
    if (!self) return;
    // As PyTorch: the first gradient is cloned, later ones are added out of place
    // (under create_graph both keep their history).
    self->grad = self->grad ? Tensor(self->grad).add(g).impl_ptr() : g.clone().impl_ptr();
  }});
}

unsigned Tensor::register_hook(std::function<Tensor(const Tensor&)> hook) {
  SS_CHECK(requires_grad(), RuntimeError, "register_hook: cannot register a hook on a tensor that doesn't require "
           "gradient (shape ", shape(), ")");
  SS_CHECK(hook != nullptr, ValueError, "register_hook: the hook is empty");
  if (is_leaf()) {
    impl_->hooks.push_back(std::move(hook));
    return unsigned(impl_->hooks.size() - 1);
  }
  auto& hooks = impl_->grad_fn->pre_hooks;
  hooks.push_back({impl_->output_nr, std::move(hook)});
  return unsigned(hooks.size() - 1);
}

void Tensor::remove_hook(unsigned handle) {
  if (is_leaf()) {
    SS_CHECK(handle < impl_->hooks.size(), IndexError, "remove_hook: invalid hook handle ", handle);
    impl_->hooks[handle] = nullptr;
    return;
  }
  auto& hooks = impl_->grad_fn->pre_hooks;
  SS_CHECK(handle < hooks.size(), IndexError, "remove_hook: invalid hook handle ", handle);
  hooks[handle].second = nullptr;
}

unsigned Tensor::register_post_accumulate_grad_hook(std::function<void(const Tensor&)> hook) {
  SS_CHECK(is_leaf() && requires_grad(), RuntimeError, "register_post_accumulate_grad_hook: only leaf tensors "
           "that require grad accumulate a gradient (shape ", shape(), ")");
  SS_CHECK(hook != nullptr, ValueError, "register_post_accumulate_grad_hook: the hook is empty");
  impl_->post_accumulate_hooks.push_back(std::move(hook));
  return unsigned(impl_->post_accumulate_hooks.size() - 1);
}

void Tensor::remove_post_accumulate_grad_hook(unsigned handle) {
  SS_CHECK(handle < impl_->post_accumulate_hooks.size(), IndexError,
           "remove_post_accumulate_grad_hook: invalid hook handle ", handle);
  impl_->post_accumulate_hooks[handle] = nullptr;
}

void Tensor::backward(const Tensor& gradient, bool retain_graph, bool create_graph) const {
  autograd::backward({*this}, {gradient}, retain_graph, create_graph);
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->shape = impl_->shape;
  impl->strides = impl_->strides;
  impl->offset = impl_->offset;
  impl->dtype = impl_->dtype;
  impl->is_view = true;
  return Tensor(std::move(impl));
}

Tensor& Tensor::detach_() {
  impl_->grad_fn = nullptr;
  impl_->requires_grad = false;
  return *this;
}

// ---- members that forward to the op families ------------------------------------

Tensor Tensor::view(const Shape& s) const { return shanshui::view(*this, s); }
Tensor Tensor::reshape(const Shape& s) const { return shanshui::reshape(*this, s); }
Tensor Tensor::flatten(int64_t a, int64_t b) const { return shanshui::flatten(*this, a, b); }
Tensor Tensor::transpose(int64_t a, int64_t b) const { return shanshui::transpose(*this, a, b); }
Tensor Tensor::t() const {
  SS_CHECK(dim() <= 2, ValueError, "t: expects a tensor with <= 2 dims, but got shape ", shape());
  return dim() < 2 ? *this : transpose(0, 1);
}
Tensor Tensor::T() const {
  std::vector<int64_t> d;
  for (int64_t i = dim() - 1; i >= 0; --i) d.push_back(i);
  return permute(d);
}
Tensor Tensor::mT() const {
  SS_CHECK(dim() >= 2, ValueError, "mT: expects a tensor with >= 2 dims, but got shape ", shape());
  return transpose(-2, -1);
}
Tensor Tensor::permute(const std::vector<int64_t>& d) const { return shanshui::permute(*this, d); }
Tensor Tensor::squeeze() const { return shanshui::squeeze(*this); }
Tensor Tensor::squeeze(int64_t d) const { return shanshui::squeeze(*this, d); }
Tensor Tensor::unsqueeze(int64_t d) const { return shanshui::unsqueeze(*this, d); }
Tensor Tensor::expand(const Shape& s) const { return shanshui::expand(*this, s); }
Tensor Tensor::expand_as(const Tensor& o) const { return shanshui::expand(*this, o.shape()); }
Tensor Tensor::narrow(int64_t d, int64_t s, int64_t l) const { return shanshui::narrow(*this, d, s, l); }
Tensor Tensor::select(int64_t d, int64_t i) const { return shanshui::select(*this, d, i); }
Tensor Tensor::slice(int64_t d, std::optional<int64_t> a, std::optional<int64_t> b, int64_t s) const {
  return shanshui::slice(*this, d, a, b, s);
}
Tensor Tensor::add(const Tensor& o, Scalar alpha) const { return shanshui::add(*this, o, alpha); }
Tensor Tensor::sub(const Tensor& o, Scalar alpha) const { return shanshui::sub(*this, o, alpha); }
Tensor Tensor::mul(const Tensor& o) const { return shanshui::mul(*this, o); }
Tensor Tensor::div(const Tensor& o) const { return shanshui::div(*this, o); }
Tensor Tensor::add(Scalar o) const { return shanshui::add(*this, o); }
Tensor Tensor::sub(Scalar o) const { return shanshui::sub(*this, o); }
Tensor Tensor::mul(Scalar o) const { return shanshui::mul(*this, o); }
Tensor Tensor::div(Scalar o) const { return shanshui::div(*this, o); }
Tensor Tensor::pow(const Tensor& o) const { return shanshui::pow(*this, o); }
Tensor Tensor::pow(Scalar e) const { return shanshui::pow(*this, e); }
Tensor Tensor::sum(const std::vector<int64_t>& d, bool k) const { return shanshui::sum(*this, d, k); }
Tensor Tensor::mean(const std::vector<int64_t>& d, bool k) const { return shanshui::mean(*this, d, k); }
Tensor Tensor::matmul(const Tensor& o) const { return shanshui::matmul(*this, o); }

}  // namespace shanshui
