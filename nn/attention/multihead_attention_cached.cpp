// MultiheadAttention with a key/value cache, for incremental decoding (see the
// header). The arithmetic is forward()'s (same projections, same heads view,
// same attention kernel), so a cached step reproduces the full forward's
// numbers up to the order of float additions.
#include <limits>

#include "core/ops.h"
#include "nn/attention/multihead_attention.h"
#include "nn/functional.h"

namespace shanshui::nn {

namespace {
constexpr const char* kOp = "MultiheadAttention.forward_cached";
}

void KeyValueCache::reorder(const Tensor& index) {
  if (!key.defined()) return;
  SS_CHECK(index.defined() && index.dtype() == DType::Int64 && index.dim() == 1, ValueError,
           "KeyValueCache.reorder: index must be a 1-D int64 tensor of batch rows, got ",
           index.defined() ? dtype_name(index.dtype()) : "None", index.defined() ? index.shape() : Shape{});
  key = index_select(key, 0, index);
  value = index_select(value, 0, index);
}

Tensor MultiheadAttention::project(const Tensor& x, int which) const {
  Tensor b = in_proj_bias();
  if (b.defined()) b = b.narrow(0, which * embed_dim, embed_dim);
  Tensor w = qkv_same_embed_dim() ? in_proj_weight().narrow(0, which * embed_dim, embed_dim)
             : which == 0         ? q_proj_weight()
             : which == 1         ? k_proj_weight()
                                  : v_proj_weight();
  return linear(x, w, b);
}

Tensor MultiheadAttention::split_heads(const Tensor& x) const {
  Tensor h = unflatten(x, 2, {num_heads, head_dim});  // [., ., H, hd]
  return batch_first ? h.permute({0, 2, 1, 3}) : h.permute({1, 2, 0, 3});
}

KeyValueCache MultiheadAttention::project_key_value(const Tensor& key, const Tensor& value) const {
  SS_CHECK(key.defined() && value.defined() && key.dim() == 3 && value.dim() == 3, ValueError,
           "MultiheadAttention.project_key_value: expected 3-D key and value, got shapes ",
           key.defined() ? key.shape() : Shape{}, " and ", value.defined() ? value.shape() : Shape{});
  SS_CHECK(key.size(2) == kdim && value.size(2) == vdim && key.size(0) == value.size(0) &&
               key.size(1) == value.size(1),
           ValueError, "MultiheadAttention.project_key_value: expected key [., ., ", kdim, "] and value [., ., ", vdim,
           "] of the same batch and length, got shapes ", key.shape(), " and ", value.shape());
  SS_CHECK(!bias_k().defined() && !add_zero_attn, ValueError,
           "MultiheadAttention.project_key_value: add_bias_kv and add_zero_attn are not supported with a cache");
  return {split_heads(project(key, 1)), split_heads(project(value, 2))};
}

std::pair<Tensor, Tensor> MultiheadAttention::forward_cached(const Tensor& query, KeyValueCache& cache, bool append,
                                                             const Tensor& key_padding_mask, bool need_weights,
                                                             bool average_attn_weights) {
  SS_CHECK(query.defined() && query.dim() == 3 && query.size(2) == embed_dim, ValueError, kOp,
           ": expected a batched 3-D query with ", embed_dim, " features (", batch_first ? "[N, t, E]" : "[t, N, E]",
           "), got shape ", query.defined() ? query.shape() : Shape{});
  SS_CHECK(!bias_k().defined() && !add_zero_attn, ValueError, kOp,
           ": add_bias_kv and add_zero_attn are not supported with a cache");
  SS_CHECK(qkv_same_embed_dim() || !append, ValueError, kOp,
           ": append=true (self-attention) needs kdim == vdim == embed_dim");
  const int64_t N = batch_first ? query.size(0) : query.size(1);
  const int64_t t = batch_first ? query.size(1) : query.size(0);
  const int64_t past = cache.size();
  if (past > 0)
    SS_CHECK(cache.key.size(0) == N && cache.key.size(1) == num_heads && cache.key.size(3) == head_dim, ValueError,
             kOp, ": the cache holds keys of shape ", cache.key.shape(), " but the query of shape ", query.shape(),
             " needs [", N, ", ", num_heads, ", S, ", head_dim, "]");
  SS_CHECK(append || past > 0, ValueError, kOp, ": append=false needs a filled cache (project_key_value)");
  const int64_t S = past + (append ? t : 0);  // the keys attended
  // Checked before the cache grows, so a bad call leaves the cache as it was.
  if (key_padding_mask.defined()) {
    SS_CHECK(key_padding_mask.shape() == (Shape{N, S}), ValueError, kOp, ": expected key_padding_mask of shape ",
             Shape{N, S}, " (batch, cached keys), got ", key_padding_mask.shape());
    SS_CHECK(key_padding_mask.dtype() == DType::Bool || key_padding_mask.is_floating_point(), TypeError, kOp,
             ": key_padding_mask must be bool or floating, got ", dtype_name(key_padding_mask.dtype()));
  }

  Tensor q;
  if (append) {
    Tensor k, v;
    if (in_proj_weight().defined()) {
      // One GEMM for q, k and v, as forward() does for self-attention.
      Tensor proj = linear(query, in_proj_weight(), in_proj_bias());
      q = proj.narrow(2, 0, embed_dim);
      k = proj.narrow(2, embed_dim, embed_dim);
      v = proj.narrow(2, 2 * embed_dim, embed_dim);
    } else {
      q = project(query, 0);
      k = project(query, 1);
      v = project(query, 2);
    }
    // cat copies the whole cache each step; beam search reorders (and so
    // copies) it every step anyway, and the copy is small next to the GEMMs.
    k = split_heads(k);
    v = split_heads(v);
    cache.key = past ? cat({cache.key, k}, 2) : k.contiguous();
    cache.value = past ? cat({cache.value, v}, 2) : v.contiguous();
  } else {
    q = project(query, 0);
  }
  q = split_heads(q);

  // Masks in scaled_dot_product_attention's convention (bool True = attend, or float added).
  Tensor mask;
  if (append && t > 1) {
    // New query i sits at position past + i and sees keys 0 .. past + i.
    Tensor rows = arange(Scalar(past), Scalar(past + t)).reshape({t, 1});
    mask = le(arange(Scalar(S)).reshape({1, S}), rows);
  }
  if (key_padding_mask.defined()) {
    Tensor kpm = key_padding_mask.reshape({N, 1, 1, S});
    if (kpm.dtype() == DType::Bool) {
      kpm = logical_not(kpm);
      mask = mask.defined() ? logical_and(mask, kpm) : kpm;
    } else {
      kpm = kpm.to(q.dtype());
      if (mask.defined())
        kpm = kpm + masked_fill(zeros({t, S}, q.dtype()), logical_not(mask),
                                -std::numeric_limits<double>::infinity());
      mask = kpm;
    }
  }

  const double p = is_training() ? dropout : 0.0;
  Tensor attn, weights;
  if (need_weights) {
    std::tie(attn, weights) = functional::scaled_dot_product_attention_with_weights(q, cache.key, cache.value, mask, p);
    if (average_attn_weights) weights = weights.mean({1});
  } else {
    attn = functional::scaled_dot_product_attention(q, cache.key, cache.value, mask, p);
  }
  // [N, H, t, hd] -> the query's layout, then out_proj.
  attn = batch_first ? attn.permute({0, 2, 1, 3}).reshape({N, t, embed_dim})
                     : attn.permute({2, 0, 1, 3}).reshape({t, N, embed_dim});
  return {out_proj()->forward(attn), weights};
}

}  // namespace shanshui::nn
