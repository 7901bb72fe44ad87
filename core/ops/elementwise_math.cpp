// More elementwise math, as PyTorch: rounding (floor, ceil, trunc, round, frac),
// transcendental unary ops (log1p ... atanh, erf, erfc, erfinv), binary float ops
// (atan2, fmod, hypot, logaddexp, xlogy), compositions (lerp, addcmul, addcdiv,
// addmm, logit), nan_to_num and the bitwise ops on int64 / bool.
//
// Kernels compute float32 in float and float64 in double with std:: math. Backward
// closures are written with differentiable Tensor ops, so create_graph works.
#include <cmath>
#include <limits>
#include <type_traits>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "core/dispatch.h"
#include "core/kernels/elementwise.h"
#include "core/ops.h"

namespace shanshui {

using autograd::needs_grad;
using autograd::record;
using autograd::SavedTensor;
using autograd::sum_to;
using autograd::tensor_list;

namespace {

Tensor cast(const Tensor& t, DType d) { return t.dtype() == d ? t : t.to(d); }

// PyTorch's spelling of a dtype in "not implemented for 'Float'" messages.
const char* torch_type_name(DType t) {
  switch (t) {
    case DType::Float32: return "Float";
    case DType::Float64: return "Double";
    case DType::Int64: return "Long";
    case DType::Bool: return "Bool";
    default: return dtype_name(t);
  }
}

// A float function of one input: bool/int64 become float32 first.
template <class F>
Tensor float_map(const char* op, const Tensor& x, F f) {
  DType t = to_floating(x.dtype());
  Tensor xin = cast(x, t);
  return SS_DISPATCH_FLOAT(t, op, [&](auto tag) {
    using T = decltype(tag);
    return kernels::map_unary<T, T>(xin, t, [f](T v) { return static_cast<T>(f(v)); }, kernels::kTranscendental);
  });
}

// A float function of two broadcast inputs. `int_ok`: integer inputs are promoted to
// float32 (atan2, xlogy); otherwise they are rejected as PyTorch does (hypot, logaddexp).
template <class F>
Tensor float_map2(const char* op, const Tensor& a, const Tensor& b, bool int_ok, F f) {
  DType t = result_type(a, b);
  if (!is_floating(t)) {
    SS_CHECK(int_ok, TypeError, op, ": not implemented for '", torch_type_name(t), "' (shapes ", a.shape(), " and ",
             b.shape(), ")");
    t = default_float();
  }
  Tensor x = cast(a, t), y = cast(b, t);
  return SS_DISPATCH_FLOAT(t, op, [&](auto tag) {
    using T = decltype(tag);
    return kernels::map_binary<T, T, T>(x, y, t, [f](T p, T q) { return static_cast<T>(f(p, q)); }, op,
                                        kernels::kTranscendental);
  });
}

// Record a one-input backward `fn(g, x, out)` built from Tensor ops.
template <class Fn>
void record_unary(const char* name, const Tensor& x, Tensor& out, bool save_out, Fn fn) {
  if (!needs_grad(x)) return;
  SavedTensor sx(x), so(save_out ? out : Tensor(), true);
  record(name, {x}, out, [sx, so, fn](const Tensor& g) { return tensor_list{fn(g, sx.unpack(), so.unpack())}; });
}

void no_bool(const char* op, const Tensor& x) {
  SS_CHECK(x.dtype() != DType::Bool, TypeError, op, ": not implemented for 'Bool' (shape ", x.shape(), ")");
}

// floor/ceil/trunc/round: integers are already integral (a copy, as PyTorch); the
// gradient is zero everywhere.
template <class F>
Tensor rounding(const char* op, const char* backward, const Tensor& x, F f) {
  no_bool(op, x);
  if (!x.is_floating_point()) return x.clone();
  Tensor out = SS_DISPATCH_FLOAT(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    return kernels::map_unary<T, T>(x, x.dtype(), [f](T v) { return static_cast<T>(f(v)); });
  });
  if (needs_grad(x)) record(backward, {x}, out, [](const Tensor& g) { return tensor_list{zeros_like(g)}; });
  return out;
}

// Inverse error function: Giles' single-precision approximation, then Newton steps
// on erf(x) - y in double.
double erfinv_d(double y) {
  if (std::isnan(y) || y < -1.0 || y > 1.0) return std::numeric_limits<double>::quiet_NaN();
  if (y == 1.0) return INFINITY;
  if (y == -1.0) return -INFINITY;
  if (y == 0.0) return y;  // keeps -0
  double w = -std::log((1.0 - y) * (1.0 + y)), p;
  if (w < 5.0) {
    w -= 2.5;
    p = 2.81022636e-08;
    p = 3.43273939e-07 + p * w;
    p = -3.5233877e-06 + p * w;
    p = -4.39150654e-06 + p * w;
    p = 0.00021858087 + p * w;
    p = -0.00125372503 + p * w;
    p = -0.00417768164 + p * w;
    p = 0.246640727 + p * w;
    p = 1.50140941 + p * w;
  } else {
    w = std::sqrt(w) - 3.0;
    p = -0.000200214257;
    p = 0.000100950558 + p * w;
    p = 0.00134934322 + p * w;
    p = -0.00367342844 + p * w;
    p = 0.00573950773 + p * w;
    p = -0.0076224613 + p * w;
    p = 0.00943887047 + p * w;
    p = 1.00167406 + p * w;
    p = 2.83297682 + p * w;
  }
  double x = p * y;
  const double k = 1.1283791670955126;  // 2/sqrt(pi)
  for (int i = 0; i < 8; ++i) {  // the start is only ~1% off in the far tails: iterate to convergence
    double d = k * std::exp(-x * x);
    if (d == 0.0) break;
    // erf(x) - y, through erfc near the ends so it does not cancel
    double fx = y > 0.5 ? (1.0 - y) - std::erfc(x) : (y < -0.5 ? std::erfc(-x) - (1.0 + y) : std::erf(x) - y);
    double step = fx / d;
    x -= step;
    if (std::fabs(step) <= 1e-17 * std::fabs(x)) break;
  }
  return x;
}

}  // namespace

