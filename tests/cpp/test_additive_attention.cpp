// Additive (Bahdanau) and Luong attention: values against the formula written
// with the concatenated W [h_i; s], masks, gradchecks and bad input.
#include <catch2/catch.hpp>
#include <cmath>

#include "autograd/gradcheck.h"
#include "core/ops.h"
#include "nn/nn.h"

using namespace shanshui;

namespace {
Tensor randn64(const Shape& s, bool grad = true) {
  Tensor t = randn(s, DType::Float64);
  if (grad) t.requires_grad_();
  return t;
}
}  // namespace

TEST_CASE("AdditiveAttention equals v^T tanh(W [h_i; s] + b) with W = [W_h, W_s]") {
  manual_seed(10);
  const int64_t B = 2, S = 5, Tq = 3, Dk = 4, Dq = 3, A = 6;
  nn::AdditiveAttention att(Dk, Dq, A, true, DType::Float64);
  Tensor keys = randn64({B, S, Dk}), q = randn64({B, Tq, Dq});
  auto [ctx, w] = att.forward(q, keys);
  REQUIRE(ctx.shape() == Shape{B, Tq, Dk});
  REQUIRE(w.shape() == Shape{B, Tq, S});
  Tensor W = cat({att.key_proj->weight(), att.query_proj->weight()}, 1);  // [A, Dk + Dq]
  auto Wv = to_vector(W), bv = to_vector(att.query_proj->bias()), vv = to_vector(att.v->weight());
  auto kv = to_vector(keys), qv = to_vector(q), wv = to_vector(w), cv = to_vector(ctx);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < Tq; ++j) {
      std::vector<double> e(S);
      double mx = -1e300;
      for (int64_t i = 0; i < S; ++i) {
        double score = 0;
        for (int64_t a = 0; a < A; ++a) {
          double pre = bv[a];
          for (int64_t k = 0; k < Dk; ++k) pre += Wv[a * (Dk + Dq) + k] * kv[(b * S + i) * Dk + k];
          for (int64_t k = 0; k < Dq; ++k) pre += Wv[a * (Dk + Dq) + Dk + k] * qv[(b * Tq + j) * Dq + k];
          score += vv[a] * std::tanh(pre);
        }
        e[i] = score;
        mx = std::max(mx, score);
      }
      double z = 0;
      for (auto& x : e) z += (x = std::exp(x - mx));
      for (int64_t i = 0; i < S; ++i) CHECK(wv[(b * Tq + j) * S + i] == Approx(e[i] / z).epsilon(1e-12));
      for (int64_t k = 0; k < Dk; ++k) {
        double c = 0;
        for (int64_t i = 0; i < S; ++i) c += e[i] / z * kv[(b * S + i) * Dk + k];
        CHECK(cv[(b * Tq + j) * Dk + k] == Approx(c).epsilon(1e-12));
      }
    }
  // A single query [B, Dq] gives [B, Dk] / [B, S].
  auto [c1, w1] = att.forward(q.select(1, 1), keys);
  CHECK(allclose(c1, ctx.select(1, 1)));
  CHECK(allclose(w1, w.select(1, 1)));
}

TEST_CASE("attention padding mask ignores padded keys; fully masked rows give zeros without NaN gradients") {
  manual_seed(11);
  nn::AdditiveAttention att(3, 2, 4, true, DType::Float64);
  Tensor keys = randn64({2, 4, 3}), q = randn64({2, 2});
  Tensor mask = from_vector(std::vector<double>{0, 0, 1, 1, 1, 1, 1, 1}, {2, 4}).to(DType::Bool);
  auto [ctx, w] = att.forward(q, keys, Tensor(), mask);
  CHECK(w.select(0, 0).narrow(0, 2, 2).abs().sum().item<double>() == 0.0);
  CHECK(w.select(0, 0).sum().item<double>() == Approx(1.0));
  // Only the unmasked keys matter: the same as attending over them alone.
  auto [c_ref, w_ref] = att.forward(q.narrow(0, 0, 1), keys.narrow(0, 0, 1).narrow(1, 0, 2));
  CHECK(allclose(ctx.narrow(0, 0, 1), c_ref));
  CHECK(ctx.select(0, 1).abs().sum().item<double>() == 0.0);
  (ctx.sum() + w.sum()).backward();
  CHECK_FALSE(any(isnan(keys.grad())).item<bool>());
  CHECK_FALSE(any(isnan(q.grad())).item<bool>());
}

