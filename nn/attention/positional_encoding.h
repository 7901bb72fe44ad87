// Position information for attention models.
//
// PositionalEncoding: the fixed sinusoids of "Attention is all you need"
// (Vaswani et al. 2017, section 3.5),
//   PE(pos, 2i) = sin(pos / 10000^(2i/d)),  PE(pos, 2i+1) = cos(pos / 10000^(2i/d)),
// added to the input, then dropout (as the PyTorch tutorial's module). The
// table is a NON-persistent buffer "pe" [max_len, d_model]: it is recomputed
// at construction, so it stays out of state_dict and torch checkpoints of
// models without it load one-to-one.
//
// LearnedPositionalEmbedding: a trained table "weight" [max_len, d_model]
// (N(0, 0.02) init, as BERT/GPT-2), added to the input, then dropout.
//
// Both take [L, N, d] inputs ([N, L, d] with batch_first) or unbatched [L, d].
// forward(x, offset) adds the rows offset .. offset + L - 1 instead: the
// positions of the new tokens in incremental (key/value-cache) decoding.
#pragma once
#include "nn/module.h"

namespace shanshui::nn {

// The [max_len, d_model] sinusoid table (odd d_model: the last column is a sine).
Tensor sinusoidal_positional_encoding(int64_t max_len, int64_t d_model, DType dtype = DType::Float32);

class PositionalEncoding : public Module {
 public:
  PositionalEncoding(int64_t d_model, double dropout = 0.1, int64_t max_len = 5000, bool batch_first = false,
                     DType dtype = DType::Float32);
  Tensor forward(const Tensor& x) override { return forward(x, 0); }
  Tensor forward(const Tensor& x, int64_t offset);
  std::string extra_repr() const override;
  int64_t d_model, max_len;
  double dropout;
  bool batch_first;
};

class LearnedPositionalEmbedding : public Module {
 public:
  LearnedPositionalEmbedding(int64_t max_len, int64_t d_model, double dropout = 0.0, bool batch_first = false,
                             DType dtype = DType::Float32);
  Tensor forward(const Tensor& x) override { return forward(x, 0); }
  Tensor forward(const Tensor& x, int64_t offset);
  std::string extra_repr() const override;
  Tensor& weight() { return params_["weight"]; }
  int64_t max_len, d_model;
  double dropout;
  bool batch_first;
};

}  // namespace shanshui::nn
