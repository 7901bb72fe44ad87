// BERT (nn/bert): HF's parameter names and weight tying, float64 gradchecks,
// padding invariance, bad input, and the statistics of mask_tokens. The
// comparisons with Hugging Face's BertModel / BertForMaskedLM on identical
// weights are in tests/python/test_bert.py.
#include <catch2/catch.hpp>
#include <cmath>
#include <set>

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

nn::BertConfig tiny(DType dtype = DType::Float32) {
  nn::BertConfig c;
  c.vocab_size = 11;
  c.hidden_size = 8;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.intermediate_size = 12;
  c.max_position_embeddings = 6;
  c.type_vocab_size = 2;
  c.dtype = dtype;
  return c;
}

Tensor ids(const std::vector<int64_t>& v, const Shape& s) { return from_vector(v, s); }
}  // namespace

TEST_CASE("BertForMaskedLM: Hugging Face's state_dict keys, tied decoder weight and bias") {
  manual_seed(0);
  nn::BertConfig c = tiny();
  c.num_hidden_layers = 1;
  nn::BertForMaskedLM m(c);
  std::vector<std::string> k;
  for (auto& [n, t] : m.state_dict()) k.push_back(n);
  // The key list of transformers' BertForMaskedLM(BertConfig(num_hidden_layers=1)).state_dict().
  const std::string L = "bert.encoder.layer.0.";
  std::vector<std::string> want = {"bert.embeddings.word_embeddings.weight",
                                   "bert.embeddings.position_embeddings.weight",
                                   "bert.embeddings.token_type_embeddings.weight",
                                   "bert.embeddings.LayerNorm.weight",
                                   "bert.embeddings.LayerNorm.bias"};
  for (const char* s : {"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
                        "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm"}) {
    want.push_back(L + s + ".weight");
    want.push_back(L + s + ".bias");
  }
  for (const char* s : {"cls.predictions.bias", "cls.predictions.transform.dense.weight",
                        "cls.predictions.transform.dense.bias", "cls.predictions.transform.LayerNorm.weight",
                        "cls.predictions.transform.LayerNorm.bias", "cls.predictions.decoder.weight",
                        "cls.predictions.decoder.bias"})
    want.push_back(s);
  CHECK(k == want);
  // Tied: the same tensors, listed once by parameters().
  auto& pred = *m.cls->predictions;
  CHECK(pred.decoder->weight().impl() == m.bert->embeddings->word_embeddings->weight().impl());
  CHECK(pred.decoder->bias().impl() == pred.bias().impl());
  CHECK(m.parameters().size() == want.size() - 2);
  // Loading a state dict keeps the tie (values are copied in place).
  auto sd = m.state_dict();
  for (auto& [n, t] : sd) {
    autograd::NoGradGuard ng;
    t.copy_(randn(t.shape()));
  }
  nn::BertForMaskedLM m2(c);
  m2.load_state_dict(sd);
  CHECK(m2.cls->predictions->decoder->weight().impl() == m2.bert->embeddings->word_embeddings->weight().impl());
  // HF's init: N(0, 0.02) weights, zero biases and padding row, LayerNorm (1, 0).
  nn::BertModel base(tiny());
  CHECK(base.pooler);
  CHECK(amax(abs(base.embeddings->word_embeddings->weight().select(0, 0))).item<double>() == 0.0);
  CHECK(amax(abs(base.encoder->named_parameters()[1].second)).item<double>() == 0.0);  // query.bias
  CHECK(amax(abs(base.pooler->dense->weight())).item<double>() < 0.02 * 6);
  CHECK_FALSE(nn::BertModel(tiny(), false).pooler);
}

