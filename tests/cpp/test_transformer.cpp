// nn/attention: MultiheadAttention, positional encodings and the Transformer
// (parameter names and layouts, mask conventions, equivalent call forms,
// float64 gradchecks, bad input). The comparisons with torch's modules on
// identical weights are in tests/python/test_transformer.py.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "autograd/grad_mode.h"
#include "autograd/gradcheck.h"
#include "core/ops.h"
#include "nn/nn.h"

using namespace shanshui;
namespace F = shanshui::nn::functional;

namespace {
double diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  return amax(abs(a.detach().to(DType::Float64) - b.detach().to(DType::Float64))).item<double>();
}
std::vector<std::string> keys(const nn::Module& m) {
  std::vector<std::string> k;
  for (auto& [n, t] : m.state_dict()) k.push_back(n);
  return k;
}
const double kInf = std::numeric_limits<double>::infinity();
}  // namespace

TEST_CASE("MultiheadAttention: torch's parameter names, shapes and init") {
  manual_seed(0);
  nn::MultiheadAttention mha(8, 2);
  CHECK(keys(mha) == std::vector<std::string>{"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"});
  CHECK(mha.in_proj_weight().shape() == Shape{24, 8});
  CHECK(amax(abs(mha.in_proj_bias())).item<double>() == 0.0);
  CHECK(amax(abs(mha.out_proj()->bias())).item<double>() == 0.0);
  // xavier_uniform_ bound sqrt(6 / (fan_in + fan_out)) = sqrt(6 / 32).
  CHECK(amax(abs(mha.in_proj_weight())).item<double>() <= std::sqrt(6.0 / 32.0));
  nn::MultiheadAttention sep(8, 2, 0.0, true, true, false, 3, 5);
  CHECK(keys(sep) == std::vector<std::string>{"q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias",
                                              "bias_k", "bias_v", "out_proj.weight", "out_proj.bias"});
  CHECK(sep.k_proj_weight().shape() == Shape{8, 3});
  CHECK(sep.v_proj_weight().shape() == Shape{8, 5});
  CHECK(sep.bias_k().shape() == Shape{1, 1, 8});
  nn::MultiheadAttention nob(8, 2, 0.0, false);
  CHECK(keys(nob) == std::vector<std::string>{"in_proj_weight", "out_proj.weight"});
  CHECK_THROWS_AS(nn::MultiheadAttention(10, 3), ValueError);
  CHECK_THROWS_AS(nn::MultiheadAttention(0, 1), ValueError);
}

