// Tensor: a cheap value handle around shared_ptr<TensorImpl>. The impl is a
// view (shape, strides, offset, dtype) of a Storage, so views share memory; it
// also carries the autograd metadata (requires_grad, grad, grad_fn).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <type_traits>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/shape.h"
#include "core/storage.h"

namespace shanshui {

namespace autograd { class Node; }
class Tensor;
struct TensorImpl;
// Defined in autograd/copy_slices.cpp (see Tensor::grad_fn).
void refresh_view_grad_fn(TensorImpl& view);

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;       // in elements
  int64_t offset = 0;  // in elements
  DType dtype = DType::Float32;

  // Autograd. A leaf has no grad_fn; `requires_grad` is meaningful for leaves
  // (a non-leaf requires grad exactly when it has a grad_fn).
  bool requires_grad = false;
  bool retains_grad = false;
  bool is_view = false;             // shares storage with a tensor it was derived from
  // Differentiable views (made by make_view: select, slice, view, permute, ...)
  // remember their root base, as PyTorch's `._base` (a view of a view points to
  // the root). An in-place op on the view rebases the base's history
  // (autograd/copy_slices.h). view_version is the storage version at which this
  // view's grad_fn was last made: when another view or the base is modified in
  // place the versions differ, and grad_fn() regenerates it from the base's
  // current history. detach() makes a non-differentiable view: is_view, no base.
  std::shared_ptr<TensorImpl> view_base;
  uint64_t view_version = 0;
  bool view_made_without_grad = false;  // made under no_grad: PyTorch refuses in-place with grad on it
  std::shared_ptr<autograd::Node> grad_fn;
  uint32_t output_nr = 0;
  std::shared_ptr<TensorImpl> grad;                // accumulated .grad (leaves, retain_grad)
  std::weak_ptr<autograd::Node> grad_accumulator;  // leaves only; the node holds the leaf strongly
  // Tensor::register_hook on a leaf (non-leaf hooks live on the grad_fn). Kept
  // here, not on the accumulator, because the accumulator is recreated when the
  // graph that held it is gone. A removed hook is left empty.
  std::vector<std::function<Tensor(const Tensor&)>> hooks;
  // Tensor::register_post_accumulate_grad_hook: called with the leaf after its
  // .grad was updated (DistributedDataParallel reduces gradients from here).
  std::vector<std::function<void(const Tensor&)>> post_accumulate_hooks;
  std::shared_ptr<void> pyobj_state;               // opaque slot for the Python bindings

  ~TensorImpl();
};

// Scalar passed to ops: remembers whether it came from an integer, a float or a
// bool so type promotion can follow PyTorch's "wrapped number" rule.
struct Scalar {
  double v;
  DType kind;  // Bool, Int64 or Float64 (the category)
  Scalar(double x) : v(x), kind(DType::Float64) {}
  Scalar(float x) : v(x), kind(DType::Float64) {}
  Scalar(int x) : v(x), kind(DType::Int64) {}
  Scalar(long x) : v(double(x)), kind(DType::Int64) {}
  Scalar(long long x) : v(double(x)), kind(DType::Int64) {}
  Scalar(bool x) : v(x ? 1.0 : 0.0), kind(DType::Bool) {}
  int64_t to_int() const { return static_cast<int64_t>(v); }
};

