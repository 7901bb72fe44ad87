// Attention for recurrent encoder-decoders. Both modules take a query
// (decoder state) [B, Dq] or [B, Tq, Dq], keys (encoder states) [B, S, Dk],
// values [B, S, Dv] (default: the keys) and an optional key_padding_mask
// [B, S] (bool, True = padding, ignored: PyTorch's key_padding_mask
// convention), softmax over the S source positions, and return
// (context [B, (Tq,) Dv], weights [B, (Tq,) S]). A query row whose keys are
// all padding gets zero weights and a zero context.
//
// AdditiveAttention (Bahdanau et al. 2015): score(h_i, s) = v^T tanh(W_h h_i + W_s s),
// the split of W [h_i; s]. Parameters key_proj.weight (W_h, [A, Dk], no bias),
// query_proj.weight / .bias (W_s, [A, Dq]), v.weight ([1, A]).
// LuongAttention (Luong et al. 2015): "dot" score s^T h_i (Dq == Dk) or
// "general" score s^T W h_i with key_proj.weight W [Dq, Dk].
#pragma once
#include <memory>
#include <string>
#include <utility>

#include "nn/linear.h"
#include "nn/module.h"

namespace shanshui::nn {

class AdditiveAttention : public Module {
 public:
  // key_dim Dk, query_dim Dq, hidden_dim A (the size of the tanh layer).
  AdditiveAttention(int64_t key_dim, int64_t query_dim, int64_t hidden_dim, bool bias = true,
                    DType dtype = DType::Float32);
  std::pair<Tensor, Tensor> forward(const Tensor& query, const Tensor& keys, const Tensor& values = Tensor(),
                                    const Tensor& key_padding_mask = Tensor());
  // W_h h_i for all keys, [B, S, A]: the part of the score that does not change
  // from one decoder step to the next, so a decoder computes it once per sequence.
  Tensor project_keys(const Tensor& keys);
  // forward() with keys already projected by project_keys().
  std::pair<Tensor, Tensor> attend(const Tensor& query, const Tensor& projected_keys, const Tensor& values,
                                   const Tensor& key_padding_mask = Tensor());
  std::string extra_repr() const override;
  std::shared_ptr<Linear> key_proj, query_proj, v;
  int64_t key_dim, query_dim, hidden_dim;
};

class LuongAttention : public Module {
 public:
  // score: "dot" (query_dim must equal key_dim) or "general".
  LuongAttention(int64_t key_dim, int64_t query_dim, const std::string& score = "general",
                 DType dtype = DType::Float32);
  std::pair<Tensor, Tensor> forward(const Tensor& query, const Tensor& keys, const Tensor& values = Tensor(),
                                    const Tensor& key_padding_mask = Tensor());
  Tensor project_keys(const Tensor& keys);  // W h_i ("general") or the keys ("dot")
  std::pair<Tensor, Tensor> attend(const Tensor& query, const Tensor& projected_keys, const Tensor& values,
                                   const Tensor& key_padding_mask = Tensor());
  std::string extra_repr() const override;
  std::shared_ptr<Linear> key_proj;  // null for "dot"
  int64_t key_dim, query_dim;
  std::string score;
};

namespace functional {
// softmax over the last dim of scores [B, Tq, S] with key_padding_mask [B, S]
// (True = ignore), then context = weights @ values [B, S, Dv]. Fully masked rows give zeros.
std::pair<Tensor, Tensor> attention_context(const Tensor& scores, const Tensor& values,
                                            const Tensor& key_padding_mask);
}  // namespace functional

}  // namespace shanshui::nn