// ---- rounding --------------------------------------------------------------------------

Tensor floor(const Tensor& x) { return rounding("floor", "FloorBackward", x, [](auto v) { return std::floor(v); }); }
Tensor ceil(const Tensor& x) { return rounding("ceil", "CeilBackward", x, [](auto v) { return std::ceil(v); }); }
Tensor trunc(const Tensor& x) { return rounding("trunc", "TruncBackward", x, [](auto v) { return std::trunc(v); }); }

// Half to even (std::nearbyint in the default rounding mode), as PyTorch. With
// decimals, PyTorch's formula in the input's precision: nearbyint(x * 10^d) / 10^d,
// or nearbyint(x / 10^-d) * 10^-d for negative d.
Tensor round(const Tensor& x, int64_t decimals) {
  if (decimals == 0) return rounding("round", "RoundBackward", x, [](auto v) { return std::nearbyint(v); });
  no_bool("round", x);
  SS_CHECK(x.is_floating_point(), TypeError, "round: decimals=", decimals, " is not implemented for '",
           torch_type_name(x.dtype()), "' (shape ", x.shape(), ")");
  const bool neg = decimals < 0;
  const double p10 = std::pow(10.0, static_cast<double>(neg ? -decimals : decimals));
  Tensor out = SS_DISPATCH_FLOAT(x.dtype(), "round", [&](auto tag) {
    using T = decltype(tag);
    const T tp = static_cast<T>(p10);
    return kernels::map_unary<T, T>(x, x.dtype(), [tp, neg](T v) {
      return neg ? static_cast<T>(std::nearbyint(v / tp) * tp) : static_cast<T>(std::nearbyint(v * tp) / tp);
    });
  });
  if (needs_grad(x)) record("RoundBackward", {x}, out, [](const Tensor& g) { return tensor_list{zeros_like(g)}; });
  return out;
}

