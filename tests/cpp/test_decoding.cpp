// Incremental decoding with a key/value cache (nn/attention/transformer.h,
// MultiheadAttention::forward_cached) and greedy / beam search
// (nn/decoding/search.h). The cache is checked against the full causal
// forward; the searches against brute force over every sequence of a tiny model.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "autograd/grad_mode.h"
#include "autograd/gradcheck.h"
#include "core/ops.h"
#include "nn/nn.h"

using namespace shanshui;

namespace {
double diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  return amax(abs(a.detach().to(DType::Float64) - b.detach().to(DType::Float64))).item<double>();
}

// A decoder stack (d 16, 4 heads, 2 layers, final norm) in eval mode.
std::shared_ptr<nn::TransformerDecoder> make_decoder(bool norm_first, bool batch_first, DType dt = DType::Float32) {
  nn::TransformerDecoderLayer layer(16, 4, 32, 0.1, "relu", 1e-5, batch_first, norm_first, true, dt);
  auto dec = std::make_shared<nn::TransformerDecoder>(
      layer, 2, std::make_shared<nn::LayerNorm>(Shape{16}, 1e-5, true, true, dt));
  for (Tensor& p : dec->parameters()) {  // non-trivial norms and biases
    autograd::NoGradGuard g;
    p.copy_(p + randn(p.shape(), dt) * 0.1);
  }
  dec->eval();
  return dec;
}
}  // namespace

TEST_CASE("KV cache: step-by-step decoding equals the full causal forward (post-LN, pre-LN, layouts)") {
  for (bool norm_first : {false, true})
    for (bool batch_first : {false, true}) {
      manual_seed(norm_first * 2 + batch_first);
      const int64_t N = 3, T = 6, S = 5, d = 16;
      auto dec = make_decoder(norm_first, batch_first);
      const int64_t bd = batch_first ? 0 : 1, td = batch_first ? 1 : 0;
      Tensor tgt = batch_first ? randn({N, T, d}) : randn({T, N, d});
      Tensor mem = batch_first ? randn({N, S, d}) : randn({S, N, d});
      // Rows 1 and 2 have padded memory at the end.
      Tensor kpm = from_vector(std::vector<double>{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1}, {N, S}, DType::Bool);
      Tensor full = dec->forward(tgt, mem, nn::generate_square_subsequent_mask(T), Tensor(), Tensor(), kpm);

      auto cache = dec->init_cache(mem, kpm);
      CHECK(cache.batch_size == N);
      std::vector<Tensor> steps;
      for (int64_t i = 0; i < T; ++i) steps.push_back(dec->forward_step(tgt.narrow(td, i, 1), cache));
      CHECK(cache.length == T);
      CHECK(cache.self_attn[0].key.shape() == Shape{N, 4, T, 4});
      CHECK(diff(cat(steps, td), full) < 1e-5);

      // Several positions at once (a prompt, then single steps) give the same.
      auto c2 = dec->init_cache(mem, kpm);
      Tensor a = dec->forward_step(tgt.narrow(td, 0, 4), c2), b = dec->forward_step(tgt.narrow(td, 4, 2), c2);
      CHECK(diff(cat({a, b}, td), full) < 1e-5);
      (void)bd;
    }
}

