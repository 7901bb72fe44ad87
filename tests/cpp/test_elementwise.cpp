// Elementwise ops: values, dtype promotion, bool rules, gradient conventions,
// gradchecks (broadcast, non-contiguous, zero-size), double backward, bad input.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>

#include "autograd/engine.h"
#include "autograd/gradcheck.h"
#include "autograd/grad_mode.h"
#include "core/ops.h"

using namespace shanshui;
using autograd::tensor_list;

namespace {
Tensor f64(const std::vector<double>& v, const Shape& s) { return from_vector(v, s, DType::Float64); }
Tensor f32(const std::vector<double>& v, const Shape& s) { return from_vector(v, s, DType::Float32); }
Tensor i64(const std::vector<int64_t>& v, const Shape& s) { return from_vector(v, s); }
Tensor bools(const std::vector<double>& v, const Shape& s) { return from_vector(v, s, DType::Bool); }
Tensor leaf(const std::vector<double>& v, const Shape& s) { return f64(v, s).requires_grad_(); }
Tensor rleaf(const Shape& s) { return randn(s, DType::Float64).requires_grad_(); }
// Random values kept at least 0.2 away from 0 (kinks of relu/abs/leaky_relu/elu).
Tensor away_from_zero(const Shape& s) {
  Tensor r = randn(s, DType::Float64);
  return add(r, mul(sign(r), 0.2));
}

void require_close(const Tensor& t, const std::vector<double>& want, double tol = 1e-12) {
  REQUIRE(t.defined());
  auto got = to_vector(t);
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i);
    if (std::isnan(want[i])) {
      REQUIRE(std::isnan(got[i]));
    } else {
      REQUIRE(got[i] == Approx(want[i]).margin(tol).epsilon(tol));
    }
  }
}

using Fn = std::function<Tensor(const tensor_list&)>;
void check_grad(const Fn& f, const tensor_list& in) {
  auto r = autograd::gradcheck(f, in);
  INFO(r.message);
  REQUIRE(r.ok);
}

// d(sum(f(x) * v))/dx for a fixed v, with the graph kept so it can be differentiated again.
// Grad mode is forced on: gradcheck evaluates f under no_grad for its finite differences.
Tensor first_grad(const std::function<Tensor(const Tensor&)>& f, const Tensor& x) {
  autograd::GradModeGuard on(true);
  Tensor y = f(x);
  Tensor v = full_like(y, 0.7);
  return autograd::grad({y}, {x}, {v}, /*retain_graph=*/true, /*create_graph=*/true)[0];
}
}  // namespace

// ==== binary arithmetic (core/ops/elementwise_binary.cpp) ========================

TEST_CASE("binary arithmetic values and broadcasting", "[elementwise][binary]") {
  Tensor a = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = f64({10, 20, 30}, {3});
  require_close(add(a, b), {11, 22, 33, 14, 25, 36});
  require_close(add(a, b, 2), {21, 42, 63, 24, 45, 66});  // a + alpha b
  require_close(sub(a, b), {-9, -18, -27, -6, -15, -24});
  require_close(mul(a, b), {10, 40, 90, 40, 100, 180});
  require_close(div(a, b), {0.1, 0.1, 0.1, 0.4, 0.25, 0.2});
  require_close(rsub(a, 1.0), {0, -1, -2, -3, -4, -5});
  require_close(rdiv(a, 6.0), {6, 3, 2, 1.5, 1.2, 1});
  require_close(pow(a, 2.0), {1, 4, 9, 16, 25, 36});
  require_close(pow(2.0, a), {2, 4, 8, 16, 32, 64});
  require_close(maximum(a, f64({3}, {1})), {3, 3, 3, 4, 5, 6});
  require_close(minimum(a, f64({3}, {1})), {1, 2, 3, 3, 3, 3});
  // operators, and non-contiguous operands
  require_close(a.t() * 2.0 + 1.0, {3, 9, 5, 11, 7, 13});
  require_close(-a.t(), {-1, -4, -2, -5, -3, -6});
  require_close(1.0 - a, {0, -1, -2, -3, -4, -5});
  require_close(6.0 / a, {6, 3, 2, 1.5, 1.2, 1});
  REQUIRE(add(a, b).shape() == Shape{2, 3});
  REQUIRE(add(f64({1, 2}, {2, 1}), b).shape() == Shape{2, 3});
  REQUIRE_THROWS_AS(add(a, f64({1, 2}, {2})), ValueError);
  // NaN propagates through maximum/minimum
  Tensor m = maximum(f64({NAN, 1}, {2}), f64({0, NAN}, {2}));
  REQUIRE(std::isnan(to_vector(m)[0]));
  REQUIRE(std::isnan(to_vector(m)[1]));
  // zero-size
  REQUIRE(add(zeros({0, 3}), zeros({3})).shape() == Shape{0, 3});
}

