// Greedy and beam search (see search.h). The model runs batched, one call of
// step() per position for all sources and beams; the bookkeeping (choosing
// candidates, finishing hypotheses) is plain C++ on the log-probabilities,
// which are small next to the model's work.
#include "nn/decoding/search.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "autograd/grad_mode.h"
#include "core/ops.h"

namespace shanshui::nn {

namespace {

void check_options(const SearchOptions& o, int64_t batch_size, bool beam, const char* op) {
  SS_CHECK(batch_size >= 1, ValueError, op, ": batch_size must be at least 1, got ", batch_size);
  SS_CHECK(o.max_len >= 1, ValueError, op, ": max_len must be at least 1, got ", o.max_len);
  SS_CHECK(o.bos_idx >= 0 && o.eos_idx >= 0 && o.pad_idx >= 0, ValueError, op,
           ": bos_idx, eos_idx and pad_idx must be token ids >= 0, got ", o.bos_idx, ", ", o.eos_idx, " and ",
           o.pad_idx);
  SS_CHECK(std::isfinite(o.length_penalty), ValueError, op, ": length_penalty must be finite, got ", o.length_penalty);
  if (!beam) return;
  SS_CHECK(o.beam_size >= 1, ValueError, op, ": beam_size must be at least 1, got ", o.beam_size);
  SS_CHECK(o.num_return_sequences >= 1 && o.num_return_sequences <= o.beam_size, ValueError, op,
           ": num_return_sequences must be in [1, beam_size=", o.beam_size, "], got ", o.num_return_sequences);
}

// Run one step and return its log-probabilities, row-major [rows, V], checking what step() gave back.
std::vector<double> step_log_probs(const DecodeStepFn& step, const std::vector<int64_t>& tokens, int64_t& vocab,
                                   const SearchOptions& o, const char* op) {
  const int64_t rows = int64_t(tokens.size());
  Tensor logits = step(from_vector(tokens, {rows}));
  SS_CHECK(logits.defined() && logits.dim() == 2 && logits.size(0) == rows && logits.is_floating_point(), ValueError,
           op, ": step(tokens [", rows, "]) must return floating logits [", rows, ", V], got ",
           logits.defined() ? dtype_name(logits.dtype()) : "None", " ", logits.defined() ? logits.shape() : Shape{});
  if (vocab < 0) {
    vocab = logits.size(1);
    SS_CHECK(vocab >= 1 && o.eos_idx < vocab, ValueError, op, ": eos_idx ", o.eos_idx,
             " is not a token of the model's vocabulary of ", vocab);
  }
  SS_CHECK(logits.size(1) == vocab, ValueError, op, ": step returned ", logits.size(1),
           " logits per row after returning ", vocab, " before");
  Tensor lp = log_softmax(logits.to(DType::Float64), -1).contiguous();
  const double* p = lp.data_ptr<double>();
  return std::vector<double>(p, p + rows * vocab);
}

struct Finished {
  double score;
  std::vector<int64_t> tokens;
};
struct Live {
  int64_t src;
  double sum;
  std::vector<int64_t> tokens;
};

// Keep the best `keep` finished hypotheses, best first (ties: the earlier one first).
void add_finished(std::vector<Finished>& f, Finished h, int64_t keep) {
  auto at = std::upper_bound(f.begin(), f.end(), h.score, [](double s, const Finished& x) { return s > x.score; });
  f.insert(at, std::move(h));
  if (int64_t(f.size()) > keep) f.resize(size_t(keep));
}

// The best score a live beam with summed log-probability `sum` at length
// `len` could still reach by max_len (sums only fall: log p <= 0).
double best_reachable(double sum, int64_t len, const SearchOptions& o) {
  if (o.length_penalty > 0) return sequence_score(sum, o.max_len, o.length_penalty);
  return sequence_score(sum, std::min(len + 1, o.max_len), o.length_penalty);
}

Tensor pack(const std::vector<std::vector<int64_t>>& seqs, Shape shape, int64_t pad) {
  int64_t L = 0;
  for (const auto& s : seqs) L = std::max<int64_t>(L, int64_t(s.size()));
  std::vector<int64_t> flat(seqs.size() * size_t(L), pad);
  for (size_t i = 0; i < seqs.size(); ++i) std::copy(seqs[i].begin(), seqs[i].end(), flat.begin() + i * size_t(L));
  shape.push_back(L);
  return from_vector(flat, shape);
}

}  // namespace

double sequence_score(double sum_log_prob, int64_t length, double length_penalty) {
  return sum_log_prob / std::pow(double(std::max<int64_t>(length, 1)), length_penalty);
}

SearchResult greedy_search(const DecodeStepFn& step, int64_t B, const SearchOptions& o) {
  const char* op = "greedy_search";
  check_options(o, B, false, op);
  autograd::NoGradGuard no_grad;
  std::vector<int64_t> tokens(size_t(B), o.bos_idx);
  std::vector<double> sums(size_t(B), 0.0);
  std::vector<std::vector<int64_t>> seqs(static_cast<size_t>(B));
  std::vector<bool> done(size_t(B), false);
  int64_t V = -1;
  for (int64_t t = 0; t < o.max_len; ++t) {
    std::vector<double> lp = step_log_probs(step, tokens, V, o, op);
    bool all_done = true;
    for (int64_t b = 0; b < B; ++b) {
      if (done[size_t(b)]) continue;
      const double* row = lp.data() + b * V;
      const int64_t v = std::max_element(row, row + V) - row;  // the first maximum, as argmax
      sums[size_t(b)] += row[v];
      seqs[size_t(b)].push_back(v);
      done[size_t(b)] = v == o.eos_idx;
      tokens[size_t(b)] = done[size_t(b)] ? o.pad_idx : v;  // finished rows are fed padding
      all_done = all_done && done[size_t(b)];
    }
    if (all_done) break;
  }
  std::vector<double> scores;
  std::vector<int64_t> lengths;
  for (int64_t b = 0; b < B; ++b) {
    lengths.push_back(int64_t(seqs[size_t(b)].size()));
    scores.push_back(sequence_score(sums[size_t(b)], lengths.back(), o.length_penalty));
  }
  return {pack(seqs, {B}, o.pad_idx), from_vector(scores, {B}, DType::Float64), from_vector(lengths, {B})};
}

SearchResult beam_search(const DecodeStepFn& step, const ReorderStateFn& reorder, int64_t B, const SearchOptions& o) {
  const char* op = "beam_search";
  check_options(o, B, true, op);
  SS_CHECK(bool(step) && bool(reorder), ValueError, op, ": step and reorder must be callables");
  autograd::NoGradGuard no_grad;
  const int64_t K = o.beam_size;
  std::vector<Live> rows;  // the model's state rows, grouped by source
  for (int64_t b = 0; b < B; ++b) rows.push_back({b, 0.0, {}});
  std::vector<std::vector<Finished>> finished(static_cast<size_t>(B));
  int64_t V = -1;
  for (int64_t t = 0; t < o.max_len && !rows.empty(); ++t) {
    std::vector<int64_t> tokens;
    for (const Live& r : rows) tokens.push_back(r.tokens.empty() ? o.bos_idx : r.tokens.back());
    const std::vector<double> lp = step_log_probs(step, tokens, V, o, op);
    const int64_t len = t + 1;  // of every hypothesis extended at this step
    std::vector<Live> next;
    std::vector<int64_t> parent;
    std::vector<std::pair<double, int64_t>> cand;
    for (size_t r0 = 0; r0 < rows.size();) {
      size_t r1 = r0;
      while (r1 < rows.size() && rows[r1].src == rows[r0].src) ++r1;
      const int64_t s = rows[r0].src;
      cand.clear();
      for (size_t r = r0; r < r1; ++r)
        for (int64_t v = 0; v < V; ++v) cand.emplace_back(rows[r].sum + lp[r * size_t(V) + size_t(v)], int64_t(r - r0) * V + v);
      // At most one EOS per live beam, so 2K candidates hold K that go on (when that many exist).
      const size_t m = std::min(cand.size(), size_t(2 * K));
      std::partial_sort(cand.begin(), cand.begin() + m, cand.end(),
                        [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
      const size_t first = next.size();
      for (size_t i = 0; i < m && int64_t(next.size() - first) < K; ++i) {
        const size_t r = r0 + size_t(cand[i].second / V);
        const int64_t v = cand[i].second % V;
        std::vector<int64_t> toks = rows[r].tokens;
        toks.push_back(v);
        if (v == o.eos_idx) {
          // Only an EOS among the K best candidates finishes a hypothesis (HF's rule; it makes beam 1 greedy).
          if (int64_t(i) < K) add_finished(finished[size_t(s)], {sequence_score(cand[i].first, len, o.length_penalty), std::move(toks)}, K);
          continue;
        }
        next.push_back({s, cand[i].first, std::move(toks)});
        parent.push_back(int64_t(r));
      }
      bool done = next.size() == first;
      if (!done && len == o.max_len) {
        for (size_t i = first; i < next.size(); ++i)
          add_finished(finished[size_t(s)], {sequence_score(next[i].sum, len, o.length_penalty), next[i].tokens}, K);
        done = true;
      } else if (!done && int64_t(finished[size_t(s)].size()) >= K) {
        const double worst = finished[size_t(s)].back().score, best = next[first].sum;
        switch (o.early_stopping) {
          case EarlyStopping::Immediate: done = true; break;
          case EarlyStopping::Heuristic: done = worst >= sequence_score(best, len, o.length_penalty); break;
          case EarlyStopping::Never: done = worst >= best_reachable(best, len, o); break;
        }
      }
      if (done) {
        next.resize(first);
        parent.resize(first);
      }
      r0 = r1;
    }
    bool identity = parent.size() == rows.size();
    for (size_t i = 0; identity && i < parent.size(); ++i) identity = parent[i] == int64_t(i);
    rows = std::move(next);
    if (!rows.empty() && !identity) reorder(from_vector(parent, {int64_t(parent.size())}));
  }
  const int64_t R = o.num_return_sequences;
  std::vector<std::vector<int64_t>> seqs;
  std::vector<double> scores;
  std::vector<int64_t> lengths;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < R; ++i) {
      // A source can end with fewer than R hypotheses only when (nearly) every token is EOS.
      const bool have = i < int64_t(finished[size_t(b)].size());
      seqs.push_back(have ? finished[size_t(b)][size_t(i)].tokens : std::vector<int64_t>{});
      scores.push_back(have ? finished[size_t(b)][size_t(i)].score : -std::numeric_limits<double>::infinity());
      lengths.push_back(int64_t(seqs.back().size()));
    }
  return {pack(seqs, {B, R}, o.pad_idx), from_vector(scores, {B, R}, DType::Float64), from_vector(lengths, {B, R})};
}

}  // namespace shanshui::nn
