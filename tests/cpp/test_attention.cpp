// Scaled dot-product attention: the fused flash kernel against the composite
// path (values and gradients), float64 gradchecks, masks and bad input.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/gradcheck.h"
#include "core/ops.h"
#include "nn/nn.h"

using namespace shanshui;
namespace F = shanshui::nn::functional;

namespace {

Tensor leaf(const Tensor& t) { return t.detach().clone().requires_grad_(); }

double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  return amax(abs(a.detach().to(DType::Float64) - b.detach().to(DType::Float64))).item<double>();
}

// Runs the fused and the composite path on copies of the same inputs and
// compares outputs and the gradients of q, k, v.
void compare_paths(const Shape& qs, const Shape& ks, const Shape& vs, const Tensor& mask, bool causal, DType dt,
                   double tol) {
  Tensor q0 = randn(qs, dt), k0 = randn(ks, dt), v0 = randn(vs, dt);
  Tensor q1 = leaf(q0), k1 = leaf(k0), v1 = leaf(v0), q2 = leaf(q0), k2 = leaf(k0), v2 = leaf(v0);
  Tensor of = F::scaled_dot_product_attention_flash(q1, k1, v1, mask, causal);
  Tensor oc = F::scaled_dot_product_attention_math(q2, k2, v2, mask, 0.0, causal);
  CHECK(max_abs_diff(of, oc) < tol);
  CHECK_FALSE(any(isnan(of)).item<bool>());
  Tensor g = randn(of.shape(), dt);
  of.backward(g);
  oc.backward(g);
  CHECK(max_abs_diff(q1.grad(), q2.grad()) < tol);
  CHECK(max_abs_diff(k1.grad(), k2.grad()) < tol);
  CHECK(max_abs_diff(v1.grad(), v2.grad()) < tol);
}

}  // namespace

TEST_CASE("sdpa: fused matches composite, unmasked and causal, across block boundaries") {
  manual_seed(1);
  // 70 queries and 130 keys: several 64-blocks with ragged tails.
  compare_paths({2, 3, 70, 8}, {2, 3, 130, 8}, {2, 3, 130, 5}, Tensor(), false, DType::Float64, 1e-10);
  compare_paths({2, 3, 70, 8}, {2, 3, 70, 8}, {2, 3, 70, 5}, Tensor(), true, DType::Float64, 1e-10);
  compare_paths({2, 130, 8}, {2, 70, 8}, {2, 70, 6}, Tensor(), true, DType::Float64, 1e-10);  // L > S
  compare_paths({1, 2, 200, 16}, {1, 2, 200, 16}, {1, 2, 200, 16}, Tensor(), true, DType::Float32, 2e-5);
}

TEST_CASE("sdpa: fused matches composite with boolean key padding and additive masks") {
  manual_seed(2);
  // Key padding as [B, 1, 1, S] bool (true = attend): batch 0 sees 100 keys, batch 1 sees 3.
  Tensor pad = lt(arange(130).reshape({1, 1, 1, 130}), from_vector(std::vector<int64_t>{100, 3}, {2, 1, 1, 1}));
  compare_paths({2, 3, 70, 8}, {2, 3, 130, 8}, {2, 3, 130, 5}, pad, false, DType::Float64, 1e-10);
  // Additive float mask [L, S] broadcast over batch and heads.
  Tensor add = randn({70, 130}, DType::Float64);
  compare_paths({2, 3, 70, 8}, {2, 3, 130, 8}, {2, 3, 130, 5}, add, false, DType::Float64, 1e-10);
  Tensor add32 = randn({3, 70, 130});
  compare_paths({2, 3, 70, 8}, {2, 3, 130, 8}, {2, 3, 130, 8}, add32, false, DType::Float32, 2e-5);
}

TEST_CASE("sdpa: a fully masked row gives zero output and zero gradient") {
  manual_seed(3);
  Tensor mask = ones({5, 7}, DType::Bool);
  mask.index_put_({2}, zeros({7}, DType::Bool));  // query 2 sees no key
  Tensor minf = zeros({5, 7}, DType::Float64);
  minf.index_put_({4}, full({7}, -std::numeric_limits<double>::infinity(), DType::Float64));
  for (const Tensor& m : {mask, minf}) {
    compare_paths({2, 5, 4}, {2, 7, 4}, {2, 7, 3}, m, false, DType::Float64, 1e-12);
    Tensor q = randn({2, 5, 4}, DType::Float64).requires_grad_(), k = randn({2, 7, 4}, DType::Float64),
           v = randn({2, 7, 3}, DType::Float64);
    Tensor o = F::scaled_dot_product_attention(q, k, v, m);
    o.sum().backward();
    int64_t row = m.dtype() == DType::Bool ? 2 : 4;
    CHECK(amax(abs(o.select(1, row))).item<double>() == 0.0);
    CHECK(amax(abs(q.grad().select(1, row))).item<double>() == 0.0);
    CHECK_FALSE(any(isnan(q.grad())).item<bool>());
  }
}

