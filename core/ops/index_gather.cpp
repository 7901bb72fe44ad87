// The gather/scatter family: gather <-> scatter_add, index_select <-> index_add,
// embedding, one_hot, nonzero. Each differentiable op's backward is the other
// op of its pair, so double backward works. Index values are checked before
// any parallel loop runs (an exception must not escape an OpenMP region).
#include <algorithm>

#include "autograd/node.h"
#include "core/dispatch.h"
#include "core/kernels/loops.h"
#include "core/ops.h"
#include "core/ops/index_impl.h"
#include "core/ops/inplace.h"

namespace shanshui {

using autograd::needs_grad;
using autograd::record;
using autograd::SavedTensor;
using autograd::tensor_list;
using namespace index_detail;

namespace {

void check_int64(const Tensor& idx, const char* op, const char* what) {
  SS_CHECK(idx.defined(), ValueError, op, ": ", what, " is undefined");
  SS_CHECK(idx.dtype() == DType::Int64, TypeError, op, ": expected ", what, " of dtype int64, got ",
           dtype_name(idx.dtype()));
}

// gather/scatter_add shape rules: same rank; index no larger than src anywhere
// and no larger than self except along dim.
int64_t check_scatter_shapes(const char* op, const Tensor& self, int64_t dim, const Tensor& index,
                             const Tensor* src) {
  check_int64(index, op, "index");
  int64_t nd = std::max<int64_t>(self.dim(), 1);
  int64_t d = wrap_dim(dim, nd, op);
  SS_CHECK(index.dim() == self.dim(), ValueError, op,
           ": index tensor must have the same number of dimensions as the input tensor; got index shape ",
           index.shape(), " and input shape ", self.shape());
  for (int64_t e = 0; e < self.dim(); ++e)
    SS_CHECK(e == d || index.size(e) <= self.size(e), ValueError, op, ": size of dimension ", e, " of index (",
             index.size(e), ") must not exceed that of the input (", self.size(e), ") except at dim ", d,
             "; shapes ", index.shape(), " and ", self.shape());
  if (src) {
    SS_CHECK(src->dim() == self.dim(), ValueError, op, ": src must have the same number of dimensions as the input; ",
             "got src shape ", src->shape(), " and input shape ", self.shape());
    for (int64_t e = 0; e < self.dim(); ++e)
      SS_CHECK(index.size(e) <= src->size(e), ValueError, op, ": size of dimension ", e, " of index (", index.size(e),
               ") must not exceed that of src (", src->size(e), "); shapes ", index.shape(), " and ", src->shape());
  }
  return d;
}

// out = base (zeros of shape/dtype when undefined); out[... index[p] ...] += src[p] along dim d.
Tensor scatter_add_into(const Tensor& base, const Shape& shape, DType dtype, int64_t d, const Tensor& index,
                        const Tensor& src) {
  Tensor out;
  if (base.defined()) {
    out = empty(shape, dtype);
    kernels::copy_strided(out, base);
  } else {
    out = zeros(shape, dtype);
  }
  if (index.numel() > 0) {
    Tensor s = src.dtype() == dtype ? src : src.to(dtype);
    int64_t nd = out.dim();
    // Iterate over index's shape with dim d innermost and out's stride along d set to 0
    // (its offset comes from the index value). for_each_run hands each innermost run to
    // one thread and plan_loop cannot merge d with an outer dim (out's stride 0 vs non-0),
    // so all writes that can collide (same non-d coordinates) happen on one thread, in order.
    Shape shp, so, ss, si;
    for (int64_t e = 0; e <= nd; ++e) {
      int64_t k = e < nd ? (e == d ? -1 : e) : d;
      if (k < 0) continue;
      shp.push_back(index.shape()[size_t(k)]);
      so.push_back(k == d ? 0 : out.strides()[size_t(k)]);
      ss.push_back(s.strides()[size_t(k)]);
      si.push_back(index.strides()[size_t(k)]);
    }
    int64_t sd = nd > 0 ? out.strides()[size_t(d)] : 0;
    const int64_t* ip = index.data_ptr<int64_t>();
    SS_DISPATCH_NUMERIC(dtype, "scatter_add", [&](auto tag) {
      using T = decltype(tag);
      T* o = static_cast<T*>(out.raw_data());
      const T* sp = static_cast<const T*>(s.raw_data());
      kernels::for_each_run<3>(shp, {so, ss, si}, 1,
                               [&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
                                 for (int64_t i = 0; i < n; ++i)
                                   o[off[0] + i * st[0] + ip[off[2] + i * st[2]] * sd] += sp[off[1] + i * st[1]];
                               });
    });
  }
  bool need_base = base.defined() && needs_grad(base);
  if (need_base || needs_grad(src)) {
    SavedTensor si(index);
    Shape src_shape = src.shape();
    bool need_src = src.requires_grad(), has_base = base.defined();
    std::vector<Tensor> inputs = has_base ? std::vector<Tensor>{base, src} : std::vector<Tensor>{src};
    record("ScatterAddBackward", inputs, out, [si, d, src_shape, need_base, need_src, has_base](const Tensor& g) {
      Tensor gs;
      if (need_src) {
        Tensor idx = si.unpack();
        gs = gather(g, d, idx);
        if (idx.shape() != src_shape) {  // src larger than index: the extra elements get zero gradient
          Prog prog;
          for (int64_t e = 0; e < idx.dim(); ++e) prog.push_back({BasicOp::Slice, e, 0, idx.size(e), 1});
          gs = put(Tensor(), src_shape, g.dtype(), prog, {}, gs, false, "scatter_add_backward");
        }
      }
      return has_base ? tensor_list{need_base ? g : Tensor(), gs} : tensor_list{gs};
    });
  }
  return out;
}

// out = base (zeros when undefined); out.select(d, index[i]) += alpha * source.select(d, i).
Tensor index_add_into(const Tensor& base, const Shape& shape, DType dtype, int64_t d, const Tensor& index1d,
                      const Tensor& source, double alpha) {
  Tensor out;
  if (base.defined()) {
    out = empty(shape, dtype);
    kernels::copy_strided(out, base);
  } else {
    out = zeros(shape, dtype);
  }
  write_region(out, {{d, index1d}}, source, true, alpha, false, "index_add");
  bool need_base = base.defined() && needs_grad(base);
  if (need_base || needs_grad(source)) {
    SavedTensor si(index1d);
    bool need_src = source.requires_grad(), has_base = base.defined();
    std::vector<Tensor> inputs = has_base ? std::vector<Tensor>{base, source} : std::vector<Tensor>{source};
    record("IndexAddBackward", inputs, out, [si, d, alpha, need_base, need_src, has_base](const Tensor& g) {
      Tensor gs;
      if (need_src) {
        gs = index_select(g, d, si.unpack());
        if (alpha != 1.0) gs = mul(gs, scalar_tensor(alpha, gs.dtype()));
      }
      return has_base ? tensor_list{need_base ? g : Tensor(), gs} : tensor_list{gs};
    });
  }
  return out;
}

}  // namespace

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  const char* op = "gather";
  SS_CHECK(x.defined(), ValueError, op, ": input is undefined");
  int64_t d = check_scatter_shapes(op, x, dim, index, nullptr);
  if (x.dim() == 0) return gather(x.reshape({1}), 0, index.reshape({1})).reshape({});
  check_index_range(index, x.size(d), d, false, op);
  Tensor out = empty(index.shape(), x.dtype());
  Shape xs = x.strides();
  int64_t sd = xs[size_t(d)];
  xs[size_t(d)] = 0;  // the offset along d comes from the index value
  const int64_t* ip = index.data_ptr<int64_t>();
  SS_DISPATCH_ALL(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    T* o = static_cast<T*>(out.raw_data());
    const T* xp = static_cast<const T*>(x.raw_data());
    kernels::for_each_run<3>(index.shape(), {out.strides(), xs, index.strides()}, 1,
                             [&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
                               for (int64_t i = 0; i < n; ++i)
                                 o[off[0] + i * st[0]] = xp[off[1] + i * st[1] + ip[off[2] + i * st[2]] * sd];
                             });
  });
  if (needs_grad(x)) {
    SavedTensor si(index);
    Shape in = x.shape();
    record("GatherBackward", {x}, out, [si, d, in](const Tensor& g) {
      return tensor_list{scatter_add_into(Tensor(), in, g.dtype(), d, si.unpack(), g)};
    });
  }
  return out;
}

Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  const char* op = "scatter_add";
  SS_CHECK(x.defined() && src.defined(), ValueError, op, ": input or src is undefined");
  SS_CHECK(x.dtype() == src.dtype(), TypeError, op, ": expected self and src to have the same dtype, got ",
           dtype_name(x.dtype()), " and ", dtype_name(src.dtype()));
  int64_t d = check_scatter_shapes(op, x, dim, index, &src);
  if (x.dim() == 0) return scatter_add(x.reshape({1}), 0, index.reshape({1}), src.reshape({1})).reshape({});
  check_index_range(index, x.size(d), d, false, op);
  return scatter_add_into(x, x.shape(), x.dtype(), d, index, src);
}

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  const char* op = "index_select";
  SS_CHECK(x.defined(), ValueError, op, ": input is undefined");
  check_int64(index, op, "index");
  SS_CHECK(index.dim() <= 1, ValueError, op, ": index must be a vector or a scalar, got shape ", index.shape());
  if (x.dim() == 0) {
    wrap_dim(dim, 1, op);
    SS_CHECK(index.numel() == 1, ValueError, op, ": index of a 0-d input must have one element, got shape ",
             index.shape());
    return index_select(x.reshape({1}), 0, index.reshape({1})).reshape({});
  }
  int64_t d = wrap_dim(dim, x.dim(), op);
  Tensor idx = index.dim() == 0 ? index.reshape({1}) : index;
  Tensor out = gather_raw(x, {{d, idx}}, false, op);
  if (needs_grad(x)) {
    SavedTensor si(idx);
    Shape in = x.shape();
    record("IndexSelectBackward", {x}, out, [si, d, in](const Tensor& g) {
      return tensor_list{index_add_into(Tensor(), in, g.dtype(), d, si.unpack(), g, 1.0)};
    });
  }
  return out;
}

Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& source, Scalar alpha) {
  const char* op = "index_add";
  SS_CHECK(x.defined() && source.defined(), ValueError, op, ": input or source is undefined");
  check_int64(index, op, "index");
  SS_CHECK(index.dim() <= 1, ValueError, op, ": index must be a vector or a scalar, got shape ", index.shape());
  SS_CHECK(x.dtype() == source.dtype(), TypeError, op, ": self (", dtype_name(x.dtype()), ") and source (",
           dtype_name(source.dtype()), ") must have the same dtype");
  if (x.dim() == 0) {
    wrap_dim(dim, 1, op);
    return index_add(x.reshape({1}), 0, index.reshape({-1}), source.reshape({-1}), alpha).reshape({});
  }
  int64_t d = wrap_dim(dim, x.dim(), op);
  Tensor idx = index.dim() == 0 ? index.reshape({1}) : index;
  Shape want = x.shape();
  want[size_t(d)] = idx.numel();
  Tensor src = source.dim() == 0 && numel_of(want) == 1 ? source.reshape(want) : source;
  SS_CHECK(src.shape() == want, ValueError, op, ": source of shape ", source.shape(), " does not match the shape ",
           want, " (input shape ", x.shape(), " with dim ", d, " replaced by the number of indices ", idx.numel(),
           ")");
  return index_add_into(x, x.shape(), x.dtype(), d, idx, src, alpha.v);
}