TEST_CASE("AdditiveAttention and LuongAttention pass gradcheck") {
  manual_seed(12);
  nn::AdditiveAttention att(3, 2, 4, true, DType::Float64);
  Tensor keys = randn64({2, 4, 3}), vals = randn64({2, 4, 2}), q = randn64({2, 3, 2});
  Tensor mask = from_vector(std::vector<double>{0, 0, 0, 1, 0, 0, 0, 0}, {2, 4}).to(DType::Bool);
  std::vector<Tensor> in{q, keys, vals};
  for (auto& p : att.parameters()) in.push_back(p);
  auto r = autograd::gradcheck([&](const std::vector<Tensor>& v) {
    auto [c, w] = att.forward(v[0], v[1], v[2], mask);
    return cat({c.reshape({-1}), w.reshape({-1})}, 0);
  }, in);
  INFO(r.message);
  CHECK(r.ok);
  for (const char* score : {"dot", "general"}) {
    nn::LuongAttention lu(3, 3, score, DType::Float64);
    Tensor q3 = randn64({2, 2, 3});
    std::vector<Tensor> in2{q3, keys};
    for (auto& p : lu.parameters()) in2.push_back(p);
    auto r2 = autograd::gradcheck([&](const std::vector<Tensor>& v) {
      auto [c, w] = lu.forward(v[0], v[1], Tensor(), mask);
      return cat({c.reshape({-1}), w.reshape({-1})}, 0);
    }, in2);
    INFO(score << ": " << r2.message);
    CHECK(r2.ok);
  }
}

TEST_CASE("LuongAttention scores are s^T h (dot) and s^T W h (general)") {
  manual_seed(13);
  Tensor keys = randn({2, 5, 4}), q = randn({2, 4});
  nn::LuongAttention dot(4, 4, "dot");
  auto [c, w] = dot.forward(q, keys);
  Tensor ref_w = softmax(bmm(keys, q.unsqueeze(2)).squeeze(2), 1);
  CHECK(allclose(w, ref_w, 1e-5, 1e-6));
  CHECK(allclose(c, bmm(ref_w.unsqueeze(1), keys).squeeze(1), 1e-5, 1e-6));
  nn::LuongAttention gen(4, 3, "general");
  Tensor q3 = randn({2, 3});
  auto [c2, w2] = gen.forward(q3, keys);
  Tensor wk = matmul(keys, gen.key_proj->weight().t());  // [B, S, Dq]
  CHECK(allclose(w2, softmax(bmm(wk, q3.unsqueeze(2)).squeeze(2), 1), 1e-5, 1e-6));
}

TEST_CASE("attention modules reject bad input") {
  nn::AdditiveAttention att(3, 2, 4);
  CHECK_THROWS_AS(att.forward(randn({2, 5}), randn({2, 4, 3})), ValueError);      // query dim
  CHECK_THROWS_AS(att.forward(randn({2, 2}), randn({2, 4, 5})), ValueError);      // key dim
  CHECK_THROWS_AS(att.forward(randn({3, 2}), randn({2, 4, 3})), ValueError);      // batch
  CHECK_THROWS_AS(att.forward(randn({2, 2}), randn({2, 4, 3}), randn({2, 3, 3})), ValueError);  // values
  CHECK_THROWS_WITH(att.forward(randn({2, 2}), randn({2, 4, 3}), Tensor(), zeros({2, 5}, DType::Bool)),
                    Catch::Contains("key_padding_mask"));
  CHECK_THROWS_AS(att.forward(randn({2, 2}), randn({2, 4, 3}), Tensor(), zeros({2, 4})), TypeError);
  CHECK_THROWS_AS(nn::LuongAttention(3, 4, "dot"), ValueError);
  CHECK_THROWS_AS(nn::LuongAttention(3, 4, "concat"), ValueError);
}