Tensor frac(const Tensor& x) {
  SS_CHECK(x.is_floating_point(), TypeError, "frac: not implemented for '", torch_type_name(x.dtype()), "' (shape ",
           x.shape(), ")");
  Tensor out = SS_DISPATCH_FLOAT(x.dtype(), "frac", [&](auto tag) {
    using T = decltype(tag);
    return kernels::map_unary<T, T>(x, x.dtype(), [](T v) { return static_cast<T>(v - std::trunc(v)); });
  });
  if (needs_grad(x)) record("FracBackward", {x}, out, [](const Tensor& g) { return tensor_list{g}; });
  return out;
}

// ---- transcendental unary ----------------------------------------------------------------

namespace {
constexpr double kTwoOverSqrtPi = 1.1283791670955126;
constexpr double kSqrtPiOverTwo = 0.88622692545275801;
constexpr double kLn2 = 0.69314718055994531;
constexpr double kLn10 = 2.3025850929940457;
}  // namespace

Tensor log1p(const Tensor& x) {
  Tensor out = float_map("log1p", x, [](auto v) { return std::log1p(v); });
  record_unary("Log1pBackward", x, out, false, [](const Tensor& g, const Tensor& xv, const Tensor&) {
    return g.div(add(xv, 1.0));
  });
  return out;
}

Tensor expm1(const Tensor& x) {
  Tensor out = float_map("expm1", x, [](auto v) { return std::expm1(v); });
  record_unary("Expm1Backward", x, out, true, [](const Tensor& g, const Tensor&, const Tensor& o) {
    return g.mul(add(o, 1.0));
  });
  return out;
}

Tensor log2(const Tensor& x) {
  Tensor out = float_map("log2", x, [](auto v) { return std::log2(v); });
  record_unary("Log2Backward", x, out, false, [](const Tensor& g, const Tensor& xv, const Tensor&) {
    return g.div(mul(xv, kLn2));
  });
  return out;
}

Tensor log10(const Tensor& x) {
  Tensor out = float_map("log10", x, [](auto v) { return std::log10(v); });
  record_unary("Log10Backward", x, out, false, [](const Tensor& g, const Tensor& xv, const Tensor&) {
    return g.div(mul(xv, kLn10));
  });
  return out;
}

Tensor tan(const Tensor& x) {
  Tensor out = float_map("tan", x, [](auto v) { return std::tan(v); });
  record_unary("TanBackward", x, out, true, [](const Tensor& g, const Tensor&, const Tensor& o) {
    return g.mul(add(o.mul(o), 1.0));  // 1 + tan^2
  });
  return out;
}

Tensor atan(const Tensor& x) {
  Tensor out = float_map("atan", x, [](auto v) { return std::atan(v); });
  record_unary("AtanBackward", x, out, false, [](const Tensor& g, const Tensor& xv, const Tensor&) {
    return g.div(add(xv.mul(xv), 1.0));
  });
  return out;
}

Tensor asin(const Tensor& x) {
  Tensor out = float_map("asin", x, [](auto v) { return std::asin(v); });
  record_unary("AsinBackward", x, out, false, [](const Tensor& g, const Tensor& xv, const Tensor&) {
    return g.mul(rsqrt(rsub(xv.mul(xv), 1.0)));
  });
  return out;
}

Tensor acos(const Tensor& x) {
  Tensor out = float_map("acos", x, [](auto v) { return std::acos(v); });
  record_unary("AcosBackward", x, out, false, [](const Tensor& g, const Tensor& xv, const Tensor&) {
    return neg(g.mul(rsqrt(rsub(xv.mul(xv), 1.0))));
  });
  return out;
}

Tensor sinh(const Tensor& x) {
  Tensor out = float_map("sinh", x, [](auto v) { return std::sinh(v); });
  record_unary("SinhBackward", x, out, false, [](const Tensor& g, const Tensor& xv, const Tensor&) {
    return g.mul(cosh(xv));
  });
  return out;
}

Tensor cosh(const Tensor& x) {
  Tensor out = float_map("cosh", x, [](auto v) { return std::cosh(v); });
  record_unary("CoshBackward", x, out, false, [](const Tensor& g, const Tensor& xv, const Tensor&) {
    return g.mul(sinh(xv));
  });
  return out;
}

