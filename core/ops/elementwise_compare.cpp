// Selection (where, masked_fill), comparisons, logical ops and whole-tensor
// predicates (allclose, equal). Comparisons promote both sides to
// result_type(a, b) first, as PyTorch, and give bool; only where and
// masked_fill are differentiable.
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

Tensor cast(const Tensor& t, DType d) { return t.dtype() == d ? t : t.to(d); }

void check_bool(const char* op, const char* arg, const Tensor& t) {
  SS_CHECK(t.dtype() == DType::Bool, TypeError, op, ": expected ", arg, " to be a bool tensor, but got dtype ",
           dtype_name(t.dtype()), " (shape ", t.shape(), ")");
}

// True when every element of a bool tensor is set (no allocation; stops at the first false).
bool all_true(const Tensor& t) {
  Tensor c = t.contiguous();
  const bool* p = static_cast<const bool*>(c.raw_data());
  for (int64_t i = 0, n = c.numel(); i < n; ++i)
    if (!p[i]) return false;
  return true;
}

enum class Cmp { Eq, Ne, Lt, Le, Gt, Ge };

template <Cmp C, class T>
inline bool compare(T a, T b) {
  if constexpr (C == Cmp::Eq) return a == b;
  if constexpr (C == Cmp::Ne) return a != b;
  if constexpr (C == Cmp::Lt) return a < b;
  if constexpr (C == Cmp::Le) return a <= b;
  if constexpr (C == Cmp::Gt) return a > b;
  if constexpr (C == Cmp::Ge) return a >= b;
}

template <Cmp C>
Tensor compare_tt(const char* op, const Tensor& a, const Tensor& b) {
  DType t = result_type(a, b);
  Tensor x = cast(a, t), y = cast(b, t);
  return SS_DISPATCH_ALL(t, op, [&](auto tag) {
    using T = decltype(tag);
    return kernels::map_binary<bool, T, T>(x, y, DType::Bool, [](T p, T q) { return compare<C>(p, q); }, op);
  });
}

// The scalar is converted to the promoted type, like PyTorch's wrapped number
// (an int64 tensor against 2.5 compares in float32).
template <Cmp C>
Tensor compare_ts(const char* op, const Tensor& a, Scalar b) {
  DType t = result_type(a, b);
  Tensor x = cast(a, t);
  return SS_DISPATCH_ALL(t, op, [&](auto tag) {
    using T = decltype(tag);
    T s = static_cast<T>(b.v);
    return kernels::map_unary<bool, T>(x, DType::Bool, [s](T p) { return compare<C>(p, s); });
  });
}

}  // namespace

// ---- selection ---------------------------------------------------------------------

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_bool("where", "condition", cond);
  DType t = result_type(a, b);
  Tensor x = cast(a, t), y = cast(b, t);
  Tensor out = SS_DISPATCH_ALL(t, "where", [&](auto tag) {
    using T = decltype(tag);
    return kernels::map_ternary<T, bool, T, T>(cond, x, y, t, [](bool c, T p, T q) { return c ? p : q; }, "where");
  });
  if (needs_grad(a, b)) {
    SavedTensor sc(cond);
    Shape as = a.shape(), bs = b.shape();
    bool need_a = a.requires_grad(), need_b = b.requires_grad();
    // The gradient flows to a where cond holds and to b elsewhere, summed back over broadcasting.
    record("WhereBackward", {a, b}, out, [sc, as, bs, need_a, need_b](const Tensor& g) {
      Tensor c = sc.unpack(), zero = scalar_tensor(0.0, g.dtype());
      Tensor ga = need_a ? sum_to(where(c, g, zero), as) : Tensor();
      Tensor gb = need_b ? sum_to(where(c, zero, g), bs) : Tensor();
      return tensor_list{ga, gb};
    });
  }
  return out;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, Scalar value) {
  check_bool("masked_fill", "mask", mask);
  Shape bs = broadcast_shapes(x.shape(), mask.shape(), "masked_fill");
  SS_CHECK(bs == x.shape(), ValueError, "masked_fill: mask of shape ", mask.shape(),
           " is not broadcastable to the input shape ", x.shape());
  // The value is cast to x's dtype (2.7 into an int64 tensor writes 2), as PyTorch.
  Tensor out = SS_DISPATCH_ALL(x.dtype(), "masked_fill", [&](auto tag) {
    using T = decltype(tag);
    T v = static_cast<T>(value.v);
    return kernels::map_binary<T, T, bool>(x, mask, x.dtype(), [v](T p, bool m) { return m ? v : p; },
                                           "masked_fill");
  });
  if (needs_grad(x)) {
    SavedTensor sm(mask);
    record("MaskedFillBackward", {x}, out,
           [sm](const Tensor& g) { return tensor_list{masked_fill(g, sm.unpack(), 0.0)}; });
  }
  return out;
}