TEST_CASE("binary dtype promotion and bool rules", "[elementwise][binary][dtype]") {
  Tensor i = i64({1, 2, 3}, {3});
  Tensor f = f32({0.5, 0.5, 0.5}, {3});
  Tensor d = f64({1, 1, 1}, {3});
  Tensor bt = bools({1, 0, 1}, {3});
  // int tensor with a Python float -> float32 (default dtype); with an int -> int64
  REQUIRE(add(i, 0.5).dtype() == DType::Float32);
  require_close(add(i, 0.5), {1.5, 2.5, 3.5});
  REQUIRE(mul(i, 2).dtype() == DType::Int64);
  REQUIRE(div(i, i).dtype() == DType::Float32);  // true division
  require_close(div(i, 2), {0.5, 1, 1.5});
  // tensor categories
  REQUIRE(add(i, f).dtype() == DType::Float32);
  REQUIRE(add(f, d).dtype() == DType::Float64);
  REQUIRE(add(bt, i).dtype() == DType::Int64);
  // a 0-d tensor does not widen a dimensioned one of the same category, but a higher category wins
  REQUIRE(add(f, scalar_tensor(1.0, DType::Float64)).dtype() == DType::Float32);
  REQUIRE(add(i, scalar_tensor(1.0, DType::Float64)).dtype() == DType::Float64);  // 0-d's own dtype
  REQUIRE(result_type(i, scalar_tensor(2, DType::Int64)) == DType::Int64);
  // bool: add/mul stay bool (or / and), sub is an error, bool with an int scalar -> int64
  REQUIRE(add(bt, bt).dtype() == DType::Bool);
  require_close(add(bt, bools({0, 0, 1}, {3})), {1, 0, 1});
  require_close(mul(bt, bools({1, 1, 0}, {3})), {1, 0, 0});
  REQUIRE_THROWS_AS(sub(bt, bt), TypeError);
  REQUIRE(add(bt, 1).dtype() == DType::Int64);
  REQUIRE(add(bt, 1.5).dtype() == DType::Float32);
  // integer pow stays integer; negative integer exponent is an error
  REQUIRE(pow(i, 2).dtype() == DType::Int64);
  require_close(pow(i, 2), {1, 4, 9});
  REQUIRE_THROWS_AS(pow(i, -1), RuntimeError);
  REQUIRE(pow(i, 0.5).dtype() == DType::Float32);
  // floor_divide / remainder follow Python's sign rules
  require_close(floor_divide(i64({-7, 7}, {2}), i64({2, -2}, {2})), {-4, -4});
  require_close(remainder(i64({-7, 7}, {2}), i64({2, -2}, {2})), {1, -1});
}

TEST_CASE("binary gradients: hand-derived and gradcheck", "[elementwise][binary][grad]") {
  // d(a*b)/da = b, d(a/b)/db = -a/b^2, d(a^b)/db = a^b log a
  Tensor a = leaf({2, 3}, {2}), b = leaf({4, 5}, {2});
  mul(a, b).sum().backward();
  require_close(a.grad(), {4, 5});
  require_close(b.grad(), {2, 3});
  a.set_grad(Tensor());
  b.set_grad(Tensor());
  div(a, b).sum().backward();
  require_close(a.grad(), {0.25, 0.2});
  require_close(b.grad(), {-2.0 / 16, -3.0 / 25});
  b.set_grad(Tensor());
  pow(a, b).sum().backward();
  require_close(b.grad(), {16 * std::log(2.0), 243 * std::log(3.0)}, 1e-10);
  // maximum with a tie splits the gradient
  Tensor p = leaf({1, 5}, {2}), q = leaf({1, 2}, {2});
  maximum(p, q).sum().backward();
  require_close(p.grad(), {0.5, 1});
  require_close(q.grad(), {0.5, 0});

  manual_seed(1);
  // broadcasting: [2,3] with [3] and [2,1]
  Tensor x = rleaf({2, 3}), y = rleaf({3}), z = rleaf({2, 1});
  check_grad([](const tensor_list& in) { return add(in[0], in[1], 2.5); }, {x, y});
  check_grad([](const tensor_list& in) { return sub(in[0], in[1], 0.5); }, {x, z});
  check_grad([](const tensor_list& in) { return mul(in[0], in[1]); }, {x, y});
  check_grad([](const tensor_list& in) { return div(in[0], add(mul(in[1], in[1]), 1.0)); }, {x, y});
  check_grad([](const tensor_list& in) { return maximum(in[0], in[1]); }, {x, y});
  check_grad([](const tensor_list& in) { return minimum(in[0], in[1]); }, {x, z});
  Tensor pos = add(rand({2, 3}, DType::Float64), 0.5).requires_grad_();
  check_grad([](const tensor_list& in) { return pow(in[0], in[1]); }, {pos, y});
  check_grad([](const tensor_list& in) { return pow(in[0], 3.0); }, {x});
  check_grad([](const tensor_list& in) { return pow(2.0, in[0]); }, {x});
  // non-contiguous: a transposed leaf and an expanded operand
  Tensor xt = randn({3, 2}, DType::Float64).t().requires_grad_();
  REQUIRE_FALSE(xt.is_contiguous());
  check_grad([](const tensor_list& in) { return mul(in[0], in[1].expand({2, 3})); }, {xt, y});
  check_grad([](const tensor_list& in) { return div(in[0].slice(1, 0, std::nullopt, 2), in[1]); },
             {x, add(rand({2, 1}, DType::Float64), 1.0).requires_grad_()});
  // zero-size
  check_grad([](const tensor_list& in) { return mul(in[0], in[1]); }, {rleaf({0, 3}), y});
}

