// Convolution, unfold / fold, pooling and batch norm: gradchecks (float64),
// small hand-checked cases and bad-input errors.
#include <catch2/catch.hpp>

#include "autograd/gradcheck.h"
#include "core/ops.h"
#include "nn/nn.h"

using namespace shanshui;
namespace F = shanshui::nn::functional;

namespace {
Tensor randn64(const Shape& s, bool grad = true) {
  Tensor t = randn(s, DType::Float64);
  if (grad) t.requires_grad_();
  return t;
}
void require_ok(const autograd::GradcheckResult& r) {
  INFO(r.message);
  REQUIRE(r.ok);
}
using GC = std::vector<Tensor>;
}  // namespace

TEST_CASE("unfold and fold are adjoint and pass gradcheck") {
  manual_seed(1);
  Tensor x = randn64({2, 3, 5, 6});
  require_ok(autograd::gradcheck([](const GC& v) { return F::unfold(v[0], {2, 3}, {2, 1}, {1, 0}, {1, 2}); }, {x}));
  Tensor cols = randn64({2, 3 * 6, F::unfold(x, {2, 3}, {2, 1}, {1, 0}, {1, 2}).size(2)});
  require_ok(autograd::gradcheck(
      [](const GC& v) { return F::fold(v[0], {5, 6}, {2, 3}, {2, 1}, {1, 0}, {1, 2}); }, {cols}));
  // <unfold(x), c> == <x, fold(c)>
  Tensor u = F::unfold(x.detach(), {2, 3}, {2, 1}, {1, 0}, {1, 2});
  Tensor f = F::fold(cols.detach(), {5, 6}, {2, 3}, {2, 1}, {1, 0}, {1, 2});
  CHECK(sum(mul(u, cols.detach())).item_double() == Approx(sum(mul(x.detach(), f)).item_double()));
  // A 1x1 input padded by 1 with a 3x3 kernel: the centre column holds the value.
  Tensor one = full({1, 1, 1, 1}, 7.0);
  auto v = to_vector(F::unfold(one, {3, 3}, {1, 1}, {1, 1}));
  CHECK(v == std::vector<double>{0, 0, 0, 0, 7, 0, 0, 0, 0});
}

TEST_CASE("conv2d with stride, padding, dilation and groups passes gradcheck") {
  manual_seed(2);
  Tensor x = randn64({2, 4, 6, 5});
  for (int64_t groups : {1, 2}) {
    Tensor w = randn64({6, 4 / groups, 3, 2}), b = randn64({6});
    require_ok(autograd::gradcheck(
        [groups](const GC& v) { return F::conv2d(v[0], v[1], v[2], {2, 1}, {1, 2}, {1, 2}, groups); }, {x, w, b}));
  }
  // unbatched input
  Tensor w = randn64({3, 4, 1, 1});
  CHECK(F::conv2d(x.select(0, 1), w).shape() == Shape{3, 6, 5});
  // 1x1 conv = per-pixel linear map
  Tensor y = F::conv2d(x.detach(), w.detach());
  Tensor ref = matmul(w.detach().reshape({3, 4}), x.detach().reshape({2, 4, 30})).reshape({2, 3, 6, 5});
  CHECK(allclose(y, ref, 1e-12, 1e-12));
}

TEST_CASE("pooling ops pass gradcheck and follow their definitions") {
  manual_seed(3);
  Tensor x = randn64({2, 3, 7, 6});
  require_ok(autograd::gradcheck([](const GC& v) { return F::max_pool2d(v[0], {3, 2}, F::Size2{2, 2}, {1, 1}); }, {x}));
  require_ok(autograd::gradcheck(
      [](const GC& v) { return F::max_pool2d(v[0], {2, 2}, F::Size2{2, 1}, {0, 0}, {2, 1}, true); }, {x}));
  for (bool ceil : {false, true})
    for (bool cip : {false, true})
      require_ok(autograd::gradcheck(
          [=](const GC& v) { return F::avg_pool2d(v[0], {3, 3}, F::Size2{2, 2}, {1, 1}, ceil, cip); }, {x}));
  require_ok(autograd::gradcheck([](const GC& v) { return F::adaptive_avg_pool2d(v[0], {3, 4}); }, {x}));
  Tensor a = from_vector(std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, {1, 1, 4, 4},
                         DType::Float64);
  CHECK(to_vector(F::max_pool2d(a, {2, 2})) == std::vector<double>{6, 8, 14, 16});
  CHECK(to_vector(F::avg_pool2d(a, {2, 2})) == std::vector<double>{3.5, 5.5, 11.5, 13.5});
  CHECK(to_vector(F::adaptive_avg_pool2d(a, {1, 1})) == std::vector<double>{8.5});
  CHECK(to_vector(F::max_pool2d_with_indices(a, {2, 2}).second) == std::vector<double>{5, 7, 13, 15});
}

