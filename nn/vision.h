// Vision attention modules: PatchEmbedding (timm's PatchEmbed), the non-local
// block of Wang et al. 2018, and a pre-LN Vision Transformer with timm's
// parameter names (cls_token, pos_embed, patch_embed.proj, blocks.i.{norm1,
// attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}, norm, head).
#pragma once
#include <string>
#include <vector>

#include "nn/container.h"
#include "nn/conv.h"
#include "nn/linear.h"
#include "nn/normalization.h"

namespace shanshui::nn {

// [B, C, H, W] -> [B, N, D] by a Conv2d `proj` with kernel = stride = patch_size.
class PatchEmbedding : public Module {
 public:
  PatchEmbedding(int64_t img_size, int64_t patch_size, int64_t in_chans = 3, int64_t embed_dim = 768,
                 DType dtype = DType::Float32);
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<Conv2d> proj;
  int64_t img_size, patch_size, num_patches;
};

// z = W_z y + x, y_i = 1/C(x) sum_j f(x_i, x_j) g(x_j), with theta, phi, g, W_z 1x1 convs
// and W_z zero-initialised (the block starts as the identity).
//   embedded_gaussian: f = exp(theta_i . phi_j), C = sum_j f  (softmax)
//   gaussian:          f = exp(x_i . x_j),        C = sum_j f  (no theta / phi)
//   dot_product:       f = theta_i . phi_j,       C = number of positions
class NonLocalBlock2d : public Module {
 public:
  NonLocalBlock2d(int64_t in_channels, std::optional<int64_t> inter_channels = std::nullopt,
                  std::string mode = "embedded_gaussian", DType dtype = DType::Float32);
  Tensor forward(const Tensor& x) override;
  // Also returns the attention matrix f / C of shape [B, HW, HW].
  std::pair<Tensor, Tensor> forward_with_attention(const Tensor& x);
  std::string extra_repr() const override;
  std::shared_ptr<Conv2d> g, theta, phi, W_z;
  int64_t in_channels, inter_channels;
  std::string mode;
};

// Multi-head self-attention with one fused qkv projection [3D, D], as timm's Attention.
class ViTAttention : public Module {
 public:
  ViTAttention(int64_t dim, int64_t num_heads, double attn_drop = 0.0, double proj_drop = 0.0,
               DType dtype = DType::Float32);
  Tensor forward(const Tensor& x) override { return forward_with_attention(x).first; }
  // (output [B, N, D], attention probabilities [B, heads, N, N]).
  std::pair<Tensor, Tensor> forward_with_attention(const Tensor& x);
  std::shared_ptr<Linear> qkv, proj;
  int64_t dim, num_heads;
  double attn_drop, proj_drop;
};

class ViTMlp : public Module {
 public:
  ViTMlp(int64_t dim, int64_t hidden, double drop, DType dtype);
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<Linear> fc1, fc2;
  double drop;
};

// Pre-LN block: x + attn(norm1(x)), then + mlp(norm2(x)).
class ViTBlock : public Module {
 public:
  ViTBlock(int64_t dim, int64_t num_heads, double mlp_ratio = 4.0, double dropout = 0.0,
           DType dtype = DType::Float32);
  Tensor forward(const Tensor& x) override { return forward_with_attention(x).first; }
  std::pair<Tensor, Tensor> forward_with_attention(const Tensor& x);
  std::shared_ptr<LayerNorm> norm1, norm2;
  std::shared_ptr<ViTAttention> attn;
  std::shared_ptr<ViTMlp> mlp;
  double dropout;
};

struct ViTOutput {
  Tensor logits;                    // [B, num_classes]
  std::vector<Tensor> attentions;   // per block [B, heads, N + 1, N + 1] when requested
};

class ViT : public Module {
 public:
  ViT(int64_t img_size, int64_t patch_size, int64_t in_chans, int64_t num_classes, int64_t embed_dim, int64_t depth,
      int64_t num_heads, double mlp_ratio = 4.0, double dropout = 0.0, DType dtype = DType::Float32);
  Tensor forward(const Tensor& x) override { return forward_with_attention(x, false).logits; }
  ViTOutput forward_with_attention(const Tensor& x, bool return_attention = true);
  // The final-norm CLS feature before the head, [B, D].
  Tensor forward_features(const Tensor& x);
  std::shared_ptr<PatchEmbedding> patch_embed;
  std::shared_ptr<ModuleList> blocks;
  std::shared_ptr<LayerNorm> norm;
  std::shared_ptr<Linear> head;
  int64_t num_classes, embed_dim, depth, num_heads;
  double dropout;

 private:
  Tensor tokens(const Tensor& x, std::vector<Tensor>* attentions);
};

}  // namespace shanshui::nn
