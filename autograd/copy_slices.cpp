// CopySlices and the as_strided grad_fn of views (see copy_slices.h).
//
// Gradients are mapped between a base and a view through the base's storage
// layout, not its logical shape: a view's strides and offset index the storage,
// so the gradient of the base is laid out like the base in a flat buffer and the
// view's geometry is applied to that buffer (PyTorch's as_strided backward).
// When the base is contiguous the buffer is the base-shaped gradient itself.
#include "autograd/copy_slices.h"

#include <algorithm>
#include <numeric>

#include "autograd/grad_mode.h"
#include "core/ops.h"
#include "core/ops/inplace.h"

namespace shanshui::autograd {

namespace {

// One past the last storage element a geometry touches (strides are never negative here).
int64_t extent_end(const Shape& shape, const Shape& strides, int64_t offset) {
  int64_t end = offset;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0) return offset;
    end += (shape[i] - 1) * strides[i];
  }
  return end + 1;
}

bool dense_contiguous(const Shape& shape, const Shape& strides) {
  int64_t expected = 1;
  for (int64_t i = int64_t(shape.size()) - 1; i >= 0; --i) {
    if (shape[size_t(i)] == 1) continue;
    if (strides[size_t(i)] != expected) return false;
    expected *= shape[size_t(i)];
  }
  return true;
}

// True when no two elements of the geometry share a storage location.
bool non_overlapping(const Shape& shape, const Shape& strides) {
  std::vector<size_t> dims;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0) return true;
    if (shape[i] > 1) dims.push_back(i);
  }
  std::sort(dims.begin(), dims.end(), [&](size_t a, size_t b) { return strides[a] < strides[b]; });
  int64_t reach = 0;  // largest offset reachable with the smaller-stride dims
  for (size_t d : dims) {
    if (strides[d] <= reach) return false;
    reach += (shape[d] - 1) * strides[d];
  }
  return true;
}

// The flat buffer [lo, lo + len) of storage covering both geometries. base_is_buffer:
// the base is dense and contiguous and covers it exactly, so a base-shaped
// contiguous tensor is the buffer (no extra copy).
struct Span {
  int64_t lo = 0, len = 0;
  bool base_is_buffer = false;
};
Span span_of(const ViewGeometry& g) {
  Span s;
  s.lo = std::min(g.base_offset, g.view_offset);
  int64_t hi = std::max(extent_end(g.base_shape, g.base_strides, g.base_offset),
                        extent_end(g.view_shape, g.view_strides, g.view_offset));
  s.len = std::max<int64_t>(hi - s.lo, 0);
  s.base_is_buffer = s.lo == g.base_offset && s.len == numel_of(g.base_shape) &&
                     dense_contiguous(g.base_shape, g.base_strides);
  return s;
}

Tensor gather_raw(const Tensor& g, const ViewGeometry& geo) {
  Span sp = span_of(geo);
  Tensor buf;
  if (sp.base_is_buffer) {
    Tensor gc = g.contiguous();
    buf = make_view(gc, {sp.len}, {1}, gc.offset());
  } else {
    buf = zeros({sp.len}, g.dtype());
    kernels::copy_strided(make_view(buf, geo.base_shape, geo.base_strides, geo.base_offset - sp.lo), g);
  }
  Tensor out = empty(geo.view_shape, g.dtype());
  kernels::copy_strided(out, make_view(buf, geo.view_shape, geo.view_strides, buf.offset() + geo.view_offset - sp.lo));
  return out;
}

Tensor embed_raw(const Tensor& gv, const ViewGeometry& geo) {
  // A broadcast view (stride 0) sends each memory location several gradients:
  // sum them first, then every element left maps to its own location.
  Shape vs = geo.view_shape;
  std::vector<int64_t> repeated;
  for (size_t i = 0; i < vs.size(); ++i)
    if (geo.view_strides[i] == 0 && vs[i] > 1) {
      repeated.push_back(int64_t(i));
      vs[i] = 1;
    }
  Tensor v = repeated.empty() ? gv : sum(gv, repeated, /*keepdim=*/true);
  SS_CHECK(non_overlapping(vs, geo.view_strides), RuntimeError, "as_strided backward: the view (shape ",
           geo.view_shape, ", strides ", geo.view_strides, ") maps several elements to one memory location "
           "other than by broadcasting; its gradient is not supported");
  Span sp = span_of(geo);
  if (sp.base_is_buffer) {
    Tensor out = zeros(geo.base_shape, gv.dtype());
    kernels::copy_strided(make_view(out, vs, geo.view_strides, geo.view_offset - sp.lo), v);
    return out;
  }
  Tensor buf = zeros({sp.len}, gv.dtype());
  kernels::copy_strided(make_view(buf, vs, geo.view_strides, geo.view_offset - sp.lo), v);
  Tensor out = empty(geo.base_shape, gv.dtype());
  kernels::copy_strided(out, make_view(buf, geo.base_shape, geo.base_strides, geo.base_offset - sp.lo));
  return out;
}