TEST_CASE("sdpa: float64 gradcheck of the fused kernel") {
  manual_seed(4);
  Tensor q = randn({2, 5, 3}, DType::Float64).requires_grad_(), k = randn({2, 6, 3}, DType::Float64).requires_grad_(),
         v = randn({2, 6, 4}, DType::Float64).requires_grad_();
  Tensor bmask = gt(rand({5, 6}, DType::Float64), 0.3);
  bmask.index_put_({Slice{}, 0}, ones({5}, DType::Bool));
  Tensor fmask = randn({2, 1, 6}, DType::Float64);
  for (int c = 0; c < 4; ++c) {
    auto f = [&](const std::vector<Tensor>& x) {
      Tensor m = c == 2 ? bmask : c == 3 ? fmask : Tensor();
      return F::scaled_dot_product_attention_flash(x[0], x[1], x[2], m, c == 1, c == 3 ? std::optional<double>(0.7)
                                                                                      : std::nullopt);
    };
    auto r = autograd::gradcheck(f, {q, k, v});
    INFO("case " << c << ": " << r.message);
    CHECK(r.ok);
  }
  // Larger than one block in both directions, causal.
  Tensor q2 = randn({1, 70, 2}, DType::Float64).requires_grad_(), k2 = randn({1, 70, 2}, DType::Float64).requires_grad_(),
         v2 = randn({1, 70, 2}, DType::Float64).requires_grad_();
  auto r = autograd::gradcheck(
      [](const std::vector<Tensor>& x) { return F::scaled_dot_product_attention_flash(x[0], x[1], x[2], Tensor(), true); },
      {q2, k2, v2});
  INFO(r.message);
  CHECK(r.ok);
}

TEST_CASE("sdpa: second-order gradients through the fused kernel") {
  manual_seed(5);
  Tensor q = randn({1, 4, 3}, DType::Float64).requires_grad_(), k = randn({1, 5, 3}, DType::Float64).requires_grad_(),
         v = randn({1, 5, 2}, DType::Float64).requires_grad_();
  // f(q, k, v) = sum(d out / d q * w): a gradient of the gradient exercises the create_graph backward.
  Tensor w = randn({1, 4, 3}, DType::Float64), proj = randn({1, 4, 2}, DType::Float64);
  auto f = [&](const std::vector<Tensor>& x) {
    autograd::GradModeGuard on(true);  // gradcheck evaluates f under no_grad for the numerical part
    Tensor o = F::scaled_dot_product_attention_flash(x[0], x[1], x[2], Tensor(), true);
    Tensor gq = (o * proj).sum();
    auto grads = autograd::grad({gq}, {x[0]}, {}, true, true);
    return grads[0] * w;
  };
  auto r = autograd::gradcheck(f, {q, k, v});
  INFO(r.message);
  CHECK(r.ok);
}

TEST_CASE("sdpa: broadcasting, GQA, scale and dropout") {
  manual_seed(7);
  // k and v broadcast over the head dim.
  Tensor q = randn({2, 3, 6, 4}, DType::Float64).requires_grad_(), k = randn({2, 1, 5, 4}, DType::Float64).requires_grad_(),
         v = randn({2, 1, 5, 4}, DType::Float64).requires_grad_();
  Tensor o = F::scaled_dot_product_attention(q, k, v);
  Tensor oc = F::scaled_dot_product_attention_math(q, k, v);
  CHECK(max_abs_diff(o, oc) < 1e-12);
  o.sum().backward();
  Tensor gk = k.grad().clone();
  k.set_grad(Tensor());
  oc.sum().backward();
  CHECK(max_abs_diff(gk, k.grad()) < 1e-12);
  // GQA: 4 query heads share 2 key/value heads.
  Tensor q4 = randn({1, 4, 3, 8}), k2 = randn({1, 2, 5, 8}), v2 = randn({1, 2, 5, 8});
  Tensor og = F::scaled_dot_product_attention(q4, k2, v2, Tensor(), 0.0, false, std::nullopt, true);
  Tensor kr = k2.select(1, 1).unsqueeze(1), vr = v2.select(1, 1).unsqueeze(1);
  Tensor oh3 = F::scaled_dot_product_attention(q4.select(1, 3).unsqueeze(1), kr, vr);
  CHECK(max_abs_diff(og.select(1, 3).unsqueeze(1), oh3) < 1e-6);
  // Explicit scale equals pre-scaling q.
  Tensor a = F::scaled_dot_product_attention(q4, k2.select(1, 0).unsqueeze(1), v2.select(1, 0).unsqueeze(1), Tensor(),
                                             0.0, false, 0.3);
  Tensor b = F::scaled_dot_product_attention(q4 * (0.3 * std::sqrt(8.0)), k2.select(1, 0).unsqueeze(1),
                                             v2.select(1, 0).unsqueeze(1));
  CHECK(max_abs_diff(a, b) < 1e-5);
  // Dropout: with p = 1 everything is dropped; with p = 0.5 the weights are either 0 or 2x the clean ones.
  Tensor z = F::scaled_dot_product_attention(q4, k2.select(1, 0).unsqueeze(1), v2.select(1, 0).unsqueeze(1), Tensor(), 1.0);
  CHECK(amax(abs(z)).item<double>() == 0.0);
  auto [o1, w1] = F::scaled_dot_product_attention_with_weights(q4, k2.select(1, 0).unsqueeze(1),
                                                               v2.select(1, 0).unsqueeze(1), Tensor(), 0.5);
  auto [o0, w0] = F::scaled_dot_product_attention_with_weights(q4, k2.select(1, 0).unsqueeze(1),
                                                               v2.select(1, 0).unsqueeze(1));
  Tensor kept = ne(w1, 0.0);
  CHECK(max_abs_diff(where(kept, w1, zeros({})), where(kept, w0 * 2.0, zeros({}))) < 1e-6);
  CHECK(max_abs_diff(w0.sum({-1}), ones({1, 4, 3})) < 1e-6);
}

