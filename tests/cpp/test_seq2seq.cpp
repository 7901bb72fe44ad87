// The recurrent encoder-decoder: shapes, attention weights, teacher forcing
// equals step-by-step decoding, and a tiny model with attention learns to
// reverse sequences (exact match on sequences it has not seen).
#include <catch2/catch.hpp>
#include <chrono>

#include "autograd/grad_mode.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "nn/nn.h"
#include "optim/optim.h"

using namespace shanshui;
namespace F = shanshui::nn::functional;

namespace {
constexpr int64_t PAD = 0, BOS = 1, EOS = 2, FIRST = 3;

// src: random tokens in [FIRST, FIRST + n); tgt_in = BOS + reversed; tgt_out = reversed + EOS.
struct Batch {
  Tensor src, tgt_in, tgt_out;
};
Batch reverse_batch(int64_t B, int64_t L, int64_t n) {
  Tensor src = randint(FIRST, FIRST + n, {B, L});
  std::vector<int64_t> s(size_t(B * L)), ti(size_t(B * (L + 1))), to(size_t(B * (L + 1)));
  auto sv = to_vector(src);
  for (int64_t b = 0; b < B; ++b) {
    ti[size_t(b * (L + 1))] = BOS;
    for (int64_t i = 0; i < L; ++i) {
      int64_t tok = int64_t(sv[size_t(b * L + L - 1 - i)]);
      ti[size_t(b * (L + 1) + i + 1)] = tok;
      to[size_t(b * (L + 1) + i)] = tok;
    }
    to[size_t(b * (L + 1) + L)] = EOS;
  }
  return {src, from_vector(ti, {B, L + 1}), from_vector(to, {B, L + 1})};
}
}  // namespace

TEST_CASE("Seq2Seq shapes, teacher forcing equals stepwise decoding, and the no-attention variant") {
  manual_seed(30);
  for (bool attn : {true, false}) {
    nn::Seq2SeqOptions o{9, 11};
    o.embed_dim = 8;
    o.hidden_size = 6;
    o.attention_dim = 5;
    o.attention = attn;
    nn::Seq2Seq model(o);
    Tensor src = randint(3, 9, {2, 4}), tgt = randint(3, 11, {2, 3});
    auto [logits, w] = model.forward(src, tgt);
    CHECK(logits.shape() == Shape{2, 3, 11});
    CHECK(w.defined() == attn);
    if (attn) {
      CHECK(w.shape() == Shape{2, 3, 4});
      CHECK(allclose(w.sum({-1}), ones({2, 3}), 1e-5, 1e-6));
    }
    auto mem = model.encode(src);
    Tensor s = mem.state;
    for (int64_t t = 0; t < 3; ++t) {
      auto st = model.decode_step(mem, tgt.select(1, t), s);
      s = st.state;
      CHECK(allclose(st.logits, logits.select(1, t), 1e-5, 1e-6));
      if (attn) CHECK(allclose(st.weights, w.select(1, t), 1e-5, 1e-6));
    }
    auto [tokens, gw] = model.greedy_decode(src, 5);
    CHECK(tokens.size(0) == 2);
    CHECK(tokens.size(1) <= 5);
    CHECK(gw.defined() == attn);
    (logits.sum()).backward();
    for (auto& [name, p] : model.named_parameters()) {
      INFO(name);
      CHECK(p.grad().defined());
    }
  }
  nn::Seq2SeqOptions o{5, 5};
  nn::Seq2Seq model(o);
  CHECK_THROWS_AS(model.forward(randint(0, 9, {2, 4}), randint(0, 5, {2, 3})), IndexError);
  CHECK_THROWS_AS(model.forward(randint(0, 5, {2, 4}), randint(0, 5, {3, 3})), ValueError);
  CHECK_THROWS_AS(model.forward(randn({2, 4}), randint(0, 5, {2, 3})), TypeError);
}

TEST_CASE("source padding gets no attention") {
  manual_seed(31);
  nn::Seq2SeqOptions o{9, 9};
  o.hidden_size = 8;
  nn::Seq2Seq model(o);
  Tensor src = from_vector(std::vector<int64_t>{3, 4, 5, 0, 0, 6, 7, 8, 3, 4}, {2, 5});
  auto [logits, w] = model.forward(src, randint(3, 9, {2, 3}));
  CHECK(w.select(0, 0).narrow(1, 3, 2).abs().sum().item<double>() == 0.0);
  CHECK(allclose(w.sum({-1}), ones({2, 3}), 1e-5, 1e-6));
}

TEST_CASE("Seq2Seq with additive attention learns to reverse sequences") {
  manual_seed(32);
  // One thread: every op here is tiny, and on a loaded two-core machine an
  // OpenMP fork per op costs far more than it saves (measured 3.6 s vs 59 s).
  const int threads = get_num_threads();
  set_num_threads(1);
  const int64_t L = 6, n = 8;
  nn::Seq2SeqOptions o{FIRST + n, FIRST + n};
  o.embed_dim = 16;
  o.hidden_size = 32;
  o.attention_dim = 32;
  nn::Seq2Seq model(o);
  optim::Adam opt(model.parameters(), {.lr = 1e-2});
  auto t0 = std::chrono::steady_clock::now();
  double loss_v = 0;
  for (int step = 0; step < 250; ++step) {
    Batch b = reverse_batch(32, L, n);
    auto [logits, w] = model.forward(b.src, b.tgt_in);
    Tensor loss = F::cross_entropy(logits.reshape({-1, o.tgt_vocab}), b.tgt_out.reshape({-1}));
    opt.zero_grad();
    loss.backward();
    opt.step();
    loss_v = loss.item<double>();
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  model.eval();
  Batch test = reverse_batch(200, L, n);
  auto [tokens, w] = model.greedy_decode(test.src, L + 1);
  REQUIRE(tokens.size(1) == L + 1);
  // Exact match of the whole output sequence (including EOS).
  double acc = amin(eq(tokens, test.tgt_out).to(DType::Float32), {1}).mean().item<double>();
  INFO("final training loss " << loss_v << ", " << secs << " s, exact match " << acc);
  WARN("reverse task: " << secs << " s of training, exact match " << acc);
  set_num_threads(threads);
  CHECK(acc >= 0.95);
}
