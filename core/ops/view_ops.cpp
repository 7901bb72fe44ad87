// Views: new geometry over the same storage. Each records a backward that
// maps the gradient back to the input's geometry.
#include <algorithm>
#include <functional>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "core/ops.h"
#include "core/ops/inplace.h"

namespace shanshui {

using autograd::needs_grad;
using autograd::record;
using autograd::tensor_list;

namespace {

// Resolve a single -1 and check the element count.
Shape infer_shape(const char* op, const Shape& in_shape, const Shape& shape) {
  Shape r = shape;
  int64_t infer = -1, known = 1;
  for (size_t i = 0; i < r.size(); ++i) {
    if (r[i] == -1) {
      SS_CHECK(infer < 0, ValueError, op, ": only one dimension can be inferred (-1), got shape ", shape);
      infer = int64_t(i);
    } else {
      SS_CHECK(r[i] >= 0, ValueError, op, ": invalid size ", r[i], " in shape ", shape);
    }
  }
  Shape rest = r;
  if (infer >= 0) rest.erase(rest.begin() + infer);
  known = checked_numel(rest, op);
  int64_t n = numel_of(in_shape);
  if (infer >= 0) {
    SS_CHECK(known != 0 && n % known == 0, ValueError, op, ": shape ", shape, " is invalid for input of size ", n,
             " (input shape ", in_shape, ")");
    r[infer] = n / known;
  } else {
    SS_CHECK(known == n, ValueError, op, ": shape ", shape, " is invalid for input of size ", n, " (input shape ",
             in_shape, ")");
  }
  return r;
}

// Strides for viewing (shape, strides) as new_shape without a copy, if possible (PyTorch's computeStride).
bool view_strides(const Shape& old_shape, const Shape& old_strides, const Shape& new_shape, Shape& out) {
  out.assign(new_shape.size(), 0);
  if (old_shape.empty()) {  // a 0-d tensor: every new dim has size 1
    out.assign(new_shape.size(), 1);
    return true;
  }
  if (numel_of(old_shape) == 0) {
    out = contiguous_strides(new_shape);
    return true;
  }
  int64_t view_d = int64_t(new_shape.size()) - 1;
  int64_t chunk_base_stride = old_strides.empty() ? 1 : old_strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t td = int64_t(old_shape.size()) - 1; td >= 0; --td) {
    tensor_numel *= old_shape[td];
    if (td == 0 || (old_shape[td - 1] != 1 && old_strides[td - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_shape[view_d];
        view_d--;
      }
      if (view_numel != tensor_numel) return false;
      if (td > 0) {
        chunk_base_stride = old_strides[td - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}

// The backward of slice/select: zeros of the input's shape with the gradient
// written into the same window. Recorded itself (its backward takes that window
// of the incoming gradient), so create_graph sees through it.
Tensor embed_in_zeros(const char* name, const Tensor& g, const Shape& in,
                      const std::function<Tensor(const Tensor&)>& window) {
  Tensor r = zeros(in, g.dtype());
  {
    autograd::NoGradGuard ng;
    kernels::copy_strided(window(r), g);
  }
  if (needs_grad(g)) record(name, {g}, r, [window](const Tensor& gg) { return tensor_list{window(gg)}; });
  return r;
}

// A view op's backward: reshape the gradient back.
void record_reshape(const char* name, const Tensor& x, Tensor& out) {
  Shape s = x.shape();
  record(name, {x}, out, [s](const Tensor& g) { return tensor_list{g.reshape(s)}; });
}

}  // namespace

Tensor view(const Tensor& x, const Shape& shape) {
  Shape s = infer_shape("view", x.shape(), shape), st;
  SS_CHECK(view_strides(x.shape(), x.strides(), s, st), RuntimeError, "view: size ", s,
           " is not compatible with input tensor's size ", x.shape(), " and strides ", x.strides(),
           " (at least one dimension spans across two contiguous subspaces); use .reshape(...) instead");
  Tensor out = make_view(x, s, st, x.offset());
  if (needs_grad(x)) record_reshape("ViewBackward", x, out);
  return out;
}

Tensor reshape(const Tensor& x, const Shape& shape) {
  Shape s = infer_shape("reshape", x.shape(), shape), st;
  if (s == x.shape()) return x;
  if (view_strides(x.shape(), x.strides(), s, st)) {
    Tensor out = make_view(x, s, st, x.offset());
    if (needs_grad(x)) record_reshape("ReshapeBackward", x, out);
    return out;
  }
  return view(x.clone(), s);
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  if (x.dim() == 0) return reshape(x, {1});
  int64_t a = wrap_dim(start_dim, x.dim(), "flatten"), b = wrap_dim(end_dim, x.dim(), "flatten");
  SS_CHECK(a <= b, ValueError, "flatten: start_dim (", start_dim, ") cannot come after end_dim (", end_dim, ")");
  Shape s(x.shape().begin(), x.shape().begin() + a);
  int64_t n = 1;
  for (int64_t i = a; i <= b; ++i) n *= x.size(i);
  s.push_back(n);
  s.insert(s.end(), x.shape().begin() + b + 1, x.shape().end());
  return reshape(x, s);
}

Tensor unflatten(const Tensor& x, int64_t dim, const Shape& sizes) {
  int64_t d = wrap_dim(dim, x.dim(), "unflatten");
  SS_CHECK(!sizes.empty(), ValueError, "unflatten: sizes must be non-empty");
  Shape inner = infer_shape("unflatten", {x.size(d)}, sizes);
  Shape s(x.shape().begin(), x.shape().begin() + d);
  s.insert(s.end(), inner.begin(), inner.end());
  s.insert(s.end(), x.shape().begin() + d + 1, x.shape().end());
  return view(x, s);
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  SS_CHECK(int64_t(dims.size()) == x.dim(), ValueError, "permute: number of dims in the permutation (", dims.size(),
           ") doesn't match the tensor's number of dims (", x.dim(), "), shape ", x.shape());
  std::vector<int64_t> d(dims.size());
  std::vector<bool> seen(dims.size(), false);
  Shape s(dims.size()), st(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    d[i] = wrap_dim(dims[i], x.dim(), "permute");
    SS_CHECK(!seen[d[i]], ValueError, "permute: dim ", d[i], " repeats in the permutation");
    seen[d[i]] = true;
    s[i] = x.size(d[i]);
    st[i] = x.stride(d[i]);
  }
  Tensor out = make_view(x, s, st, x.offset());
  if (needs_grad(x)) {
    std::vector<int64_t> inv(d.size());
    for (size_t i = 0; i < d.size(); ++i) inv[d[i]] = int64_t(i);
    record("PermuteBackward", {x}, out, [inv](const Tensor& g) { return tensor_list{g.permute(inv)}; });
  }
  return out;
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  int64_t n = x.dim();
  int64_t a = wrap_dim(d0, n, "transpose"), b = wrap_dim(d1, n, "transpose");
  if (n == 0) return x;
  std::vector<int64_t> p(n);
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  std::swap(p[a], p[b]);
  return permute(x, p);
}

Tensor squeeze(const Tensor& x) {
  Shape s;
  for (auto v : x.shape())
    if (v != 1) s.push_back(v);
  return s.size() == x.shape().size() ? x : reshape(x, s);
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  int64_t d = wrap_dim(dim, x.dim(), "squeeze");
  if (x.dim() == 0 || x.size(d) != 1) return x;
  Shape s = x.shape();
  s.erase(s.begin() + d);
  return reshape(x, s);
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  int64_t d = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  Shape s = x.shape(), st = x.strides();
  int64_t new_stride = d < x.dim() ? x.stride(d) * x.size(d) : 1;
  s.insert(s.begin() + d, 1);
  st.insert(st.begin() + d, new_stride);
  Tensor out = make_view(x, s, st, x.offset());
  if (needs_grad(x)) record_reshape("UnsqueezeBackward", x, out);
  return out;
}

Tensor expand(const Tensor& x, const Shape& shape) {
  SS_CHECK(shape.size() >= x.shape().size(), ValueError, "expand: the number of sizes provided (", shape.size(),
           ") must be greater or equal to the number of dimensions in the tensor (", x.dim(), "); shape ", x.shape());
  size_t lead = shape.size() - x.shape().size();
  Shape s(shape.size()), st(shape.size(), 0);
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i < lead) {
      SS_CHECK(shape[i] >= 0, ValueError, "expand: the expanded size ", shape[i],
               " is not allowed in a leading, non-existing dimension ", i);
      s[i] = shape[i];
      continue;
    }
    int64_t have = x.shape()[i - lead];
    int64_t want = shape[i] == -1 ? have : shape[i];
    SS_CHECK(want >= 0, ValueError, "expand: invalid size ", shape[i], " at dim ", i, " (target sizes ", shape, ")");
    SS_CHECK(have == want || have == 1, ValueError, "expand: the expanded size of the tensor (", want,
             ") must match the existing size (", have, ") at non-singleton dimension ", i, ".  Target sizes: ",
             shape, ".  Tensor sizes: ", x.shape());
    s[i] = want;
    st[i] = have == want ? x.strides()[i - lead] : 0;
  }
  if (s == x.shape()) return x;
  Tensor out = make_view(x, s, st, x.offset());
  if (needs_grad(x)) {
    Shape in = x.shape();
    record("ExpandBackward", {x}, out, [in](const Tensor& g) { return tensor_list{autograd::sum_to(g, in)}; });
  }
  return out;
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) { return expand(x, shape); }

Tensor slice(const Tensor& x, int64_t dim, std::optional<int64_t> start, std::optional<int64_t> stop, int64_t step) {
  SS_CHECK(x.dim() > 0, IndexError, "slice: cannot slice a 0-d tensor");
  int64_t d = wrap_dim(dim, x.dim(), "slice");
  SS_CHECK(step > 0, ValueError, "slice: step must be greater than zero, got ", step);
  int64_t n = x.size(d);
  auto clampi = [n](int64_t v) { return v < 0 ? std::max<int64_t>(v + n, 0) : std::min(v, n); };
  int64_t b = start ? clampi(*start) : 0, e = stop ? clampi(*stop) : n;
  int64_t len = e > b ? (e - b + step - 1) / step : 0;
  Shape s = x.shape(), st = x.strides();
  s[d] = len;
  st[d] = x.stride(d) * step;
  Tensor out = make_view(x, s, st, x.offset() + b * x.stride(d));
  if (needs_grad(x)) {
    Shape in = x.shape();
    const int64_t stop_at = len > 0 ? b + (len - 1) * step + 1 : b;  // (a negative stop would wrap)
    record("SliceBackward", {x}, out, [in, d, b, stop_at, step](const Tensor& g) {
      return tensor_list{embed_in_zeros("SliceBackwardBackward", g, in, [d, b, stop_at, step](const Tensor& t) {
        return slice(t, d, b, stop_at, step);
      })};
    });
  }
  return out;
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  SS_CHECK(x.dim() > 0, IndexError, "narrow: cannot be applied to a 0-dim tensor");
  int64_t d = wrap_dim(dim, x.dim(), "narrow");
  int64_t n = x.size(d);
  if (start < 0) start += n;
  SS_CHECK(start >= 0 && start <= n, IndexError, "narrow: start (", start, ") out of range for dim ", d,
           " of size ", n, " (shape ", x.shape(), ")");
  SS_CHECK(length >= 0 && start + length <= n, IndexError, "narrow: start (", start, ") + length (", length,
           ") exceeds dimension size (", n, ") of dim ", d, ", shape ", x.shape());
  return slice(x, d, start, start + length, 1);
}

Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  SS_CHECK(x.dim() > 0, IndexError, "select: cannot be applied to a 0-dim tensor");
  int64_t d = wrap_dim(dim, x.dim(), "select");
  int64_t n = x.size(d);
  SS_CHECK(index >= -n && index < n, IndexError, "select: index ", index, " is out of bounds for dimension ", d,
           " with size ", n, " (shape ", x.shape(), ")");
  if (index < 0) index += n;
  Shape s = x.shape(), st = x.strides();
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  Tensor out = make_view(x, s, st, x.offset() + index * x.stride(d));
  if (needs_grad(x)) {
    Shape in = x.shape();
    record("SelectBackward", {x}, out, [in, d, index](const Tensor& g) {
      return tensor_list{embed_in_zeros("SelectBackwardBackward", g, in,
                                        [d, index](const Tensor& t) { return select(t, d, index); })};
    });
  }
  return out;
}

// The diagonal of dims (dim1, dim2) as a view: those dims are dropped and one
// of the diagonal's length is appended, with stride stride1 + stride2.
Tensor diagonal(const Tensor& x, int64_t offset, int64_t dim1, int64_t dim2) {
  SS_CHECK(x.dim() >= 2, ValueError, "diagonal: expects a tensor with at least 2 dims, but got shape ", x.shape());
  int64_t a = wrap_dim(dim1, x.dim(), "diagonal"), b = wrap_dim(dim2, x.dim(), "diagonal");
  SS_CHECK(a != b, ValueError, "diagonal: dimensions cannot be identical ", dim1, ", ", dim2, " (shape ", x.shape(), ")");
  int64_t len = offset >= 0 ? std::min(x.size(a), x.size(b) - offset) : std::min(x.size(a) + offset, x.size(b));
  len = std::max<int64_t>(len, 0);
  int64_t start = x.offset();
  if (len > 0) start += offset >= 0 ? offset * x.stride(b) : -offset * x.stride(a);
  Shape s, st;
  for (int64_t i = 0; i < x.dim(); ++i)
    if (i != a && i != b) {
      s.push_back(x.size(i));
      st.push_back(x.stride(i));
    }
  s.push_back(len);
  st.push_back(x.stride(a) + x.stride(b));
  Tensor out = make_view(x, s, st, start);
  if (needs_grad(x)) {
    Shape in = x.shape();
    record("DiagonalBackward", {x}, out, [in, offset, a, b](const Tensor& g) {
      return tensor_list{embed_in_zeros("DiagonalBackwardBackward", g, in, [offset, a, b](const Tensor& t) {
        return diagonal(t, offset, a, b);
      })};
    });
  }
  return out;
}

}  // namespace shanshui