TEST_CASE("sdpa: bad input raises clear errors") {
  Tensor q = randn({2, 3, 4}), k = randn({2, 5, 4}), v = randn({2, 5, 6});
  CHECK_THROWS_AS(F::scaled_dot_product_attention(q, randn({2, 5, 3}), v), ValueError);
  CHECK_THROWS_AS(F::scaled_dot_product_attention(q, k, randn({2, 4, 6})), ValueError);
  CHECK_THROWS_AS(F::scaled_dot_product_attention(q, k, v, ones({3, 5}, DType::Bool), 0.0, true), RuntimeError);
  CHECK_THROWS_AS(F::scaled_dot_product_attention(q, k, v, ones({3, 4}, DType::Bool)), ValueError);
  CHECK_THROWS_AS(F::scaled_dot_product_attention(q, k, v, ones({3, 5}, DType::Int64)), TypeError);
  CHECK_THROWS_AS(F::scaled_dot_product_attention(q, k.to(DType::Float64), v), TypeError);
  CHECK_THROWS_AS(F::scaled_dot_product_attention(randn({3, 3, 4}), k, v), ValueError);
  CHECK_THROWS_AS(F::scaled_dot_product_attention(q, k, v, Tensor(), 1.5), ValueError);
  try {
    F::scaled_dot_product_attention(q, k, v, ones({3, 4}, DType::Bool));
  } catch (const ValueError& e) {
    CHECK(std::string(e.what()).find("[3, 4]") != std::string::npos);
  }
}

// MultiheadAttention reads q, k, v as [N, H, L, hd] views of one packed [N, L, 3E]
// projection. The fused kernel writes its output and the gradients in the inputs'
// memory order, so merging the heads back ([N, L, E]) is a view, not a copy, and
// the gradients come back in the projection's order; values match the math path.
TEST_CASE("sdpa: output and gradients follow the inputs' memory order") {
  manual_seed(11);
  const int64_t N = 2, L = 5, H = 3, hd = 4, E = H * hd;
  Tensor proj = randn({N, L, 3 * E}, DType::Float64).requires_grad_();
  auto heads = [&](int64_t part) { return unflatten(proj.narrow(-1, part * E, E), 2, {H, hd}).permute({0, 2, 1, 3}); };
  Tensor q = heads(0), k = heads(1), v = heads(2);
  Tensor o = F::scaled_dot_product_attention(q, k, v, Tensor(), 0.0, true);
  // [N, H, L, hd] laid out as [N, L, H, hd]
  CHECK(o.stride(0) == L * E);
  CHECK(o.stride(2) == E);
  CHECK(o.stride(1) == hd);
  CHECK(o.stride(3) == 1);
  Tensor merged = o.permute({0, 2, 1, 3}).reshape({N, L, E});
  CHECK(merged.raw_data() == o.raw_data());  // a view
  // A non-contiguous upstream gradient (a transposed one) and the math path's gradients.
  Tensor up = randn({N, L, H, hd}, DType::Float64).permute({0, 2, 1, 3});
  Tensor g_fused = autograd::grad({o}, {proj}, {up})[0];
  Tensor om = F::scaled_dot_product_attention_math(q, k, v, Tensor(), 0.0, true);
  CHECK(max_abs_diff(o, om) < 1e-12);
  Tensor g_math = autograd::grad({om}, {proj}, {up})[0];
  CHECK(max_abs_diff(g_fused, g_math) < 1e-12);
  // The gradient of q alone keeps q's order.
  Tensor q2 = q.detach().requires_grad_();
  Tensor dq = autograd::grad({F::scaled_dot_product_attention(q2, k.detach(), v.detach())}, {q2}, {up})[0];
  CHECK(dq.stride(2) > dq.stride(1));
}