Tensor embedding(const Tensor& weight, const Tensor& indices, std::optional<int64_t> padding_idx) {
  const char* op = "embedding";
  SS_CHECK(weight.defined(), ValueError, op, ": weight is undefined");
  SS_CHECK(weight.dim() == 2, ValueError, op, ": weight must be 2-D [num_embeddings, embedding_dim], got shape ",
           weight.shape());
  check_int64(indices, op, "indices");
  int64_t num = weight.size(0);
  std::optional<int64_t> pad;
  if (padding_idx) {
    SS_CHECK(*padding_idx >= -num && *padding_idx < num, ValueError, op, ": padding_idx (", *padding_idx,
             ") must be within num_embeddings (", num, ")");
    pad = *padding_idx < 0 ? *padding_idx + num : *padding_idx;
  }
  Tensor out = gather_raw(weight, {{0, indices}}, false, op);  // [..., dim]; checks indices in [0, num)
  if (needs_grad(weight)) {
    SavedTensor si(indices);
    Shape ws = weight.shape();
    record("EmbeddingBackward", {weight}, out, [si, ws, pad](const Tensor& g) {
      // Rows are summed over every occurrence of their index; the padding row gets none.
      Tensor gw = put(Tensor(), ws, g.dtype(), {}, {{0, si.unpack()}}, g, true, "embedding_backward");
      if (pad) gw = put(gw, ws, g.dtype(), {{BasicOp::Select, 0, *pad, 0, 1}}, {}, zeros({}, g.dtype()), false,
                        "embedding_backward");
      return tensor_list{gw};
    });
  }
  return out;
}

