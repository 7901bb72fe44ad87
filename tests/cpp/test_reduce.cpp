// Reductions, scans and softmax: values against hand-computed results, PyTorch's
// shape/dtype/edge-case rules, float64 gradchecks (contiguous, transposed,
// sliced, expanded, zero-size) and the errors on bad input.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/gradcheck.h"
#include "core/ops.h"

using namespace shanshui;
using autograd::gradcheck;

namespace {

const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();

Tensor f64(const std::vector<double>& v, const Shape& s) { return from_vector(v, s, DType::Float64); }
Tensor f32(const std::vector<double>& v, const Shape& s) { return from_vector(v, s, DType::Float32); }

// Distinct, tie-free values (so max/amax are differentiable) without depending on the RNG.
Tensor smooth(const Shape& s, DType dt = DType::Float64, double scale = 1.0) {
  std::vector<double> v(size_t(numel_of(s)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = scale * std::sin(1.7 * double(i) + 0.3) + 0.01 * double(i);
  return from_vector(v, s, dt);
}
Tensor leaf(const Shape& s) { return smooth(s).requires_grad_(); }

void require_close(const Tensor& t, const std::vector<double>& want, double tol = 1e-12) {
  std::vector<double> got = to_vector(t);
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i << ": got " << got[i] << ", want " << want[i]);
    if (std::isnan(want[i])) {
      REQUIRE(std::isnan(got[i]));
    } else if (std::isinf(want[i])) {
      REQUIRE(got[i] == want[i]);
    } else {
      REQUIRE(std::abs(got[i] - want[i]) <= tol * (1.0 + std::abs(want[i])));
    }
  }
}

void check_grad(const std::function<Tensor(const std::vector<Tensor>&)>& f, const std::vector<Tensor>& in) {
  auto r = gradcheck(f, in);
  INFO(r.message);
  REQUIRE(r.ok);
}

}  // namespace

// ---- sum / mean -------------------------------------------------------------------

TEST_CASE("sum and mean: values, dims, keepdim, dtypes", "[reduce]") {
  Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  require_close(sum(x), {21});
  require_close(sum(x, {0}), {5, 7, 9});
  require_close(sum(x, {-1}), {6, 15});
  REQUIRE(sum(x, {1}, true).shape() == Shape{2, 1});
  require_close(mean(x, {0, 1}), {3.5});
  require_close(mean(x, {-2}), {2.5, 3.5, 4.5});
  REQUIRE(mean(x, {0}, true).shape() == Shape{1, 3});
  // Integers and bools sum to int64, as PyTorch.
  Tensor xi = from_vector(std::vector<int64_t>{1, 2, 3}, {3});
  REQUIRE(sum(xi).dtype() == DType::Int64);
  REQUIRE(sum(xi).item<int64_t>() == 6);
  REQUIRE(sum(gt(xi, 1)).item<int64_t>() == 2);
  REQUIRE(sum(x, {}, false, DType::Float32).dtype() == DType::Float32);
  // Non-contiguous input.
  require_close(sum(x.t(), {1}), {5, 7, 9});
  // Empty: sum is 0, mean is nan; reducing a non-empty dim of an empty tensor gives an empty result.
  Tensor e = zeros({0, 3}, DType::Float64);
  require_close(sum(e), {0});
  require_close(sum(e, {0}), {0, 0, 0});
  REQUIRE(sum(e, {1}).shape() == Shape{0});
  REQUIRE(std::isnan(mean(e).item<double>()));
  // Float32 sums accumulate in double: 1e6 ones plus one small value stay exact.
  REQUIRE(sum(ones({1000000})).item<float>() == 1e6f);
}

TEST_CASE("sum and mean: bad input", "[reduce][errors]") {
  Tensor x = zeros({2, 3});
  REQUIRE_THROWS_AS(sum(x, {2}), IndexError);
  REQUIRE_THROWS_AS(sum(x, {-3}), IndexError);
  REQUIRE_THROWS_AS(sum(x, {0, 0}), ValueError);
  REQUIRE_THROWS_AS(mean(x, {5}), IndexError);
  REQUIRE_THROWS_AS(mean(from_vector(std::vector<int64_t>{1, 2}, {2})), TypeError);
}

