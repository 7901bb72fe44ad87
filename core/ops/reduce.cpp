// Reductions other than sum/mean (those live in reduce_sum.cpp): prod, var,
// std, logsumexp, amax/amin, max/min (full and with a dim), argmax/argmin,
// cumsum, all, any. Forward kernels run on core/kernels/reduce.h; backwards
// are written with Tensor ops so they stay differentiable (create_graph).
// Floating accumulations run in double: it costs little in a reduction and
// keeps float32 results within an ulp of PyTorch's pairwise sums.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "core/dispatch.h"
#include "core/kernels/reduce.h"
#include "core/ops.h"

namespace shanshui {

using autograd::needs_grad;
using autograd::record;
using autograd::SavedTensor;
using autograd::tensor_list;

namespace {

template <class T>
using acc_t = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

Shape reduced_shape(const Shape& keep_shape, const std::vector<int64_t>& dims, bool keepdim) {
  if (keepdim) return keep_shape;
  Shape s;
  for (int64_t d = 0; d < int64_t(keep_shape.size()); ++d)
    if (std::find(dims.begin(), dims.end(), d) == dims.end()) s.push_back(keep_shape[d]);
  return s;
}

Tensor zero_like_scalar(const Tensor& g) { return scalar_tensor(0.0, g.dtype()); }

// amax/amin and max()/min() refuse empty reductions (there is no identity), as PyTorch.
void check_nonempty(const Tensor& x, const std::vector<int64_t>& dims, bool dims_given, const char* op) {
  if (!dims_given) {
    SS_CHECK(x.numel() != 0, RuntimeError, op, ": expected a non-empty input when no dim is given, got shape ",
             x.shape(), " (specify the reduction dim)");
    return;
  }
  for (auto d : dims)
    SS_CHECK(x.size(d) != 0, IndexError, op, ": expected reduction dim ", d, " to have non-zero size, input shape ",
             x.shape());
}

// ---- prod --------------------------------------------------------------------

Tensor prod_forward(const Tensor& x, const std::vector<int64_t>& d, bool keepdim, DType out_dtype) {
  kernels::ReducePlan p = kernels::plan_reduce(x, d);
  Tensor out = empty(reduced_shape(p.out_shape, d, keepdim), out_dtype);
  SS_DISPATCH_ALL(x.dtype(), "prod", [&](auto tag) {
    using T = decltype(tag);
    SS_DISPATCH_NUMERIC(out_dtype, "prod", [&](auto otag) {
      using O = decltype(otag);
      using Acc = acc_t<O>;
      O* o = static_cast<O*>(out.raw_data());
      kernels::reduce_each<T>(x, p, 1, [&](int64_t i, const T* first) {
        Acc acc = 1;
        kernels::for_each_reduced(first, p, [&](T v) { acc *= static_cast<Acc>(v); });
        o[i] = static_cast<O>(acc);
      });
    });
  });
  return out;
}

// ---- max/min family ----------------------------------------------------------

// NaN wins and stays (v != v), as PyTorch propagates NaN through max/min.
template <bool IsMax, class T>
inline bool better(T v, T m) {
  if constexpr (std::is_floating_point_v<T>) {
    if (m != m) return false;
    if (v != v) return true;
  }
  return IsMax ? v > m : v < m;
}

template <bool IsMax>
Tensor extreme_forward(const Tensor& x, const std::vector<int64_t>& d, bool keepdim, const char* op) {
  kernels::ReducePlan p = kernels::plan_reduce(x, d);
  Tensor out = empty(reduced_shape(p.out_shape, d, keepdim), x.dtype());
  SS_DISPATCH_ALL(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    T* o = static_cast<T*>(out.raw_data());
    kernels::reduce_each<T>(x, p, 1, [&](int64_t i, const T* first) {
      // Branch-free: track NaN separately instead of testing it before every compare.
      T m = *first;
      bool nan = false;
      kernels::for_each_reduced(first, p, [&](T v) {
        m = (IsMax ? v > m : v < m) ? v : m;
        if constexpr (std::is_floating_point_v<T>) nan |= v != v;
      });
      if constexpr (std::is_floating_point_v<T>) {
        if (nan) m = std::numeric_limits<T>::quiet_NaN();
      }
      o[i] = m;
    });
  });
  return out;
}

// amax/amin and full max/min: the gradient is split evenly among the tied extrema, as PyTorch.
Tensor record_even_split(const Tensor& x, const std::vector<int64_t>& d, Tensor& out, const char* name) {
  if (needs_grad(x)) {
    Shape in = x.shape(), keep = kernels::plan_reduce(x, d).out_shape;
    SavedTensor sx(x), so(out, true);
    record(name, {x}, out, [sx, so, d, in, keep](const Tensor& g) {
      Tensor xv = sx.unpack();
      Tensor mask = eq(xv, so.unpack().reshape(keep)).to(g.dtype());
      Tensor count = sum(mask, d, /*keepdim=*/true);
      return tensor_list{g.reshape(keep).div(count).mul(mask)};
    });
  }
  return out;
}

// Values and first-occurrence indices along one dim (a NaN counts as the extreme).
template <bool IsMax>
std::pair<Tensor, Tensor> extreme_dim_forward(const Tensor& x, int64_t dim, bool keepdim, const char* op,
                                              bool want_values) {
  std::vector<int64_t> d = x.dim() == 0 ? std::vector<int64_t>{} : std::vector<int64_t>{dim};
  kernels::ReducePlan p = kernels::plan_reduce(x, d);
  Shape oshape = reduced_shape(p.out_shape, d, keepdim);
  Tensor vals = want_values ? empty(oshape, x.dtype()) : Tensor();
  Tensor idx = empty(oshape, DType::Int64);
  const int64_t n = d.empty() ? 1 : p.red_shape[0], st = d.empty() ? 0 : p.red_strides[0];
  SS_DISPATCH_ALL(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    T* vo = want_values ? static_cast<T*>(vals.raw_data()) : nullptr;
    int64_t* io = static_cast<int64_t*>(idx.raw_data());
    kernels::reduce_each<T>(x, p, 1, [&](int64_t i, const T* first) {
      T m = *first;
      int64_t best = 0;
      for (int64_t k = 1; k < n; ++k) {
        const T v = first[k * st];
        if (better<IsMax>(v, m)) {
          m = v;
          best = k;
        }
      }
      if (vo) vo[i] = m;
      io[i] = best;
    });
  });
  return {vals, idx};
}