// ==== unary ======================================================================

TEST_CASE("unary values", "[elementwise][unary]") {
  Tensor x = f64({-2, -0.5, 0, 0.5, 3}, {5});
  auto ref = [&](double (*f)(double)) {
    std::vector<double> r;
    for (double v : to_vector(x)) r.push_back(f(v));
    return r;
  };
  require_close(neg(x), {2, 0.5, 0, -0.5, -3});
  require_close(exp(x), ref([](double v) { return std::exp(v); }));
  require_close(abs(x), {2, 0.5, 0, 0.5, 3});
  require_close(sign(x), {-1, -1, 0, 1, 1});
  require_close(sin(x), ref([](double v) { return std::sin(v); }));
  require_close(cos(x), ref([](double v) { return std::cos(v); }));
  require_close(tanh(x), ref([](double v) { return std::tanh(v); }));
  require_close(sigmoid(x), ref([](double v) { return 1 / (1 + std::exp(-v)); }));
  require_close(relu(x), {0, 0, 0, 0.5, 3});
  Tensor p = f64({0.25, 1, 4}, {3});
  require_close(log(p), {std::log(0.25), 0, std::log(4.0)});
  require_close(sqrt(p), {0.5, 1, 2});
  require_close(rsqrt(p), {2, 1, 0.5});
  // golden values from PyTorch (float64)
  require_close(gelu(f64({-1, 1, 2}, {3})), {-0.15865525393145707, 0.8413447460685429, 1.9544997361036416});
  require_close(gelu(f64({-1, 1, 2}, {3}), "tanh"), {-0.15880800939172324, 0.8411919906082768, 1.9545976940877752});
  require_close(elu(x), {std::expm1(-2.0), std::expm1(-0.5), 0, 0.5, 3});
  require_close(elu(x, 2.0), {2 * std::expm1(-2.0), 2 * std::expm1(-0.5), 0, 0.5, 3});
  require_close(leaky_relu(x), {-0.02, -0.005, 0, 0.5, 3});
  require_close(leaky_relu(x, 0.5), {-1, -0.25, 0, 0.5, 3});
  require_close(clamp(x, -1.0, 1.0), {-1, -0.5, 0, 0.5, 1});
  require_close(clamp(x, std::nullopt, 0.0), {-2, -0.5, 0, 0, 0});
  require_close(clamp(x, 0.0, std::nullopt), {0, 0, 0, 0.5, 3});
  require_close(clamp(x, 2.0, 1.0), {1, 1, 1, 1, 1});  // min > max gives max, as PyTorch
  // members
  require_close(x.neg(), to_vector(neg(x)));
  require_close(x.abs(), to_vector(abs(x)));
  require_close(x.relu(), to_vector(relu(x)));
  require_close(x.clamp(-1.0, 1.0), to_vector(clamp(x, -1.0, 1.0)));
  require_close(p.exp().log(), {0.25, 1, 4});
  require_close(p.sqrt().mul(p.rsqrt()), {1, 1, 1});
  require_close(x.sin(), to_vector(sin(x)));
  require_close(x.cos(), to_vector(cos(x)));
  require_close(x.tanh(), to_vector(tanh(x)));
  require_close(x.sigmoid(), to_vector(sigmoid(x)));
}

