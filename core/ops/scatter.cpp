// scatter_reduce and segment_softmax. Both walk the index once on one thread:
// collisions (several elements reducing into one slot) are the normal case in
// message passing, and E x heads is small next to the GEMMs around it.
#include <cmath>
#include <limits>
#include <vector>

#include "autograd/node.h"
#include "core/dispatch.h"
#include "core/ops.h"
#include "core/ops/index_impl.h"

namespace shanshui {

using autograd::needs_grad;
using autograd::record;
using autograd::SavedTensor;
using autograd::tensor_list;

namespace {

enum class Reduce { Sum, Mean, Amax, Amin };

Reduce parse_reduce(const std::string& r) {
  if (r == "sum") return Reduce::Sum;
  if (r == "mean") return Reduce::Mean;
  if (r == "amax") return Reduce::Amax;
  if (r == "amin") return Reduce::Amin;
  throw ValueError(cat_str("scatter_reduce: reduce argument must be one of \"sum\", \"mean\", \"amax\", \"amin\", got \"",
                           r, "\""));
}

// Calls f(out_offset, src_offset) for every element of index, in row-major order;
// out is contiguous with out's coordinate along d taken from the index value.
template <class F>
void walk_index(const Tensor& out, const Tensor& index, const Tensor& src, int64_t d, F&& f) {
  const int64_t nd = index.dim(), n = index.numel();
  if (n == 0) return;
  const int64_t* ip = static_cast<const int64_t*>(index.raw_data());
  std::vector<int64_t> c(size_t(nd), 0);
  int64_t oi = 0, os = 0, oo = 0;  // offsets in index, src and out (without the d term)
  const int64_t od = out.stride(d);
  for (int64_t p = 0; p < n; ++p) {
    f(oo + ip[oi] * od, os);
    for (int64_t k = nd - 1; k >= 0; --k) {
      size_t K = size_t(k);
      oi += index.strides()[K];
      os += src.strides()[K];
      if (k != d) oo += out.strides()[K];
      if (++c[K] < index.shape()[K]) break;
      oi -= index.shape()[K] * index.strides()[K];
      os -= index.shape()[K] * src.strides()[K];
      if (k != d) oo -= index.shape()[K] * out.strides()[K];
      c[K] = 0;
    }
  }
}

}  // namespace

Tensor scatter_reduce(const Tensor& input, int64_t dim, const Tensor& index, const Tensor& src,
                      const std::string& reduce, bool include_self) {
  const char* op = "scatter_reduce";
  SS_CHECK(input.defined() && src.defined() && index.defined(), ValueError, op, ": input, index or src is undefined");
  Reduce r = parse_reduce(reduce);
  SS_CHECK(index.dtype() == DType::Int64, TypeError, op, ": expected index of dtype int64, got ",
           dtype_name(index.dtype()));
  SS_CHECK(input.dtype() == src.dtype(), TypeError, op, ": expected input and src to have the same dtype, got ",
           dtype_name(input.dtype()), " and ", dtype_name(src.dtype()));
  if (input.dim() == 0)
    return scatter_reduce(input.reshape({1}), dim, index.reshape({-1}), src.reshape({-1}), reduce, include_self)
        .reshape({});
  const int64_t d = wrap_dim(dim, input.dim(), op);
  SS_CHECK(index.dim() == input.dim() && src.dim() == input.dim(), ValueError, op,
           ": input, index and src must have the same number of dimensions; got shapes ", input.shape(), ", ",
           index.shape(), " and ", src.shape());
  for (int64_t e = 0; e < input.dim(); ++e) {
    SS_CHECK(index.size(e) <= src.size(e), ValueError, op, ": size of dimension ", e, " of index (", index.size(e),
             ") must not exceed that of src (", src.size(e), "); shapes ", index.shape(), " and ", src.shape());
    SS_CHECK(e == d || index.size(e) <= input.size(e), ValueError, op, ": size of dimension ", e, " of index (",
             index.size(e), ") must not exceed that of the input (", input.size(e), ") except at dim ", d,
             "; shapes ", index.shape(), " and ", input.shape());
  }
  index_detail::check_index_range(index, input.size(d), d, false, op);

  Tensor out = input.contiguous().clone();
  // count[o]: how many src elements reached slot o (mean divides by it; include_self=false
  // uses it to overwrite the input on first touch).
  std::vector<int32_t> count(size_t(out.numel()), 0);
  SS_DISPATCH_NUMERIC(out.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    T* o = static_cast<T*>(out.raw_data());
    const T* s = static_cast<const T*>(src.raw_data());
    walk_index(out, index, src, d, [&](int64_t oo, int64_t so) {
      const T v = s[so];
      const bool first = count[size_t(oo)]++ == 0 && !include_self;
      if (first) {
        o[oo] = v;
        return;
      }
      switch (r) {
        case Reduce::Sum:
        case Reduce::Mean: o[oo] += v; break;
        case Reduce::Amax: if (v > o[oo] || v != v) o[oo] = v; break;  // NaN propagates, as torch
        case Reduce::Amin: if (v < o[oo] || v != v) o[oo] = v; break;
      }
    });
    if (r == Reduce::Mean)
      for (int64_t i = 0; i < out.numel(); ++i) {
        int64_t c = count[size_t(i)] + (include_self ? 1 : 0);
        if (count[size_t(i)] > 0) o[i] = is_floating(out.dtype()) ? T(o[i] / T(c)) : T(std::floor(double(o[i]) / double(c)));
      }
  });