TEST_CASE("sum and mean: gradients", "[reduce][grad]") {
  check_grad([](auto& v) { return sum(v[0], {1}); }, {leaf({3, 4})});
  check_grad([](auto& v) { return sum(v[0], {0, 2}, true); }, {leaf({2, 3, 4})});
  check_grad([](auto& v) { return mean(v[0], {-1}); }, {leaf({3, 4})});
  check_grad([](auto& v) { return mean(v[0].transpose(0, 1), {0}); }, {leaf({3, 4})});
  check_grad([](auto& v) { return sum(v[0].expand({3, 4}), {0}); }, {leaf({1, 4})});
  check_grad([](auto& v) { return sum(v[0], {0}); }, {leaf({0, 3})});
  // d mean / dx_i = 1/N
  Tensor x = leaf({2, 2});
  mean(x).backward();
  require_close(x.grad(), {0.25, 0.25, 0.25, 0.25});
}

// ---- prod ------------------------------------------------------------------------------

TEST_CASE("prod: values, dim, dtype, empty", "[reduce]") {
  Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  require_close(prod(x), {720});
  require_close(prod(x, 0), {4, 10, 18});
  require_close(prod(x, -1), {6, 120});
  REQUIRE(prod(x, 1, true).shape() == Shape{2, 1});
  require_close(prod(x.t(), 0), {6, 120});
  Tensor xi = from_vector(std::vector<int64_t>{2, 3, 4}, {3});
  REQUIRE(prod(xi).dtype() == DType::Int64);
  REQUIRE(prod(xi).item<int64_t>() == 24);
  REQUIRE(prod(gt(xi, 1)).dtype() == DType::Int64);
  require_close(prod(zeros({0}, DType::Float64)), {1});
  require_close(prod(zeros({2, 0}, DType::Float64), 1), {1, 1});
  REQUIRE_THROWS_AS(prod(x, 2), IndexError);
}

TEST_CASE("prod: gradients, including zeros", "[reduce][grad]") {
  check_grad([](auto& v) { return prod(v[0], 1); }, {leaf({3, 4})});
  check_grad([](auto& v) { return prod(v[0]); }, {leaf({2, 3})});
  check_grad([](auto& v) { return prod(v[0].t(), 0, true); }, {leaf({3, 2})});
  check_grad([](auto& v) { return prod(v[0], 0); }, {leaf({0, 2})});
  // One zero: d/dx_i prod = product of the others; at the zero that is the product of the
  // rest, elsewhere 0. [2, 0, 3] -> [0, 6, 0].
  Tensor a = f64({2, 0, 3}, {3}).requires_grad_();
  prod(a).backward();
  require_close(a.grad(), {0, 6, 0});
  // Two zeros: every partial product contains a zero.
  Tensor b = f64({0, 5, 0}, {3}).requires_grad_();
  prod(b).backward();
  require_close(b.grad(), {0, 0, 0});
  check_grad([](auto& v) { return prod(v[0], 1); }, {f64({2, 0, 3, 0, 0, 4, 1.5, -2, 0.5}, {3, 3}).requires_grad_()});
}

// ---- var / std -----------------------------------------------------------------------------

TEST_CASE("var and std: values, correction, dims", "[reduce]") {
  Tensor x = f64({1, 2, 3, 4, 6, 8}, {2, 3});
  // Row 0: mean 2, squared deviations 1+0+1 = 2. Row 1: mean 6, 4+0+4 = 8.
  require_close(var(x, {1}), {1, 4});
  require_close(var(x, {1}, 0), {2.0 / 3, 8.0 / 3});
  require_close(shanshui::std(x, {1}), {1, 2});
  require_close(var(x, {-1}, 1, true), {1, 4});
  REQUIRE(var(x, {-1}, 1, true).shape() == Shape{2, 1});
  // All dims: mean 4, deviations 9+4+1+0+4+16 = 34, / 5.
  require_close(var(x), {34.0 / 5});
  require_close(var(x, {0, 1}), {34.0 / 5});
  require_close(shanshui::std(x.t(), {}), {std::sqrt(34.0 / 5)});
  // Columns: pairs (1,4) (2,6) (3,8): var = d^2/2.
  require_close(var(x, {0}), {4.5, 8, 12.5});
  // Degrees of freedom <= 0 give inf (or nan for zero deviation); one element with correction 1 is nan.
  require_close(var(f64({1, 2}, {2}), {}, 2), {kInf});
  require_close(var(f64({1, 1}, {2}), {}, 2), {kNaN});
  require_close(var(f64({1}, {1})), {kNaN});
  require_close(var(zeros({0}, DType::Float64)), {kNaN});
  // Float32 stays float32 and is accurate for large offsets (two-pass in double).
  Tensor big = f32({1e4 + 1, 1e4 + 2, 1e4 + 3}, {3});
  REQUIRE(var(big).dtype() == DType::Float32);
  require_close(var(big), {1}, 1e-6);
}