TEST_CASE("batch_norm passes gradcheck in training and eval; BatchNorm2d tracks running stats") {
  manual_seed(4);
  Tensor x = randn64({3, 2, 4, 3}), w = randn64({2}), b = randn64({2});
  require_ok(autograd::gradcheck(
      [](const GC& v) { return F::batch_norm(v[0], Tensor(), Tensor(), v[1], v[2], true); }, {x, w, b}));
  Tensor rm = randn64({2}, false), rv = rand({2}, DType::Float64).add(0.5);
  require_ok(autograd::gradcheck([&](const GC& v) { return F::batch_norm(v[0], rm, rv, v[1], v[2], false); },
                                 {x, w, b}));
  nn::BatchNorm2d bn(2, 1e-5, 0.1, true, true, DType::Float64);
  auto names = bn.state_dict();
  REQUIRE(names.size() == 5);
  CHECK(names[2].first == "running_mean");
  CHECK(names[4].first == "num_batches_tracked");
  Tensor y = bn.forward(x.detach());
  // Training output: each channel has mean 0 and (biased) variance 1.
  CHECK(max(abs(mean(y, {0, 2, 3}))).item_double() < 1e-12);
  Tensor mu = mean(x.detach(), {0, 2, 3});
  CHECK(allclose(bn.buffer("running_mean"), mul(mu, 0.1), 1e-12, 1e-12));
  CHECK(allclose(bn.buffer("running_var"), add(mul(var(x.detach(), {0, 2, 3}), 0.1), 0.9), 1e-12, 1e-12));
  CHECK(bn.buffer("num_batches_tracked").item_double() == 1);
  bn.eval();
  Tensor ye = bn.forward(x.detach());
  Tensor ref = div(sub(x.detach(), bn.buffer("running_mean").reshape({1, 2, 1, 1})),
                   sqrt(add(bn.buffer("running_var").reshape({1, 2, 1, 1}), 1e-5)));
  CHECK(allclose(ye, ref, 1e-10, 1e-12));
  CHECK(bn.buffer("num_batches_tracked").item_double() == 1);
}

TEST_CASE("conv and pooling reject bad sizes naming the op and shapes") {
  Tensor x = randn({1, 2, 4, 4});
  Tensor w = randn({3, 2, 5, 5});
  CHECK_THROWS_WITH(F::conv2d(x, w), Catch::Contains("unfold") && Catch::Contains("larger than the padded input"));
  CHECK_THROWS_AS(F::conv2d(x, randn({3, 3, 1, 1})), ValueError);
  CHECK_THROWS_AS(F::conv2d(x, randn({3, 2, 1, 1}), Tensor(), {0, 1}), ValueError);
  CHECK_THROWS_AS(F::conv2d(x, randn({3, 2, 1, 1}), Tensor(), {1, 1}, {-1, 0}), ValueError);
  CHECK_THROWS_AS(F::unfold(x, {0, 2}), ValueError);
  CHECK_THROWS_AS(F::max_pool2d(x, {5, 5}), ValueError);
  CHECK_THROWS_AS(F::max_pool2d(x, {2, 2}, F::Size2{0, 1}), ValueError);
  CHECK_THROWS_AS(F::avg_pool2d(x, {2, 2}, std::nullopt, {2, 2}), ValueError);
  CHECK_THROWS_AS(F::adaptive_avg_pool2d(x, {0, 2}), ValueError);
  CHECK_THROWS_AS(F::fold(randn({1, 8, 5}), {4, 4}, {2, 2}), ValueError);
  CHECK_THROWS_AS(nn::Conv2d(2, 3, 0), ValueError);
  CHECK_THROWS_AS(nn::BatchNorm2d(2).forward(randn({1, 2, 1, 1})), ValueError);
  CHECK_THROWS_AS(nn::BatchNorm2d(3).forward(x), ValueError);
}

TEST_CASE("Conv2d has torch's parameter layout") {
  nn::Conv2d conv(4, 6, 3, 2, 1, 1, 2);
  CHECK(conv.weight().shape() == Shape{6, 2, 3, 3});
  CHECK(conv.bias().shape() == Shape{6});
  CHECK(conv.forward(randn({2, 4, 9, 9})).shape() == Shape{2, 6, 5, 5});
}