TEST_CASE("MultiheadAttention: need_weights, layouts, masks and projections agree") {
  manual_seed(1);
  const int64_t L = 5, S = 6, N = 3, E = 8, H = 2;
  nn::MultiheadAttention mha(E, H);
  Tensor x = randn({L, N, E}), mem = randn({S, N, E});
  auto [o1, w1] = mha.forward(x, x, x);
  auto [o2, w2] = mha.forward(x, x, x, Tensor(), false);
  CHECK_FALSE(w2.defined());
  CHECK(diff(o1, o2) < 1e-5);
  CHECK(w1.shape() == Shape{N, L, L});
  CHECK(diff(w1.sum({-1}), ones({N, L})) < 1e-5);
  // The fused projection (query is key is value) equals three separate ones.
  auto [o3, w3] = mha.forward(x, x.clone(), x.clone());
  CHECK(diff(o1, o3) < 1e-5);
  // Per-head weights average to the returned ones.
  auto [o4, w4] = mha.forward(x, mem, mem, Tensor(), true, Tensor(), false);
  auto [o5, w5] = mha.forward(x, mem, mem);
  CHECK(w4.shape() == Shape{N, H, L, S});
  CHECK(diff(w4.mean({1}), w5) < 1e-6);
  // Unbatched input equals batch entry 1.
  auto [ou, wu] = mha.forward(x.select(1, 1), mem.select(1, 1), mem.select(1, 1));
  CHECK(diff(ou, o5.select(1, 1)) < 1e-5);
  CHECK(diff(wu, w5.select(0, 1)) < 1e-6);
  // Boolean masks (True = masked) equal float masks with -inf.
  Tensor kpm = zeros({N, S}, DType::Bool);
  kpm.index_put_({0, Slice{3, std::nullopt}}, ones({3}, DType::Bool));
  Tensor kpmf = masked_fill(zeros({N, S}), kpm, -kInf);
  Tensor am = gt(rand({L, S}), 0.7);
  am.index_put_({Slice{}, 0}, zeros({L}, DType::Bool));
  Tensor amf = masked_fill(zeros({L, S}), am, -kInf);
  for (bool nw : {true, false}) {
    auto [ob, wb] = mha.forward(x, mem, mem, kpm, nw, am);
    auto [of, wf] = mha.forward(x, mem, mem, kpmf, nw, amf);
    CHECK(diff(ob, of) < 1e-5);
    // A 3-D mask [N * H, L, S] repeating the 2-D one.
    auto [o3d, w3d] = mha.forward(x, mem, mem, kpm, nw, am.unsqueeze(0).expand({N * H, L, S}).contiguous());
    CHECK(diff(ob, o3d) < 1e-5);
    if (nw) {
      // Padded keys get zero weight.
      CHECK(amax(wb.select(0, 0).narrow(1, 3, 3)).item<double>() == 0.0);
    }
  }
  // is_causal is a hint that attn_mask is the causal mask.
  Tensor causal = nn::Transformer::generate_square_subsequent_mask(L);
  auto [oc1, wc1] = mha.forward(x, x, x, Tensor(), false, causal, true, true);
  auto [oc2, wc2] = mha.forward(x, x, x, Tensor(), true, causal);
  CHECK(diff(oc1, oc2) < 1e-5);
  CHECK_THROWS_AS(mha.forward(x, x, x, Tensor(), false, Tensor(), true, true), RuntimeError);
  // batch_first: the same module weights on transposed inputs.
  nn::MultiheadAttention bf(E, H, 0.0, true, false, false, std::nullopt, std::nullopt, true);
  bf.load_state_dict(mha.state_dict());
  auto [obf, wbf] = bf.forward(x.transpose(0, 1), mem.transpose(0, 1), mem.transpose(0, 1));
  CHECK(diff(obf.transpose(0, 1), o5) < 1e-5);
}

TEST_CASE("MultiheadAttention: bad shapes raise errors naming them") {
  nn::MultiheadAttention mha(8, 2);
  Tensor x = randn({5, 3, 8});
  CHECK_THROWS_AS(mha.forward(x, x, x, zeros({3, 4}, DType::Bool)), ValueError);
  CHECK_THROWS_AS(mha.forward(x, x, x, Tensor(), true, zeros({5, 4}, DType::Bool)), ValueError);
  CHECK_THROWS_AS(mha.forward(x, x, x, Tensor(), true, zeros({5, 5, 5}, DType::Bool)), ValueError);
  CHECK_THROWS_AS(mha.forward(randn({5, 3, 6}), x, x), ValueError);
  CHECK_THROWS_AS(mha.forward(randn({2, 5, 3, 8}), x, x), ValueError);
  CHECK_THROWS_AS(mha.forward(x, randn({5, 8}), x), ValueError);
  try {
    mha.forward(x, x, x, Tensor(), true, zeros({5, 4}, DType::Bool));
  } catch (const ValueError& e) {
    CHECK(std::string(e.what()).find("[5, 4]") != std::string::npos);
  }
}