template <bool IsMax>
std::pair<Tensor, Tensor> extreme_dim(const Tensor& x, int64_t dim, bool keepdim, const char* op) {
  const int64_t w = wrap_dim(dim, x.dim(), op);
  if (x.dim() > 0)
    SS_CHECK(x.size(w) != 0, IndexError, op, ": expected reduction dim ", w, " to have non-zero size, input shape ",
             x.shape());
  auto [vals, idx] = extreme_dim_forward<IsMax>(x, w, keepdim, op, true);
  if (needs_grad(x)) {
    Shape in = x.shape();
    Shape keep = in;
    if (x.dim() > 0) keep[w] = 1;
    // The gradient goes to the returned index only (not split among ties), as PyTorch.
    Tensor pos = x.dim() > 0 ? arange(in[w], DType::Int64) : zeros({}, DType::Int64);
    if (x.dim() > 0) {
      Shape ps(in.size(), 1);
      ps[w] = in[w];
      pos = pos.reshape(ps);
    }
    Tensor idx_keep = idx.reshape(keep);
    record(IsMax ? "MaxBackward" : "MinBackward", {x}, vals, [pos, idx_keep, keep, in](const Tensor& g) {
      Tensor hit = eq(pos, idx_keep);
      return tensor_list{where(hit, g.reshape(keep), zero_like_scalar(g)).expand(in)};
    });
  }
  return {vals, idx};
}

template <bool IsMax>
Tensor arg_extreme(const Tensor& x, std::optional<int64_t> dim, bool keepdim, const char* op) {
  SS_CHECK(x.dtype() != DType::Bool, TypeError, op, ": bool inputs are not supported (shape ", x.shape(), ")");
  if (dim) {
    const int64_t w = wrap_dim(*dim, x.dim(), op);
    if (x.dim() > 0)
      SS_CHECK(x.size(w) != 0, IndexError, op, ": expected reduction dim ", w,
               " to have non-zero size, input shape ", x.shape());
    return extreme_dim_forward<IsMax>(x, w, keepdim, op, false).second;
  }
  // No dim: the index into the flattened (row-major) input.
  SS_CHECK(x.numel() != 0, IndexError, op, ": expected a non-empty input when no dim is given, got shape ",
           x.shape());
  Tensor flat = x.is_contiguous() ? make_view(x, {x.numel()}, {1}, x.offset()) : x.contiguous().reshape({x.numel()});
  Tensor r = extreme_dim_forward<IsMax>(flat, 0, false, op, false).second;
  return keepdim ? r.reshape(Shape(x.dim(), 1)) : r;
}