TEST_CASE("unary special values", "[elementwise][unary]") {
  const double inf = INFINITY;
  for (DType dt : {DType::Float32, DType::Float64}) {
    Tensor s = from_vector({-inf, inf, NAN, -1000, 1000}, {5}, dt);
    require_close(exp(s), {0, inf, NAN, 0, inf});
    require_close(tanh(s), {-1, 1, NAN, -1, 1});
    require_close(sigmoid(s), {0, 1, NAN, 0, 1});
    require_close(relu(s), {0, inf, NAN, 0, 1000});
    require_close(sign(s), {-1, 1, 0, -1, 1});  // sign(nan) = 0 as PyTorch
    require_close(clamp(s, -1.0, 1.0), {-1, 1, NAN, -1, 1});
    require_close(gelu(s), {NAN, inf, NAN, -0.0, 1000});
    require_close(log(from_vector({0, -1}, {2}, dt)), {-inf, NAN});
    REQUIRE(std::isnan(to_vector(clamp(s, NAN, 1.0))[0]));  // a NaN bound gives NaN
    // sigmoid keeps relative precision in the far tail (no 1 - 1 cancellation)
    double tail = to_vector(sigmoid(from_vector({-80}, {1}, dt)))[0];
    REQUIRE(tail == Approx(std::exp(-80.0)).epsilon(1e-5));
  }
}

TEST_CASE("float32 fast kernels match double math", "[elementwise][unary][float32]") {
  // Odd length (vector tail), wide range incl. the tails where exp under/overflows.
  Tensor x64 = linspace(-30, 30, 12007, DType::Float64);
  Tensor x32 = x64.to(DType::Float32);
  Tensor xr = x32.to(DType::Float64);  // the exact float32 inputs
  // Relative error against the correctly rounded result (values below 1e-30, i.e. near
  // float32's subnormal range, are judged absolutely).
  auto check = [&](const char* name, const Tensor& got32, const Tensor& want64) {
    INFO(name);
    auto g = to_vector(got32), w = to_vector(want64);
    REQUIRE(got32.dtype() == DType::Float32);
    double worst = 0;
    for (size_t i = 0; i < g.size(); ++i) {
      double wf = static_cast<float>(w[i]);
      if (std::isinf(wf)) {
        REQUIRE(g[i] == wf);
        continue;
      }
      worst = std::max(worst, std::fabs(g[i] - wf) / std::max(std::fabs(wf), 1e-30));
    }
    REQUIRE(worst < 1e-6);
  };
  check("exp", exp(x32), exp(xr));
  check("tanh", tanh(x32), tanh(xr));
  check("sigmoid", sigmoid(x32), sigmoid(xr));
  check("gelu", gelu(x32), gelu(xr));
  check("gelu_tanh", gelu(x32, "tanh"), gelu(xr, "tanh"));
  // strided input goes through the gather path and gives the same values
  Tensor strided = x32.slice(0, 1, std::nullopt, 3);
  for (auto f : std::vector<std::function<Tensor(const Tensor&)>>{
           [](const Tensor& t) { return exp(t); }, [](const Tensor& t) { return tanh(t); },
           [](const Tensor& t) { return sigmoid(t); }, [](const Tensor& t) { return gelu(t); }})
    REQUIRE(equal(f(strided), f(strided.contiguous())));
  // fused float32 backward of gelu matches float64
  Tensor a = x32.slice(0, 5000, 7000).detach().requires_grad_();
  gelu(a).sum().backward();
  Tensor b = a.detach().to(DType::Float64).requires_grad_();
  gelu(b).sum().backward();
  REQUIRE(allclose(a.grad().to(DType::Float64), b.grad(), 1e-5, 1e-6));
}