Tensor asinh(const Tensor& x) {
  Tensor out = float_map("asinh", x, [](auto v) { return std::asinh(v); });
  record_unary("AsinhBackward", x, out, false, [](const Tensor& g, const Tensor& xv, const Tensor&) {
    return g.mul(rsqrt(add(xv.mul(xv), 1.0)));
  });
  return out;
}

Tensor acosh(const Tensor& x) {
  Tensor out = float_map("acosh", x, [](auto v) { return std::acosh(v); });
  record_unary("AcoshBackward", x, out, false, [](const Tensor& g, const Tensor& xv, const Tensor&) {
    return g.mul(rsqrt(sub(xv.mul(xv), 1.0)));
  });
  return out;
}

Tensor atanh(const Tensor& x) {
  Tensor out = float_map("atanh", x, [](auto v) { return std::atanh(v); });
  record_unary("AtanhBackward", x, out, false, [](const Tensor& g, const Tensor& xv, const Tensor&) {
    return g.div(rsub(xv.mul(xv), 1.0));
  });
  return out;
}

Tensor erf(const Tensor& x) {
  Tensor out = float_map("erf", x, [](auto v) { return std::erf(v); });
  record_unary("ErfBackward", x, out, false, [](const Tensor& g, const Tensor& xv, const Tensor&) {
    return g.mul(mul(exp(neg(xv.mul(xv))), kTwoOverSqrtPi));
  });
  return out;
}

Tensor erfc(const Tensor& x) {
  Tensor out = float_map("erfc", x, [](auto v) { return std::erfc(v); });
  record_unary("ErfcBackward", x, out, false, [](const Tensor& g, const Tensor& xv, const Tensor&) {
    return g.mul(mul(exp(neg(xv.mul(xv))), -kTwoOverSqrtPi));
  });
  return out;
}

Tensor erfinv(const Tensor& x) {
  Tensor out = float_map("erfinv", x, [](auto v) { return erfinv_d(static_cast<double>(v)); });
  record_unary("ErfinvBackward", x, out, true, [](const Tensor& g, const Tensor&, const Tensor& o) {
    return g.mul(mul(exp(o.mul(o)), kSqrtPiOverTwo));
  });
  return out;
}

// ---- binary float ops --------------------------------------------------------------------

Tensor atan2(const Tensor& a, const Tensor& b) {
  Tensor out = float_map2("atan2", a, b, true, [](auto p, auto q) { return std::atan2(p, q); });
  if (needs_grad(a, b)) {
    SavedTensor sa(a), sb(b);
    Shape as = a.shape(), bs = b.shape();
    bool na = a.requires_grad(), nb = b.requires_grad();
    record("Atan2Backward", {a, b}, out, [sa, sb, as, bs, na, nb](const Tensor& g) {
      Tensor av = sa.unpack(), bv = sb.unpack();
      Tensor r = g.div(av.mul(av).add(bv.mul(bv)));  // d/da = b/(a^2+b^2), d/db = -a/(a^2+b^2)
      return tensor_list{na ? sum_to(r.mul(bv), as) : Tensor(), nb ? sum_to(neg(r.mul(av)), bs) : Tensor()};
    });
  }
  return out;
}

Tensor hypot(const Tensor& a, const Tensor& b) {
  Tensor out = float_map2("hypot", a, b, false, [](auto p, auto q) { return std::hypot(p, q); });
  if (needs_grad(a, b)) {
    SavedTensor sa(a), sb(b), so(out, true);
    Shape as = a.shape(), bs = b.shape();
    bool na = a.requires_grad(), nb = b.requires_grad();
    record("HypotBackward", {a, b}, out, [sa, sb, so, as, bs, na, nb](const Tensor& g) {
      Tensor r = g.div(so.unpack());
      return tensor_list{na ? sum_to(r.mul(sa.unpack()), as) : Tensor(), nb ? sum_to(r.mul(sb.unpack()), bs) : Tensor()};
    });
  }
  return out;
}