// ---- cumsum ------------------------------------------------------------------

// Inclusive scan along dim; `reverse` scans from the end (the adjoint of the forward scan).
Tensor scan_forward(const Tensor& x, int64_t dim, bool reverse, DType out_dtype) {
  Tensor out = empty(x.shape(), out_dtype);
  if (out.numel() == 0) return out;
  Tensor xv = x.dim() == 0 ? make_view(x, {1}, {1}, x.offset()) : x;
  Tensor ov = x.dim() == 0 ? make_view(out, {1}, {1}, 0) : out;
  const int64_t n = xv.size(dim), xs = xv.stride(dim), os = ov.stride(dim);
  SS_DISPATCH_ALL(x.dtype(), "cumsum", [&](auto tag) {
    using T = decltype(tag);
    SS_DISPATCH_NUMERIC(out_dtype, "cumsum", [&](auto otag) {
      using O = decltype(otag);
      using Acc = acc_t<O>;
      const T* xp = static_cast<const T*>(xv.raw_data());
      O* op = static_cast<O*>(ov.raw_data());
      kernels::for_each_line<2>(xv.shape(), dim, {xv.strides(), ov.strides()}, n, [&](const std::array<int64_t, 2>& off) {
        const T* a = xp + off[0];
        O* b = op + off[1];
        Acc acc = 0;
        if (!reverse) {
          for (int64_t i = 0; i < n; ++i) b[i * os] = static_cast<O>(acc += static_cast<Acc>(a[i * xs]));
        } else {
          for (int64_t i = n - 1; i >= 0; --i) b[i * os] = static_cast<O>(acc += static_cast<Acc>(a[i * xs]));
        }
      });
    });
  });
  return out;
}

Tensor scan(const Tensor& x, int64_t dim, bool reverse) {
  DType out_dtype = x.is_floating_point() ? x.dtype() : DType::Int64;
  Tensor out = scan_forward(x, dim, reverse, out_dtype);
  if (needs_grad(x)) {
    // d/dx of a forward scan is the reverse scan of the gradient, and vice versa.
    record(reverse ? "ReverseCumsumBackward" : "CumsumBackward", {x}, out,
           [dim, reverse](const Tensor& g) { return tensor_list{scan(g, dim, !reverse)}; });
  }
  return out;
}

// ---- all / any ---------------------------------------------------------------

bool truth_reduce(const Tensor& x, bool want_all) {
  std::vector<int64_t> d = wrap_dims({}, x.dim(), want_all ? "all" : "any");
  kernels::ReducePlan p = kernels::plan_reduce(x, d);
  bool result = want_all;
  SS_DISPATCH_ALL(x.dtype(), want_all ? "all" : "any", [&](auto tag) {
    using T = decltype(tag);
    if (x.numel() == 0) return;
    kernels::for_each_reduced(static_cast<const T*>(x.raw_data()), p, [&](T v) {
      if ((v != T(0)) != want_all) result = !want_all;  // NaN is nonzero, so true
    });
  });
  return result;
}

}  // namespace

// ---- public entry points -------------------------------------------------------