TEST_CASE("unary dtype rules", "[elementwise][unary][dtype]") {
  Tensor i = i64({-2, 0, 3}, {3});
  Tensor bt = bools({1, 0}, {2});
  // integer-keeping ops
  REQUIRE(neg(i).dtype() == DType::Int64);
  require_close(neg(i), {2, 0, -3});
  REQUIRE(abs(i).dtype() == DType::Int64);
  REQUIRE(relu(i).dtype() == DType::Int64);
  require_close(relu(i), {0, 0, 3});
  REQUIRE(sign(i).dtype() == DType::Int64);
  REQUIRE(sign(bt).dtype() == DType::Bool);
  // float-computing ops promote to float32
  for (auto f : std::vector<std::function<Tensor(const Tensor&)>>{
           [](const Tensor& t) { return exp(t); }, [](const Tensor& t) { return log(t); },
           [](const Tensor& t) { return sqrt(t); }, [](const Tensor& t) { return rsqrt(t); },
           [](const Tensor& t) { return sin(t); }, [](const Tensor& t) { return cos(t); },
           [](const Tensor& t) { return tanh(t); }, [](const Tensor& t) { return sigmoid(t); }}) {
    REQUIRE(f(i).dtype() == DType::Float32);
    REQUIRE(f(bt).dtype() == DType::Float32);
  }
  require_close(exp(bt), {std::exp(1.0), 1}, 1e-6);
  // float32 stays float32, float64 stays float64
  REQUIRE(exp(f32({1}, {1})).dtype() == DType::Float32);
  REQUIRE(exp(f64({1}, {1})).dtype() == DType::Float64);
  // clamp on integers: integral bounds keep int64, a fractional bound gives float32
  REQUIRE(clamp(i, 1.0, 2.0).dtype() == DType::Int64);
  require_close(clamp(i, 1.0, 2.0), {1, 1, 2});
  REQUIRE(clamp(i, 0.5, std::nullopt).dtype() == DType::Float32);
  require_close(clamp(i, 0.5, std::nullopt), {0.5, 0.5, 3});
  // bad input
  REQUIRE_THROWS_AS(neg(bt), TypeError);
  REQUIRE_THROWS_AS(abs(bt), TypeError);
  REQUIRE_THROWS_AS(relu(bt), TypeError);
  REQUIRE_THROWS_AS(gelu(i), TypeError);
  REQUIRE_THROWS_AS(elu(i), TypeError);
  REQUIRE_THROWS_AS(leaky_relu(i), TypeError);
  REQUIRE_THROWS_AS(gelu(f32({1}, {1}), "fast"), ValueError);
  REQUIRE_THROWS_AS(clamp(f32({1}, {1}), std::nullopt, std::nullopt), ValueError);
  // zero-size and 0-d
  REQUIRE(exp(zeros({0, 4})).shape() == Shape{0, 4});
  REQUIRE(gelu(zeros({3, 0})).shape() == Shape{3, 0});
  require_close(sigmoid(scalar_tensor(0.0, DType::Float32)), {0.5});
}

TEST_CASE("unary gradient conventions (hand-derived)", "[elementwise][unary][grad]") {
  auto grad_of = [](const std::function<Tensor(const Tensor&)>& f, const std::vector<double>& v) {
    Tensor x = leaf(v, {static_cast<int64_t>(v.size())});
    f(x).sum().backward();
    return x.grad();
  };
  // relu'(0) = 0, abs'(0) = 0, sign' = 0
  require_close(grad_of([](const Tensor& t) { return relu(t); }, {-1, 0, 2}), {0, 0, 1});
  require_close(grad_of([](const Tensor& t) { return abs(t); }, {-1, 0, 2}), {-1, 0, 1});
  require_close(grad_of([](const Tensor& t) { return sign(t); }, {-1, 0, 2}), {0, 0, 0});
  require_close(grad_of([](const Tensor& t) { return neg(t); }, {-1, 0, 2}), {-1, -1, -1});
  // clamp passes the gradient where min <= x <= max (bounds included)
  require_close(grad_of([](const Tensor& t) { return clamp(t, -1.0, 1.0); }, {-2, -1, 0, 1, 2}), {0, 1, 1, 1, 0});
  // leaky_relu'(x) = x > 0 ? 1 : slope (so slope at 0); elu'(x) = x <= 0 ? alpha e^x : 1
  require_close(grad_of([](const Tensor& t) { return leaky_relu(t, 0.1); }, {-1, 0, 2}), {0.1, 0.1, 1});
  require_close(grad_of([](const Tensor& t) { return elu(t, 2.0); }, {-1, 0, 2}), {2 * std::exp(-1.0), 2, 1});
  // exp' = e^x, log' = 1/x, sqrt' = 1/(2 sqrt x), rsqrt' = -x^{-3/2}/2
  require_close(grad_of([](const Tensor& t) { return exp(t); }, {0, 1}), {1, std::exp(1.0)});
  require_close(grad_of([](const Tensor& t) { return log(t); }, {0.5, 4}), {2, 0.25});
  require_close(grad_of([](const Tensor& t) { return sqrt(t); }, {4, 0.25}), {0.25, 1});
  require_close(grad_of([](const Tensor& t) { return rsqrt(t); }, {4, 1}), {-1.0 / 16, -0.5});
  // sigmoid'(0) = 1/4, tanh'(0) = 1, gelu'(0) = 1/2 (both forms)
  require_close(grad_of([](const Tensor& t) { return sigmoid(t); }, {0}), {0.25});
  require_close(grad_of([](const Tensor& t) { return tanh(t); }, {0}), {1});
  require_close(grad_of([](const Tensor& t) { return gelu(t); }, {0}), {0.5});
  require_close(grad_of([](const Tensor& t) { return gelu(t, "tanh"); }, {0}), {0.5});
  // gelu'(1) = Phi(1) + phi(1) (PyTorch: 1.0833154705876864)
  require_close(grad_of([](const Tensor& t) { return gelu(t); }, {1}), {1.0833154705876864});
  // sin' = cos, cos' = -sin
  require_close(grad_of([](const Tensor& t) { return sin(t); }, {0}), {1});
  require_close(grad_of([](const Tensor& t) { return cos(t); }, {M_PI / 2}), {-1});
  // integer-only ops do not record: no grad through int tensors
  REQUIRE_FALSE(relu(i64({1}, {1})).requires_grad());
}

