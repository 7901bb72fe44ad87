// Internal interface between the public scaled_dot_product_attention
// (nn/functional/attention.cpp: checks, broadcasting, dispatch, composite
// path) and the fused flash-style kernel (nn/functional/attention_flash.cpp).
#pragma once
#include "core/tensor.h"

namespace shanshui::nn::functional::detail {

// Fused attention on views that already share one batch shape:
//   q [batch..., L, E], k [batch..., S, E], v [batch..., S, Ev] (last dim unit
//   stride, any other strides, broadcast batch strides allowed),
//   mask undefined or [batch..., L, S] (bool: true = attend, or float added to
//   the scores; any strides, 0 for broadcast dims).
// Returns out [batch..., L, Ev] (contiguous) and records a backward that
// recomputes the scores block by block from the saved logsumexp.
Tensor flash_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, bool is_causal,
                       double scale);

// The composite weights softmax(q k^T * scale + mask) built from
// differentiable ops, with fully masked rows set to zero (used by the
// composite path and by the fused kernel's double backward).
Tensor attention_weights(const Tensor& q, const Tensor& k, const Tensor& mask, bool is_causal, double scale);

}  // namespace shanshui::nn::functional::detail