TEST_CASE("BertModel: padded keys do not change the real tokens' outputs") {
  manual_seed(1);
  nn::BertModel m(tiny());
  m.eval();
  Tensor x = ids({2, 5, 7, 3, 0, 0}, {1, 6}), tt = ids({0, 0, 1, 1, 0, 0}, {1, 6});
  Tensor mask = ids({1, 1, 1, 1, 0, 0}, {1, 6});
  auto [seq, pooled] = m.forward(x, mask, tt);
  auto [seq4, pooled4] = m.forward(x.narrow(1, 0, 4), Tensor(), tt.narrow(1, 0, 4));
  CHECK(diff(seq.narrow(1, 0, 4), seq4) < 1e-5);
  CHECK(diff(pooled, pooled4) < 1e-5);
  // A bool or float mask means the same as the int one.
  CHECK(diff(m.forward(x, ne(mask, 0), tt).first, seq) == 0.0);
  CHECK(diff(m.forward(x, mask.to(DType::Float32), tt).first, seq) == 0.0);
  // Segment ids matter; no token_type_ids means segment 0 everywhere.
  CHECK(diff(m.forward(x, mask).first, m.forward(x, mask, zeros_like(tt)).first) < 1e-6);
  CHECK(diff(m.forward(x, mask).first, seq) > 1e-3);
}

TEST_CASE("BertModel and BertForMaskedLM: float64 gradcheck of every parameter (mask, segments)") {
  manual_seed(2);
  nn::BertConfig c = tiny(DType::Float64);
  c.hidden_act = "gelu";
  nn::BertForMaskedLM mlm(c);
  mlm.eval();  // no dropout
  // Ids avoid pad_token_id 0: its embedding row gets no gradient by design (padding_idx).
  Tensor x = ids({2, 5, 7, 3, 9, 1, 4, 4, 10, 6, 8, 2}, {2, 6}), tt = ids({0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0}, {2, 6});
  Tensor mask = ids({1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0}, {2, 6});
  {
    autograd::NoGradGuard ng;  // larger weights than BERT's 0.02, so every term matters
    for (auto& p : mlm.parameters()) p.copy_(randn(p.shape(), DType::Float64) * 0.5 + (p.dim() == 1 ? 0.5 : 0.0));
  }
  auto r = autograd::gradcheck([&](const std::vector<Tensor>&) { return mlm.forward(x, mask, tt); }, mlm.parameters());
  INFO(r.message);
  CHECK(r.ok);

  nn::BertModel base(c);
  base.eval();
  {
    autograd::NoGradGuard ng;
    for (auto& p : base.parameters()) p.copy_(randn(p.shape(), DType::Float64) * 0.5 + (p.dim() == 1 ? 0.5 : 0.0));
  }
  auto r2 = autograd::gradcheck(
      [&](const std::vector<Tensor>&) {
        auto [s, p] = base.forward(x, mask, tt);
        return cat({s.reshape({-1}), p.reshape({-1})}, 0);
      },
      base.parameters());
  INFO(r2.message);
  CHECK(r2.ok);
  // The padding row of the word embedding gets no gradient even when [PAD] occurs.
  Tensor xp = ids({2, 5, 7, 0, 0, 0}, {1, 6});
  base.zero_grad();
  base.forward(xp, ne(xp, 0)).first.sum().backward();
  CHECK(amax(abs(base.embeddings->word_embeddings->weight().grad().select(0, 0))).item<double>() == 0.0);
}

TEST_CASE("BERT: bad input raises clear errors") {
  manual_seed(3);
  nn::BertConfig c = tiny();
  nn::BertForMaskedLM m(c);
  Tensor x = ids({1, 2, 3}, {1, 3});
  CHECK_THROWS_AS(m.forward(ids({1, 11, 3}, {1, 3})), IndexError);
  CHECK_THROWS_AS(m.forward(ids({1, -1, 3}, {1, 3})), IndexError);
  CHECK_THROWS_WITH(m.forward(ids({1, 11, 3}, {1, 3})), Catch::Contains("vocab_size=11"));
  CHECK_THROWS_AS(m.forward(zeros({1, 7}, DType::Int64)), ValueError);
  CHECK_THROWS_WITH(m.forward(zeros({1, 7}, DType::Int64)), Catch::Contains("max_position_embeddings"));
  CHECK_THROWS_AS(m.forward(zeros({3}, DType::Int64)), ValueError);
  CHECK_THROWS_AS(m.forward(zeros({1, 3})), TypeError);
  CHECK_THROWS_AS(m.forward(x, ones({1, 4})), ValueError);
  CHECK_THROWS_AS(m.forward(x, Tensor(), ids({0, 2, 0}, {1, 3})), IndexError);
  CHECK_THROWS_AS(m.forward(x, Tensor(), ids({0, 1}, {1, 2})), ValueError);
  nn::BertConfig bad = c;
  bad.hidden_size = 9;
  CHECK_THROWS_WITH(nn::BertModel(bad), Catch::Contains("not a multiple of the number of attention heads"));
  CHECK_THROWS_AS(nn::BertForMaskedLM(bad), ValueError);
  bad = c;
  bad.hidden_act = "mish";
  CHECK_THROWS_AS(nn::BertModel(bad), ValueError);
  bad = c;
  bad.pad_token_id = 11;
  CHECK_THROWS_AS(nn::BertModel(bad), ValueError);
}