TEST_CASE("unary gradcheck: contiguous, transposed, expanded, zero-size", "[elementwise][unary][grad]") {
  manual_seed(7);
  using UF = std::function<Tensor(const Tensor&)>;
  std::vector<std::pair<const char*, UF>> smooth = {
      {"exp", [](const Tensor& t) { return exp(t); }},
      {"sin", [](const Tensor& t) { return sin(t); }},
      {"cos", [](const Tensor& t) { return cos(t); }},
      {"tanh", [](const Tensor& t) { return tanh(t); }},
      {"sigmoid", [](const Tensor& t) { return sigmoid(t); }},
      {"gelu", [](const Tensor& t) { return gelu(t); }},
      {"gelu_tanh", [](const Tensor& t) { return gelu(t, "tanh"); }},
      {"neg", [](const Tensor& t) { return neg(t); }},
      {"log", [](const Tensor& t) { return log(add(mul(t, t), 0.5)); }},
      {"sqrt", [](const Tensor& t) { return sqrt(add(mul(t, t), 0.5)); }},
      {"rsqrt", [](const Tensor& t) { return rsqrt(add(mul(t, t), 0.5)); }},
      {"relu", [](const Tensor& t) { return relu(t); }},
      {"abs", [](const Tensor& t) { return abs(t); }},
      {"elu", [](const Tensor& t) { return elu(t, 1.5); }},
      {"leaky_relu", [](const Tensor& t) { return leaky_relu(t, 0.2); }},
      {"clamp", [](const Tensor& t) { return clamp(t, -0.9, 1.1); }},
  };
  Tensor x = away_from_zero({3, 4}).requires_grad_();
  Tensor xt = away_from_zero({4, 3}).t().requires_grad_();  // non-contiguous leaf
  Tensor row = away_from_zero({1, 4}).requires_grad_();
  for (auto& [name, f] : smooth) {
    INFO(name);
    check_grad([f = f](const tensor_list& in) { return f(in[0]); }, {x});
    check_grad([f = f](const tensor_list& in) { return f(in[0]); }, {xt});
    check_grad([f = f](const tensor_list& in) { return f(in[0].expand({3, 4})); }, {row});
    check_grad([f = f](const tensor_list& in) { return f(in[0].slice(1, 1, std::nullopt, 2)); }, {x});
    check_grad([f = f](const tensor_list& in) { return f(in[0]); }, {rleaf({0, 2})});
  }
}

TEST_CASE("double backward through activations (create_graph)", "[elementwise][unary][grad]") {
  manual_seed(3);
  Tensor x = away_from_zero({5}).requires_grad_();
  using UF = std::function<Tensor(const Tensor&)>;
  for (UF f : std::vector<UF>{[](const Tensor& t) { return gelu(t); }, [](const Tensor& t) { return gelu(t, "tanh"); },
                              [](const Tensor& t) { return sigmoid(t); }, [](const Tensor& t) { return tanh(t); },
                              [](const Tensor& t) { return exp(t); }, [](const Tensor& t) { return elu(t); },
                              [](const Tensor& t) { return sqrt(abs(t)); }, [](const Tensor& t) { return rsqrt(abs(t)); },
                              [](const Tensor& t) { return mul(relu(t), t); },
                              [](const Tensor& t) { return mul(leaky_relu(t), t); },
                              [](const Tensor& t) { return mul(clamp(t, -0.5, 0.5), t); }}) {
    static int k = 0;
    INFO("function #" << k++);
    // gradcheck of the first derivative checks the second derivative
    check_grad([f](const tensor_list& in) { return first_grad(f, in[0]); }, {x});
  }
  // hand-derived: sigmoid'' (0) = 0, tanh''(x) = -2 tanh(x)(1 - tanh(x)^2)
  Tensor z = leaf({0.5}, {1});
  Tensor g1 = first_grad([](const Tensor& t) { return tanh(t); }, z);
  Tensor g2 = autograd::grad({g1}, {z})[0];
  double t = std::tanh(0.5);
  require_close(g2, {0.7 * -2 * t * (1 - t * t)});
}