// log(e^a + e^b) = max + log1p(e^-|a-b|); equal infinities give that infinity.
Tensor logaddexp(const Tensor& a, const Tensor& b) {
  Tensor out = float_map2("logaddexp", a, b, false, [](auto p, auto q) {
    using T = decltype(p);
    if (std::isinf(p) && p == q) return p;
    T m = p > q ? p : q;
    if (std::isnan(p) || std::isnan(q)) return std::numeric_limits<T>::quiet_NaN();
    return static_cast<T>(m + std::log1p(std::exp(-std::fabs(p - q))));
  });
  if (needs_grad(a, b)) {
    SavedTensor sa(a), sb(b), so(out, true);
    Shape as = a.shape(), bs = b.shape();
    bool na = a.requires_grad(), nb = b.requires_grad();
    record("LogaddexpBackward", {a, b}, out, [sa, sb, so, as, bs, na, nb](const Tensor& g) {
      Tensor o = so.unpack();
      return tensor_list{na ? sum_to(g.mul(exp(sa.unpack().sub(o))), as) : Tensor(),
                         nb ? sum_to(g.mul(exp(sb.unpack().sub(o))), bs) : Tensor()};
    });
  }
  return out;
}

// x * log(y), 0 where x == 0 (unless y is NaN).
Tensor xlogy(const Tensor& a, const Tensor& b) {
  Tensor out = float_map2("xlogy", a, b, true, [](auto p, auto q) {
    using T = decltype(p);
    if (std::isnan(q)) return std::numeric_limits<T>::quiet_NaN();
    if (p == T(0)) return T(0);
    return static_cast<T>(p * std::log(q));
  });
  if (needs_grad(a, b)) {
    SavedTensor sa(a), sb(b);
    Shape as = a.shape(), bs = b.shape();
    bool na = a.requires_grad(), nb = b.requires_grad();
    record("XlogyBackward", {a, b}, out, [sa, sb, as, bs, na, nb](const Tensor& g) {
      Tensor av = sa.unpack(), bv = sb.unpack();
      Tensor ga, gb;
      if (na) {  // PyTorch: xlogy(g, y), zero where x == 0 and y <= 0
        Tensor lg = xlogy(g, bv);
        ga = sum_to(where(logical_and(eq(av, 0.0), le(bv, 0.0)), zeros_like(lg), lg), as);
      }
      if (nb) gb = sum_to(g.mul(av).div(bv), bs);
      return tensor_list{ga, gb};
    });
  }
  return out;
}

// C fmod: the result has the sign of the dividend. Integer division by zero raises.
Tensor fmod(const Tensor& a, const Tensor& b) {
  DType t = result_type(a, b);
  SS_CHECK(t != DType::Bool, TypeError, "fmod: not implemented for 'Bool' (shapes ", a.shape(), " and ", b.shape(), ")");
  Tensor x = cast(a, t), y = cast(b, t);
  Tensor out = SS_DISPATCH_NUMERIC(t, "fmod", [&](auto tag) {
    using T = decltype(tag);
    return kernels::map_binary<T, T, T>(x, y, t, [](T p, T q) -> T {
      if constexpr (std::is_integral_v<T>) {
        SS_CHECK(q != 0, RuntimeError, "fmod: ZeroDivisionError (integer modulo by zero)");
        return p % q;
      } else {
        return std::fmod(p, q);
      }
    }, "fmod");
  });
  if (needs_grad(a, b)) {
    SavedTensor sa(a), sb(b);
    Shape as = a.shape(), bs = b.shape();
    bool na = a.requires_grad(), nb = b.requires_grad();
    record("FmodBackward", {a, b}, out, [sa, sb, as, bs, na, nb](const Tensor& g) {
      return tensor_list{na ? sum_to(g, as) : Tensor(),
                         nb ? sum_to(neg(g.mul(trunc(sa.unpack().div(sb.unpack())))), bs) : Tensor()};
    });
  }
  return out;
}

// ---- compositions --------------------------------------------------------------------------