TEST_CASE("MultiheadAttention: float64 gradcheck (fused and weights paths, bias_kv, zero_attn, kdim/vdim)") {
  manual_seed(2);
  nn::MultiheadAttention mha(4, 2, 0.0, true, true, true, 3, 5, false, DType::Float64);
  nn::MultiheadAttention self(4, 2, 0.0, true, false, false, std::nullopt, std::nullopt, false, DType::Float64);
  for (auto* m : {&mha, &self})
    for (auto& p : m->parameters()) {
      autograd::NoGradGuard ng;
      p.copy_(randn(p.shape(), DType::Float64) * 0.5);
    }
  Tensor q = randn({3, 2, 4}, DType::Float64).requires_grad_(), k = randn({4, 2, 3}, DType::Float64).requires_grad_(),
         v = randn({4, 2, 5}, DType::Float64).requires_grad_();
  Tensor kpm = zeros({2, 4}, DType::Bool);
  kpm.index_put_({1, 3}, ones({}, DType::Bool));
  for (bool nw : {true, false}) {
    auto r = autograd::gradcheck([&](const std::vector<Tensor>& x) { return mha.forward(x[0], x[1], x[2], kpm, nw).first; },
                                 {q, k, v});
    INFO(r.message);
    CHECK(r.ok);
    Tensor w = mha.in_proj_bias();
    auto r2 = autograd::gradcheck([&](const std::vector<Tensor>& x) { return self.forward(x[0], x[0], x[0], Tensor(), nw).first; },
                                  {q});
    INFO(r2.message);
    CHECK(r2.ok);
  }
  // Gradients reach every parameter.
  auto [o, w] = mha.forward(q, k, v, kpm);
  o.sum().backward();
  for (auto& [n, p] : mha.named_parameters()) {
    INFO(n);
    CHECK(p.grad().defined());
  }
}

TEST_CASE("MultiheadAttention batch_first: same values as seq-first, float64 gradcheck through the packed q/k/v split") {
  manual_seed(5);
  nn::MultiheadAttention bf(4, 2, 0.0, true, false, false, std::nullopt, std::nullopt, true, DType::Float64);
  nn::MultiheadAttention sf(4, 2, 0.0, true, false, false, std::nullopt, std::nullopt, false, DType::Float64);
  sf.load_state_dict(bf.state_dict());
  Tensor x = randn({2, 3, 4}, DType::Float64).requires_grad_(), m = randn({2, 5, 4}, DType::Float64).requires_grad_();
  for (bool nw : {true, false}) {
    // Self-attention (one packed GEMM, three views) and key = value (two views).
    CHECK(allclose(bf.forward(x, x, x, Tensor(), nw).first, sf.forward(x.transpose(0, 1), x.transpose(0, 1),
                                                                       x.transpose(0, 1), Tensor(), nw).first.transpose(0, 1)));
    CHECK(allclose(bf.forward(x, m, m, Tensor(), nw).first, sf.forward(x.transpose(0, 1), m.transpose(0, 1),
                                                                       m.transpose(0, 1), Tensor(), nw).first.transpose(0, 1)));
    std::vector<Tensor> in{x, m, bf.in_proj_weight(), bf.in_proj_bias()};  // the module's own tensors, perturbed in place
    auto r = autograd::gradcheck([&](const std::vector<Tensor>& v) { return bf.forward(v[0], v[0], v[0], Tensor(), nw).first; }, in);
    INFO(r.message);
    CHECK(r.ok);
    auto r2 = autograd::gradcheck([&](const std::vector<Tensor>& v) { return bf.forward(v[0], v[1], v[1], Tensor(), nw).first; }, in);
    INFO(r2.message);
    CHECK(r2.ok);
  }
}

TEST_CASE("Positional encodings") {
  Tensor pe = nn::sinusoidal_positional_encoding(50, 6, DType::Float64);
  // PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)).
  for (int64_t pos : {0, 1, 7, 49})
    for (int64_t i = 0; i < 3; ++i) {
      double a = double(pos) / std::pow(10000.0, double(2 * i) / 6.0);
      CHECK(pe.index({pos, 2 * i}).item<double>() == Approx(std::sin(a)).epsilon(1e-12).margin(1e-12));
      CHECK(pe.index({pos, 2 * i + 1}).item<double>() == Approx(std::cos(a)).epsilon(1e-12).margin(1e-12));
    }
  CHECK(nn::sinusoidal_positional_encoding(4, 5).shape() == Shape{4, 5});
  nn::PositionalEncoding enc(6, 0.1, 50);
  enc.eval();
  CHECK(enc.state_dict().empty());  // non-persistent buffer
  Tensor x = randn({7, 2, 6});
  CHECK(diff(enc.forward(x), x + pe.narrow(0, 0, 7).unsqueeze(1)) < 1e-6);
  nn::PositionalEncoding encb(6, 0.0, 50, true);
  CHECK(diff(encb.forward(x.transpose(0, 1)), (x + pe.narrow(0, 0, 7).unsqueeze(1)).transpose(0, 1)) < 1e-6);
  CHECK_THROWS_AS(enc.forward(randn({51, 2, 6})), ValueError);
  nn::LearnedPositionalEmbedding lp(10, 6);
  CHECK(keys(lp) == std::vector<std::string>{"weight"});
  Tensor y = lp.forward(x);
  y.sum().backward();
  CHECK(diff(lp.weight().grad().narrow(0, 0, 7), full({7, 6}, 2.0)) < 1e-6);
  CHECK(amax(abs(lp.weight().grad().narrow(0, 7, 3))).item<double>() == 0.0);
}