// True at the base's elements that the view covers (those an in-place write replaced).
Tensor region_mask(const ViewGeometry& geo) {
  Span sp = span_of(geo);
  Tensor buf = zeros({sp.len}, DType::Bool);
  kernels::copy_strided(make_view(buf, geo.view_shape, geo.view_strides, geo.view_offset - sp.lo),
                        full({}, true, DType::Bool));
  Tensor out = empty(geo.base_shape, DType::Bool);
  kernels::copy_strided(out, make_view(buf, geo.base_shape, geo.base_strides, geo.base_offset - sp.lo));
  return out;
}

ViewGeometry geometry_of(const TensorImpl& base, const TensorImpl& view) {
  return {base.shape, base.strides, base.offset, view.shape, view.strides, view.offset};
}

// view's grad_fn := as_strided(base) over the base's current history.
void set_as_strided_grad_fn(TensorImpl& view, const Tensor& base) {
  std::shared_ptr<Node> old = view.grad_fn;
  ViewGeometry geo = geometry_of(*base.impl(), view);
  auto node = std::make_shared<FunctionNode>(
      "AsStridedBackward", [geo](const tensor_list& g) { return tensor_list{embed_view_region(g[0], geo)}; },
      /*saves_tensors=*/false);
  node->next_edges.push_back(gradient_edge(base));
  node->output_meta.push_back({view.shape, view.dtype});
  move_retains_grad(view, old, view.output_nr, node, 0);
  view.grad_fn = std::move(node);
  view.output_nr = 0;
  view.requires_grad = false;
  view.view_version = view.storage->version();
}

}  // namespace

ViewGeometry view_geometry(const Tensor& base, const Tensor& view) { return geometry_of(*base.impl(), *view.impl()); }

Tensor gather_view_region(const Tensor& g, const ViewGeometry& geo) {
  Tensor out;
  {
    NoGradGuard ng;
    out = gather_raw(g, geo);
  }
  if (needs_grad(g))
    record("AsStridedBackward", {g}, out, [geo](const Tensor& gg) { return tensor_list{embed_view_region(gg, geo)}; });
  return out;
}

Tensor embed_view_region(const Tensor& gv, const ViewGeometry& geo) {
  Tensor out;
  {
    NoGradGuard ng;
    out = embed_raw(gv, geo);
  }
  if (needs_grad(gv))
    record("AsStridedBackwardBackward", {gv}, out,
           [geo](const Tensor& gg) { return tensor_list{gather_view_region(gg, geo)}; });
  return out;
}

void move_retains_grad(const TensorImpl& t, const std::shared_ptr<Node>& old_fn, uint32_t old_nr,
                       const std::shared_ptr<Node>& new_fn, uint32_t new_nr) {
  if (!t.retains_grad || !old_fn || !new_fn || old_fn == new_fn) return;
  auto& from = old_fn->retains_grad_hooks;
  for (auto it = from.begin(); it != from.end();) {
    if (it->first == old_nr) {
      new_fn->retains_grad_hooks.push_back({new_nr, std::move(it->second)});
      it = from.erase(it);
    } else {
      ++it;
    }
  }
}

bool inplace_rebases_base(const Tensor& self, bool value_requires_grad) {
  const TensorImpl* v = self.impl();
  if (!v->view_base || v->view_made_without_grad || !GradMode::is_enabled()) return false;
  const TensorImpl& b = *v->view_base;
  return value_requires_grad || b.requires_grad || b.grad_fn != nullptr;
}

void rebase_view_history(const Tensor& self, const Edge& value_edge) {
  TensorImpl& view = *self.impl();
  Tensor base(view.view_base);
  ViewGeometry geo = geometry_of(*base.impl(), view);
  Edge old = gradient_edge(base);  // a root base: never itself a stale view
  const bool to_old = old.fn != nullptr, to_value = value_edge.fn != nullptr;
  auto node = std::make_shared<FunctionNode>(
      "CopySlices",
      [geo, to_old, to_value](const tensor_list& grads) {
        const Tensor& g = grads[0];
        tensor_list r(2);
        // masked_fill, not g * mask: an inf/nan gradient in the overwritten region must not leak through.
        if (to_old) r[0] = masked_fill(g, region_mask(geo), 0.0);
        if (to_value) r[1] = gather_view_region(g, geo);
        return r;
      },
      /*saves_tensors=*/false);
  node->next_edges = {old, value_edge};
  node->output_meta.push_back({base.shape(), base.dtype()});
  TensorImpl& b = *base.impl();
  move_retains_grad(b, old.fn, old.input_nr, node, 0);
  b.grad_fn = std::move(node);
  b.output_nr = 0;
  b.requires_grad = false;
  set_as_strided_grad_fn(view, base);
}

}  // namespace shanshui::autograd

namespace shanshui {

// Called by Tensor::grad_fn() when the view's storage changed since its grad_fn was made.
void refresh_view_grad_fn(TensorImpl& view) {
  const TensorImpl& b = *view.view_base;
  // As PyTorch: a view of a tensor that never required grad has nothing to regenerate
  // (the version is left stale so that a base which starts requiring grad is noticed).
  if (!view.grad_fn && !b.requires_grad && !b.grad_fn) return;
  if (view.view_made_without_grad) {
    // PyTorch raises here ("a view was created in no_grad mode ..."); we keep the
    // view history-free instead of throwing from an accessor.
    view.view_version = view.storage->version();
    return;
  }
  autograd::set_as_strided_grad_fn(view, Tensor(view.view_base));
}

}  // namespace shanshui
