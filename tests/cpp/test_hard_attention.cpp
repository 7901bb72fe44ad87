// gumbel_softmax and hard (sampled) attention: shapes, one-hots, sampling
// frequencies, straight-through gradients and seeding.
#include <catch2/catch.hpp>
#include <cmath>

#include "autograd/engine.h"
#include "core/ops.h"
#include "nn/nn.h"

using namespace shanshui;
namespace F = shanshui::nn::functional;

TEST_CASE("gumbel_softmax: soft samples are distributions, hard ones one-hot at the soft argmax") {
  manual_seed(20);
  Tensor logits = randn({6, 5});
  Tensor y = F::gumbel_softmax(logits, 0.5);
  CHECK(allclose(y.sum({-1}), ones({6})));
  CHECK(amin(y).item<double>() >= 0.0);
  manual_seed(21);
  Tensor soft = F::gumbel_softmax(logits, 0.5, false);
  manual_seed(21);
  Tensor hard = F::gumbel_softmax(logits, 0.5, true);
  CHECK(equal(hard.sum({-1}), ones({6})));
  CHECK(equal(logical_or(eq(hard, Scalar(0.0)), eq(hard, Scalar(1.0))), ones({6, 5}, DType::Bool)));
  CHECK(equal(argmax(hard, 1), argmax(soft, 1)));
  // Along another dim.
  Tensor h0 = F::gumbel_softmax(logits, 1.0, true, 0);
  CHECK(equal(h0.sum({0}), ones({5})));
}

TEST_CASE("gumbel_softmax with hard=True has the soft sample's gradient (straight-through)") {
  Tensor logits = randn({4, 7}, DType::Float64).requires_grad_();
  Tensor w = randn({4, 7}, DType::Float64);
  manual_seed(22);
  Tensor gs = autograd::grad({(F::gumbel_softmax(logits, 0.7, false) * w).sum()}, {logits})[0];
  manual_seed(22);
  Tensor gh = autograd::grad({(F::gumbel_softmax(logits, 0.7, true) * w).sum()}, {logits})[0];
  CHECK(allclose(gs, gh, 1e-12, 1e-14));
  CHECK(gs.abs().sum().item<double>() > 0);
}

TEST_CASE("gumbel_softmax argmax frequencies follow softmax(logits) (the Gumbel-max trick) and are seeded") {
  manual_seed(23);
  Tensor logits = from_vector(std::vector<double>{1.0, 0.0, -1.0, 0.5}, {1, 4});
  const int64_t N = 20000;
  Tensor y = F::gumbel_softmax(logits.expand({N, 4}), 1.0, true);
  Tensor freq = y.mean({0});
  Tensor p = softmax(logits, 1).squeeze(0);
  // 4 standard errors of a frequency near 0.4 with N = 20000 is about 0.014.
  CHECK(amax(abs(freq - p)).item<double>() < 0.015);
  manual_seed(5);
  Tensor a = F::gumbel_softmax(logits, 1.0);
  manual_seed(5);
  Tensor b = F::gumbel_softmax(logits, 1.0);
  CHECK(equal(a, b));
  CHECK_THROWS_AS(F::gumbel_softmax(logits, 0.0), ValueError);
  CHECK_THROWS_AS(F::gumbel_softmax(logits, 1.0, false, 2), IndexError);
}

TEST_CASE("hard_attention samples one key per query with the attention probabilities") {
  manual_seed(24);
  Tensor p = from_vector(std::vector<double>{0.1, 0.6, 0.3, 0.0}, {1, 1, 4}).expand({2, 10000, 4}).contiguous();
  auto [idx, w] = F::hard_attention(p);
  REQUIRE(idx.shape() == Shape{2, 10000});
  REQUIRE(w.shape() == p.shape());
  CHECK(equal(w.sum({-1}), ones({2, 10000}, DType::Float64)));
  CHECK(equal(argmax(w, -1), idx));
  Tensor freq = w.mean({0, 1});
  CHECK(amax(abs(freq - p.select(0, 0).select(0, 0))).item<double>() < 0.02);
  CHECK(w.select(-1, 3).sum().item<double>() == 0.0);  // zero probability is never sampled
  // Along dim 1 of [B, S, Tq]: each column is a distribution.
  Tensor pt = p.narrow(1, 0, 3).transpose(1, 2);
  auto [i2, w2] = F::hard_attention(pt, 1);
  CHECK(i2.shape() == Shape{2, 3});
  CHECK(equal(w2.sum({1}), ones({2, 3}, DType::Float64)));
}

TEST_CASE("hard_attention straight-through passes the soft gradient; plain sampling passes none") {
  Tensor scores = randn({3, 5}, DType::Float64).requires_grad_();
  Tensor p = softmax(scores, -1);
  Tensor v = randn({3, 5}, DType::Float64);
  auto [idx, w] = F::hard_attention(p, -1, true);
  Tensor g = autograd::grad({(w * v).sum()}, {scores})[0];
  Tensor g_soft = autograd::grad({(softmax(scores, -1) * v).sum()}, {scores})[0];
  CHECK(allclose(g, g_soft, 1e-12, 1e-14));
  auto [idx2, w2] = F::hard_attention(p.detach());
  CHECK_FALSE(w2.requires_grad());
  CHECK_THROWS_AS(F::hard_attention(from_vector(std::vector<double>{0.5, -0.1}, {1, 2})), ValueError);
  CHECK_THROWS_AS(F::hard_attention(idx), TypeError);
}