TEST_CASE("Transformer: torch's submodule names and mask helper") {
  manual_seed(3);
  nn::Transformer t(8, 2, 1, 1, 16, 0.1);
  auto k = keys(t);
  std::vector<std::string> expect_prefix{
      "encoder.layers.0.self_attn.in_proj_weight", "encoder.layers.0.self_attn.in_proj_bias",
      "encoder.layers.0.self_attn.out_proj.weight", "encoder.layers.0.self_attn.out_proj.bias",
      "encoder.layers.0.linear1.weight", "encoder.layers.0.linear1.bias", "encoder.layers.0.linear2.weight",
      "encoder.layers.0.linear2.bias", "encoder.layers.0.norm1.weight", "encoder.layers.0.norm1.bias",
      "encoder.layers.0.norm2.weight", "encoder.layers.0.norm2.bias", "encoder.norm.weight", "encoder.norm.bias",
      "decoder.layers.0.self_attn.in_proj_weight"};
  REQUIRE(k.size() >= expect_prefix.size());
  CHECK(std::vector<std::string>(k.begin(), k.begin() + long(expect_prefix.size())) == expect_prefix);
  CHECK(k.back() == "decoder.norm.bias");
  CHECK(std::find(k.begin(), k.end(), "decoder.layers.0.multihead_attn.in_proj_weight") != k.end());
  CHECK(std::find(k.begin(), k.end(), "decoder.layers.0.norm3.weight") != k.end());
  Tensor m = nn::Transformer::generate_square_subsequent_mask(3);
  CHECK(m.index({0, 1}).item<double>() == -kInf);
  CHECK(m.index({1, 1}).item<double>() == 0.0);
  CHECK(m.index({2, 0}).item<double>() == 0.0);
  // Stacks copy the layer: every layer starts with the same weights.
  nn::TransformerEncoderLayer layer(8, 2, 16);
  nn::TransformerEncoder enc(layer, 2);
  auto sd = enc.state_dict();
  CHECK(equal(sd[0].second, layer.self_attn->in_proj_weight()));
  CHECK_THROWS_AS(nn::TransformerEncoderLayer(8, 2, 16, 0.1, "tanh"), ValueError);
  CHECK_THROWS_AS(t.forward(randn({4, 2, 8}), randn({3, 3, 8})), RuntimeError);
}

TEST_CASE("Transformer layers: causal hint, post-LN and pre-LN, float64 gradcheck") {
  manual_seed(4);
  for (bool norm_first : {false, true}) {
    nn::TransformerEncoderLayer enc(4, 2, 8, 0.0, "gelu", 1e-5, false, norm_first, true, DType::Float64);
    nn::TransformerDecoderLayer dec(4, 2, 8, 0.0, "relu", 1e-5, false, norm_first, true, DType::Float64);
    Tensor src = randn({3, 2, 4}, DType::Float64).requires_grad_(), tgt = randn({4, 2, 4}, DType::Float64).requires_grad_();
    Tensor tm = nn::generate_square_subsequent_mask(4, DType::Float64);
    Tensor a = dec.forward(tgt, src, tm), b = dec.forward(tgt, src, tm, Tensor(), Tensor(), Tensor(), true);
    CHECK(diff(a, b) < 1e-12);
    auto r = autograd::gradcheck(
        [&](const std::vector<Tensor>& x) { return dec.forward(x[1], enc.forward(x[0], Tensor()), tm); }, {src, tgt});
    INFO(r.message);
    CHECK(r.ok);
  }
}
