// core/ops/elementwise_math.cpp from C++: values, dtypes, bitwise ops, bad input, and
// float64 gradchecks (second order for the unary ones). The Python suite compares with torch.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/gradcheck.h"
#include "core/ops.h"

using namespace shanshui;
using autograd::tensor_list;

namespace {
Tensor f64(const std::vector<double>& v, const Shape& s) { return from_vector(v, s, DType::Float64); }
Tensor i64(const std::vector<int64_t>& v, const Shape& s) { return from_vector(v, s); }
Tensor uniform(const Shape& s, double lo, double hi) {
  return add(mul(rand(s, DType::Float64), hi - lo), lo).detach().requires_grad_();
}

void require_values(const Tensor& t, const std::vector<double>& want) {
  auto got = to_vector(t);
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i);
    if (std::isnan(want[i]))
      REQUIRE(std::isnan(got[i]));
    else
      REQUIRE(got[i] == Approx(want[i]).epsilon(1e-12).margin(1e-300));
  }
}

using Fn = std::function<Tensor(const tensor_list&)>;
void check_grad(const Fn& f, const tensor_list& in) {
  auto r = autograd::gradcheck(f, in);
  INFO(r.message);
  REQUIRE(r.ok);
}

// d(sum(f(x) * 0.7))/dx with the graph kept, so gradcheck of it checks second derivatives.
// Grad mode is forced on: gradcheck evaluates f under no_grad for its finite differences.
Tensor first_grad(Tensor (*f)(const Tensor&), const Tensor& x) {
  autograd::GradModeGuard on(true);
  Tensor y = f(x);
  return autograd::grad({y}, {x}, {full_like(y, 0.7)}, /*retain_graph=*/true, /*create_graph=*/true)[0];
}
}  // namespace

TEST_CASE("rounding: half to even, decimals, int64 kept, bool rejected", "[elementwise][math]") {
  Tensor x = f64({0.5, 1.5, 2.5, -0.5, -2.5, 1.7, -1.7}, {7});
  require_values(round(x), {0, 2, 2, -0.0, -2, 2, -2});
  require_values(floor(x), {0, 1, 2, -1, -3, 1, -2});
  require_values(ceil(x), {1, 2, 3, -0.0, -2, 2, -1});
  require_values(trunc(x), {0, 1, 2, -0.0, -2, 1, -1});
  require_values(round(f64({1.25, 123.0}, {2}), 1), {1.2, 123.0});
  require_values(round(f64({1234.5}, {1}), -2), {1200.0});
  Tensor i = i64({3, -4}, {2});
  REQUIRE(floor(i).dtype() == DType::Int64);
  REQUIRE(round(i).dtype() == DType::Int64);
  REQUIRE_THROWS_AS(floor(from_vector({1.0}, {1}, DType::Bool)), TypeError);
  REQUIRE_THROWS_AS(frac(i), TypeError);
  REQUIRE_THROWS_AS(round(i, 2), TypeError);
}

TEST_CASE("unary math values and promotion", "[elementwise][math]") {
  REQUIRE(log1p(i64({0, 1}, {2})).dtype() == DType::Float32);
  Tensor x = f64({0.25, -0.5}, {2});
  require_values(log1p(x), {std::log1p(0.25), std::log1p(-0.5)});
  require_values(expm1(x), {std::expm1(0.25), std::expm1(-0.5)});
  require_values(erf(x), {std::erf(0.25), std::erf(-0.5)});
  require_values(erf(erfinv(x)), {0.25, -0.5});
  require_values(atanh(x), {std::atanh(0.25), std::atanh(-0.5)});
  require_values(erfinv(f64({1.0, -1.0, 2.0}, {3})), {INFINITY, -INFINITY, NAN});
}

TEST_CASE("binary math values, int modulo, bad input", "[elementwise][math]") {
  require_values(fmod(f64({5, -5}, {2}), f64({3}, {1})), {2, -2});
  require_values(remainder(f64({5, -5}, {2}), f64({3}, {1})), {2, 1});
  require_values(atan2(f64({1}, {1}), f64({-1}, {1})), {std::atan2(1.0, -1.0)});
  require_values(logaddexp(f64({INFINITY, -INFINITY, 1000}, {3}), f64({INFINITY, -INFINITY, 1000}, {3})),
                 {INFINITY, -INFINITY, 1000 + std::log(2.0)});
  require_values(xlogy(f64({0, 2}, {2}), f64({0, 0.5}, {2})), {0, 2 * std::log(0.5)});
  REQUIRE(to_vector(fmod(i64({-7}, {1}), i64({3}, {1})))[0] == -1);
  REQUIRE_THROWS_AS(fmod(i64({1}, {1}), i64({0}, {1})), RuntimeError);
  REQUIRE_THROWS_AS(hypot(i64({1}, {1}), i64({1}, {1})), TypeError);
  REQUIRE_THROWS_AS(addmm(ones({3}, DType::Float64), ones({2, 3}, DType::Float64), ones({3, 2}, DType::Float64)),
                    ValueError);
  require_values(addmm(ones({2, 2}, DType::Float64), ones({2, 3}, DType::Float64), ones({3, 2}, DType::Float64), 0.5, 2),
                 {6.5, 6.5, 6.5, 6.5});
  require_values(lerp(f64({0, 10}, {2}), f64({10, 0}, {2}), 0.25), {2.5, 7.5});
  require_values(nan_to_num(f64({NAN, INFINITY, -INFINITY}, {3}), 1.0, 2.0, -2.0), {1, 2, -2});
}