TEST_CASE("var and std: bad input", "[reduce][errors]") {
  REQUIRE_THROWS_AS(var(from_vector(std::vector<int64_t>{1, 2}, {2})), TypeError);
  REQUIRE_THROWS_AS(shanshui::std(from_vector(std::vector<int64_t>{1, 2}, {2})), TypeError);
  REQUIRE_THROWS_AS(var(zeros({2, 3}), {2}), IndexError);
  REQUIRE_THROWS_AS(shanshui::std(zeros({2, 3}), {1, -1}), ValueError);
}

TEST_CASE("var and std: gradients", "[reduce][grad]") {
  check_grad([](auto& v) { return var(v[0], {1}); }, {leaf({3, 4})});
  check_grad([](auto& v) { return var(v[0], {0, 2}, 0, true); }, {leaf({2, 3, 4})});
  check_grad([](auto& v) { return shanshui::std(v[0]); }, {leaf({3, 4})});
  check_grad([](auto& v) { return shanshui::std(v[0].transpose(0, 1), {-1}, 2); }, {leaf({5, 3})});
  check_grad([](auto& v) { return var(v[0].slice(1, 0, 4, 2), {1}); }, {leaf({3, 4})});
  check_grad([](auto& v) { return var(v[0], {1}); }, {leaf({0, 3})});
  // d var / dx_i = 2 (x_i - mean) / (N - 1): x = [1, 2, 4], mean 7/3, N - 1 = 2.
  Tensor x = f64({1, 2, 4}, {3}).requires_grad_();
  var(x).backward();
  require_close(x.grad(), {1 - 7.0 / 3, 2 - 7.0 / 3, 4 - 7.0 / 3});
  // std of a constant has gradient 0 (not nan), as PyTorch.
  Tensor c = f64({3, 3, 3}, {3}).requires_grad_();
  shanshui::std(c).backward();
  require_close(c.grad(), {0, 0, 0});
}

// ---- logsumexp ---------------------------------------------------------------------------------

TEST_CASE("logsumexp: values and stability", "[reduce]") {
  Tensor x = f64({0, std::log(3.0), 1, 1}, {2, 2});
  require_close(logsumexp(x, {1}), {std::log(4.0), 1 + std::log(2.0)});
  REQUIRE(logsumexp(x, {1}, true).shape() == Shape{2, 1});
  require_close(logsumexp(x, {0, 1}), {std::log(1 + 3 + 2 * std::exp(1.0))});
  // No overflow for large inputs, no underflow to -inf for very negative ones.
  require_close(logsumexp(f32({1000, 1000}, {2}), {0}), {1000 + std::log(2.0)}, 1e-6);
  require_close(logsumexp(f64({-1000, -1000}, {2}), {0}), {-1000 + std::log(2.0)});
  // Infinities: all -inf -> -inf; any +inf -> +inf; nan propagates; empty -> -inf.
  require_close(logsumexp(f64({-kInf, -kInf}, {2}), {0}), {-kInf});
  require_close(logsumexp(f64({kInf, -kInf}, {2}), {0}), {kInf});
  require_close(logsumexp(f64({kNaN, 1}, {2}), {0}), {kNaN});
  require_close(logsumexp(zeros({0}, DType::Float64), {0}), {-kInf});
  // Integers are promoted to float32.
  Tensor li = logsumexp(from_vector(std::vector<int64_t>{1, 2}, {2}), {0});
  REQUIRE(li.dtype() == DType::Float32);
  require_close(li, {2 + std::log1p(std::exp(-1.0))}, 1e-6);
  REQUIRE_THROWS_AS(logsumexp(x, {2}), IndexError);
}

