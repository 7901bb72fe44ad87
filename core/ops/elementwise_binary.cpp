// Binary arithmetic: add, sub, mul, div, pow, maximum, minimum, and their
// scalar forms. Backward of a broadcast input sums back to its shape (sum_to).
#include <cmath>
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

// Rank of a tensor for promotion: 2 = has dims, 1 = 0-d, 0 = wrapped Python number.
DType promote_ranked(DType hi, int hi_rank, DType lo, int lo_rank) {
  (void)hi_rank;
  (void)lo_rank;
  auto category = [](DType t) { return t == DType::Bool ? 0 : (t == DType::Int64 ? 1 : 2); };
  if (category(lo) > category(hi)) return lo;
  return hi;
}

}  // namespace

DType result_type(const Tensor& a, const Tensor& b) {
  bool a0 = a.dim() == 0, b0 = b.dim() == 0;
  if (a0 == b0) return promote_types(a.dtype(), b.dtype());
  return a0 ? promote_ranked(b.dtype(), 2, a.dtype(), 1) : promote_ranked(a.dtype(), 2, b.dtype(), 1);
}

DType result_type(const Tensor& a, Scalar b) {
  // A Python float with an integer/bool tensor gives the default float type; an
  // int with a bool tensor gives int64; otherwise the tensor's dtype wins.
  if (b.kind == DType::Float64 && !a.is_floating_point()) return default_float();
  if (b.kind == DType::Int64 && a.dtype() == DType::Bool) return DType::Int64;
  return a.dtype();
}

namespace {

Tensor cast(const Tensor& t, DType d) { return t.dtype() == d ? t : t.to(d); }

template <class F>
Tensor arith(const char* op, const Tensor& a, const Tensor& b, DType out, F f) {
  Tensor x = cast(a, out), y = cast(b, out);
  return SS_DISPATCH_NUMERIC(out, op, [&](auto tag) {
    using T = decltype(tag);
    return kernels::map_binary<T, T, T>(x, y, out, [f](T p, T q) { return static_cast<T>(f(p, q)); }, op);
  });
}

DType arith_type(const char* op, const Tensor& a, const Tensor& b) {
  DType t = result_type(a, b);
  SS_CHECK(t != DType::Bool || std::string(op) == "add" || std::string(op) == "mul", TypeError, op,
           ": not supported for two bool tensors");
  return t;
}

}  // namespace

namespace {
void check_alpha(const char* op, DType t, Scalar alpha) {
  SS_CHECK(is_floating(t) || alpha.kind != DType::Float64, TypeError, op,
           ": for integral input tensors, argument alpha must not be a floating point number (got ", alpha.v, ")");
}
}  // namespace

Tensor add(const Tensor& a, const Tensor& b, Scalar alpha) {
  DType t = result_type(a, b);
  check_alpha("add", t, alpha);
  Tensor out;
  if (t == DType::Bool) {
    out = arith("add", a, b, DType::Int64, [](auto p, auto q) { return p + q; }).to(DType::Bool);
  } else if (alpha.v == 1.0) {
    out = arith("add", a, b, t, [](auto p, auto q) { return p + q; });
  } else {
    double al = alpha.v;
    out = arith("add", a, b, t, [al](auto p, auto q) { return p + static_cast<decltype(q)>(al) * q; });
  }
  if (needs_grad(a, b)) {
    // Only the gradients that are needed: x + 1.0 must not reduce g to the scalar's shape.
    Shape as = a.shape(), bs = b.shape();
    double al = alpha.v;
    bool need_a = a.requires_grad(), need_b = b.requires_grad();
    record("AddBackward", {a, b}, out, [as, bs, al, need_a, need_b](const Tensor& g) {
      return tensor_list{need_a ? sum_to(g, as) : Tensor(),
                         need_b ? sum_to(al == 1.0 ? g : g.mul(scalar_tensor(al, g.dtype())), bs) : Tensor()};
    });
  }
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b, Scalar alpha) {
  DType t = arith_type("sub", a, b);
  check_alpha("sub", t, alpha);
  double al = alpha.v;
  Tensor out = al == 1.0 ? arith("sub", a, b, t, [](auto p, auto q) { return p - q; })
                         : arith("sub", a, b, t, [al](auto p, auto q) { return p - static_cast<decltype(q)>(al) * q; });
  if (needs_grad(a, b)) {
    Shape as = a.shape(), bs = b.shape();
    bool need_a = a.requires_grad(), need_b = b.requires_grad();
    record("SubBackward", {a, b}, out, [as, bs, al, need_a, need_b](const Tensor& g) {
      return tensor_list{need_a ? sum_to(g, as) : Tensor(),
                         need_b ? sum_to(g.mul(scalar_tensor(-al, g.dtype())), bs) : Tensor()};
    });
  }
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  DType t = result_type(a, b);
  Tensor out = t == DType::Bool ? logical_and(a, b) : arith("mul", a, b, t, [](auto p, auto q) { return p * q; });
  if (needs_grad(a, b)) {
    SavedTensor sa(b.requires_grad() ? a : Tensor()), sb(a.requires_grad() ? b : Tensor());
    Shape as = a.shape(), bs = b.shape();
    record("MulBackward", {a, b}, out, [sa, sb, as, bs](const Tensor& g) {
      Tensor ga = sb.defined() ? sum_to(g.mul(sb.unpack()), as) : Tensor();
      Tensor gb = sa.defined() ? sum_to(g.mul(sa.unpack()), bs) : Tensor();
      return tensor_list{ga, gb};
    });
  }
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  DType t = to_floating(result_type(a, b));
  Tensor out = arith("div", a, b, t, [](auto p, auto q) { return p / q; });
  if (needs_grad(a, b)) {
    SavedTensor sb(b), so(b.requires_grad() ? out : Tensor(), true);
    Shape as = a.shape(), bs = b.shape();
    bool need_a = a.requires_grad(), need_b = b.requires_grad();
    record("DivBackward", {a, b}, out, [sb, so, as, bs, need_a, need_b](const Tensor& g) {
      Tensor bv = sb.unpack();
      Tensor ga = need_a ? sum_to(g.div(bv), as) : Tensor();
      // d(a/b)/db = -(a/b)/b
      Tensor gb = need_b ? sum_to(neg(g.mul(so.unpack()).div(bv)), bs) : Tensor();
      return tensor_list{ga, gb};
    });
  }
  return out;
}

