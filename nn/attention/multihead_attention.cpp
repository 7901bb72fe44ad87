// MultiheadAttention: torch.nn.functional.multi_head_attention_forward's steps
// (mask canonicalisation, in-projection, bias_kv / zero_attn, mask merging,
// attention, out-projection), with the heads kept as a [N, H, L, hd] view of
// the projection output so the fused kernel reads it without a copy.
#include "nn/attention/multihead_attention.h"

#include <cmath>
#include <limits>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "core/ops.h"
#include "nn/functional.h"
#include "nn/init.h"

namespace shanshui::nn {

namespace {

// Views of a packed projection [..., parts * E] (q, k, v side by side in the
// last dim) with one backward that concatenates their gradients: three narrow
// backwards would each zero a full-size buffer and the engine would add them.
std::vector<Tensor> split_packed(const Tensor& proj, int64_t parts, int64_t E) {
  std::vector<Tensor> outs;
  {
    autograd::NoGradGuard ng;
    for (int64_t i = 0; i < parts; ++i) outs.push_back(proj.narrow(-1, i * E, E));
  }
  if (autograd::needs_grad(proj)) {
    autograd::record_multi("SplitPackedBackward", {proj}, outs, [](const autograd::tensor_list& grads) {
      Tensor like;
      for (const Tensor& g : grads)
        if (g.defined()) like = g;
      std::vector<Tensor> parts_g;
      for (const Tensor& g : grads) parts_g.push_back(g.defined() ? g : zeros_like(like));
      return autograd::tensor_list{cat(parts_g, -1)};  // differentiable: create_graph works
    });
  }
  return outs;
}

constexpr const char* kOp = "MultiheadAttention";

// torch's _canonical_mask: bool masks become float masks with -inf where true.
Tensor canonical_mask(const Tensor& mask, const char* name, DType target) {
  if (!mask.defined()) return mask;
  SS_CHECK(mask.dtype() == DType::Bool || mask.is_floating_point(), TypeError, kOp, ": only bool and floating types of ",
           name, " are supported, got ", dtype_name(mask.dtype()));
  if (mask.dtype() != DType::Bool) return mask.dtype() == target ? mask : mask.to(target);
  return masked_fill(zeros(mask.shape(), target), mask, -std::numeric_limits<double>::infinity());
}

// Append one zero column to the last dim (F.pad(mask, (0, 1))).
Tensor pad_last(const Tensor& m) {
  Shape s = m.shape();
  s.back() = 1;
  return cat({m, zeros(s, m.dtype())}, -1);
}

}  // namespace

MultiheadAttention::MultiheadAttention(int64_t embed_dim, int64_t num_heads, double dropout, bool bias,
                                       bool add_bias_kv, bool add_zero_attn, std::optional<int64_t> kdim_,
                                       std::optional<int64_t> vdim_, bool batch_first, DType dtype)
    : Module("MultiheadAttention"),
      embed_dim(embed_dim),
      kdim(kdim_.value_or(embed_dim)),
      vdim(vdim_.value_or(embed_dim)),
      num_heads(num_heads),
      head_dim(num_heads > 0 ? embed_dim / num_heads : 0),
      dropout(dropout),
      batch_first(batch_first),
      add_zero_attn(add_zero_attn) {
  SS_CHECK(embed_dim > 0 && num_heads > 0, ValueError, kOp,
           ": embed_dim and num_heads must be greater than 0, got embed_dim=", embed_dim, " and num_heads=", num_heads,
           " instead");
  SS_CHECK(embed_dim % num_heads == 0, ValueError, kOp, ": embed_dim must be divisible by num_heads, got embed_dim=",
           embed_dim, " and num_heads=", num_heads);
  SS_CHECK(kdim > 0 && vdim > 0, ValueError, kOp, ": kdim and vdim must be positive, got ", kdim, " and ", vdim);
  SS_CHECK(dropout >= 0.0 && dropout <= 1.0, ValueError, kOp, ": dropout must be in [0, 1], got ", dropout);
  SS_CHECK(is_floating(dtype), TypeError, kOp, ": dtype must be floating point, got ", dtype_name(dtype));
  // Registration order follows torch's, so state_dict keys come out in the same order.
  if (qkv_same_embed_dim()) {
    register_parameter("in_proj_weight", empty({3 * embed_dim, embed_dim}, dtype));
    register_parameter("q_proj_weight", Tensor());
    register_parameter("k_proj_weight", Tensor());
    register_parameter("v_proj_weight", Tensor());
  } else {
    register_parameter("q_proj_weight", empty({embed_dim, embed_dim}, dtype));
    register_parameter("k_proj_weight", empty({embed_dim, kdim}, dtype));
    register_parameter("v_proj_weight", empty({embed_dim, vdim}, dtype));
    register_parameter("in_proj_weight", Tensor());
  }
  register_parameter("in_proj_bias", bias ? empty({3 * embed_dim}, dtype) : Tensor());
  register_module("out_proj", std::make_shared<Linear>(embed_dim, embed_dim, bias, dtype));
  register_parameter("bias_k", add_bias_kv ? empty({1, 1, embed_dim}, dtype) : Tensor());
  register_parameter("bias_v", add_bias_kv ? empty({1, 1, embed_dim}, dtype) : Tensor());
  reset_parameters();
}

void MultiheadAttention::reset_parameters() {
  // torch: xavier_uniform_ on the projections, zero biases (out_proj's too),
  // xavier_normal_ on bias_k / bias_v; out_proj.weight keeps Linear's init.
  for (const char* n : {"in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight"})
    if (params_[n].defined()) init::xavier_uniform_(params_[n]);
  if (params_["in_proj_bias"].defined()) {
    init::zeros_(params_["in_proj_bias"]);
    init::zeros_(out_proj()->bias());
  }
  for (const char* n : {"bias_k", "bias_v"})
    if (params_[n].defined()) init::xavier_normal_(params_[n]);
}

std::string MultiheadAttention::extra_repr() const { return ""; }

std::pair<Tensor, Tensor> MultiheadAttention::forward(const Tensor& query_in, const Tensor& key_in,
                                                      const Tensor& value_in, const Tensor& key_padding_mask_in,
                                                      bool need_weights, const Tensor& attn_mask_in,
                                                      bool average_attn_weights, bool is_causal) {
  SS_CHECK(query_in.defined() && key_in.defined() && value_in.defined(), ValueError, kOp,
           ": query, key and value are required");
  const bool self_attention = query_in.is_same(key_in) && key_in.is_same(value_in);
  const bool kv_same = key_in.is_same(value_in);
  // ---- shape checks (torch's _mha_shape_check) ----
  const int64_t qd = query_in.dim();
  SS_CHECK(qd == 2 || qd == 3, ValueError, kOp, ": query should be unbatched 2D or batched 3D tensor but received ",
           qd, "-D query tensor of shape ", query_in.shape());
  const bool batched = qd == 3;
  SS_CHECK(key_in.dim() == qd && value_in.dim() == qd, ValueError, kOp, ": for ", qd, "-D query of shape ",
           query_in.shape(), ", expected ", qd, "-D key and value but got shapes ", key_in.shape(), " and ",
           value_in.shape());
  if (key_padding_mask_in.defined())
    SS_CHECK(key_padding_mask_in.dim() == (batched ? 2 : 1), ValueError, kOp, ": for ", qd,
             "-D query, expected key_padding_mask to be ", batched ? "2-D [N, S]" : "1-D [S]", " but got shape ",
             key_padding_mask_in.shape());
  if (attn_mask_in.defined())
    SS_CHECK(attn_mask_in.dim() == 2 || attn_mask_in.dim() == 3, ValueError, kOp,
             ": expected attn_mask to be 2-D [L, S] or 3-D [N * num_heads, L, S] but got shape ", attn_mask_in.shape());
  SS_CHECK(query_in.dtype() == key_in.dtype() && query_in.dtype() == value_in.dtype(), TypeError, kOp,
           ": query, key and value must have the same dtype");

  Tensor query = query_in, key = key_in, value = value_in, kpm = key_padding_mask_in;
  if (batched && batch_first) {
    query = query.transpose(0, 1);
    key = key.transpose(0, 1);
    value = value.transpose(0, 1);
  }
  if (!batched) {
    query = query.unsqueeze(1);
    key = key.unsqueeze(1);
    value = value.unsqueeze(1);
    if (kpm.defined()) kpm = kpm.unsqueeze(0);
  }
  // From here on: query [L, N, E], key [S, N, kdim], value [S, N, vdim].
  const int64_t L = query.size(0), N = query.size(1), E = query.size(2);
  int64_t S = key.size(0);
  const int64_t H = num_heads, hd = head_dim;
  const DType dt = query.dtype();
  SS_CHECK(E == embed_dim, ValueError, kOp, ": was expecting embedding dimension of ", embed_dim,
           ", but got query of shape ", query_in.shape());
  SS_CHECK(key.size(2) == kdim && value.size(2) == vdim, ValueError, kOp, ": expected key and value with ", kdim,
           " and ", vdim, " features, got shapes ", key_in.shape(), " and ", value_in.shape());
  SS_CHECK(key.size(1) == N && value.size(1) == N && value.size(0) == S, ValueError, kOp,
           ": key of shape ", key_in.shape(), " and value of shape ", value_in.shape(),
           " must match each other in sequence length and query of shape ", query_in.shape(), " in batch size");
  if (!batched && attn_mask_in.defined() && attn_mask_in.dim() == 3)
    SS_CHECK(attn_mask_in.shape() == (Shape{H, L, S}), ValueError, kOp, ": expected attn_mask of shape ",
             Shape{H, L, S}, " for unbatched input but got ", attn_mask_in.shape());

  // ---- masks ----
  kpm = canonical_mask(kpm, "key_padding_mask", dt);
  SS_CHECK(!(is_causal && !attn_mask_in.defined()), RuntimeError, kOp,
           ": Need attn_mask if specifying the is_causal hint. You may use the Transformer module method "
           "`generate_square_subsequent_mask` to create this mask.");
  Tensor attn_mask;
  bool use_causal = false;
  if (is_causal && !kpm.defined() && !need_weights) {
    use_causal = true;  // the hint: the fused kernel's causal mask replaces attn_mask
  } else {
    attn_mask = canonical_mask(attn_mask_in, "attn_mask", dt);
  }
  if (attn_mask.defined()) {
    if (attn_mask.dim() == 2) {
      SS_CHECK(attn_mask.shape() == (Shape{L, S}), ValueError, kOp, ": the shape of the 2D attn_mask is ",
               attn_mask.shape(), ", but should be ", Shape{L, S});
      attn_mask = attn_mask.reshape({1, 1, L, S});
    } else {
      SS_CHECK(attn_mask.shape() == (Shape{N * H, L, S}), ValueError, kOp, ": the shape of the 3D attn_mask is ",
               attn_mask.shape(), ", but should be ", Shape{N * H, L, S});
      attn_mask = attn_mask.reshape({N, H, L, S});
    }
  }

  // ---- in-projection: [L, N, E] -> q, and [S, N, E] -> k, v ----
  // With batch_first the GEMMs run on the caller's [N, L, E] layout (contiguous,
  // so no copy for BLAS) and their outputs are viewed back as [L, N, *].
  const bool bf = batched && batch_first;
  auto linear = [bf](const Tensor& x, const Tensor& w, const Tensor& bias) {
    return bf ? shanshui::linear(x.transpose(0, 1), w, bias).transpose(0, 1) : shanshui::linear(x, w, bias);
  };
  Tensor q, k, v;
  Tensor b = in_proj_bias();
  if (qkv_same_embed_dim()) {
    Tensor w = in_proj_weight();
    // One GEMM for n packed projections; the parts are views of its output
    // (split in the GEMM's own layout, so their gradients meet there contiguously).
    auto packed = [&](const Tensor& x, const Tensor& wp, const Tensor& bp, int64_t n) {
      Tensor proj = bf ? shanshui::linear(x.transpose(0, 1), wp, bp) : shanshui::linear(x, wp, bp);
      auto parts = split_packed(proj, n, E);
      if (bf)
        for (auto& t : parts) t = t.transpose(0, 1);
      return parts;
    };
    if (self_attention) {
      auto qkv = packed(query, w, b, 3);
      q = qkv[0];
      k = qkv[1];
      v = qkv[2];
    } else if (kv_same) {
      q = linear(query, w.narrow(0, 0, E), b.defined() ? b.narrow(0, 0, E) : Tensor());
      Tensor wkv = w.narrow(0, E, 2 * E), bkv = b.defined() ? b.narrow(0, E, 2 * E) : Tensor();
      auto kv = packed(key, wkv, bkv, 2);
      k = kv[0];
      v = kv[1];
    } else {
      q = linear(query, w.narrow(0, 0, E), b.defined() ? b.narrow(0, 0, E) : Tensor());
      k = linear(key, w.narrow(0, E, E), b.defined() ? b.narrow(0, E, E) : Tensor());
      v = linear(value, w.narrow(0, 2 * E, E), b.defined() ? b.narrow(0, 2 * E, E) : Tensor());
    }
  } else {
    q = linear(query, q_proj_weight(), b.defined() ? b.narrow(0, 0, E) : Tensor());
    k = linear(key, k_proj_weight(), b.defined() ? b.narrow(0, E, E) : Tensor());
    v = linear(value, v_proj_weight(), b.defined() ? b.narrow(0, 2 * E, E) : Tensor());
  }

  // ---- extra keys: bias_k / bias_v, then a zero key ----
  auto add_key_column = [&]() {
    if (attn_mask.defined()) attn_mask = pad_last(attn_mask);
    if (kpm.defined()) kpm = pad_last(kpm);
    ++S;
  };
  if (bias_k().defined() && bias_v().defined()) {
    k = cat({k, bias_k().expand({1, N, E})}, 0);
    v = cat({v, bias_v().expand({1, N, E})}, 0);
    add_key_column();
  }
  if (add_zero_attn) {
    k = cat({k, zeros({1, N, E}, dt)}, 0);
    v = cat({v, zeros({1, N, E}, dt)}, 0);
    add_key_column();
  }
  if (kpm.defined()) {
    SS_CHECK(kpm.shape() == (Shape{N, S}), ValueError, kOp, ": expected key_padding_mask of shape ", Shape{N, S},
             " but got ", key_padding_mask_in.shape());
    Tensor k4 = kpm.reshape({N, 1, 1, S});
    attn_mask = attn_mask.defined() ? attn_mask + k4 : k4;
  }

  // ---- heads as views: [L, N, E] -> [N, H, L, hd] ----
  auto heads = [&](const Tensor& t) { return unflatten(t, 2, {H, hd}).permute({1, 2, 0, 3}); };
  q = heads(q);
  k = heads(k);
  v = heads(v);
  const double p = is_training() ? dropout : 0.0;
  Tensor attn, weights;
  if (need_weights) {
    std::tie(attn, weights) = functional::scaled_dot_product_attention_with_weights(q, k, v, attn_mask, p);
  } else {
    attn = functional::scaled_dot_product_attention(q, k, v, attn_mask, p, use_causal);
  }
  // [N, H, L, hd] -> [L, N, E] (or [N, L, E] with batch_first, the caller's layout) -> out_proj
  Tensor out = out_proj()->forward(bf ? attn.permute({0, 2, 1, 3}).reshape({N, L, E})
                                      : attn.permute({2, 0, 1, 3}).reshape({L, N, E}));
  if (weights.defined() && average_attn_weights) weights = weights.mean({1});
  if (!batched) {
    out = out.squeeze(1);
    if (weights.defined()) weights = weights.squeeze(0);
  }
  return {out, weights};
}

}  // namespace shanshui::nn