TEST_CASE("logsumexp: gradients", "[reduce][grad]") {
  check_grad([](auto& v) { return logsumexp(v[0], {1}); }, {leaf({3, 4})});
  check_grad([](auto& v) { return logsumexp(v[0], {0, 2}, true); }, {leaf({2, 3, 4})});
  check_grad([](auto& v) { return logsumexp(v[0].t(), {0}); }, {leaf({3, 4})});
  check_grad([](auto& v) { return logsumexp(v[0].expand({2, 3}), {1}); }, {leaf({1, 3})});
  // d lse / dx_i = softmax(x)_i: x = [0, log 3] -> [1/4, 3/4].
  Tensor x = f64({0, std::log(3.0)}, {2}).requires_grad_();
  logsumexp(x, {0}).backward();
  require_close(x.grad(), {0.25, 0.75});
}

// ---- amax / amin / max / min ---------------------------------------------------------------------

TEST_CASE("amax and amin: values, dims, nan, dtypes", "[reduce]") {
  Tensor x = f64({1, 5, 3, 4, 2, 6}, {2, 3});
  require_close(amax(x), {6});
  require_close(amin(x), {1});
  require_close(amax(x, {0}), {4, 5, 6});
  require_close(amin(x, {-1}), {1, 2});
  require_close(amax(x, {0, 1}, true), {6});
  REQUIRE(amax(x, {0, 1}, true).shape() == Shape{1, 1});
  require_close(amax(x.t(), {1}), {4, 5, 6});
  require_close(amax(f64({1, kNaN, 3}, {3})), {kNaN});
  require_close(amin(f64({1, 3, kNaN}, {3})), {kNaN});
  Tensor xi = from_vector(std::vector<int64_t>{3, -7, 2}, {3});
  REQUIRE(amax(xi).item<int64_t>() == 3);
  REQUIRE(amin(xi).item<int64_t>() == -7);
  REQUIRE(amax(gt(xi, 0)).dtype() == DType::Bool);
  // Empty: reducing a zero-size dim raises; reducing a non-empty dim gives an empty result.
  Tensor e = zeros({0, 3});
  REQUIRE_THROWS_AS(amax(e, {0}), IndexError);
  REQUIRE_THROWS_AS(amin(e), RuntimeError);
  REQUIRE(amax(e, {1}).shape() == Shape{0});
  REQUIRE_THROWS_AS(amax(x, {2}), IndexError);
  REQUIRE_THROWS_AS(amin(x, {1, 1}), ValueError);
}

TEST_CASE("max and min: full and with a dim", "[reduce]") {
  Tensor x = f64({1, 5, 3, 4, 2, 6}, {2, 3});
  require_close(max(x), {6});
  require_close(min(x), {1});
  REQUIRE(max(x).dim() == 0);
  auto [v, i] = max(x, 1);
  require_close(v, {5, 6});
  REQUIRE(to_vector(i) == std::vector<double>{1, 2});
  REQUIRE(i.dtype() == DType::Int64);
  auto [v0, i0] = min(x, 0, true);
  REQUIRE(v0.shape() == Shape{1, 3});
  require_close(v0, {1, 2, 3});
  REQUIRE(to_vector(i0) == std::vector<double>{0, 1, 0});
  auto [vt, it] = max(x.t(), -1);  // rows of x.t() are the columns of x
  require_close(vt, {4, 5, 6});
  REQUIRE(to_vector(it) == std::vector<double>{1, 0, 1});
  // Ties: the first occurrence; NaN: the first NaN wins.
  auto [tv, ti] = max(f64({1, 3, 3, 2}, {4}), 0);
  require_close(tv, {3});
  REQUIRE(ti.item<int64_t>() == 1);
  auto [nv, ni] = max(f64({1, kNaN, 3, kNaN}, {4}), 0);
  require_close(nv, {kNaN});
  REQUIRE(ni.item<int64_t>() == 1);
  auto [mv, mi] = min(from_vector(std::vector<int64_t>{3, 1, 1, 2}, {4}), 0);
  REQUIRE(mv.item<int64_t>() == 1);
  REQUIRE(mi.item<int64_t>() == 1);
  // 0-d input with dim 0 / -1.
  auto [sv, si] = max(scalar_tensor(3.0, DType::Float64), -1);
  REQUIRE(sv.dim() == 0);
  REQUIRE(sv.item<double>() == 3.0);
  REQUIRE(si.item<int64_t>() == 0);
  // Empty.
  REQUIRE_THROWS_AS(max(zeros({0, 3})), RuntimeError);
  REQUIRE_THROWS_AS(max(zeros({0, 3}), 0), IndexError);
  REQUIRE(max(zeros({0, 3}), 1).first.shape() == Shape{0});
  REQUIRE_THROWS_AS(min(x, 2), IndexError);
  REQUIRE_THROWS_AS(max(x, -3), IndexError);
}