TEST_CASE("KV cache: reorder follows batch rows; weights; bad input") {
  manual_seed(7);
  const int64_t N = 3, T = 4, S = 5, d = 16;
  auto dec = make_decoder(false, true);
  Tensor tgt = randn({N, T, d}), mem = randn({N, S, d});
  Tensor kpm = from_vector(std::vector<double>{0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, {N, S}, DType::Bool);
  auto cache = dec->init_cache(mem, kpm, /*need_weights=*/true);
  dec->forward_step(tgt.narrow(1, 0, 2), cache);
  REQUIRE(cache.cross_attn_weights.size() == 2);
  Tensor w = cache.cross_attn_weights[1];
  CHECK(w.shape() == Shape{N, 2, S});
  CHECK(amax(abs(sum(w, {-1}) - 1.0)).item<double>() < 1e-5);
  CHECK(amax(w.select(0, 0).narrow(1, 3, 2)).item<double>() == 0.0);  // padded memory gets no attention

  // Rows (2, 0, 0, 1) of the cache continue exactly as those rows of the batch.
  Tensor idx = from_vector(std::vector<int64_t>{2, 0, 0, 1}, {4});
  cache.reorder(idx);
  CHECK(cache.batch_size == 4);
  Tensor next = dec->forward_step(index_select(tgt, 0, idx).narrow(1, 2, 2), cache);
  Tensor full = dec->forward(index_select(tgt, 0, idx), index_select(mem, 0, idx), nn::generate_square_subsequent_mask(T),
                             Tensor(), Tensor(), index_select(kpm, 0, idx));
  CHECK(diff(next, full.narrow(1, 2, 2)) < 1e-5);

  CHECK_THROWS_AS(cache.reorder(from_vector(std::vector<int64_t>{4}, {1})), IndexError);
  CHECK_THROWS_AS(cache.reorder(from_vector(std::vector<double>{0}, {1})), ValueError);
  CHECK_THROWS_AS(dec->forward_step(randn({3, 1, d}), cache), ValueError);      // batch 3, cache 4
  CHECK_THROWS_AS(dec->forward_step(randn({4, d}), cache), ValueError);         // not 3-D
  CHECK_THROWS_AS(dec->init_cache(mem, kpm.narrow(1, 0, 4)), ValueError);       // mask shape
  CHECK_THROWS_AS(dec->init_cache(randn({N, S, 8})), ValueError);               // d_model
  nn::PositionalEncoding pe(d, 0.0, 8, true);
  CHECK_THROWS_AS(pe.forward(randn({1, 2, d}), 7), ValueError);  // positions 7, 8 > max_len 8
  CHECK(diff(pe.forward(zeros({1, 2, d}), 3), pe.forward(zeros({1, 5, d})).narrow(1, 3, 2)) == 0.0);
}

TEST_CASE("MultiheadAttention.forward_cached: float64 gradcheck and errors") {
  manual_seed(3);
  nn::MultiheadAttention mha(8, 2, 0.0, true, false, false, std::nullopt, std::nullopt, true, DType::Float64);
  Tensor past = randn({2, 3, 8}, DType::Float64);
  Tensor kpm = from_vector(std::vector<double>{0, 0, 0, 0, 0, 0, 0, 1, 0, 0}, {2, 5}, DType::Bool);
  auto f = [&](const std::vector<Tensor>& in) {
    nn::KeyValueCache c = mha.project_key_value(in[1], in[1]);
    return mha.forward_cached(in[0], c, true, kpm).first;
  };
  auto r = autograd::gradcheck(f, {randn({2, 2, 8}, DType::Float64).requires_grad_(), past.requires_grad_()});
  CHECK(r.ok);
  nn::KeyValueCache empty;
  CHECK_THROWS_AS(mha.forward_cached(randn({2, 1, 8}, DType::Float64), empty, false), ValueError);
  CHECK_THROWS_AS(mha.forward_cached(randn({2, 1, 6}, DType::Float64), empty, true), ValueError);
  nn::KeyValueCache c = mha.project_key_value(past, past);
  CHECK_THROWS_AS(mha.forward_cached(randn({2, 1, 8}, DType::Float64), c, true, kpm.narrow(1, 0, 3)), ValueError);
  CHECK(c.size() == 3);  // a rejected call leaves the cache as it was
  nn::MultiheadAttention biased(8, 2, 0.0, true, /*add_bias_kv=*/true);
  CHECK_THROWS_AS(biased.project_key_value(randn({3, 2, 8}), randn({3, 2, 8})), ValueError);
}

// ---- searches ------------------------------------------------------------------------------------------------

namespace {
// A tiny random "model": the next-token logits are a random table row picked
// by a hash of the whole prefix (so it is not Markov), V tokens, EOS = 2.
struct TableModel {
  int64_t V;
  std::vector<double> table;  // [M, V]
  static constexpr int64_t M = 997;
  std::vector<std::vector<int64_t>> rows;
  TableModel(int64_t V, int64_t B, double scale) : V(V), rows(size_t(B)) {
    Tensor t = randn({M, V}, DType::Float64) * scale;
    table.assign(t.data_ptr<double>(), t.data_ptr<double>() + M * V);
  }
  const double* logits(const std::vector<int64_t>& prefix) const {
    uint64_t h = 1469598103934665603ull;
    for (int64_t x : prefix) h = (h ^ uint64_t(x + 1)) * 1099511628211ull;
    return table.data() + (h % M) * V;
  }
  Tensor step(const Tensor& tokens) {
    REQUIRE(tokens.size(0) == int64_t(rows.size()));
    std::vector<double> out;
    for (size_t i = 0; i < rows.size(); ++i) {
      rows[i].push_back(tokens.data_ptr<int64_t>()[i]);
      const double* l = logits(rows[i]);
      out.insert(out.end(), l, l + V);
    }
    return from_vector(out, {int64_t(rows.size()), V}, DType::Float32);
  }
  void reorder(const Tensor& idx) {
    std::vector<std::vector<int64_t>> r;
    for (int64_t i = 0; i < idx.numel(); ++i) r.push_back(rows[size_t(idx.data_ptr<int64_t>()[i])]);
    rows = r;
  }
  // The summed log-probability of generating seq after BOS, computed directly.
  double log_prob(const std::vector<int64_t>& seq) const {
    std::vector<int64_t> prefix{1};
    double s = 0;
    for (int64_t y : seq) {
      Tensor l = log_softmax(from_vector(std::vector<float>(logits(prefix), logits(prefix) + V), {V}).to(DType::Float64), 0);
      s += l.data_ptr<double>()[y];
      prefix.push_back(y);
    }
    return s;
  }
};

nn::DecodeStepFn stepper(TableModel& m) { return [&m](const Tensor& t) { return m.step(t); }; }
nn::ReorderStateFn reorderer(TableModel& m) { return [&m](const Tensor& i) { m.reorder(i); }; }

// Every hypothesis: sequences ending in EOS (2) at any length <= L, and those of length L without EOS.
void enumerate(int64_t V, int64_t L, std::vector<int64_t>& cur, std::vector<std::vector<int64_t>>& out) {
  for (int64_t v = 0; v < V; ++v) {
    cur.push_back(v);
    if (v == 2 || int64_t(cur.size()) == L) out.push_back(cur);
    else enumerate(V, L, cur, out);
    cur.pop_back();
  }
}
std::vector<int64_t> row(const Tensor& seqs, int64_t len) {
  Tensor c = seqs.contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + len);
}
}  // namespace