  if (needs_grad(input, src)) {
    SavedTensor s_in(input), s_idx(index), s_src(src), s_out(out, true);
    const bool need_in = input.requires_grad(), need_src = src.requires_grad();
    const Shape src_shape = src.shape();
    record("ScatterReduceBackward", {input, src}, out,
           [=](const Tensor& g) {
             Tensor self = s_in.unpack(), idx = s_idx.unpack(), sv = s_src.unpack();
             Tensor sv_view = sv;
             if (idx.shape() != sv.shape()) {  // only the part of src that index covers takes part
               for (int64_t e = 0; e < idx.dim(); ++e) sv_view = sv_view.narrow(e, 0, idx.size(e));
             }
             const DType dt = g.dtype();
             Tensor gi, gs;
             if (r == Reduce::Sum) {
               gi = g;
               gs = gather(g, d, idx);
             } else if (r == Reduce::Mean) {
               Tensor n = include_self ? ones(self.shape(), dt) : zeros(self.shape(), dt);
               n = scatter_add(n, d, idx, ones(idx.shape(), dt));
               n = masked_fill(n, eq(n, 0), 1);
               gi = div(g, n);
               gs = gather(gi, d, idx);
             } else {
               // PyTorch's rule: the gradient is split evenly between the input and src
               // elements that equal the result.
               Tensor res = s_out.unpack().detach();
               Tensor value = gather(res, d, idx);
               Tensor self_is = eq(self.detach(), res).to(dt), src_is = eq(sv_view.detach(), value).to(dt);
               Tensor n = scatter_add(self_is, d, idx, src_is);
               Tensor gd = div(g, n);
               gi = mul(self_is, gd);
               gs = mul(src_is, gather(gd, d, idx));
             }
             if (!include_self) {
               // Slots that received src elements take no gradient from the input.
               Tensor hit = scatter_add(zeros(self.shape(), dt), d, idx, ones(idx.shape(), dt));
               gi = masked_fill(gi, gt(hit, 0), 0);
             }
             if (need_src && gs.shape() != src_shape) {
               Tensor full_gs = zeros(src_shape, dt);
               Tensor region = full_gs;
               for (int64_t e = 0; e < idx.dim(); ++e) region = region.narrow(e, 0, idx.size(e));
               region.copy_(gs.detach());
               gs = full_gs;
             }
             return tensor_list{need_in ? gi : Tensor(), need_src ? gs : Tensor()};
           });
  }
  return out;
}