Tensor pow(const Tensor& a, const Tensor& b) {
  DType t = arith_type("pow", a, b);
  Tensor out = t == DType::Int64 ? arith("pow", a, b, t, [](auto p, auto q) {
    using I = decltype(p);
    if constexpr (std::is_integral_v<I>) {
      if (q < 0) return I(p == 1 ? 1 : (p == -1 ? (q % 2 ? -1 : 1) : 0));  // C integer semantics, as PyTorch
      I r = 1, base = p;
      for (I e = q; e > 0; e >>= 1, base *= base)
        if (e & 1) r *= base;
      return r;
    } else {
      return std::pow(p, q);
    }
  })
                                 : arith("pow", a, b, t, [](auto p, auto q) { return std::pow(p, q); });
  if (needs_grad(a, b)) {
    SavedTensor sa(a), sb(b), so(out, true);
    Shape as = a.shape(), bs = b.shape();
    bool need_a = a.requires_grad(), need_b = b.requires_grad();
    record("PowBackward", {a, b}, out, [sa, sb, so, as, bs, need_a, need_b](const Tensor& g) {
      Tensor av = sa.unpack(), bv = sb.unpack();
      // d/da a^b = b * a^(b-1); written as b * a^(b-1) (not b*out/a) so a = 0 stays finite.
      Tensor ga = need_a ? sum_to(g.mul(bv.mul(pow(av, bv.sub(scalar_tensor(1.0, bv.dtype()))))), as) : Tensor();
      Tensor gb;
      if (need_b) {
        // d/db a^b = a^b * log(a), taken as 0 where a == 0 and b >= 0 (PyTorch's convention).
        Tensor lg = where(logical_and(eq(av, 0.0), ge(bv, 0.0)), zeros_like(av), log(av));
        gb = sum_to(g.mul(so.unpack().mul(lg)), bs);
      }
      return tensor_list{ga, gb};
    });
  }
  return out;
}