Tensor one_hot(const Tensor& indices, int64_t num_classes) {
  const char* op = "one_hot";
  check_int64(indices, op, "indices");
  SS_CHECK(num_classes >= -1, ValueError, op, ": num_classes must be -1 (infer) or non-negative, got ", num_classes);
  Tensor idx = indices.contiguous();
  const int64_t* p = idx.data_ptr<int64_t>();
  int64_t n = idx.numel();
  if (num_classes == -1) {
    SS_CHECK(n > 0, ValueError, op, ": can not infer the total number of classes from an empty tensor");
    num_classes = *std::max_element(p, p + n) + 1;
  }
  for (int64_t i = 0; i < n; ++i)
    SS_CHECK(p[i] >= 0 && p[i] < num_classes, IndexError, op, ": class value ", p[i],
             " is out of bounds for num_classes ", num_classes, " (class values must be in [0, num_classes))");
  Shape s = indices.shape();
  s.push_back(num_classes);
  Tensor out = zeros(s, DType::Int64);
  int64_t* o = out.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) o[i * num_classes + p[i]] = 1;
  return out;
}

Tensor nonzero(const Tensor& x) {
  SS_CHECK(x.defined(), ValueError, "nonzero: input is undefined");
  int64_t nd = x.dim(), total = x.numel();
  // Pass 1 collects flat positions of non-zeros in row-major order; pass 2 unravels them.
  std::vector<int64_t> flat;
  SS_DISPATCH_ALL(x.dtype(), "nonzero", [&](auto tag) {
    using T = decltype(tag);
    const T* d = static_cast<const T*>(x.raw_data());
    std::vector<int64_t> idx(size_t(nd), 0);
    int64_t off = 0;
    for (int64_t b = 0; b < total; ++b) {
      if (d[off] != T(0)) flat.push_back(b);
      for (int64_t k = nd - 1; k >= 0; --k) {
        off += x.strides()[size_t(k)];
        if (++idx[size_t(k)] < x.shape()[size_t(k)]) break;
        off -= x.shape()[size_t(k)] * x.strides()[size_t(k)];
        idx[size_t(k)] = 0;
      }
    }
  });
  Tensor out = empty({int64_t(flat.size()), nd}, DType::Int64);
  int64_t* o = out.data_ptr<int64_t>();
  for (size_t i = 0; i < flat.size(); ++i) {
    int64_t r = flat[i];
    for (int64_t k = nd - 1; k >= 0; --k) {
      o[int64_t(i) * nd + k] = r % x.shape()[size_t(k)];
      r /= x.shape()[size_t(k)];
    }
  }
  return out;
}

}  // namespace shanshui