Tensor Tensor::masked_fill(const Tensor& mask, Scalar value) const {
  return shanshui::masked_fill(*this, mask, value);
}

// ---- comparisons --------------------------------------------------------------------

Tensor eq(const Tensor& a, const Tensor& b) { return compare_tt<Cmp::Eq>("eq", a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare_tt<Cmp::Ne>("ne", a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare_tt<Cmp::Lt>("lt", a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return compare_tt<Cmp::Le>("le", a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare_tt<Cmp::Gt>("gt", a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare_tt<Cmp::Ge>("ge", a, b); }
Tensor eq(const Tensor& a, Scalar b) { return compare_ts<Cmp::Eq>("eq", a, b); }
Tensor ne(const Tensor& a, Scalar b) { return compare_ts<Cmp::Ne>("ne", a, b); }
Tensor lt(const Tensor& a, Scalar b) { return compare_ts<Cmp::Lt>("lt", a, b); }
Tensor le(const Tensor& a, Scalar b) { return compare_ts<Cmp::Le>("le", a, b); }
Tensor gt(const Tensor& a, Scalar b) { return compare_ts<Cmp::Gt>("gt", a, b); }
Tensor ge(const Tensor& a, Scalar b) { return compare_ts<Cmp::Ge>("ge", a, b); }

// ---- logic: any dtype, nonzero (and NaN) counts as true --------------------------------

namespace {
template <class F>
Tensor logical(const char* op, const Tensor& a, const Tensor& b, F f) {
  return kernels::map_binary<bool, bool, bool>(cast(a, DType::Bool), cast(b, DType::Bool), DType::Bool, f, op);
}
}  // namespace

Tensor logical_and(const Tensor& a, const Tensor& b) {
  return logical("logical_and", a, b, [](bool p, bool q) { return p && q; });
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
  return logical("logical_or", a, b, [](bool p, bool q) { return p || q; });
}
Tensor logical_xor(const Tensor& a, const Tensor& b) {
  return logical("logical_xor", a, b, [](bool p, bool q) { return p != q; });
}
Tensor logical_not(const Tensor& a) {
  return kernels::map_unary<bool, bool>(cast(a, DType::Bool), DType::Bool, [](bool p) { return !p; });
}

Tensor isnan(const Tensor& a) {
  if (!a.is_floating_point()) return zeros(a.shape(), DType::Bool);
  return SS_DISPATCH_FLOAT(a.dtype(), "isnan", [&](auto tag) {
    using T = decltype(tag);
    return kernels::map_unary<bool, T>(a, DType::Bool, [](T v) { return v != v; });
  });
}

// ---- whole-tensor predicates -----------------------------------------------------------

// |a - b| <= atol + rtol |b| elementwise (broadcasting); equal infinities match, NaN never does.
bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  SS_CHECK(a.dtype() == b.dtype(), TypeError, "allclose: dtypes must match, got ", dtype_name(a.dtype()), " and ",
           dtype_name(b.dtype()));
  SS_CHECK(rtol >= 0 && atol >= 0, ValueError, "allclose: rtol and atol must be non-negative, got rtol=", rtol,
           " atol=", atol);
  Tensor close = SS_DISPATCH_ALL(a.dtype(), "allclose", [&](auto tag) {
    using T = decltype(tag);
    return kernels::map_binary<bool, T, T>(
        a, b, DType::Bool,
        [rtol, atol](T p, T q) {
          double x = static_cast<double>(p), y = static_cast<double>(q);
          if (x == y) return true;  // also equal infinities
          return std::fabs(x - y) <= atol + rtol * std::fabs(y);
        },
        "allclose");
  });
  return all_true(close);
}

// Same shape and same values (after type promotion); NaN != NaN. Never throws on a shape mismatch.
bool equal(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  return all_true(eq(a, b));
}

}  // namespace shanshui
