// Greedy and beam search for any encoder-decoder that can decode one step at
// a time. The model is seen through two callables:
//
//   step(tokens)     tokens: int64 [N], the last token of each row (BOS first).
//                    Returns the next-token logits [N, V] (or log-probabilities:
//                    the search takes log_softmax, which leaves those unchanged)
//                    and advances the model's state by one position.
//   reorder(index)   index: int64 [N']; keep state rows index (new row i is old
//                    row index[i]). Beam search grows one row per source into
//                    its beams with it, follows the surviving hypotheses, and
//                    drops sources that are finished. Greedy search never calls it.
//
// With a Transformer (see nn/attention/transformer.h):
//
//   auto cache = model.decoder->init_cache(memory, src_pad);
//   auto step = [&](const Tensor& tok) {
//     Tensor y = pos->forward((*embed)(tok.unsqueeze(1)), cache.length);  // [N, 1, d], batch_first
//     return (*head)(model.decoder->forward_step(y, cache)).select(1, 0); // [N, V]
//   };
//   SearchResult r = beam_search(step, [&](const Tensor& i) { cache.reorder(i); }, N, opts);
//
// Scores are length-normalised sums of log-probabilities,
//   score = sum_t log p(y_t | y_<t, x) / length ^ length_penalty,
// with length the generated tokens, EOS included (Hugging Face's convention:
// length_penalty > 0 favours longer outputs, 0 ranks by the plain sum).
// A hypothesis ends at EOS or after max_len tokens.
//
// Beam search follows Hugging Face's BeamSearchScorer: per source, the
// 2 * beam_size best extensions of the live beams are scanned in order; an
// EOS among the first beam_size of them finishes a hypothesis, the others
// become the next beams until there are beam_size of them. A source stops when
// it has beam_size finished hypotheses and (early_stopping) Heuristic: no live
// beam's score at its current length beats the worst of them; Immediate: at
// once; Never: no live beam can beat it at any future length (an exact bound).
// With beam_size 1 and Heuristic this is greedy search. Both run under NoGradGuard.
#pragma once
#include <functional>

#include "core/tensor.h"

namespace shanshui::nn {

using DecodeStepFn = std::function<Tensor(const Tensor& tokens)>;
using ReorderStateFn = std::function<void(const Tensor& index)>;

enum class EarlyStopping { Heuristic, Immediate, Never };

struct SearchOptions {
  int64_t max_len = 50;  // generated tokens per hypothesis at most, EOS included
  int64_t bos_idx = 1, eos_idx = 2, pad_idx = 0;
  double length_penalty = 1.0;
  int64_t beam_size = 4;             // beam search only
  int64_t num_return_sequences = 1;  // beam search only: the best ones, <= beam_size
  EarlyStopping early_stopping = EarlyStopping::Heuristic;
};

struct SearchResult {
  // Greedy: [B, L]; beam: [B, num_return_sequences, L], best first. The
  // generated tokens (BOS excluded, EOS included when produced), then pad_idx.
  Tensor sequences;
  Tensor scores;   // float64 [B] / [B, R]: the length-normalised scores
  Tensor lengths;  // int64 [B] / [B, R]: the generated tokens, EOS included
};

// batch_size: the rows of the model's state when the search starts (one per source).
SearchResult greedy_search(const DecodeStepFn& step, int64_t batch_size, const SearchOptions& options = {});
SearchResult beam_search(const DecodeStepFn& step, const ReorderStateFn& reorder, int64_t batch_size,
                         const SearchOptions& options = {});

// length ^ length_penalty normalisation of a summed log-probability (the score above).
double sequence_score(double sum_log_prob, int64_t length, double length_penalty);

}  // namespace shanshui::nn
