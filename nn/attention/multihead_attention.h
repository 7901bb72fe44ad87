// nn::MultiheadAttention, as torch.nn.MultiheadAttention: the same arguments,
// defaults, parameter names and layouts (in_proj_weight [3E, E] packing q, k, v
// in that order, in_proj_bias [3E], out_proj a Linear child; q_proj_weight,
// k_proj_weight, v_proj_weight [E, E], [E, kdim], [E, vdim] instead when kdim or
// vdim differ from embed_dim; bias_k, bias_v [1, 1, E] with add_bias_kv), so a
// torch state_dict loads one-to-one.
//
// forward(query, key, value, key_padding_mask, need_weights, attn_mask,
// average_attn_weights, is_causal) -> (output, weights or undefined), with
// torch's mask conventions (which are the opposite of scaled_dot_product_attention's):
//   key_padding_mask [N, S] (or [S] unbatched): bool True = ignore this key, or float added;
//   attn_mask [L, S] or [N * num_heads, L, S]: bool True = not allowed, or float added;
//   is_causal: a hint that attn_mask is the causal mask (it must be given, as torch).
// Inputs are [L, N, E] ([N, L, E] with batch_first) or unbatched [L, E].
// need_weights=false takes the fused attention kernel; need_weights=true the
// composite path, returning the weights averaged over heads [N, L, S] (or per
// head [N, num_heads, L, S]). Rows whose keys are all masked give zeros, not
// NaN as in torch's need_weights path.
// When query, key and value are the same tensor the q, k, v projection is one GEMM.
#pragma once
#include <memory>
#include <optional>
#include <utility>

#include "nn/linear.h"
#include "nn/module.h"

namespace shanshui::nn {

class MultiheadAttention : public Module {
 public:
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, double dropout = 0.0, bool bias = true,
                     bool add_bias_kv = false, bool add_zero_attn = false, std::optional<int64_t> kdim = std::nullopt,
                     std::optional<int64_t> vdim = std::nullopt, bool batch_first = false,
                     DType dtype = DType::Float32);

  std::pair<Tensor, Tensor> forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                    const Tensor& key_padding_mask = Tensor(), bool need_weights = true,
                                    const Tensor& attn_mask = Tensor(), bool average_attn_weights = true,
                                    bool is_causal = false);
  using Module::forward;
  void reset_parameters();
  std::string extra_repr() const override;

  // Read from the registry on each call, so load_state_dict and re-assignment are seen.
  Tensor in_proj_weight() const { return params_["in_proj_weight"]; }
  Tensor in_proj_bias() const { return params_["in_proj_bias"]; }
  Tensor q_proj_weight() const { return params_["q_proj_weight"]; }
  Tensor k_proj_weight() const { return params_["k_proj_weight"]; }
  Tensor v_proj_weight() const { return params_["v_proj_weight"]; }
  Tensor bias_k() const { return params_["bias_k"]; }
  Tensor bias_v() const { return params_["bias_v"]; }
  std::shared_ptr<Linear> out_proj() const { return std::static_pointer_cast<Linear>(children_["out_proj"]); }

  int64_t embed_dim, kdim, vdim, num_heads, head_dim;
  double dropout;
  bool batch_first, add_zero_attn;
  bool qkv_same_embed_dim() const { return kdim == embed_dim && vdim == embed_dim; }
};

}  // namespace shanshui::nn
