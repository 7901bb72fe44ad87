// softmax and log_softmax: fused, numerically stable row kernels (shift by the
// row max, so exp never overflows), parallel over rows. The contiguous
// last-dim case (attention scores, logits) runs unit-stride kernels with an
// explicit AVX2 exp for float32; any other layout or dim takes the strided
// path. Backward uses only the saved output:
//   softmax:     dx = y * (g - sum(g * y))
//   log_softmax: dx = g - exp(y) * sum(g)
// with a fused kernel, or with Tensor ops when a differentiable backward is
// being built (create_graph).
#include <cmath>
#include <algorithm>
#include <cstring>
#include <limits>

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

// Per-element cost hint for the grain size (an exp plus a few flops).
constexpr int64_t kRowCost = 8;

// ---- row primitives: generic (any stride, any float type) -------------------

template <class T>
T row_max(const T* x, int64_t xs, int64_t n) {
  T m = x[0];
  for (int64_t i = 1; i < n; ++i) m = x[i * xs] > m ? x[i * xs] : m;
  return m;
}
// y = exp(x - shift)
template <class T>
void row_exp(const T* x, int64_t xs, T* y, int64_t ys, int64_t n, T shift) {
  for (int64_t i = 0; i < n; ++i) y[i * ys] = std::exp(x[i * xs] - shift);
}
template <class T>
double row_sum(const T* x, int64_t xs, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += double(x[i * xs]);
  return s;
}
template <class T>
double row_dot(const T* a, int64_t as, const T* b, int64_t bs, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += double(a[i * as]) * double(b[i * bs]);
  return s;
}

// ---- unit-stride float32 specialisations with AVX2 ---------------------------
// GCC does not vectorise float max/exp/sum loops by itself (no reassociation
// and trapping compares without -ffast-math), so these use vector extensions.
#if defined(__AVX2__) && defined(__FMA__)
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

inline v8f load8(const float* p) {
  v8f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store8(float* p, v8f v) { std::memcpy(p, &v, sizeof v); }

// exp(x) to ~1.5 ulp (Cephes expf: x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial for e^r,
// 2^n built in the exponent bits). Below -87.3 gives 0 (denormals are flushed), above 88 gives
// inf, NaN stays NaN. -inf gives exactly 0, which masked attention scores rely on.
inline v8f exp8(v8f x) {
  const v8f lo = v8f{} - 87.33654f, hi = v8f{} + 88.0f;
  const v8i is_nan = x != x, small = x < lo, big = x > hi;
  v8f xc = small ? lo : x;
  xc = big ? hi : xc;
  xc = is_nan ? v8f{} : xc;
  const v8f magic = v8f{} + 12582912.0f;  // 1.5 * 2^23: adding and subtracting rounds to an integer
  const v8f n = (xc * 1.44269504088896341f + magic) - magic;
  v8f r = xc - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  v8f p = v8f{} + 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const v8i bits = (__builtin_convertvector(n, v8i) + 127) << 23;
  v8f y = p * (v8f)bits;
  y = small ? v8f{} : y;
  y = big ? v8f{} + std::numeric_limits<float>::infinity() : y;
  return is_nan ? x : y;
}

inline double hsum(v8f v) {
  double s = 0;
  for (int j = 0; j < 8; ++j) s += double(v[j]);
  return s;
}

template <>
float row_max<float>(const float* x, int64_t xs, int64_t n) {
  if (xs != 1 || n < 8) {
    float m = x[0];
    for (int64_t i = 1; i < n; ++i) m = x[i * xs] > m ? x[i * xs] : m;
    return m;
  }
  v8f acc = load8(x);
  int64_t i = 8;
  for (; i + 8 <= n; i += 8) {
    const v8f v = load8(x + i);
    acc = v > acc ? v : acc;
  }
  float m = acc[0];
  for (int j = 1; j < 8; ++j) m = acc[j] > m ? acc[j] : m;
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

template <>
void row_exp<float>(const float* x, int64_t xs, float* y, int64_t ys, int64_t n, float shift) {
  if (xs != 1 || ys != 1) {
    for (int64_t i = 0; i < n; ++i) y[i * ys] = std::exp(x[i * xs] - shift);
    return;
  }
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) store8(y + i, exp8(load8(x + i) - shift));
  if (i < n) {  // the tail through a padded vector, so every element sees the same exp
    float buf[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::memcpy(buf, x + i, sizeof(float) * size_t(n - i));
    const v8f e = exp8(load8(buf) - shift);
    store8(buf, e);
    std::memcpy(y + i, buf, sizeof(float) * size_t(n - i));
  }
}

template <>
double row_sum<float>(const float* x, int64_t xs, int64_t n) {
  if (xs != 1) {
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += double(x[i * xs]);
    return s;
  }
  v8f acc{};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) acc += load8(x + i);
  double s = hsum(acc);
  for (; i < n; ++i) s += double(x[i]);
  return s;
}

template <>
double row_dot<float>(const float* a, int64_t as, const float* b, int64_t bs, int64_t n) {
  if (as != 1 || bs != 1) {
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += double(a[i * as]) * double(b[i * bs]);
    return s;
  }
  v8f acc{};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) acc += load8(a + i) * load8(b + i);
  double s = hsum(acc);
  for (; i < n; ++i) s += double(a[i]) * double(b[i]);
  return s;
}
#endif