Tensor segment_softmax(const Tensor& src_in, const Tensor& index_in, int64_t num_segments) {
  const char* op = "segment_softmax";
  SS_CHECK(src_in.defined() && index_in.defined(), ValueError, op, ": src or index is undefined");
  SS_CHECK(src_in.is_floating_point(), TypeError, op, ": expected a floating-point src, got ",
           dtype_name(src_in.dtype()));
  SS_CHECK(index_in.dtype() == DType::Int64, TypeError, op, ": expected index of dtype int64, got ",
           dtype_name(index_in.dtype()));
  SS_CHECK(src_in.dim() >= 1, ValueError, op, ": src must have at least one dim [E, ...], got shape ", src_in.shape());
  SS_CHECK(index_in.dim() == 1 && index_in.size(0) == src_in.size(0), ValueError, op,
           ": index must be 1-D with one entry per row of src; got index shape ", index_in.shape(),
           " and src shape ", src_in.shape());
  Tensor src = src_in.contiguous(), index = index_in.contiguous();
  const int64_t E = src.size(0), F = E ? src.numel() / E : 1;
  const int64_t* ip = index.data_ptr<int64_t>();
  if (num_segments < 0) {
    num_segments = 0;
    for (int64_t e = 0; e < E; ++e) num_segments = std::max(num_segments, ip[e] + 1);
  }
  index_detail::check_index_range(index, num_segments, 0, false, op);
  Tensor out = empty(src.shape(), src.dtype());
  SS_DISPATCH_FLOAT(src.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    const T* s = src.data_ptr<T>();
    T* o = out.data_ptr<T>();
    std::vector<T> mx(size_t(num_segments * F), -std::numeric_limits<T>::infinity());
    std::vector<double> sum(size_t(num_segments * F), 0.0);
    for (int64_t e = 0; e < E; ++e) {
      T* m = mx.data() + ip[e] * F;
      for (int64_t f = 0; f < F; ++f) m[f] = std::max(m[f], s[e * F + f]);
    }
    for (int64_t e = 0; e < E; ++e) {
      const T* m = mx.data() + ip[e] * F;
      double* sm = sum.data() + ip[e] * F;
      for (int64_t f = 0; f < F; ++f) {
        T v = std::exp(s[e * F + f] - m[f]);
        o[e * F + f] = v;
        sm[f] += double(v);
      }
    }
    // + 1e-16 as torch_geometric.utils.softmax (it only matters for an all -inf group).
    std::vector<T> inv(sum.size());
    for (size_t i = 0; i < sum.size(); ++i) inv[i] = T(1.0 / (sum[i] + 1e-16));
    for (int64_t e = 0; e < E; ++e) {
      const T* iv = inv.data() + ip[e] * F;
      for (int64_t f = 0; f < F; ++f) o[e * F + f] *= iv[f];
    }
  });
  if (needs_grad(src_in)) {
    SavedTensor s_out(out, true), s_idx(index);
    const int64_t G = num_segments;
    record("SegmentSoftmaxBackward", {src_in}, out, [s_out, s_idx, G, E, F](const Tensor& g_in) {
      // d src[e] = out[e] * (g[e] - sum_{e' in group(e)} g[e'] out[e'])
      Tensor y = s_out.unpack(), idx = s_idx.unpack(), g = g_in.contiguous();
      Tensor dx = empty(y.shape(), y.dtype());
      const int64_t* ip = idx.data_ptr<int64_t>();
      SS_DISPATCH_FLOAT(y.dtype(), "segment_softmax_backward", [&](auto tag) {
        using T = decltype(tag);
        const T* yp = y.data_ptr<T>();
        const T* gp = g.data_ptr<T>();
        T* dp = dx.data_ptr<T>();
        std::vector<double> dot(size_t(G * F), 0.0);
        for (int64_t e = 0; e < E; ++e) {
          double* dt = dot.data() + ip[e] * F;
          for (int64_t f = 0; f < F; ++f) dt[f] += double(gp[e * F + f]) * double(yp[e * F + f]);
        }
        for (int64_t e = 0; e < E; ++e) {
          const double* dt = dot.data() + ip[e] * F;
          for (int64_t f = 0; f < F; ++f) dp[e * F + f] = T(double(yp[e * F + f]) * (double(gp[e * F + f]) - dt[f]));
        }
      });
      return tensor_list{dx};
    });
  }
  return out;
}

}  // namespace shanshui