// start + weight (end - start), in PyTorch's two-sided form (exact at weight 0 and 1).
Tensor lerp(const Tensor& start, const Tensor& end, const Tensor& weight) {
  SS_CHECK(start.is_floating_point(), TypeError, "lerp: not implemented for '", torch_type_name(start.dtype()),
           "' (start shape ", start.shape(), ")");
  SS_CHECK(end.dtype() == start.dtype() && weight.dtype() == start.dtype(), TypeError,
           "lerp: expected start, end and weight of one dtype, got ", dtype_name(start.dtype()), ", ",
           dtype_name(end.dtype()), " and ", dtype_name(weight.dtype()));
  DType t = start.dtype();
  Tensor out = SS_DISPATCH_FLOAT(t, "lerp", [&](auto tag) {
    using T = decltype(tag);
    return kernels::map_ternary<T, T, T, T>(start, end, weight, t, [](T s, T e, T w) {
      T d = e - s;
      return std::fabs(w) < T(0.5) ? static_cast<T>(s + w * d) : static_cast<T>(e - d * (T(1) - w));
    }, "lerp");
  });
  if (needs_grad(start, end) || needs_grad(weight)) {
    SavedTensor ss(start), se(end), sw(weight);
    Shape s0 = start.shape(), s1 = end.shape(), s2 = weight.shape();
    bool n0 = start.requires_grad(), n1 = end.requires_grad(), n2 = weight.requires_grad();
    record("LerpBackward", {start, end, weight}, out, [ss, se, sw, s0, s1, s2, n0, n1, n2](const Tensor& g) {
      Tensor w = sw.unpack();
      return tensor_list{n0 ? sum_to(g.mul(rsub(w, 1.0)), s0) : Tensor(), n1 ? sum_to(g.mul(w), s1) : Tensor(),
                         n2 ? sum_to(g.mul(se.unpack().sub(ss.unpack())), s2) : Tensor()};
    });
  }
  return out;
}

Tensor lerp(const Tensor& start, const Tensor& end, double weight) {
  return lerp(start, end, scalar_tensor(weight, start.dtype()));
}

Tensor addcmul(const Tensor& input, const Tensor& t1, const Tensor& t2, Scalar value) {
  Tensor p = mul(t1, t2);
  return add(input, value.v == 1.0 ? p : mul(p, value));
}

Tensor addcdiv(const Tensor& input, const Tensor& t1, const Tensor& t2, Scalar value) {
  SS_CHECK(t1.is_floating_point() || t2.is_floating_point(), RuntimeError,
           "addcdiv: integer division with addcdiv is not supported (tensor1 ", dtype_name(t1.dtype()), " shape ",
           t1.shape(), ", tensor2 ", dtype_name(t2.dtype()), " shape ", t2.shape(), ")");
  Tensor q = div(t1, t2);
  return add(input, value.v == 1.0 ? q : mul(q, value));
}

// beta * input + alpha * (mat1 @ mat2); input must broadcast to the product's shape,
// and with beta == 0 it is ignored (NaN in it does not propagate), as PyTorch.
Tensor addmm(const Tensor& input, const Tensor& mat1, const Tensor& mat2, Scalar beta, Scalar alpha) {
  SS_CHECK(mat1.dim() == 2 && mat2.dim() == 2, ValueError, "addmm: mat1 and mat2 must be 2-D, got shapes ",
           mat1.shape(), " and ", mat2.shape());
  Tensor p = mm(mat1, mat2);
  Shape bs = broadcast_shapes(input.shape(), p.shape(), "addmm");
  SS_CHECK(bs == p.shape(), ValueError, "addmm: input of shape ", input.shape(),
           " does not broadcast to the product's shape ", p.shape());
  if (alpha.v != 1.0) p = mul(p, alpha);
  if (beta.v == 0.0) return p;
  return add(beta.v == 1.0 ? input : mul(input, beta), p);
}

// log(z / (1 - z)) with z = clamp(x, eps, 1 - eps) when eps is given.
Tensor logit(const Tensor& x, std::optional<double> eps) {
  Tensor z = cast(x, to_floating(x.dtype()));
  if (eps) z = clamp(z, *eps, 1.0 - *eps);
  return log(z.div(rsub(z, 1.0)));
}

