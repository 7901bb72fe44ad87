// Stochastic (hard) attention: the Gumbel-softmax relaxation and sampling a
// single location per query from an attention distribution ("hard attention =
// sample a single location", seed 000 section 9). Both draw from the library's
// seeded generator, so manual_seed(s) reproduces them.
#pragma once
#include <utility>

#include "core/tensor.h"

namespace shanshui::nn::functional {

// torch.nn.functional.gumbel_softmax: softmax((logits + g) / tau) along dim with
// g ~ Gumbel(0, 1). hard: the one-hot of the argmax in the forward pass and the
// soft sample's gradient in the backward (y_hard - y_soft.detach() + y_soft).
Tensor gumbel_softmax(const Tensor& logits, double tau = 1.0, bool hard = false, int64_t dim = -1);

// Hard attention: for every query (every slice along `dim` of attn_weights, a
// distribution over keys, e.g. the output of softmax) sample one key index
// with probability attn_weights. Returns (indices, weights): indices int64 with
// `dim` removed, weights the one-hot of the samples in attn_weights' shape.
// straight_through: weights = one_hot - p.detach() + p, so the gradient of
// the soft distribution reaches attn_weights (otherwise weights carry none).
std::pair<Tensor, Tensor> hard_attention(const Tensor& attn_weights, int64_t dim = -1,
                                         bool straight_through = false);

}  // namespace shanshui::nn::functional