TEST_CASE("amax / max / min: gradients and ties", "[reduce][grad]") {
  check_grad([](auto& v) { return amax(v[0], {1}); }, {leaf({3, 4})});
  check_grad([](auto& v) { return amin(v[0], {0, 2}, true); }, {leaf({2, 3, 4})});
  check_grad([](auto& v) { return amax(v[0].t(), {0}); }, {leaf({3, 4})});
  check_grad([](auto& v) { return max(v[0]); }, {leaf({3, 4})});
  check_grad([](auto& v) { return min(v[0].slice(1, 1, 4, 2)); }, {leaf({3, 4})});
  check_grad([](auto& v) { return max(v[0], 0).first; }, {leaf({3, 4})});
  check_grad([](auto& v) { return min(v[0].transpose(0, 1), -1, true).first; }, {leaf({3, 4})});
  check_grad([](auto& v) { return amax(v[0], {1}); }, {leaf({0, 3})});
  // amax and full max split the gradient evenly among ties, as PyTorch.
  Tensor a = f64({1, 3, 3, 2}, {4}).requires_grad_();
  amax(a).backward();
  require_close(a.grad(), {0, 0.5, 0.5, 0});
  Tensor b = f64({1, 3, 3, 2}, {4}).requires_grad_();
  max(b).backward();
  require_close(b.grad(), {0, 0.5, 0.5, 0});
  Tensor c = f64({2, 1, 1, 2, 5, 5}, {2, 3}).requires_grad_();
  amin(c, {1}).sum().backward();
  require_close(c.grad(), {0, 0.5, 0.5, 1, 0, 0});
  // max(dim) sends the whole gradient to the returned (first) index.
  Tensor d = f64({1, 3, 3, 2}, {4}).requires_grad_();
  max(d, 0).first.backward();
  require_close(d.grad(), {0, 1, 0, 0});
}

// ---- argmax / argmin -------------------------------------------------------------------------------------

TEST_CASE("argmax and argmin", "[reduce]") {
  Tensor x = f64({1, 3, 3, 2}, {2, 2});
  REQUIRE(argmax(x).item<int64_t>() == 1);  // flattened, first of the ties
  REQUIRE(argmax(x).dim() == 0);
  REQUIRE(argmax(x, std::nullopt, true).shape() == Shape{1, 1});
  REQUIRE(argmin(x).item<int64_t>() == 0);
  REQUIRE(to_vector(argmax(x, 0)) == std::vector<double>{1, 0});
  REQUIRE(to_vector(argmin(x, -1, true)) == std::vector<double>{0, 1});
  REQUIRE(argmin(x, -1, true).shape() == Shape{2, 1});
  // Flattening follows the logical (row-major) order of a non-contiguous view.
  Tensor y = f64({0, 9, 5, 1}, {2, 2}).t();  // [[0, 5], [9, 1]]
  REQUIRE(argmax(y).item<int64_t>() == 2);
  REQUIRE(argmin(y, 1).dtype() == DType::Int64);
  REQUIRE(to_vector(argmin(y, 1)) == std::vector<double>{0, 1});
  REQUIRE(argmax(f64({1, kNaN, 3}, {3})).item<int64_t>() == 1);
  REQUIRE(argmax(from_vector(std::vector<int64_t>{4, 9, 9}, {3})).item<int64_t>() == 1);
  REQUIRE(argmax(scalar_tensor(2.0, DType::Float64), 0).item<int64_t>() == 0);
  REQUIRE(argmax(zeros({0, 3}), 1).shape() == Shape{0});
  REQUIRE_THROWS_AS(argmax(zeros({0, 3})), IndexError);
  REQUIRE_THROWS_AS(argmin(zeros({0, 3}), 0), IndexError);
  REQUIRE_THROWS_AS(argmax(gt(x, 1.0)), TypeError);
  REQUIRE_THROWS_AS(argmax(x, 2), IndexError);
}