TEST_CASE("beam search equals exhaustive search on a tiny model; its scores are what they claim") {
  const int64_t V = 4, L = 4, B = 2;
  for (double lp : {0.0, 1.0, -0.5}) {
    manual_seed(11);
    TableModel m(V, B, 2.0);
    nn::SearchOptions o;
    o.max_len = L;
    o.length_penalty = lp;
    o.beam_size = 256;  // V^L: nothing is ever pruned
    o.num_return_sequences = 3;
    auto r = nn::beam_search(stepper(m), reorderer(m), B, o);
    REQUIRE(r.sequences.shape()[0] == B);
    REQUIRE(r.sequences.shape()[1] == 3);
    std::vector<std::vector<int64_t>> all;
    std::vector<int64_t> cur;
    enumerate(V, L, cur, all);
    for (int64_t b = 0; b < B; ++b) {
      TableModel scorer(V, 1, 1.0);
      scorer.table = m.table;
      // The source index enters the prefix through the first model call only
      // for the batch layout; every source sees the same table, so brute force is shared.
      std::vector<std::pair<double, std::vector<int64_t>>> scored;
      for (auto& s : all)
        scored.push_back({nn::sequence_score(scorer.log_prob(s), int64_t(s.size()), lp), s});
      std::sort(scored.begin(), scored.end(), [](auto& a, auto& c) { return a.first > c.first; });
      for (int64_t k = 0; k < 3; ++k) {
        const int64_t len = r.lengths.index({b, k}).item<int64_t>();
        CHECK(row(r.sequences.select(0, b).select(0, k), len) == scored[size_t(k)].second);
        CHECK(std::abs(r.scores.index({b, k}).item<double>() - scored[size_t(k)].first) < 1e-5);
      }
    }
  }
}

TEST_CASE("beam size 1 is greedy search; wider beams score at least as high") {
  for (double lp : {0.0, 1.0, 2.0})
    for (int seed = 0; seed < 5; ++seed) {
      manual_seed(100 + seed);
      const int64_t V = 7, B = 5;
      TableModel g(V, B, 1.5), b1(V, B, 1.5), b4(V, B, 1.5);
      b1.table = b4.table = g.table;
      nn::SearchOptions o;
      o.max_len = 6;
      o.length_penalty = lp;
      auto greedy = nn::greedy_search(stepper(g), B, o);
      o.beam_size = 1;
      auto one = nn::beam_search(stepper(b1), reorderer(b1), B, o);
      CHECK(equal(one.sequences.select(1, 0), greedy.sequences));
      CHECK(diff(one.scores.select(1, 0), greedy.scores) < 1e-9);
      CHECK(equal(one.lengths.select(1, 0), greedy.lengths));
      o.beam_size = 4;
      auto four = nn::beam_search(stepper(b4), reorderer(b4), B, o);
      CHECK(amin(four.scores.select(1, 0) - greedy.scores).item<double>() >= -1e-12);
      // Greedy's claimed scores are its sequences' real scores.
      for (int64_t i = 0; i < B; ++i) {
        const int64_t len = greedy.lengths.index({i}).item<int64_t>();
        const double s = nn::sequence_score(g.log_prob(row(greedy.sequences.select(0, i), len)), len, lp);
        CHECK(std::abs(s - greedy.scores.index({i}).item<double>()) < 1e-5);
      }
    }
}