// One entry of a Python-style index: x[i], x[a:b:c], x[None], x[...], x[idx_tensor].
struct TensorIndex;

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- metadata -------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl_->shape; }
  const Shape& sizes() const { return impl_->shape; }
  const Shape& strides() const { return impl_->strides; }
  int64_t size(int64_t dim) const;
  int64_t stride(int64_t dim) const;
  int64_t dim() const { return static_cast<int64_t>(impl_->shape.size()); }
  int64_t ndim() const { return dim(); }
  int64_t numel() const { return numel_of(impl_->shape); }
  int64_t offset() const { return impl_->offset; }
  DType dtype() const { return impl_->dtype; }
  size_t element_size() const { return itemsize(impl_->dtype); }
  bool is_contiguous() const;
  bool is_floating_point() const { return is_floating(impl_->dtype); }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  const std::shared_ptr<Storage>& storage() const { return impl_->storage; }
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }
  uint64_t version() const { return impl_->storage->version(); }

  // Pointer to the first element of this view.
  void* raw_data() const {
    return static_cast<char*>(impl_->storage->data()) + impl_->offset * int64_t(element_size());
  }
  template <class T> T* data_ptr() const {
    SS_CHECK(dtype_of<T>::value == dtype(), TypeError, "data_ptr: tensor has dtype ", dtype_name(dtype()),
             " but ", dtype_name(dtype_of<T>::value), " was requested");
    return static_cast<T*>(raw_data());
  }
  template <class T> T item() const;
  double item_double() const;
  std::string to_string() const;  // repr, with summarisation of large tensors

  // ---- autograd -------------------------------------------------------------
  bool requires_grad() const { return impl_->requires_grad || grad_fn() != nullptr; }
  Tensor& requires_grad_(bool r = true);
  bool is_leaf() const { return grad_fn() == nullptr; }
  Tensor grad() const { return impl_->grad ? Tensor(impl_->grad) : Tensor(); }
  void set_grad(const Tensor& g);
  // For a view whose storage was modified in place since its grad_fn was made
  // (through the base or another view), first regenerates the grad_fn from the
  // base's current history (one pointer test on the hot path otherwise).
  const std::shared_ptr<autograd::Node>& grad_fn() const {
    if (impl_->view_base && impl_->view_version != impl_->storage->version()) refresh_view_grad_fn(*impl_);
    return impl_->grad_fn;
  }
  // The root base of a differentiable view (PyTorch's ._base), or undefined.
  Tensor base() const { return impl_->view_base ? Tensor(impl_->view_base) : Tensor(); }
  bool is_differentiable_view() const { return impl_->view_base != nullptr; }
  void retain_grad();
  bool retains_grad() const { return impl_->retains_grad; }
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false, bool create_graph = false) const;
  Tensor detach() const;  // shares storage, no history
  Tensor& detach_();
  // Register a hook called with the gradient of this tensor each time it is
  // computed; returning a defined tensor replaces the gradient (same shape).
  // On a leaf it runs before accumulation into .grad; on a non-leaf before
  // the gradient flows on (and before retain_grad stores it). Returns a handle
  // for remove_hook. Hooks returning void only observe.
  unsigned register_hook(std::function<Tensor(const Tensor&)> hook);
  template <class F, std::enable_if_t<std::is_void_v<std::invoke_result_t<F&, const Tensor&>>, int> = 0>
  unsigned register_hook(F f) {
    return register_hook(std::function<Tensor(const Tensor&)>([f = std::move(f)](const Tensor& g) mutable {
      f(g);
      return Tensor();
    }));
  }
  void remove_hook(unsigned handle);
  // Leaves only, as torch's register_post_accumulate_grad_hook: `hook(leaf)`
  // runs each time backward has accumulated into leaf.grad, so the hook sees
  // the updated .grad. Returns a handle for remove_post_accumulate_grad_hook.
  unsigned register_post_accumulate_grad_hook(std::function<void(const Tensor&)> hook);
  void remove_post_accumulate_grad_hook(unsigned handle);

  // ---- conversion / copies --------------------------------------------------
  Tensor to(DType t, bool copy = false) const;
  Tensor contiguous() const;
  Tensor clone() const;
  Tensor& copy_(const Tensor& src);  // broadcasting, dtype-converting in-place copy

  // ---- views and shape (core/ops/view_ops.cpp) -------------------------------
  Tensor view(const Shape& shape) const;
  Tensor reshape(const Shape& shape) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor t() const;
  Tensor T() const;   // reverses all dims (PyTorch's .T / .mT on 2-D)
  Tensor mT() const;  // swaps the last two dims
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor expand(const Shape& shape) const;
  Tensor expand_as(const Tensor& other) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor slice(int64_t dim, std::optional<int64_t> start, std::optional<int64_t> stop, int64_t step = 1) const;
  Tensor index(const std::vector<TensorIndex>& idx) const;
  Tensor& index_put_(const std::vector<TensorIndex>& idx, const Tensor& value);
  std::vector<Tensor> split(int64_t split_size, int64_t dim = 0) const;
  std::vector<Tensor> split(const std::vector<int64_t>& sizes, int64_t dim = 0) const;
  std::vector<Tensor> chunk(int64_t chunks, int64_t dim = 0) const;

  // ---- elementwise (core/ops/elementwise*.cpp) --------------------------------
  Tensor add(const Tensor& o, Scalar alpha = 1) const;
  Tensor sub(const Tensor& o, Scalar alpha = 1) const;
  Tensor mul(const Tensor& o) const;
  Tensor div(const Tensor& o) const;
  Tensor pow(const Tensor& o) const;
  Tensor add(Scalar o) const;
  Tensor sub(Scalar o) const;
  Tensor mul(Scalar o) const;
  Tensor div(Scalar o) const;
  Tensor pow(Scalar e) const;
  Tensor neg() const;
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor rsqrt() const;
  Tensor abs() const;
  Tensor sin() const;
  Tensor cos() const;
  Tensor tanh() const;
  Tensor sigmoid() const;
  Tensor relu() const;
  Tensor clamp(std::optional<double> min, std::optional<double> max) const;
  Tensor masked_fill(const Tensor& mask, Scalar value) const;

  // in place (bump the version counter)
  Tensor& add_(const Tensor& o, Scalar alpha = 1);
  Tensor& sub_(const Tensor& o, Scalar alpha = 1);
  Tensor& mul_(const Tensor& o);
  Tensor& div_(const Tensor& o);
  Tensor& add_(Scalar s);
  Tensor& mul_(Scalar s);
  Tensor& zero_();
  Tensor& fill_(Scalar v);
  Tensor& masked_fill_(const Tensor& mask, Scalar value);
  Tensor& clamp_(std::optional<double> min, std::optional<double> max);

  // ---- reductions (core/ops/reduce.cpp) --------------------------------------
  Tensor sum(const std::vector<int64_t>& dims = {}, bool keepdim = false) const;
  Tensor mean(const std::vector<int64_t>& dims = {}, bool keepdim = false) const;

  // ---- linear algebra ------------------------------------------------------
  Tensor matmul(const Tensor& o) const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// Make a new contiguous tensor with uninitialised data.
Tensor empty(const Shape& shape, DType dtype = DType::Float32);
// Uninitialised, with the given (non-negative) strides: torch.empty_strided.
Tensor empty_strided(const Shape& shape, const Shape& strides, DType dtype = DType::Float32);
// A view of `base`'s storage with the given geometry (no checks; for op authors).
Tensor make_view(const Tensor& base, Shape shape, Shape strides, int64_t offset);

}  // namespace shanshui