// ---- softmax / log_softmax -----------------------------------------------------------------------------------

namespace {
// Reference in double: softmax along the last dim of a row-major [rows, n] vector.
std::vector<double> ref_softmax(const std::vector<double>& x, int64_t n, bool log) {
  std::vector<double> y(x.size());
  for (size_t r = 0; r < x.size() / size_t(n); ++r) {
    double m = -kInf, s = 0;
    for (int64_t i = 0; i < n; ++i) m = std::max(m, x[r * n + i]);
    for (int64_t i = 0; i < n; ++i) s += std::exp(x[r * n + i] - m);
    for (int64_t i = 0; i < n; ++i)
      y[r * n + i] = log ? x[r * n + i] - m - std::log(s) : std::exp(x[r * n + i] - m) / s;
  }
  return y;
}
}  // namespace

TEST_CASE("softmax and log_softmax: values", "[softmax]") {
  // softmax([0, log 3]) = [1/4, 3/4]
  Tensor x = f64({0, std::log(3.0)}, {2});
  require_close(softmax(x, 0), {0.25, 0.75});
  require_close(log_softmax(x, -1), {std::log(0.25), std::log(0.75)});
  // Along dim 0 of a [2, 2]: columns.
  Tensor y = f64({0, 1, std::log(3.0), 1}, {2, 2});
  require_close(softmax(y, 0), {0.25, 0.5, 0.75, 0.5});
  require_close(softmax(y.t(), 1), {0.25, 0.75, 0.5, 0.5});
  // Stability: huge logits do not overflow.
  require_close(softmax(f32({1000, 1000}, {2}), 0), {0.5, 0.5}, 1e-7);
  require_close(log_softmax(f32({-1000, 0}, {2}), 0), {-1000, 0}, 1e-7);
  // Masked entries (-inf) get exactly 0 probability / -inf log-probability.
  require_close(softmax(f32({-kInf, 0, 0, -kInf, 1, 2, 3, 4, 5}, {9}), 0).narrow(0, 0, 1), {0});
  require_close(log_softmax(f32({-kInf, 0}, {2}), 0), {-kInf, 0});
  // A row of all -inf, or holding +inf or nan, is nan (as PyTorch).
  require_close(softmax(f32({-kInf, -kInf}, {2}), 0), {kNaN, kNaN});
  require_close(softmax(f32({kInf, 1}, {2}), 0), {kNaN, kNaN});
  require_close(softmax(f32({1, 2, kNaN, 3, 4, 5, 6, 7, 8, 9}, {10}), 0),
                std::vector<double>(10, kNaN));
  // 0-d and empty.
  REQUIRE(softmax(scalar_tensor(2.0, DType::Float64), 0).item<double>() == 1.0);
  REQUIRE(log_softmax(scalar_tensor(2.0, DType::Float64), -1).item<double>() == 0.0);
  REQUIRE(softmax(zeros({0, 4}), 1).shape() == Shape{0, 4});
  REQUIRE(softmax(zeros({3, 0}), 1).shape() == Shape{3, 0});
}

