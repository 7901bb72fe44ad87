// Accuracy of the float32 vector kernels (core/kernels/vector_math.h and the gelu
// kernels built on it) against double-precision math.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#include "autograd/engine.h"
#include "core/ops.h"

using namespace shanshui;

// The float32 vector kernels (exp, tanh, sigmoid, gelu and gelu's backward) against
// double-precision references over a sweep of float bit patterns that covers every
// exponent, both signs, the tails and the subnormals. The sweep length is odd, so
// the last vector is a partial one (the scalar gather path runs too).
TEST_CASE("float32 vector kernels stay within a few ulp of double-precision math", "[elementwise][accuracy]") {
  std::vector<float> xs;
  for (uint64_t bits = 0; bits < (uint64_t(1) << 32); bits += 40961) {
    uint32_t b = uint32_t(bits);
    float x;
    std::memcpy(&x, &b, sizeof x);
    if (std::isfinite(x)) xs.push_back(x);
  }
  if (xs.size() % 2 == 0) xs.pop_back();
  const Shape shape{int64_t(xs.size())};
  Tensor x = from_vector(xs, shape);
  const double inv_sqrt2 = 0.70710678118654752, inv_sqrt2pi = 0.398942280401432678;
  auto phi_cdf = [&](double v) { return 0.5 * std::erfc(-v * inv_sqrt2); };
  struct Case {
    const char* name;
    std::function<Tensor(const Tensor&)> op;
    std::function<double(double)> ref;    // exact value
    std::function<double(double)> scale;  // what the relative error is taken against
  };
  auto self = [](std::function<double(double)> f) { return [f](double v) { return std::fabs(f(v)); }; };
  auto gelu_ref = [&](double v) { return v * phi_cdf(v); };
  auto gelu_tanh_ref = [](double v) {  // 0.5 v (1 + tanh u) = v sigmoid(2u), without cancellation
    return v / (1 + std::exp(-2 * 0.797884560802865355 * (v + 0.044715 * v * v * v)));
  };
  auto gelu_grad_ref = [&](double v) { return phi_cdf(v) + v * inv_sqrt2pi * std::exp(-0.5 * v * v); };
  std::vector<Case> cases = {
      {"exp", [](const Tensor& t) { return exp(t); }, [](double v) { return std::exp(v); },
       self([](double v) { return std::exp(v); })},
      {"tanh", [](const Tensor& t) { return tanh(t); }, [](double v) { return std::tanh(v); },
       self([](double v) { return std::tanh(v); })},
      {"sigmoid", [](const Tensor& t) { return sigmoid(t); }, [](double v) { return 1 / (1 + std::exp(-v)); },
       self([](double v) { return 1 / (1 + std::exp(-v)); })},
      {"gelu", [](const Tensor& t) { return gelu(t); }, gelu_ref, self(gelu_ref)},
      {"gelu tanh", [](const Tensor& t) { return gelu(t, "tanh"); }, gelu_tanh_ref, self(gelu_tanh_ref)},
      // The derivative crosses zero near x = -0.75: the error is measured against its two terms.
      {"gelu backward",
       [](const Tensor& t) {
         Tensor l = t.detach().requires_grad_();
         gelu(l).sum().backward();
         return l.grad();
       },
       gelu_grad_ref, [&](double v) { return phi_cdf(v) + std::fabs(v) * inv_sqrt2pi * std::exp(-0.5 * v * v); }},
      {"gelu tanh backward",
       [](const Tensor& t) {
         Tensor l = t.detach().requires_grad_();
         gelu(l, "tanh").sum().backward();
         return l.grad();
       },
       // In double too, 1 + tanh(u) cancels for u < -19: the sigmoid form, e = exp(-|2u|).
       [](double v) {
         const double c = 0.797884560802865355, k = 0.044715, u2 = 2 * c * (v + k * v * v * v);
         const double e = std::exp(-std::fabs(u2)), s = u2 >= 0 ? 1 / (1 + e) : e / (1 + e);
         return s + v * e / ((1 + e) * (1 + e)) * 2 * c * (1 + 3 * k * v * v);
       },
       [](double v) {
         const double c = 0.797884560802865355, k = 0.044715, u2 = 2 * c * (v + k * v * v * v);
         const double e = std::exp(-std::fabs(u2)), s = u2 >= 0 ? 1 / (1 + e) : e / (1 + e);
         return s + std::fabs(v) * e / ((1 + e) * (1 + e)) * 2 * c * (1 + 3 * k * v * v);
       }},
  };
  for (const Case& c : cases) {
    std::vector<double> got = to_vector(c.op(x));
    REQUIRE(got.size() == xs.size());
    double worst = 0, worst_x = 0;
    int64_t nans = 0;
    for (size_t i = 0; i < xs.size(); ++i) {
      const double want = c.ref(double(xs[i]));
      if (std::isnan(got[i])) {
        ++nans;
        continue;
      }
      const double want_f = double(float(want));  // the best a float result can be
      if (std::isinf(want_f)) {
        CHECK(got[i] == want_f);
        continue;
      }
      // Relative error; results below the normal range are judged in absolute terms, and
      // 1e-42 (a few hundred subnormal steps, a subnormal factor times a few hundred) is free.
      const double err = std::max(0.0, std::fabs(got[i] - want) - 1e-42) /
                         std::max(c.scale(double(xs[i])), 1.1754943508222875e-38);
      if (err > worst) worst = err, worst_x = xs[i];
    }
    INFO(c.name << ": worst relative error " << worst << " at x = " << worst_x << ", " << nans << " NaNs");
    CHECK(nans == 0);
    CHECK(worst < 1e-6);
  }
}