Tensor prod(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  std::vector<int64_t> d = dim ? wrap_dims({*dim}, x.dim(), "prod") : wrap_dims({}, x.dim(), "prod");
  // Integer and bool inputs multiply in int64, as PyTorch.
  DType out_dtype = x.is_floating_point() ? x.dtype() : DType::Int64;
  Tensor out = prod_forward(x, d, keepdim, out_dtype);
  if (needs_grad(x)) {
    Shape in = x.shape(), keep = kernels::plan_reduce(x, d).out_shape;
    SavedTensor sx(x);
    std::optional<int64_t> wd = dim ? std::optional<int64_t>(wrap_dim(*dim, x.dim(), "prod")) : std::nullopt;
    record("ProdBackward", {x}, out, [sx, d, wd, in, keep](const Tensor& g) {
      // d prod / d x_i = product of the other elements. Dividing out by x_i fails at zeros, so:
      // no zero in the slice -> P / x_i; exactly one zero -> the product of the nonzeros at the
      // zero's position and 0 elsewhere; two or more zeros -> 0. Written with Tensor ops
      // (prod of a zero-free tensor takes the P / x_i branch), so it is twice differentiable.
      Tensor xv = sx.unpack();
      Tensor is_zero = eq(xv, 0.0);
      Tensor one = scalar_tensor(1.0, xv.dtype());
      Tensor nz = where(is_zero, one, xv);
      Tensor p_nz = prod(nz, wd, /*keepdim=*/true);
      Tensor zeros_n = sum(is_zero, d, /*keepdim=*/true);
      Tensor others = where(eq(zeros_n, 0), p_nz.div(nz),
                            where(logical_and(eq(zeros_n, 1), is_zero), p_nz.expand(in), zero_like_scalar(xv)));
      return tensor_list{g.reshape(keep).mul(others)};
    });
  }
  return out;
}

namespace {

// Sum of squared deviations from the mean (two passes, in double), divided by max(0, N - correction):
// N - correction <= 0 gives inf (or nan for zero deviation), as PyTorch.
Tensor var_forward(const Tensor& x, const std::vector<int64_t>& d, int64_t correction, bool keepdim, bool take_sqrt) {
  kernels::ReducePlan p = kernels::plan_reduce(x, d);
  Tensor out = empty(reduced_shape(p.out_shape, d, keepdim), x.dtype());
  const double n = double(p.red_numel);
  const double divisor = std::max(0.0, n - double(correction));
  SS_DISPATCH_FLOAT(x.dtype(), "var", [&](auto tag) {
    using T = decltype(tag);
    T* o = static_cast<T*>(out.raw_data());
    kernels::reduce_each<T>(x, p, 3, [&](int64_t i, const T* first) {
      double s = 0;
      kernels::for_each_reduced(first, p, [&](T v) { s += double(v); });
      const double mu = s / n;
      double ss = 0;
      kernels::for_each_reduced(first, p, [&](T v) {
        const double dv = double(v) - mu;
        ss += dv * dv;
      });
      const double v = ss / divisor;
      o[i] = static_cast<T>(take_sqrt ? std::sqrt(v) : v);
    });
  });
  return out;
}

Tensor var_std(const Tensor& x, const Dims& dims, int64_t correction, bool keepdim, bool is_std) {
  const char* op = is_std ? "std" : "var";
  SS_CHECK(x.is_floating_point(), TypeError, op, ": std and var only support floating-point inputs, got a ",
           dtype_name(x.dtype()), " tensor of shape ", x.shape());
  std::vector<int64_t> d = wrap_dims(dims, x.dim(), op);
  Tensor out = var_forward(x, d, correction, keepdim, is_std);
  if (needs_grad(x)) {
    kernels::ReducePlan p = kernels::plan_reduce(x, d);
    Shape keep = p.out_shape;
    const double divisor = std::max(0.0, double(p.red_numel) - double(correction));
    SavedTensor sx(x), so(is_std ? out : Tensor(), true);
    record(is_std ? "StdBackward" : "VarBackward", {x}, out, [sx, so, d, keep, divisor, is_std](const Tensor& g) {
      Tensor xv = sx.unpack();
      Tensor centered = xv.sub(mean(xv, d, /*keepdim=*/true));
      Tensor gk = g.reshape(keep);
      if (is_std) {
        // d std = d var / (2 std); where std == 0 the gradient is taken as 0, as PyTorch.
        Tensor sd = so.unpack().reshape(keep);
        gk = where(eq(sd, 0.0), zero_like_scalar(gk), gk.div(sd.mul(2.0)));
      }
      // d var / d x_i = 2 (x_i - mean) / (N - correction)
      return tensor_list{centered.mul(gk.mul(2.0 / divisor))};
    });
  }
  return out;
}

template <bool IsMax>
Tensor amax_amin(const Tensor& x, const Dims& dims, bool keepdim, const char* op) {
  std::vector<int64_t> d = wrap_dims(dims, x.dim(), op);
  check_nonempty(x, d, !dims.empty(), op);
  Tensor out = extreme_forward<IsMax>(x, d, keepdim, op);
  return record_even_split(x, d, out, IsMax ? "AmaxBackward" : "AminBackward");
}

template <bool IsMax>
Tensor full_extreme(const Tensor& x, const char* op) {
  std::vector<int64_t> d = wrap_dims({}, x.dim(), op);
  check_nonempty(x, d, false, op);
  Tensor out = extreme_forward<IsMax>(x, d, false, op);
  return record_even_split(x, d, out, IsMax ? "MaxBackward" : "MinBackward");
}

}  // namespace