// ==== selection, comparisons, logic =================================================

TEST_CASE("comparisons promote before comparing and give bool", "[elementwise][compare]") {
  Tensor i = i64({-2, 0, 3}, {3});
  Tensor f = f32({-2, 0.5, 3}, {3});
  Tensor r = eq(i, f);
  REQUIRE(r.dtype() == DType::Bool);
  require_close(r, {1, 0, 1});
  require_close(ne(i, f), {0, 1, 0});
  require_close(lt(i, f), {0, 1, 0});
  require_close(le(i, f), {1, 1, 1});
  require_close(gt(i, f), {0, 0, 0});
  require_close(ge(i, f), {1, 0, 1});
  // scalar forms: an int tensor against 0.5 compares as float
  require_close(lt(i, 0.5), {1, 1, 0});
  require_close(eq(i, 0.0), {0, 1, 0});
  require_close(gt(i, 0), {0, 0, 1});
  require_close(ge(i, -2), {1, 1, 1});
  require_close(le(f, 0.5), {1, 1, 0});
  require_close(ne(f, 3.0), {1, 1, 0});
  // broadcasting, bool operands, non-contiguous
  Tensor m = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  require_close(gt(m.t(), f64({2, 4}, {2})), {0, 0, 0, 1, 1, 1});
  require_close(eq(bools({1, 0}, {2}), bools({1, 1}, {2})), {1, 0});
  require_close(lt(bools({0, 1}, {2}), i64({1, 1}, {2})), {1, 0});
  // NaN compares unequal to everything, itself included
  Tensor n = f64({NAN}, {1});
  require_close(eq(n, n), {0});
  require_close(ne(n, n), {1});
  require_close(lt(n, 1.0), {0});
  REQUIRE_THROWS_AS(eq(m, f64({1, 2}, {2})), ValueError);
  REQUIRE(eq(zeros({0}), 1.0).shape() == Shape{0});
}

TEST_CASE("logical ops, isnan, allclose, equal", "[elementwise][compare]") {
  Tensor a = f64({0, 1, -2, NAN}, {4});
  Tensor b = i64({0, 0, 5, 1}, {4});
  require_close(logical_and(a, b), {0, 0, 1, 1});  // NaN counts as true
  require_close(logical_or(a, b), {0, 1, 1, 1});
  require_close(logical_xor(a, b), {0, 1, 0, 0});
  require_close(logical_not(a), {1, 0, 0, 0});
  REQUIRE(logical_not(b).dtype() == DType::Bool);
  require_close(logical_and(bools({1, 0}, {2, 1}), bools({1, 1}, {2})), {1, 1, 0, 0});
  require_close(isnan(a), {0, 0, 0, 1});
  require_close(isnan(b), {0, 0, 0, 0});
  REQUIRE(isnan(b).dtype() == DType::Bool);

  Tensor x = f64({1, 2, INFINITY}, {3});
  REQUIRE(allclose(x, f64({1 + 1e-9, 2, INFINITY}, {3})));
  REQUIRE_FALSE(allclose(x, f64({1.001, 2, INFINITY}, {3})));
  REQUIRE(allclose(x, f64({1.001, 2, INFINITY}, {3}), 1e-2));
  REQUIRE_FALSE(allclose(f64({NAN}, {1}), f64({NAN}, {1})));
  REQUIRE(allclose(f64({1}, {1}), f64({1, 1}, {2})));  // broadcasts
  REQUIRE_THROWS_AS(allclose(f64({1}, {1}), f32({1}, {1})), TypeError);
  REQUIRE_THROWS_AS(allclose(x, x, -1.0), ValueError);

  REQUIRE(equal(i64({1, 2}, {2}), f32({1, 2}, {2})));  // compared after promotion
  REQUIRE_FALSE(equal(i64({1, 2}, {2}), i64({1, 2}, {1, 2})));  // shape differs: false, no throw
  REQUIRE_FALSE(equal(f64({NAN}, {1}), f64({NAN}, {1})));
  REQUIRE(equal(zeros({0}), zeros({0})));
  REQUIRE(equal(x.slice(0, 0, 2), f64({1, 2}, {2})));
}