// ---- one row, forward and backward -------------------------------------------

template <class T, bool Log>
void forward_row(const T* x, int64_t xs, T* y, int64_t ys, int64_t n) {
  const T m = row_max(x, xs, n);
  row_exp(x, xs, y, ys, n, m);  // for log_softmax, y is scratch
  const double s = row_sum(y, ys, n);
  if (Log) {
    const T lse = static_cast<T>(double(m) + std::log(s));
    for (int64_t i = 0; i < n; ++i) y[i * ys] = x[i * xs] - lse;
  } else {
    const T inv = static_cast<T>(1.0 / s);
    for (int64_t i = 0; i < n; ++i) y[i * ys] *= inv;
  }
}

template <class T, bool Log>
void backward_row(const T* g, int64_t gs, const T* y, int64_t ys, T* dx, int64_t ds, int64_t n) {
  if (Log) {
    const T s = static_cast<T>(row_sum(g, gs, n));
    row_exp(y, ys, dx, ds, n, T(0));
    for (int64_t i = 0; i < n; ++i) dx[i * ds] = g[i * gs] - dx[i * ds] * s;
  } else {
    const T s = static_cast<T>(row_dot(g, gs, y, ys, n));
    for (int64_t i = 0; i < n; ++i) dx[i * ds] = y[i * ys] * (g[i * gs] - s);
  }
}

// A 0-d tensor is treated as a row of one element.
Tensor as_1d(const Tensor& t) { return t.dim() == 0 ? make_view(t, {1}, {1}, t.offset()) : t; }

bool last_dim_contiguous(const Tensor& t, int64_t dim) { return dim == t.dim() - 1 && t.is_contiguous(); }

// An output laid out like `x` when x is a permutation of a contiguous tensor (as PyTorch's
// empty_like): softmax over dim 0 of a transposed matrix then reads and writes unit-stride rows.
Tensor empty_same_layout(const Tensor& x) {
  const int64_t nd = x.dim();
  if (nd < 2 || x.is_contiguous()) return empty(x.shape(), x.dtype());
  std::vector<int64_t> perm(static_cast<size_t>(nd), 0);
  for (int64_t d = 0; d < nd; ++d) perm[size_t(d)] = d;
  std::stable_sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) { return x.stride(a) > x.stride(b); });
  int64_t expect = 1;
  for (int64_t k = nd - 1; k >= 0; --k) {
    const int64_t d = perm[size_t(k)];
    if (x.size(d) != 1 && x.stride(d) != expect) return empty(x.shape(), x.dtype());
    expect *= x.size(d);
  }
  Shape pshape(static_cast<size_t>(nd)), strides(static_cast<size_t>(nd));
  for (int64_t k = 0; k < nd; ++k) pshape[size_t(k)] = x.size(perm[size_t(k)]);
  Tensor base = empty(pshape, x.dtype());
  for (int64_t k = 0; k < nd; ++k) strides[size_t(perm[size_t(k)])] = base.stride(k);
  return make_view(base, x.shape(), strides, 0);
}