TEST_CASE("softmax: float32 kernels against a double reference", "[softmax]") {
  // Row lengths around the 8-wide vector width and a long row, contiguous and strided paths.
  for (int64_t n : {1, 7, 8, 9, 37, 1000}) {
    Tensor x = smooth({3, n}, DType::Float32, 6.0);
    std::vector<double> xv = to_vector(x);
    for (bool log : {false, true}) {
      INFO("n = " << n << ", log = " << log);
      std::vector<double> want = ref_softmax(xv, n, log);
      require_close(log ? log_softmax(x, 1) : softmax(x, 1), want, 2e-6);
      // Same rows reached through a transposed (strided) view.
      Tensor xt = x.t().contiguous().t();
      require_close(log ? log_softmax(xt, -1) : softmax(xt, -1), want, 2e-6);
      // A non-last dim of a contiguous tensor.
      Tensor y = log ? log_softmax(x.t().contiguous(), 0) : softmax(x.t().contiguous(), 0);
      require_close(y.t(), want, 2e-6);
    }
  }
  // Rows sum to one; a large tensor runs the parallel path.
  Tensor big = smooth({512, 300}, DType::Float32, 10.0);
  require_close(sum(softmax(big, -1), {1}), std::vector<double>(512, 1.0), 1e-5);
}

TEST_CASE("softmax and log_softmax: bad input", "[softmax][errors]") {
  Tensor xi = from_vector(std::vector<int64_t>{1, 2}, {2});
  REQUIRE_THROWS_AS(softmax(xi, 0), TypeError);
  REQUIRE_THROWS_AS(log_softmax(xi, 0), TypeError);
  REQUIRE_THROWS_AS(softmax(zeros({2, 3}), 2), IndexError);
  REQUIRE_THROWS_AS(log_softmax(zeros({2, 3}), -3), IndexError);
}

TEST_CASE("softmax and log_softmax: gradients", "[softmax][grad]") {
  for (int64_t d : {0, 1, -1}) {
    INFO("dim " << d);
    check_grad([d](auto& v) { return softmax(v[0], d); }, {leaf({3, 4})});
    check_grad([d](auto& v) { return log_softmax(v[0], d); }, {leaf({3, 4})});
  }
  check_grad([](auto& v) { return softmax(v[0].transpose(0, 1), -1); }, {leaf({3, 4})});
  check_grad([](auto& v) { return log_softmax(v[0].slice(1, 0, 5, 2), 1); }, {leaf({3, 5})});
  check_grad([](auto& v) { return softmax(v[0].expand({3, 4}), 0); }, {leaf({1, 4})});
  check_grad([](auto& v) { return log_softmax(v[0], 1); }, {leaf({0, 4})});
  check_grad([](auto& v) { return softmax(v[0], 1); }, {leaf({2, 3, 20})});
  // Expanded upstream gradient (sum's backward) goes through the strided backward kernel.
  check_grad([](auto& v) { return sum(log_softmax(v[0], 0), {1}); }, {leaf({4, 3})});
  // dx = y * (g - sum(g y)): with g = e_0 and y = [1/4, 3/4], dx = [1/4 * 3/4, -3/4 * 1/4].
  Tensor x = f64({0, std::log(3.0)}, {2}).requires_grad_();
  softmax(x, 0).narrow(0, 0, 1).sum().backward();
  require_close(x.grad(), {3.0 / 16, -3.0 / 16});
  // log_softmax: dx = g - exp(y) sum(g); g = [1, 1], p = [1/4, 3/4] gives 1 - 2p = [1/2, -1/2].
  Tensor z = f64({0, std::log(3.0)}, {2}).requires_grad_();
  log_softmax(z, 0).sum().backward();
  require_close(z.grad(), {0.5, -0.5});
}

TEST_CASE("softmax: float32 fused backward matches float64 and double backward works", "[softmax][grad]") {
  Tensor x64 = smooth({4, 37}, DType::Float64, 3.0).requires_grad_();
  Tensor x32 = x64.detach().to(DType::Float32).requires_grad_();
  Tensor w = smooth({4, 37}, DType::Float64, 2.0);
  for (bool log : {false, true}) {
    Tensor g64 = autograd::grad({sum((log ? log_softmax(x64, 1) : softmax(x64, 1)).mul(w))}, {x64})[0];
    Tensor g32 = autograd::grad({sum((log ? log_softmax(x32, 1) : softmax(x32, 1)).mul(w.to(DType::Float32)))},
                                {x32})[0];
    require_close(g32, to_vector(g64), 1e-5);
  }
  // Second order: the create_graph backward is itself differentiable.
  check_grad(
      [](auto& v) {
        autograd::GradModeGuard enable(true);  // gradcheck evaluates f under no-grad
        Tensor y = softmax(v[0], 1);
        return autograd::grad({sum(y.mul(y))}, {v[0]}, {}, false, /*create_graph=*/true)[0];
      },
      {leaf({2, 5})});
  check_grad(
      [](auto& v) {
        autograd::GradModeGuard enable(true);  // gradcheck evaluates f under no-grad
        Tensor y = log_softmax(v[0], 0);
        return autograd::grad({sum(y.mul(y))}, {v[0]}, {}, false, /*create_graph=*/true)[0];
      },
      {leaf({3, 2})});
}

