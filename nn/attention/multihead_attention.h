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
//
// Incremental decoding (a key/value cache): project_key_value() projects keys
// and values once into a KeyValueCache (the heads [N, H, S, head_dim]), and
// forward_cached(query, cache, append) attends new query positions to the
// cache. With append=true (self-attention of a decoder) the new positions' own
// keys and values are appended first, and each new position sees the cached
// ones and the new ones up to itself (causal), so decoding one position at a
// time gives what the full causal forward gives, at O(length) per step instead
// of O(length^2). With append=false (cross-attention) the cache is read as is.
// Batched 3-D inputs only; add_bias_kv / add_zero_attn are not supported there.
#pragma once
#include <memory>
#include <optional>
#include <utility>

#include "nn/linear.h"
#include "nn/module.h"

namespace shanshui::nn {

// Projected keys and values of one attention layer, split into heads:
// key and value are [N, num_heads, S, head_dim] (undefined while empty).
struct KeyValueCache {
  Tensor key, value;
  int64_t size() const { return key.defined() ? key.size(2) : 0; }  // S, the cached positions
  // Keep batch rows `index` (int64 [N']) in that order: beam search follows
  // its surviving hypotheses with it.
  void reorder(const Tensor& index);
};

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

  // key [S, N, kdim] and value [S, N, vdim] ([N, S, .] with batch_first),
  // projected and split into heads: the keys of a fixed memory, computed once.
  KeyValueCache project_key_value(const Tensor& key, const Tensor& value) const;
  // Attention of query [t, N, E] ([N, t, E] with batch_first) to the cache; see
  // the header comment for append. key_padding_mask [N, S] covers the keys
  // attended (after appending): bool True = ignore, or float added. Returns
  // (output like query, weights [N, t, S] or per head [N, H, t, S] when need_weights).
  std::pair<Tensor, Tensor> forward_cached(const Tensor& query, KeyValueCache& cache, bool append,
                                           const Tensor& key_padding_mask = Tensor(), bool need_weights = false,
                                           bool average_attn_weights = true);
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

 private:
  // The in-projection of x for q (0), k (1) or v (2), in x's layout.
  Tensor project(const Tensor& x, int which) const;
  // [N, t, E] / [t, N, E] -> [N, H, t, head_dim] (a view).
  Tensor split_heads(const Tensor& x) const;
};

}  // namespace shanshui::nn