TEST_CASE("bitwise ops on int64 and bool", "[elementwise][math][bitwise]") {
  Tensor a = i64({12, -5, 1}, {3}), b = i64({10, 3, 70}, {3});
  auto v = [](const Tensor& t) { return to_vector(t); };
  REQUIRE(v(bitwise_and(a, b)) == std::vector<double>{8, 3, 0});
  REQUIRE(v(bitwise_or(a, b)) == std::vector<double>{14, -5, 71});
  REQUIRE(v(bitwise_xor(a, b)) == std::vector<double>{6, -8, 71});
  REQUIRE(v(bitwise_not(a)) == std::vector<double>{-13, 4, -2});
  REQUIRE(v(bitwise_left_shift(a, i64({1, 2, 64}, {3}))) == std::vector<double>{24, -20, 0});
  REQUIRE(v(bitwise_right_shift(a, i64({1, 1, 64}, {3}))) == std::vector<double>{6, -3, 0});
  Tensor t = from_vector({1.0, 0.0}, {2}, DType::Bool);
  REQUIRE(bitwise_and(t, t).dtype() == DType::Bool);
  REQUIRE(bitwise_and(t, i64({3, 3}, {2})).dtype() == DType::Int64);
  REQUIRE_THROWS_AS(bitwise_and(f64({1}, {1}), f64({1}, {1})), TypeError);
  REQUIRE_THROWS_AS(bitwise_not(f64({1}, {1})), TypeError);
  REQUIRE_THROWS_AS(bitwise_left_shift(t, t), TypeError);
}

TEST_CASE("math ops: float64 gradchecks, second order for unary ops", "[elementwise][math][grad]") {
  manual_seed(7);
  struct U {
    const char* name;
    Tensor (*f)(const Tensor&);
    double lo, hi;
  };
  const U unary[] = {
      {"log1p", &log1p, -0.5, 2},  {"expm1", &expm1, -1, 1}, {"log2", &log2, 0.3, 2},   {"log10", &log10, 0.3, 2},
      {"tan", &tan, -1, 1},        {"atan", &atan, -2, 2},   {"asin", &asin, -0.9, 0.9}, {"acos", &acos, -0.9, 0.9},
      {"sinh", &sinh, -2, 2},      {"cosh", &cosh, -2, 2},   {"asinh", &asinh, -2, 2},   {"acosh", &acosh, 1.2, 3},
      {"atanh", &atanh, -0.8, 0.8}, {"erf", &erf, -2, 2},    {"erfc", &erfc, -2, 2},     {"erfinv", &erfinv, -0.9, 0.9},
      {"frac", &frac, 0.1, 0.9},
  };
  for (const U& u : unary) {
    INFO(u.name);
    auto f = u.f;
    if (std::string(u.name) == "frac") {  // second derivative is zero and frac' has no graph
      check_grad([f](const tensor_list& in) { return f(in[0]); }, {uniform({3, 4}, u.lo, u.hi)});
      continue;
    }
    check_grad([f](const tensor_list& in) { return f(in[0]); }, {uniform({3, 4}, u.lo, u.hi)});
    check_grad([f](const tensor_list& in) { return first_grad(f, in[0]); }, {uniform({3, 4}, u.lo, u.hi)});
  }
  Tensor a = uniform({3, 4}, 0.5, 2), b = uniform({4}, 0.5, 2), c = uniform({3, 1}, -2, -0.5);
  check_grad([](const tensor_list& in) { return atan2(in[0], in[1]); }, {a, c});
  check_grad([](const tensor_list& in) { return hypot(in[0], in[1]); }, {a, c});
  check_grad([](const tensor_list& in) { return logaddexp(in[0], in[1]); }, {a, c});
  check_grad([](const tensor_list& in) { return xlogy(in[0], in[1]); }, {c, b});
  check_grad([](const tensor_list& in) { return fmod(in[0], in[1]); }, {uniform({3, 4}, 0.1, 0.9), uniform({4}, 1.5, 2)});
  check_grad([](const tensor_list& in) { return remainder(in[0], in[1]); },
             {uniform({3, 4}, 0.1, 0.9), uniform({4}, 1.5, 2)});
  check_grad([](const tensor_list& in) { return lerp(in[0], in[1], in[2]); }, {a, b, uniform({3, 1}, 0, 1)});
  check_grad([](const tensor_list& in) { return logit(in[0], 0.05); }, {uniform({3, 4}, 0.1, 0.9)});
}