template <bool Log>
Tensor softmax_forward(const Tensor& x_in, int64_t dim) {
  Tensor out = empty_same_layout(x_in);
  if (out.numel() == 0) return out;
  const Tensor x = as_1d(x_in), y = as_1d(out);
  const int64_t n = x.size(dim);
  SS_DISPATCH_FLOAT(x.dtype(), Log ? "log_softmax" : "softmax", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = static_cast<const T*>(x.raw_data());
    T* yp = static_cast<T*>(y.raw_data());
    if (last_dim_contiguous(x, dim)) {
      parallel_for(x.numel() / n, n * kRowCost, [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) forward_row<T, Log>(xp + r * n, 1, yp + r * n, 1, n);
      });
    } else {
      const int64_t xs = x.stride(dim), ys = y.stride(dim);
      kernels::for_each_line<2>(x.shape(), dim, {x.strides(), y.strides()}, n * kRowCost,
                                [&](const std::array<int64_t, 2>& off) {
                                  forward_row<T, Log>(xp + off[0], xs, yp + off[1], ys, n);
                                });
    }
  });
  return out;
}

template <bool Log>
Tensor softmax_backward_fused(const Tensor& g_in, const Tensor& y_in, int64_t dim) {
  Tensor dx_out = empty_same_layout(y_in);
  if (dx_out.numel() == 0) return dx_out;
  const Tensor g = as_1d(g_in), y = as_1d(y_in), dx = as_1d(dx_out);
  const int64_t n = y.size(dim);
  SS_DISPATCH_FLOAT(y.dtype(), Log ? "log_softmax_backward" : "softmax_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* gp = static_cast<const T*>(g.raw_data());
    const T* yp = static_cast<const T*>(y.raw_data());
    T* dp = static_cast<T*>(dx.raw_data());
    if (last_dim_contiguous(g, dim) && last_dim_contiguous(y, dim)) {
      parallel_for(y.numel() / n, n * kRowCost, [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) backward_row<T, Log>(gp + r * n, 1, yp + r * n, 1, dp + r * n, 1, n);
      });
    } else {
      const int64_t gs = g.stride(dim), ys = y.stride(dim), ds = dx.stride(dim);
      kernels::for_each_line<3>(y.shape(), dim, {g.strides(), y.strides(), dx.strides()}, n * kRowCost,
                                [&](const std::array<int64_t, 3>& off) {
                                  backward_row<T, Log>(gp + off[0], gs, yp + off[1], ys, dp + off[2], ds, n);
                                });
    }
  });
  return dx_out;
}

template <bool Log>
Tensor softmax_op(const Tensor& x, int64_t dim_in) {
  const char* op = Log ? "log_softmax" : "softmax";
  SS_CHECK(x.is_floating_point(), TypeError, op, ": expected a floating-point input, got a ", dtype_name(x.dtype()),
           " tensor of shape ", x.shape(), " (convert it with .to(float32) first)");
  const int64_t dim = wrap_dim(dim_in, x.dim(), op);
  Tensor out = softmax_forward<Log>(x, dim);
  if (needs_grad(x)) {
    SavedTensor so(out, /*is_output=*/true);
    record(Log ? "LogSoftmaxBackward" : "SoftmaxBackward", {x}, out, [so, dim](const Tensor& g_in) {
      Tensor y = so.unpack();
      Tensor g = g_in.dtype() == y.dtype() ? g_in : g_in.to(y.dtype());
      if (!autograd::GradMode::is_enabled()) return tensor_list{softmax_backward_fused<Log>(g, y, dim)};
      // create_graph: the same formulas in Tensor ops, so the backward is itself differentiable.
      if (Log) return tensor_list{g.sub(exp(y).mul(sum(g, {dim}, /*keepdim=*/true)))};
      return tensor_list{y.mul(g.sub(sum(g.mul(y), {dim}, /*keepdim=*/true)))};
    });
  }
  return out;
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_op<false>(x, dim); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_op<true>(x, dim); }

}  // namespace shanshui