// NaN -> nan, +inf -> posinf (default: the largest finite value), -inf -> neginf.
Tensor nan_to_num(const Tensor& x, double nan, std::optional<double> posinf, std::optional<double> neginf) {
  if (!x.is_floating_point()) return x.clone();
  Tensor out = SS_DISPATCH_FLOAT(x.dtype(), "nan_to_num", [&](auto tag) {
    using T = decltype(tag);
    const T n = static_cast<T>(nan);
    const T pi = posinf ? static_cast<T>(*posinf) : std::numeric_limits<T>::max();
    const T ni = neginf ? static_cast<T>(*neginf) : std::numeric_limits<T>::lowest();
    return kernels::map_unary<T, T>(x, x.dtype(), [n, pi, ni](T v) {
      return std::isnan(v) ? n : (v == std::numeric_limits<T>::infinity() ? pi : (v == -std::numeric_limits<T>::infinity() ? ni : v));
    });
  });
  if (needs_grad(x)) {
    SavedTensor sx(x);
    // PyTorch: grad * isfinite(x)
    record("NanToNumBackward", {x}, out, [sx](const Tensor& g) {
      Tensor xv = sx.unpack();
      Tensor finite = kernels::map_unary<bool, bool>(isnan(xv), DType::Bool, [](bool b) { return !b; });
      finite = logical_and(finite, lt(abs(xv), std::numeric_limits<double>::infinity()));
      return tensor_list{where(finite, g, zeros_like(g))};
    });
  }
  return out;
}

// ---- bitwise ------------------------------------------------------------------------------

namespace {

DType bitwise_type(const char* op, const Tensor& a, const Tensor& b, bool shift) {
  DType t = result_type(a, b);
  SS_CHECK(t == DType::Int64 || (t == DType::Bool && !shift), TypeError, "\"", op, "\" not implemented for '",
           torch_type_name(t), "' (shapes ", a.shape(), " and ", b.shape(), ")");
  return t;
}

template <class F>
Tensor bitwise(const char* op, const Tensor& a, const Tensor& b, bool shift, F f) {
  DType t = bitwise_type(op, a, b, shift);
  Tensor x = cast(a, t), y = cast(b, t);
  if (t == DType::Bool)
    return kernels::map_binary<bool, bool, bool>(x, y, t, [f](bool p, bool q) { return static_cast<bool>(f(p, q)); }, op);
  return kernels::map_binary<int64_t, int64_t, int64_t>(x, y, t, f, op);
}

}  // namespace

Tensor bitwise_and(const Tensor& a, const Tensor& b) {
  return bitwise("bitwise_and", a, b, false, [](auto p, auto q) { return p & q; });
}
Tensor bitwise_or(const Tensor& a, const Tensor& b) {
  return bitwise("bitwise_or", a, b, false, [](auto p, auto q) { return p | q; });
}
Tensor bitwise_xor(const Tensor& a, const Tensor& b) {
  return bitwise("bitwise_xor", a, b, false, [](auto p, auto q) { return p ^ q; });
}

Tensor bitwise_not(const Tensor& x) {
  if (x.dtype() == DType::Bool) return logical_not(x);
  SS_CHECK(x.dtype() == DType::Int64, TypeError, "\"bitwise_not\" not implemented for '", torch_type_name(x.dtype()),
           "' (shape ", x.shape(), ")");
  return kernels::map_unary<int64_t, int64_t>(x, DType::Int64, [](int64_t v) { return ~v; });
}

// Shifts by a negative amount or by 64 or more give 0 (left) or the sign fill (right), as PyTorch.
Tensor bitwise_left_shift(const Tensor& a, const Tensor& b) {
  return bitwise("bitwise_left_shift", a, b, true, [](int64_t p, int64_t q) -> int64_t {
    if (q < 0 || q >= 64) return 0;
    return static_cast<int64_t>(static_cast<uint64_t>(p) << q);
  });
}
Tensor bitwise_right_shift(const Tensor& a, const Tensor& b) {
  return bitwise("bitwise_right_shift", a, b, true, [](int64_t p, int64_t q) -> int64_t {
    if (q < 0 || q >= 64) return p >> 63;
    return p >> q;
  });
}

}  // namespace shanshui