TEST_CASE("searches: EOS handling, padding, early stopping modes and bad arguments") {
  manual_seed(5);
  TableModel m(5, 3, 1.0);
  nn::SearchOptions o;
  o.max_len = 5;
  o.pad_idx = 0;
  auto g = nn::greedy_search(stepper(m), 3, o);
  for (int64_t i = 0; i < 3; ++i) {
    const int64_t len = g.lengths.index({i}).item<int64_t>();
    auto s = row(g.sequences.select(0, i), g.sequences.size(1));
    for (int64_t j = 0; j < len - 1; ++j) CHECK(s[size_t(j)] != 2);        // EOS only last
    CHECK((len == o.max_len || s[size_t(len - 1)] == 2));
    for (int64_t j = len; j < int64_t(s.size()); ++j) CHECK(s[size_t(j)] == 0);  // then padding
  }
  for (auto es : {nn::EarlyStopping::Heuristic, nn::EarlyStopping::Immediate, nn::EarlyStopping::Never}) {
    TableModel mm(5, 3, 1.0);
    mm.table = m.table;
    o.beam_size = 3;
    o.early_stopping = es;
    auto r = nn::beam_search(stepper(mm), reorderer(mm), 3, o);
    CHECK(r.scores.shape() == Shape{3, 1});
    CHECK(amin(r.scores.select(1, 0) - g.scores).item<double>() >= -1e-12);
  }
  auto bad = [&](auto edit) {
    nn::SearchOptions b;
    edit(b);
    TableModel mm(5, 2, 1.0);
    return nn::beam_search(stepper(mm), reorderer(mm), 2, b);
  };
  CHECK_THROWS_AS(bad([](auto& b) { b.beam_size = 0; }), ValueError);
  CHECK_THROWS_AS(bad([](auto& b) { b.max_len = 0; }), ValueError);
  CHECK_THROWS_AS(bad([](auto& b) { b.num_return_sequences = 5; }), ValueError);
  CHECK_THROWS_AS(bad([](auto& b) { b.eos_idx = 5; }), ValueError);  // outside the vocabulary
  CHECK_THROWS_AS(bad([](auto& b) { b.pad_idx = -1; }), ValueError);
  TableModel mm(5, 2, 1.0);
  CHECK_THROWS_AS(nn::greedy_search(stepper(mm), 0), ValueError);
  CHECK_THROWS_AS(nn::greedy_search([](const Tensor& t) { return zeros({t.size(0) + 1, 4}); }, 2), ValueError);
  CHECK_THROWS_AS(nn::greedy_search([](const Tensor& t) { return zeros({t.size(0), 4}, DType::Int64); }, 2), ValueError);
}

TEST_CASE("beam search drives a Transformer through its KV cache") {
  // The cached search's best sequence scores as the full forward says it should.
  manual_seed(21);
  const int64_t d = 16, V = 6, N = 2, S = 4;
  auto dec = make_decoder(true, true);
  nn::Embedding emb(V, d);
  nn::Linear head(d, V);
  nn::PositionalEncoding pe(d, 0.0, 16, true);
  Tensor mem = randn({N, S, d});
  auto cache = dec->init_cache(mem);
  auto step = [&](const Tensor& tok) {
    Tensor y = pe.forward(emb(tok.unsqueeze(1)), cache.length);
    return head(dec->forward_step(y, cache)).select(1, 0);
  };
  nn::SearchOptions o;
  o.max_len = 5;
  o.beam_size = 3;
  auto r = nn::beam_search(step, [&](const Tensor& i) { cache.reorder(i); }, N, o);
  autograd::NoGradGuard g;
  for (int64_t b = 0; b < N; ++b) {
    const int64_t len = r.lengths.index({b, 0}).item<int64_t>();
    Tensor seq = r.sequences.index({b, 0}).narrow(0, 0, len);
    Tensor in = cat({full({1}, 1, DType::Int64), seq.narrow(0, 0, len - 1)}, 0).unsqueeze(0);
    Tensor h = dec->forward(pe(emb(in)), mem.narrow(0, b, 1), nn::generate_square_subsequent_mask(len));
    Tensor lp = log_softmax(head(h).squeeze(0).to(DType::Float64), -1);
    const double s = sum(gather(lp, 1, seq.unsqueeze(1))).item<double>();
    CHECK(std::abs(nn::sequence_score(s, len, 1.0) - r.scores.index({b, 0}).item<double>()) < 1e-4);
  }
}