TEST_CASE("where: values, promotion, gradients", "[elementwise][compare][grad]") {
  Tensor c = bools({1, 0, 1}, {3});
  require_close(where(c, f64({1, 2, 3}, {3}), f64({-1, -2, -3}, {3})), {1, -2, 3});
  // a 0-d float other with an int tensor: the higher category's dtype (float64 here, as PyTorch)
  Tensor w = where(gt(i64({-1, 2}, {2}), 0), i64({5, 6}, {2}), scalar_tensor(2.5, DType::Float64));
  REQUIRE(w.dtype() == DType::Float64);
  require_close(w, {2.5, 6});
  require_close(where(bools({1, 0}, {2, 1}), f64({1, 2}, {2}), f64({0}, {1})), {1, 2, 0, 0});
  REQUIRE_THROWS_AS(where(i64({1, 0}, {2}), f64({1, 2}, {2}), f64({1, 2}, {2})), TypeError);
  REQUIRE_THROWS_AS(where(c, f64({1, 2}, {2}), f64({1, 2}, {2})), ValueError);

  // hand-derived: a's gradient where cond, b's elsewhere, b broadcast [1] sums
  Tensor a = leaf({1, 2, 3}, {3}), b = leaf({9}, {1});
  where(c, a, b).sum().backward();
  require_close(a.grad(), {1, 0, 1});
  require_close(b.grad(), {1});

  manual_seed(11);
  Tensor cond = gt(randn({2, 3}, DType::Float64), 0.0);
  check_grad([cond](const tensor_list& in) { return where(cond, in[0], in[1]); }, {rleaf({2, 3}), rleaf({3})});
  check_grad([cond](const tensor_list& in) { return where(cond.t(), in[0].t(), in[1]); },
             {rleaf({2, 3}), rleaf({2, 1}).t().requires_grad_()});
  check_grad([](const tensor_list& in) { return where(gt(in[0], 0.0), in[0], mul(in[0], in[1])); },
             {away_from_zero({4}).requires_grad_(), rleaf({1})});
}

TEST_CASE("masked_fill: values, dtype, gradients, bad masks", "[elementwise][compare][grad]") {
  Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor m = bools({1, 0, 1}, {3});  // broadcast over rows
  require_close(masked_fill(x, m, -1.0), {-1, 2, -1, -1, 5, -1});
  require_close(x.masked_fill(bools({0, 1}, {2, 1}), 0.0), {1, 2, 3, 0, 0, 0});
  require_close(x.t().masked_fill(bools({1, 0}, {2}), 9.0), {9, 4, 9, 5, 9, 6});
  // value cast to x's dtype, as PyTorch
  Tensor xi = masked_fill(i64({1, 2}, {2}), bools({1, 0}, {2}), 2.7);
  REQUIRE(xi.dtype() == DType::Int64);
  require_close(xi, {2, 2});
  REQUIRE(masked_fill(f32({1}, {1}), bools({1}, {1}), 2).dtype() == DType::Float32);
  // bad masks: non-bool, not broadcastable to x (x's shape is kept, never grown)
  REQUIRE_THROWS_AS(masked_fill(x, f64({1, 0, 1}, {3}), 0.0), TypeError);
  REQUIRE_THROWS_AS(masked_fill(x, bools({1, 0}, {2}), 0.0), ValueError);
  REQUIRE_THROWS_AS(masked_fill(x, bools({1, 0, 1, 1, 0, 1}, {1, 2, 3}), 0.0), ValueError);

  // hand-derived: gradient zero where filled
  Tensor a = leaf({1, 2, 3}, {3});
  masked_fill(a, bools({0, 1, 0}, {3}), 5.0).sum().backward();
  require_close(a.grad(), {1, 0, 1});
  manual_seed(5);
  check_grad([m](const tensor_list& in) { return masked_fill(in[0], m, 0.5); }, {rleaf({2, 3})});
  check_grad([](const tensor_list& in) { return masked_fill(in[0], bools({1, 0}, {2, 1}), 0.0); },
             {randn({3, 2}, DType::Float64).t().requires_grad_()});
  check_grad([m](const tensor_list& in) { return masked_fill(in[0].expand({2, 3}), m, 1.0); }, {rleaf({3})});
}
