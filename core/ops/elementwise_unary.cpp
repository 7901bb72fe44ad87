// Unary elementwise ops and activations, each with its backward.
//
// dtype rules (PyTorch): exp/log/sqrt/rsqrt/sin/cos/tanh/sigmoid promote bool and
// int64 to float32; neg/abs/relu/sign keep int64; gelu/elu/leaky_relu need float.
// float64 uses std:: double math. Contiguous float32 runs of exp/tanh/sigmoid/gelu
// go through the vector kernels of core/kernels/vector_math.h (within 1e-6
// relative of exact results over a sweep of float bit patterns,
// tests/cpp/test_vector_math.cpp), the rest use std::.
//
// Backward closures compute the gradient with one fused kernel when no graph is
// being built (the usual case), and with differentiable Tensor ops under
// create_graph so higher-order gradients work.
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <string>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "core/dispatch.h"
#include "core/kernels/elementwise.h"
#include "core/kernels/vector_math.h"
#include "core/ops.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"  // wide vector types by value: all internal, inlined
#endif

namespace shanshui {

using autograd::GradMode;
using autograd::needs_grad;
using autograd::record;
using autograd::SavedTensor;
using autograd::tensor_list;

namespace {

namespace vm = kernels::vm;

using vm::vfloat;

// Map a vector function over a float32 tensor (any strides) into a new contiguous one.
template <class VF>
Tensor map_f32(const Tensor& x, VF vf) {
  Tensor out = empty(x.shape(), DType::Float32);
  float* o = static_cast<float*>(out.raw_data());
  const float* xp = static_cast<const float*>(x.raw_data());
  kernels::for_each_run<2>(x.shape(), {out.strides(), x.strides()}, kernels::kTranscendental,
                           [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
                             float* op = o + off[0];
                             const float* ip = xp + off[1];
                             int64_t i = 0;
                             if (st[1] == 1)
                               for (; i + vm::kLanes <= n; i += vm::kLanes) {
                                 vfloat v;
                                 std::memcpy(&v, ip + i, sizeof v);
                                 v = vf(v);
                                 std::memcpy(op + i, &v, sizeof v);
                               }
                             for (; i < n; i += vm::kLanes) {  // tail or strided: gather the lanes
                               int64_t m = n - i < vm::kLanes ? n - i : vm::kLanes;
                               vfloat v{};
                               for (int64_t k = 0; k < m; ++k) v[k] = ip[(i + k) * st[1]];
                               v = vf(v);
                               for (int64_t k = 0; k < m; ++k) op[i + k] = v[k];
                             }
                           });
  return out;
}

// Same for two float32 operands of one shape (backward kernels: grad and a saved tensor).
template <class VF>
Tensor map2_f32(const Tensor& a, const Tensor& b, VF vf) {
  Tensor out = empty(a.shape(), DType::Float32);
  float* o = static_cast<float*>(out.raw_data());
  const float* ap = static_cast<const float*>(a.raw_data());
  const float* bp = static_cast<const float*>(b.raw_data());
  kernels::for_each_run<3>(a.shape(), {out.strides(), a.strides(), b.strides()}, kernels::kTranscendental,
                           [&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
                             float* op = o + off[0];
                             const float* x = ap + off[1];
                             const float* y = bp + off[2];
                             int64_t i = 0;
                             if ((st[1] == 1 || st[1] == 0) && st[2] == 1) {
                               // contiguous, or a broadcast grad (the backward of sum/mean)
                               const int64_t sx = st[1];
                               vfloat u = vm::splat(x[0]), v;
                               for (; i + vm::kLanes <= n; i += vm::kLanes) {
                                 if (sx) std::memcpy(&u, x + i, sizeof u);
                                 std::memcpy(&v, y + i, sizeof v);
                                 v = vf(u, v);
                                 std::memcpy(op + i, &v, sizeof v);
                               }
                             }
                             for (; i < n; i += vm::kLanes) {
                               int64_t m = n - i < vm::kLanes ? n - i : vm::kLanes;
                               vfloat u{}, v{};
                               for (int64_t k = 0; k < m; ++k) {
                                 u[k] = x[(i + k) * st[1]];
                                 v[k] = y[(i + k) * st[2]];
                               }
                               u = vf(u, v);
                               for (int64_t k = 0; k < m; ++k) op[i + k] = u[k];
                             }
                           });
  return out;
}

Tensor cast(const Tensor& t, DType d) { return t.dtype() == d ? t : t.to(d); }

// A function computed in floating point: bool/int64 input is promoted to float32.
// `fd` is the scalar double/float version; `vf` the vector float32 version (or null).
template <class FD, class VF>
Tensor float_unary(const char* op, const Tensor& x, FD fd, VF vf, int64_t cost = kernels::kTranscendental) {
  DType t = to_floating(x.dtype());
  Tensor xin = cast(x, t);
  if constexpr (!std::is_same_v<VF, std::nullptr_t>) {
    if (t == DType::Float32) return map_f32(xin, vf);
  }
  return SS_DISPATCH_FLOAT(t, op, [&](auto tag) {
    using T = decltype(tag);
    return kernels::map_unary<T, T>(xin, t, [fd](T v) { return static_cast<T>(fd(v)); }, cost);
  });
}

// Activation that PyTorch only defines for floating input.
void check_float(const char* op, const Tensor& x) {
  SS_CHECK(x.is_floating_point(), TypeError, op, ": expected a floating-point input, got ", dtype_name(x.dtype()),
           " with shape ", x.shape());
}

// Gradient from grad `g` and saved `s` (same dtype as s): fused kernel `f(g, s)` when
// no graph is being recorded, `composite()` (differentiable Tensor ops) otherwise.
template <class F, class C>
Tensor grad_kernel(const Tensor& g, const Tensor& s, F f, C composite, int64_t cost = kernels::kCheap) {
  if (GradMode::is_enabled()) return composite();
  Tensor gg = cast(g, s.dtype());
  return SS_DISPATCH_FLOAT(s.dtype(), "backward", [&](auto tag) {
    using T = decltype(tag);
    return kernels::map_binary<T, T, T>(gg, s, s.dtype(), [f](T a, T b) { return static_cast<T>(f(a, b)); },
                                        "backward", cost);
  });
}

Tensor zero_like_scalar(const Tensor& g) { return scalar_tensor(0.0, g.dtype()); }

}  // namespace

// ---- sign-preserving / integer-keeping ops -------------------------------------

Tensor neg(const Tensor& x) {
  SS_CHECK(x.dtype() != DType::Bool, TypeError,
           "neg: negation of a bool tensor (shape ", x.shape(), ") is not supported; use logical_not");
  Tensor out = SS_DISPATCH_NUMERIC(x.dtype(), "neg", [&](auto tag) {
    using T = decltype(tag);
    return kernels::map_unary<T, T>(x, x.dtype(), [](T v) { return static_cast<T>(-v); });
  });
  if (needs_grad(x)) record("NegBackward", {x}, out, [](const Tensor& g) { return tensor_list{neg(g)}; });
  return out;
}

Tensor abs(const Tensor& x) {
  SS_CHECK(x.dtype() != DType::Bool, TypeError, "abs: not supported for bool tensors (shape ", x.shape(), ")");
  Tensor out = SS_DISPATCH_NUMERIC(x.dtype(), "abs", [&](auto tag) {
    using T = decltype(tag);
    return kernels::map_unary<T, T>(x, x.dtype(), [](T v) { return v < T(0) ? static_cast<T>(-v) : v; });
  });
  if (needs_grad(x)) {
    SavedTensor sx(x);
    // d|x|/dx = sign(x), with sign(0) = sign(nan) = 0 as PyTorch.
    record("AbsBackward", {x}, out, [sx](const Tensor& g) {
      Tensor xv = sx.unpack();
      return tensor_list{grad_kernel(
          g, xv, [](auto gv, auto v) { return v > 0 ? gv : (v < 0 ? -gv : decltype(gv)(0)); },
          [&] { return g.mul(sign(xv)); })};
    });
  }
  return out;
}

Tensor sign(const Tensor& x) {
  if (x.dtype() == DType::Bool) return x.clone();
  Tensor out = SS_DISPATCH_NUMERIC(x.dtype(), "sign", [&](auto tag) {
    using T = decltype(tag);
    return kernels::map_unary<T, T>(x, x.dtype(), [](T v) { return static_cast<T>((T(0) < v) - (v < T(0))); });
  });
  if (needs_grad(x)) record("SignBackward", {x}, out, [](const Tensor& g) { return tensor_list{zeros_like(g)}; });
  return out;
}

Tensor relu(const Tensor& x) {
  SS_CHECK(x.dtype() != DType::Bool, TypeError, "relu: bool inputs are not supported (shape ", x.shape(), ")");
  Tensor out = SS_DISPATCH_NUMERIC(x.dtype(), "relu", [&](auto tag) {
    using T = decltype(tag);
    return kernels::map_unary<T, T>(x, x.dtype(), [](T v) { return v < T(0) ? T(0) : v; });  // keeps NaN
  });
  if (needs_grad(x)) {
    SavedTensor so(out, true);
    // PyTorch's threshold_backward on the result: grad where result > 0 (so relu'(0) = 0).
    record("ReluBackward", {x}, out, [so](const Tensor& g) {
      Tensor o = so.unpack();
      return tensor_list{grad_kernel(
          g, o, [](auto gv, auto ov) { return ov <= 0 ? decltype(gv)(0) : gv; },
          [&] { return where(le(o, 0.0), zero_like_scalar(g), g); })};
    });
  }
  return out;
}

// ---- transcendental ops ------------------------------------------------------------

Tensor exp(const Tensor& x) {
  Tensor out = float_unary("exp", x, [](auto v) { return std::exp(v); }, [](vfloat v) { return vm::exp(v); });
  if (needs_grad(x)) {
    SavedTensor so(out, true);
    record("ExpBackward", {x}, out, [so](const Tensor& g) { return tensor_list{g.mul(so.unpack())}; });
  }
  return out;
}

Tensor log(const Tensor& x) {
  Tensor out = float_unary("log", x, [](auto v) { return std::log(v); }, nullptr);
  if (needs_grad(x)) {
    SavedTensor sx(x);
    record("LogBackward", {x}, out, [sx](const Tensor& g) { return tensor_list{g.div(sx.unpack())}; });
  }
  return out;
}

Tensor sqrt(const Tensor& x) {
  Tensor out = float_unary("sqrt", x, [](auto v) { return std::sqrt(v); }, nullptr, kernels::kCheap);
  if (needs_grad(x)) {
    SavedTensor so(out, true);
    // d sqrt(x) = 1 / (2 sqrt(x)), from the saved result as PyTorch.
    record("SqrtBackward", {x}, out, [so](const Tensor& g) {
      Tensor o = so.unpack();
      return tensor_list{grad_kernel(
          g, o, [](auto gv, auto ov) { return gv / (ov + ov); }, [&] { return g.div(mul(o, 2.0)); })};
    });
  }
  return out;
}

Tensor rsqrt(const Tensor& x) {
  Tensor out = float_unary("rsqrt", x, [](auto v) { return decltype(v)(1) / std::sqrt(v); }, nullptr, kernels::kCheap);
  if (needs_grad(x)) {
    SavedTensor so(out, true);
    // d x^{-1/2} = -1/2 x^{-3/2} = -1/2 out^3
    record("RsqrtBackward", {x}, out, [so](const Tensor& g) {
      Tensor o = so.unpack();
      return tensor_list{grad_kernel(
          g, o, [](auto gv, auto ov) { return decltype(ov)(-0.5) * gv * ov * ov * ov; },
          [&] { return mul(g.mul(o.mul(o).mul(o)), -0.5); })};
    });
  }
  return out;
}

Tensor sin(const Tensor& x) {
  Tensor out = float_unary("sin", x, [](auto v) { return std::sin(v); }, nullptr);
  if (needs_grad(x)) {
    SavedTensor sx(x);
    record("SinBackward", {x}, out, [sx](const Tensor& g) { return tensor_list{g.mul(cos(sx.unpack()))}; });
  }
  return out;
}

Tensor cos(const Tensor& x) {
  Tensor out = float_unary("cos", x, [](auto v) { return std::cos(v); }, nullptr);
  if (needs_grad(x)) {
    SavedTensor sx(x);
    record("CosBackward", {x}, out, [sx](const Tensor& g) { return tensor_list{g.mul(neg(sin(sx.unpack())))}; });
  }
  return out;
}

Tensor tanh(const Tensor& x) {
  Tensor out = float_unary("tanh", x, [](auto v) { return std::tanh(v); }, [](vfloat v) { return vm::tanh(v); });
  if (needs_grad(x)) {
    SavedTensor so(out, true);
    // tanh' = 1 - tanh^2
    record("TanhBackward", {x}, out, [so](const Tensor& g) {
      Tensor o = so.unpack();
      return tensor_list{grad_kernel(
          g, o, [](auto gv, auto ov) { return gv * (decltype(ov)(1) - ov * ov); },
          [&] { return g.mul(rsub(o.mul(o), 1.0)); })};
    });
  }
  return out;
}

Tensor sigmoid(const Tensor& x) {
  Tensor out = float_unary(
      "sigmoid", x,
      [](auto v) {
        using T = decltype(v);
        T e = std::exp(-std::fabs(v));  // no overflow, no cancellation on either side
        return v >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
      },
      [](vfloat v) { return vm::sigmoid(v); });
  if (needs_grad(x)) {
    SavedTensor so(out, true);
    // sigmoid' = s (1 - s)
    record("SigmoidBackward", {x}, out, [so](const Tensor& g) {
      Tensor o = so.unpack();
      return tensor_list{grad_kernel(
          g, o, [](auto gv, auto ov) { return gv * ov * (decltype(ov)(1) - ov); },
          [&] { return g.mul(o.mul(rsub(o, 1.0))); })};
    });
  }
  return out;
}

// ---- activations -----------------------------------------------------------------

namespace {

// Phi(x) as a differentiable op (d Phi = phi(x) = e^{-x^2/2}/sqrt(2 pi)); used by
// gelu's backward under create_graph.
Tensor normal_cdf(const Tensor& x) {
  Tensor out = float_unary(
      "gelu", x, [](auto v) { return decltype(v)(0.5) * std::erfc(-v * decltype(v)(0.70710678118654752)); },
      [](vfloat v) { return vm::normal_cdf(v); });
  if (needs_grad(x)) {
    SavedTensor sx(x);
    record("NormalCdfBackward", {x}, out, [sx](const Tensor& g) {
      Tensor xv = sx.unpack();
      return tensor_list{g.mul(mul(exp(mul(xv.mul(xv), -0.5)), vm::kInvSqrt2PiD))};
    });
  }
  return out;
}

// x * Phi(x): "none". x * sigmoid(2u), u = sqrt(2/pi)(x + 0.044715 x^3): "tanh"
// (equal to 0.5 x (1 + tanh u) but without cancellation for negative x).
template <class T>
T gelu_scalar(T v, bool tanh_approx) {
  if (tanh_approx) {
    T u = T(2 * vm::kSqrt2OverPi) * (v + T(vm::kKappa) * v * v * v);
    T e = std::exp(-std::fabs(u));
    T s = u >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
    return v * s;
  }
  return v * T(0.5) * std::erfc(-v * T(0.70710678118654752));
}

// d/dx gelu: Phi(x) + x phi(x) ("none"); for "tanh", with t = tanh(u):
// 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 kappa x^2)   (PyTorch's formula).
template <class T>
T gelu_grad_scalar(T v, bool tanh_approx) {
  if (tanh_approx) {
    T t = std::tanh(T(vm::kSqrt2OverPi) * (v + T(vm::kKappa) * v * v * v));
    return T(0.5) * (T(1) + t) +
           T(0.5) * v * (T(1) - t * t) * T(vm::kSqrt2OverPi) * (T(1) + T(3 * vm::kKappa) * v * v);
  }
  return T(0.5) * std::erfc(-v * T(0.70710678118654752)) + v * T(vm::kInvSqrt2PiD) * std::exp(T(-0.5) * v * v);
}

// 2u = v (2c + 2c kappa v^2) of gelu "tanh" (u = c (v + kappa v^3), c = sqrt(2/pi)),
// computed in double and returned as a float pair hi + lo, so exp(-|2u|) in the tails
// (|2u| ~ 40) does not inherit the float rounding of 2u. Clamped to [-120, 120], where
// the sigmoid is already 0 or 1 in float: an overflowing 2u would make lo inf or junk.
void gelu_two_u(vfloat v, vfloat& hi, vfloat& lo) {
  using vhf = float __attribute__((vector_size(2 * vm::kLanes)));   // half the lanes, float
  using vhd = double __attribute__((vector_size(4 * vm::kLanes)));  // the same lanes, double
  const double a = 2 * vm::kSqrt2OverPi, b = 2 * vm::kSqrt2OverPi * vm::kKappa;
  for (int half = 0; half < 2; ++half) {
    vhf h;
    std::memcpy(&h, reinterpret_cast<const char*>(&v) + half * sizeof h, sizeof h);
    vhd d = __builtin_convertvector(h, vhd);
    d = d * (a + b * (d * d));
    d = d > 120.0 ? 120.0 - vhd{} : d;  // NaN compares false and passes through
    d = d < -120.0 ? -120.0 - vhd{} : d;
    vhf f = __builtin_convertvector(d, vhf);
    vhf l = __builtin_convertvector(d - __builtin_convertvector(f, vhd), vhf);
    std::memcpy(reinterpret_cast<char*>(&hi) + half * sizeof f, &f, sizeof f);
    std::memcpy(reinterpret_cast<char*>(&lo) + half * sizeof l, &l, sizeof l);
  }
}

// v * sigmoid(2u), with e = exp(-|2u|): sigmoid is 1/(1+e) or e/(1+e) by the sign of u.
vfloat gelu_tanh_v(vfloat v) {
  vfloat hi, lo;
  gelu_two_u(v, hi, lo);
  vfloat e = vm::exp(-vm::abs(hi), hi < 0.0f ? lo : -lo);
  vfloat s = 1.0f / (1.0f + e);
  return v * (hi >= 0.0f ? s : e * s);
}

// "tanh": d/dv v sigmoid(2u) = sigmoid(2u) + v sigmoid'(2u) 2c (1 + 3 kappa v^2), with
// sigmoid' = s (1 - s) = e / (1 + e)^2: PyTorch's 0.5 (1 + t) + ... (1 - t^2) in a form
// that does not cancel for negative v. "none": Phi(v) + v phi(v). Where the density
// term's factor underflowed to 0 it is 0 (not 0 * inf for huge |v|).
vfloat gelu_grad_v(vfloat g, vfloat v, bool tanh_approx) {
  if (tanh_approx) {
    vfloat hi, lo;
    gelu_two_u(v, hi, lo);
    vfloat e = vm::exp(-vm::abs(hi), hi < 0.0f ? lo : -lo);
    vfloat r = 1.0f / (1.0f + e);
    vfloat sig = hi >= 0.0f ? r : e * r;
    vfloat slope = v * (e * r * r) * (float(2 * vm::kSqrt2OverPi) + float(6 * vm::kSqrt2OverPi * vm::kKappa) * v * v);
    return g * (sig + (e > 0.0f ? slope : vfloat{}));
  }
  vfloat a = vm::abs(v);
  vfloat density = v * vm::kInvSqrt2Pi * vm::exp_neg_half_square(a < 14.85f ? a : vm::splat(14.85f), vfloat{});
  return g * (vm::normal_cdf(v) + (a < 14.85f ? density : vfloat{}));
}

}  // namespace

Tensor gelu(const Tensor& x, const std::string& approximate) {
  SS_CHECK(approximate == "none" || approximate == "tanh", ValueError,
           "gelu: approximate must be 'none' or 'tanh', got '", approximate, "'");
  check_float("gelu", x);
  const bool ta = approximate == "tanh";
  Tensor out = x.dtype() == DType::Float32
                   ? (ta ? map_f32(x, [](vfloat v) { return gelu_tanh_v(v); })
                         : map_f32(x, [](vfloat v) { return v * vm::normal_cdf(v); }))
                   : kernels::map_unary<double, double>(x, x.dtype(), [ta](double v) { return gelu_scalar(v, ta); },
                                                        kernels::kTranscendental);
  if (needs_grad(x)) {
    SavedTensor sx(x);
    record("GeluBackward", {x}, out, [sx, ta](const Tensor& g) {
      Tensor xv = sx.unpack();
      if (GradMode::is_enabled()) {  // create_graph: differentiable composite
        if (ta) {
          Tensor x2 = xv.mul(xv);
          Tensor t = tanh(mul(xv.add(mul(x2.mul(xv), vm::kKappa)), vm::kSqrt2OverPi));
          Tensor left = mul(add(t, 1.0), 0.5);
          Tensor right = mul(xv, 0.5 * vm::kSqrt2OverPi).mul(rsub(t.mul(t), 1.0)).mul(add(mul(x2, 3 * vm::kKappa), 1.0));
          return tensor_list{g.mul(left.add(right))};
        }
        Tensor pdf = mul(exp(mul(xv.mul(xv), -0.5)), vm::kInvSqrt2PiD);
        return tensor_list{g.mul(normal_cdf(xv).add(xv.mul(pdf)))};
      }
      Tensor gg = cast(g, xv.dtype());
      if (xv.dtype() == DType::Float32)
        return tensor_list{map2_f32(gg, xv, [ta](vfloat a, vfloat v) { return gelu_grad_v(a, v, ta); })};
      return tensor_list{kernels::map_binary<double, double, double>(
          gg, xv, xv.dtype(), [ta](double a, double v) { return a * gelu_grad_scalar(v, ta); }, "gelu_backward",
          kernels::kTranscendental)};
    });
  }
  return out;
}

Tensor elu(const Tensor& x, double alpha) {
  check_float("elu", x);
  // x > 0 ? x : alpha (e^x - 1); expm1 keeps precision near 0.
  Tensor out = SS_DISPATCH_FLOAT(x.dtype(), "elu", [&](auto tag) {
    using T = decltype(tag);
    T a = static_cast<T>(alpha);
    return kernels::map_unary<T, T>(x, x.dtype(), [a](T v) { return v > T(0) ? v : a * std::expm1(v); },
                                    kernels::kTranscendental);
  });
  if (needs_grad(x)) {
    SavedTensor sx(x);
    // PyTorch: x <= 0 ? alpha e^x : 1 (so elu'(0) = alpha, elu'(nan) = 1)
    record("EluBackward", {x}, out, [sx, alpha](const Tensor& g) {
      Tensor xv = sx.unpack();
      return tensor_list{grad_kernel(
          g, xv,
          [alpha](auto gv, auto v) {
            using T = decltype(v);
            return v <= T(0) ? gv * T(alpha) * std::exp(v) : gv;
          },
          [&] { return where(le(xv, 0.0), g.mul(mul(exp(xv), alpha)), g); }, kernels::kTranscendental)};
    });
  }
  return out;
}

Tensor leaky_relu(const Tensor& x, double negative_slope) {
  check_float("leaky_relu", x);
  Tensor out = SS_DISPATCH_FLOAT(x.dtype(), "leaky_relu", [&](auto tag) {
    using T = decltype(tag);
    T s = static_cast<T>(negative_slope);
    return kernels::map_unary<T, T>(x, x.dtype(), [s](T v) { return v > T(0) ? v : v * s; });
  });
  if (needs_grad(x)) {
    SavedTensor sx(x);
    // PyTorch: x > 0 ? 1 : negative_slope
    record("LeakyReluBackward", {x}, out, [sx, negative_slope](const Tensor& g) {
      Tensor xv = sx.unpack();
      return tensor_list{grad_kernel(
          g, xv,
          [negative_slope](auto gv, auto v) {
            using T = decltype(v);
            return v > T(0) ? gv : gv * T(negative_slope);
          },
          [&] { return where(gt(xv, 0.0), g, mul(g, negative_slope)); })};
    });
  }
  return out;
}

// The bounds are doubles, so PyTorch's "int tensor with a float bound gives float"
// rule is decided by value: bool/int64 input stays int64 when both bounds are
// integral, and becomes float32 otherwise.
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max) {
  SS_CHECK(min || max, ValueError, "clamp: at least one of 'min' or 'max' must not be None (input shape ",
           x.shape(), ")");
  const double lo = min ? *min : -INFINITY, hi = max ? *max : INFINITY;
  DType t = x.dtype();
  if (!x.is_floating_point()) {
    bool integral = (!min || std::nearbyint(lo) == lo) && (!max || std::nearbyint(hi) == hi);
    t = integral ? DType::Int64 : default_float();
  }
  Tensor xin = cast(x, t);
  const bool nan_bound = std::isnan(lo) || std::isnan(hi);
  Tensor out = SS_DISPATCH_NUMERIC(t, "clamp", [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_integral_v<T>) {
      // Integral bounds outside int64 just mean "no bound".
      T l = lo <= -9.2e18 ? INT64_MIN : static_cast<T>(lo), h = hi >= 9.2e18 ? INT64_MAX : static_cast<T>(hi);
      return kernels::map_unary<T, T>(xin, t, [l, h](T v) {
        T r = v < l ? l : v;
        return r > h ? h : r;
      });
    } else {
      T l = static_cast<T>(lo), h = static_cast<T>(hi), nan = std::numeric_limits<T>::quiet_NaN();
      // min(max(x, lo), hi): NaN input stays NaN; lo > hi gives hi; a NaN bound gives NaN.
      return kernels::map_unary<T, T>(xin, t, [l, h, nan, nan_bound](T v) {
        T r = v < l ? l : v;
        r = r > h ? h : r;
        return nan_bound ? nan : r;
      });
    }
  });
  if (needs_grad(x)) {
    SavedTensor sx(x);
    // Gradient passes where lo <= x <= hi (PyTorch), zero elsewhere and at NaN.
    record("ClampBackward", {x}, out, [sx, lo, hi](const Tensor& g) {
      Tensor xv = sx.unpack();
      return tensor_list{grad_kernel(
          g, xv,
          [lo, hi](auto gv, auto v) {
            using T = decltype(v);
            return (v >= T(lo) && v <= T(hi)) ? gv : T(0);
          },
          [&] { return where(logical_and(ge(xv, lo), le(xv, hi)), g, zero_like_scalar(g)); })};
    });
  }
  return out;
}

// ---- Tensor members -------------------------------------------------------------------

Tensor Tensor::neg() const { return shanshui::neg(*this); }
Tensor Tensor::exp() const { return shanshui::exp(*this); }
Tensor Tensor::log() const { return shanshui::log(*this); }
Tensor Tensor::sqrt() const { return shanshui::sqrt(*this); }
Tensor Tensor::rsqrt() const { return shanshui::rsqrt(*this); }
Tensor Tensor::abs() const { return shanshui::abs(*this); }
Tensor Tensor::sin() const { return shanshui::sin(*this); }
Tensor Tensor::cos() const { return shanshui::cos(*this); }
Tensor Tensor::tanh() const { return shanshui::tanh(*this); }
Tensor Tensor::sigmoid() const { return shanshui::sigmoid(*this); }
Tensor Tensor::relu() const { return shanshui::relu(*this); }
Tensor Tensor::clamp(std::optional<double> min, std::optional<double> max) const {
  return shanshui::clamp(*this, min, max);
}

}  // namespace shanshui