namespace {
// max/min: the gradient goes to the larger (smaller) input; ties split it evenly, as PyTorch.
Tensor extremum(const char* op, const Tensor& a, const Tensor& b, bool is_max) {
  DType t = result_type(a, b);
  Tensor out = is_max ? arith(op, a, b, t, [](auto p, auto q) { return (p > q || p != p) ? p : q; })
                      : arith(op, a, b, t, [](auto p, auto q) { return (p < q || p != p) ? p : q; });
  if (needs_grad(a, b)) {
    SavedTensor sa(a), sb(b);
    Shape as = a.shape(), bs = b.shape();
    record(is_max ? "MaximumBackward" : "MinimumBackward", {a, b}, out, [sa, sb, as, bs, is_max](const Tensor& g) {
      Tensor av = sa.unpack(), bv = sb.unpack();
      Tensor a_wins = is_max ? gt(av, bv) : lt(av, bv);
      Tensor tie = eq(av, bv);
      Tensor wa = where(a_wins, ones_like(g), where(tie, full_like(g, 0.5), zeros_like(g)));
      Tensor wb = rsub(wa, 1.0);
      return tensor_list{sum_to(g.mul(wa), as), sum_to(g.mul(wb), bs)};
    });
  }
  return out;
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) { return extremum("maximum", a, b, true); }
Tensor minimum(const Tensor& a, const Tensor& b) { return extremum("minimum", a, b, false); }

Tensor floor_divide(const Tensor& a, const Tensor& b) {
  DType t = arith_type("floor_divide", a, b);
  if (t == DType::Int64)
    return arith("floor_divide", a, b, t, [](auto p, auto q) {
      if constexpr (std::is_integral_v<decltype(p)>) {
        SS_CHECK(q != 0, RuntimeError, "floor_divide: ZeroDivisionError (integer division by zero)");
        auto r = p / q;
        return (p % q != 0 && ((p < 0) != (q < 0))) ? r - 1 : r;
      } else {
        return p;
      }
    });
  // PyTorch's (and Python's) div_floor: from fmod, so 1.0 // 0.1 is 9 (floor(1.0 / 0.1) would be 10).
  return arith("floor_divide", a, b, t, [](auto p, auto q) -> decltype(p) {
    using F = decltype(p);
    if constexpr (std::is_floating_point_v<F>) {
      if (q == 0) return p / q;
      F mod = std::fmod(p, q);
      F d = (p - mod) / q;
      if (mod != 0 && ((q < 0) != (mod < 0))) d -= 1;
      if (d == 0) return std::copysign(F(0), p / q);
      F fl = std::floor(d);
      return d - fl > F(0.5) ? fl + 1 : fl;
    } else {
      return p;  // not reached: integers take the branch above
    }
  });
}

Tensor remainder(const Tensor& a, const Tensor& b) {
  DType t = arith_type("remainder", a, b);
  if (t == DType::Int64)
    return arith("remainder", a, b, t, [](auto p, auto q) {
      if constexpr (std::is_integral_v<decltype(p)>) {
        SS_CHECK(q != 0, RuntimeError, "remainder: ZeroDivisionError (integer modulo by zero)");
        auto r = p % q;
        return (r != 0 && ((r < 0) != (q < 0))) ? r + q : r;
      } else {
        return p;
      }
    });
  Tensor out = arith("remainder", a, b, t, [](auto p, auto q) {
    // PyTorch's formula: fmod, moved to the divisor's sign (a zero keeps fmod's sign).
    auto r = std::fmod(p, q);
    if (r != 0 && ((r < 0) != (q < 0))) r += q;
    return r;
  });
  if (needs_grad(a, b)) {
    // d/da = 1, d/db = -(a // b), as PyTorch (div with rounding_mode='floor').
    SavedTensor sa(a), sb(b);
    Shape as = a.shape(), bs = b.shape();
    bool need_a = a.requires_grad(), need_b = b.requires_grad();
    record("RemainderBackward", {a, b}, out, [sa, sb, as, bs, need_a, need_b](const Tensor& g) {
      return tensor_list{need_a ? sum_to(g, as) : Tensor(),
                         need_b ? sum_to(neg(g.mul(floor_divide(sa.unpack(), sb.unpack()))), bs) : Tensor()};
    });
  }
  return out;
}

// ---- scalar forms: the scalar becomes a 0-d tensor of the promoted type -------

Tensor add(const Tensor& a, Scalar b) { return add(a, scalar_tensor(b, result_type(a, b))); }
Tensor sub(const Tensor& a, Scalar b) { return sub(a, scalar_tensor(b, result_type(a, b))); }
Tensor rsub(const Tensor& a, Scalar b) { return sub(scalar_tensor(b, result_type(a, b)), a); }
Tensor mul(const Tensor& a, Scalar b) { return mul(a, scalar_tensor(b, result_type(a, b))); }
Tensor div(const Tensor& a, Scalar b) { return div(a, scalar_tensor(b, result_type(a, b))); }
Tensor rdiv(const Tensor& a, Scalar b) { return div(scalar_tensor(b, result_type(a, b)), a); }
Tensor pow(const Tensor& a, Scalar b) {
  SS_CHECK(!(a.dtype() == DType::Int64 && b.kind == DType::Int64 && b.v < 0), RuntimeError,
           "pow: integers to negative integer powers are not allowed");
  return pow(a, scalar_tensor(b, result_type(a, b)));
}
Tensor pow(Scalar a, const Tensor& b) {
  DType t = a.kind == DType::Float64 && !b.is_floating_point() ? default_float() : b.dtype();
  return pow(scalar_tensor(a, t), b);
}

}  // namespace shanshui