TEST_CASE("mask_tokens: 80/10/10 fractions, special tokens, labels, seeding") {
  manual_seed(4);
  const int64_t V = 1000, MASK = 4;
  // Ids in [5, V), so an input equal to MASK can only come from the corruption.
  Tensor x = randint(5, V, {400, 500});
  Tensor special = zeros({400, 500}, DType::Bool);
  special.narrow(1, 0, 50).fill_(1);  // the first 50 positions of every row are special
  auto [inp, lab] = F::mask_tokens(x, MASK, V, 0.15, special);
  REQUIRE(inp.shape() == x.shape());
  REQUIRE(lab.dtype() == DType::Int64);
  Tensor sel = ne(lab, -100);
  const double n_eligible = 400.0 * 450.0, n_sel = sum(sel.to(DType::Float64)).item<double>();
  CHECK(std::abs(n_sel / n_eligible - 0.15) < 0.005);  // sd of the fraction ~ 0.0008
  // Selected positions keep the original id as label; unselected inputs are untouched.
  CHECK(equal(where(sel, lab, x), x));
  CHECK(equal(where(sel, x, inp), x));
  CHECK(sum(logical_and(sel, special).to(DType::Int64)).item<int64_t>() == 0);
  auto frac = [&](const Tensor& m) { return sum(logical_and(m, sel).to(DType::Float64)).item<double>() / n_sel; };
  const double to_mask = frac(eq(inp, MASK)), kept = frac(eq(inp, x));
  const double randomized = 1 - to_mask - kept;
  // A random id equals the original (or MASK) with probability 1/V: negligible at V = 1000.
  CHECK(std::abs(to_mask - 0.8) < 0.01);
  CHECK(std::abs(kept - 0.1) < 0.01);
  CHECK(std::abs(randomized - 0.1) < 0.01);
  // Random replacements cover the vocabulary, special ids included (as HF).
  Tensor rnd = where(logical_and(sel, logical_and(ne(inp, MASK), ne(inp, x))), inp, full({400, 500}, int64_t(-1)));
  CHECK(max(rnd).item<int64_t>() > V - 20);
  // Seeded: the same seed gives the same masks, another seed others; x itself is unchanged.
  Tensor x0 = x.clone();
  manual_seed(7);
  auto a = F::mask_tokens(x, MASK, V);
  manual_seed(7);
  auto b = F::mask_tokens(x, MASK, V);
  manual_seed(8);
  auto d = F::mask_tokens(x, MASK, V);
  CHECK(equal(a.first, b.first));
  CHECK(equal(a.second, b.second));
  CHECK_FALSE(equal(a.second, d.second));
  CHECK(equal(x, x0));
  // Other splits: all [MASK], or none selected.
  auto [all_mask, l1] = F::mask_tokens(x, MASK, V, 0.5, Tensor(), 1.0, 0.0);
  CHECK(equal(where(ne(l1, -100), full({400, 500}, MASK), x), all_mask));
  auto [same, l0] = F::mask_tokens(x, MASK, V, 0.0);
  CHECK(equal(same, x));
  CHECK(max(l0).item<int64_t>() == -100);
  // Bad input.
  CHECK_THROWS_AS(F::mask_tokens(x.to(DType::Float32), MASK, V), TypeError);
  CHECK_THROWS_AS(F::mask_tokens(x, V, V), ValueError);
  CHECK_THROWS_AS(F::mask_tokens(x, MASK, V, 1.5), ValueError);
  CHECK_THROWS_AS(F::mask_tokens(x, MASK, V, 0.15, zeros({3, 3}, DType::Bool)), ValueError);
  CHECK_THROWS_AS(F::mask_tokens(x, MASK, V, 0.15, Tensor(), 0.8, 0.3), ValueError);
}