Tensor var(const Tensor& x, const Dims& dims, int64_t correction, bool keepdim) {
  return var_std(x, dims, correction, keepdim, false);
}

Tensor std(const Tensor& x, const Dims& dims, int64_t correction, bool keepdim) {
  return var_std(x, dims, correction, keepdim, true);
}

// Empty `dims` reduces over all dims, like the other reductions here.
Tensor logsumexp(const Tensor& x_in, const Dims& dims, bool keepdim) {
  // Integer and bool inputs are promoted to the default float type, as PyTorch.
  Tensor x = x_in.is_floating_point() ? x_in : x_in.to(default_float());
  std::vector<int64_t> d = wrap_dims(dims, x.dim(), "logsumexp");
  kernels::ReducePlan p = kernels::plan_reduce(x, d);
  Tensor out = empty(reduced_shape(p.out_shape, d, keepdim), x.dtype());
  SS_DISPATCH_FLOAT(x.dtype(), "logsumexp", [&](auto tag) {
    using T = decltype(tag);
    T* o = static_cast<T*>(out.raw_data());
    kernels::reduce_each<T>(x, p, 10, [&](int64_t i, const T* first) {
      // Shift by the max so exp cannot overflow; an infinite max is not subtracted
      // (inf - inf would be nan): all -inf gives -inf, any +inf gives +inf.
      double m = -std::numeric_limits<double>::infinity();
      kernels::for_each_reduced(first, p, [&](T v) { m = double(v) > m ? double(v) : m; });
      if (std::isinf(m)) m = 0;
      double s = 0;
      // exp in T (expf is about twice as fast as exp; its argument is <= 0), summed in double.
      const T mt = static_cast<T>(m);
      kernels::for_each_reduced(first, p, [&](T v) { s += double(std::exp(v - mt)); });
      o[i] = static_cast<T>(std::log(s) + m);
    });
  });
  if (needs_grad(x)) {
    Shape keep = p.out_shape;
    SavedTensor sx(x), so(out, true);
    record("LogsumexpBackward", {x}, out, [sx, so, keep](const Tensor& g) {
      // d lse / d x_i = exp(x_i - lse)
      return tensor_list{g.reshape(keep).mul(exp(sx.unpack().sub(so.unpack().reshape(keep))))};
    });
  }
  return out;
}

Tensor amax(const Tensor& x, const Dims& dims, bool keepdim) { return amax_amin<true>(x, dims, keepdim, "amax"); }
Tensor amin(const Tensor& x, const Dims& dims, bool keepdim) { return amax_amin<false>(x, dims, keepdim, "amin"); }
Tensor max(const Tensor& x) { return full_extreme<true>(x, "max"); }
Tensor min(const Tensor& x) { return full_extreme<false>(x, "min"); }

std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim) {
  return extreme_dim<true>(x, dim, keepdim, "max");
}
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim) {
  return extreme_dim<false>(x, dim, keepdim, "min");
}

Tensor argmax(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  return arg_extreme<true>(x, dim, keepdim, "argmax");
}
Tensor argmin(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  return arg_extreme<false>(x, dim, keepdim, "argmin");
}

Tensor cumsum(const Tensor& x, int64_t dim) { return scan(x, wrap_dim(dim, x.dim(), "cumsum"), false); }

Tensor all(const Tensor& x) { return scalar_tensor(truth_reduce(x, true), DType::Bool); }
Tensor any(const Tensor& x) { return scalar_tensor(truth_reduce(x, false), DType::Bool); }

}  // namespace shanshui
