// Scaled dot-product attention (torch.nn.functional.scaled_dot_product_attention).
//
//   softmax(q k^T * scale + mask) v,   q [..., L, E], k [..., S, E], v [..., S, Ev] -> [..., L, Ev]
//
// attn_mask broadcasts to [..., L, S]: bool (true = attend) or float of q's
// dtype (added to the scores). is_causal hides key j from query i when j > i
// (top-left aligned, as torch; it cannot be combined with attn_mask). Batch
// dims of q, k and v broadcast. scale defaults to 1/sqrt(E). enable_gqa lets
// k and v have fewer heads (dim -3) than q, each shared by a group of query heads.
//
// Without dropout this runs the fused flash-style kernel (attention_flash.cpp);
// with dropout_p > 0, or a float mask that requires grad, the composite path
// (matmul, softmax, dropout, matmul). Dropout is applied whenever dropout_p > 0,
// as torch (modules pass 0 in eval mode).
//
// A query row whose keys are all masked gets zero output and zero gradient
// (not NaN), on both paths; recent torch versions do the same.
#pragma once
#include <optional>
#include <utility>

#include "core/tensor.h"

namespace shanshui::nn::functional {

Tensor scaled_dot_product_attention(const Tensor& query, const Tensor& key, const Tensor& value,
                                    const Tensor& attn_mask = Tensor(), double dropout_p = 0.0,
                                    bool is_causal = false, std::optional<double> scale = std::nullopt,
                                    bool enable_gqa = false);

// The same, returning (output, attention weights [..., L, S]) for inspection
// and visualisation; always the composite path. The weights are the ones
// multiplied with v, i.e. after dropout, as torch's MultiheadAttention returns them.
std::pair<Tensor, Tensor> scaled_dot_product_attention_with_weights(
    const Tensor& query, const Tensor& key, const Tensor& value, const Tensor& attn_mask = Tensor(),
    double dropout_p = 0.0, bool is_causal = false, std::optional<double> scale = std::nullopt,
    bool enable_gqa = false);

// The two implementations, for testing and benchmarking (torch's internal
// _scaled_dot_product_attention_math and the flash kernel). The fused one
// does not take dropout.
Tensor scaled_dot_product_attention_math(const Tensor& query, const Tensor& key, const Tensor& value,
                                         const Tensor& attn_mask = Tensor(), double dropout_p = 0.0,
                                         bool is_causal = false, std::optional<double> scale = std::nullopt,
                                         bool enable_gqa = false);
Tensor scaled_dot_product_attention_flash(const Tensor& query, const Tensor& key, const Tensor& value,
                                          const Tensor& attn_mask = Tensor(), bool is_causal = false,
                                          std::optional<double> scale = std::nullopt, bool enable_gqa = false);

}  // namespace shanshui::nn::functional