// ---- cumsum ----------------------------------------------------------------------------------------------------

TEST_CASE("cumsum: values, dims, dtypes", "[reduce]") {
  Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  require_close(cumsum(x, 1), {1, 3, 6, 4, 9, 15});
  require_close(cumsum(x, 0), {1, 2, 3, 5, 7, 9});
  require_close(cumsum(x, -1), {1, 3, 6, 4, 9, 15});
  require_close(cumsum(x.t(), 1), {1, 5, 2, 7, 3, 9});
  Tensor xi = from_vector(std::vector<int64_t>{1, 2, 3}, {3});
  REQUIRE(cumsum(xi, 0).dtype() == DType::Int64);
  REQUIRE(to_vector(cumsum(xi, 0)) == std::vector<double>{1, 3, 6});
  REQUIRE(to_vector(cumsum(gt(xi, 0), 0)) == std::vector<double>{1, 2, 3});
  REQUIRE(cumsum(gt(xi, 0), 0).dtype() == DType::Int64);
  REQUIRE(cumsum(scalar_tensor(2.0, DType::Float64), 0).item<double>() == 2.0);
  REQUIRE(cumsum(zeros({0, 3}), 0).shape() == Shape{0, 3});
  REQUIRE_THROWS_AS(cumsum(x, 2), IndexError);
}

TEST_CASE("cumsum: gradients", "[reduce][grad]") {
  check_grad([](auto& v) { return cumsum(v[0], 1); }, {leaf({3, 4})});
  check_grad([](auto& v) { return cumsum(v[0], 0); }, {leaf({3, 4})});
  check_grad([](auto& v) { return cumsum(v[0].t(), -1); }, {leaf({3, 4})});
  check_grad([](auto& v) { return cumsum(v[0].expand({2, 3}), 0); }, {leaf({1, 3})});
  check_grad([](auto& v) { return cumsum(v[0], 1); }, {leaf({0, 3})});
  // d/dx_j sum_i cumsum_i = number of prefixes containing j = n - j.
  Tensor x = f64({1, 2, 3}, {3}).requires_grad_();
  cumsum(x, 0).sum().backward();
  require_close(x.grad(), {3, 2, 1});
  // Twice differentiable through the reverse scan.
  check_grad(
      [](auto& v) {
        autograd::GradModeGuard enable(true);  // gradcheck evaluates f under no-grad
        Tensor y = cumsum(v[0], 1);
        return autograd::grad({sum(y.mul(y))}, {v[0]}, {}, false, /*create_graph=*/true)[0];
      },
      {leaf({2, 4})});
}

// ---- all / any -------------------------------------------------------------------------------------------------------

TEST_CASE("all and any", "[reduce]") {
  REQUIRE(all(f64({1, 2}, {2})).item<bool>());
  REQUIRE_FALSE(all(f64({1, 0}, {2})).item<bool>());
  REQUIRE(any(f64({0, 0, 3}, {3})).item<bool>());
  REQUIRE_FALSE(any(zeros({2, 2})).item<bool>());
  REQUIRE(all(f64({kNaN}, {1})).item<bool>());  // nan is nonzero
  REQUIRE(all(zeros({0})).item<bool>());
  REQUIRE_FALSE(any(zeros({0})).item<bool>());
  REQUIRE(all(f64({1, 2}, {2})).dtype() == DType::Bool);
  REQUIRE(any(from_vector(std::vector<int64_t>{0, 2}, {2})).item<bool>());
  REQUIRE(all(f64({1, 0, 2, 3}, {2, 2}).t().narrow(0, 1, 1)).item<bool>() == false);
}
