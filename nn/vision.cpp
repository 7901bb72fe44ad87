#include "nn/vision.h"

#include <cmath>

#include "nn/functional.h"
#include "nn/init.h"

namespace shanshui::nn {

namespace F = functional;

// ---- PatchEmbedding ------------------------------------------------------------
PatchEmbedding::PatchEmbedding(int64_t img, int64_t patch, int64_t in_chans, int64_t dim, DType dtype)
    : Module("PatchEmbedding"), img_size(img), patch_size(patch) {
  SS_CHECK(patch > 0 && img > 0 && in_chans > 0 && dim > 0, ValueError,
           "PatchEmbedding: img_size, patch_size, in_chans and embed_dim must be positive, got ", img, ", ", patch,
           ", ", in_chans, ", ", dim);
  SS_CHECK(img % patch == 0, ValueError, "PatchEmbedding: img_size (", img, ") must be divisible by patch_size (",
           patch, ")");
  num_patches = (img / patch) * (img / patch);
  proj = register_module("proj", std::make_shared<Conv2d>(in_chans, dim, patch, patch, 0, 1, 1, true, dtype));
}

Tensor PatchEmbedding::forward(const Tensor& x) {
  SS_CHECK(x.defined() && x.dim() == 4 && x.size(1) == proj->in_channels, ValueError,
           "PatchEmbedding: expected input [B, ", proj->in_channels, ", H, W], got shape ",
           x.defined() ? x.shape() : Shape{});
  SS_CHECK(x.size(2) % patch_size == 0 && x.size(3) % patch_size == 0, ValueError, "PatchEmbedding: image size (",
           x.size(2), ", ", x.size(3), ") is not divisible by patch_size ", patch_size, " (input shape ", x.shape(),
           ")");
  Tensor y = proj->forward(x);                      // [B, D, H/p, W/p]
  return y.flatten(2).transpose(1, 2);              // [B, N, D]
}

// ---- NonLocalBlock2d ------------------------------------------------------------
NonLocalBlock2d::NonLocalBlock2d(int64_t in, std::optional<int64_t> inter, std::string m, DType dtype)
    : Module("NonLocalBlock2d"), in_channels(in), mode(std::move(m)) {
  SS_CHECK(mode == "embedded_gaussian" || mode == "gaussian" || mode == "dot_product", ValueError,
           "NonLocalBlock2d: mode must be 'embedded_gaussian', 'gaussian' or 'dot_product', got '", mode, "'");
  SS_CHECK(in > 0, ValueError, "NonLocalBlock2d: in_channels must be positive, got ", in);
  inter_channels = inter ? *inter : std::max<int64_t>(in / 2, 1);
  SS_CHECK(inter_channels > 0, ValueError, "NonLocalBlock2d: inter_channels must be positive, got ", inter_channels);
  g = register_module("g", std::make_shared<Conv2d>(in, inter_channels, 1, 1, 0, 1, 1, true, dtype));
  if (mode != "gaussian") {
    theta = register_module("theta", std::make_shared<Conv2d>(in, inter_channels, 1, 1, 0, 1, 1, true, dtype));
    phi = register_module("phi", std::make_shared<Conv2d>(in, inter_channels, 1, 1, 0, 1, 1, true, dtype));
  }
  W_z = register_module("W_z", std::make_shared<Conv2d>(inter_channels, in, 1, 1, 0, 1, 1, true, dtype));
  // Zero W_z: the block starts as the identity, so it can be inserted into a pre-trained network.
  init::zeros_(W_z->weight());
  init::zeros_(W_z->bias());
}

std::pair<Tensor, Tensor> NonLocalBlock2d::forward_with_attention(const Tensor& x) {
  SS_CHECK(x.defined() && x.dim() == 4 && x.size(1) == in_channels, ValueError, "NonLocalBlock2d: expected input [B, ",
           in_channels, ", H, W], got shape ", x.defined() ? x.shape() : Shape{});
  const int64_t B = x.size(0), H = x.size(2), W = x.size(3), L = H * W;
  Tensor gx = g->forward(x).reshape({B, inter_channels, L}).transpose(1, 2);  // [B, L, inter]
  Tensor th, ph;
  if (mode == "gaussian") {
    th = x.reshape({B, in_channels, L}).transpose(1, 2);  // [B, L, C]
    ph = x.reshape({B, in_channels, L});                  // [B, C, L]
  } else {
    th = theta->forward(x).reshape({B, inter_channels, L}).transpose(1, 2);
    ph = phi->forward(x).reshape({B, inter_channels, L});
  }
  Tensor f = matmul(th, ph);  // [B, L, L]
  Tensor a = mode == "dot_product" ? div(f, double(L)) : softmax(f, -1);
  Tensor y = matmul(a, gx).transpose(1, 2).reshape({B, inter_channels, H, W});
  return {add(W_z->forward(y), x), a};
}

Tensor NonLocalBlock2d::forward(const Tensor& x) { return forward_with_attention(x).first; }

std::string NonLocalBlock2d::extra_repr() const {
  return cat_str("in_channels=", in_channels, ", inter_channels=", inter_channels, ", mode='", mode, "'");
}

// ---- ViT ------------------------------------------------------------------------------
ViTAttention::ViTAttention(int64_t d, int64_t h, double ad, double pd, DType dtype)
    : Module("Attention"), dim(d), num_heads(h), attn_drop(ad), proj_drop(pd) {
  SS_CHECK(h > 0 && d % h == 0, ValueError, "ViTAttention: embed_dim (", d, ") must be divisible by num_heads (", h,
           ")");
  qkv = register_module("qkv", std::make_shared<Linear>(d, 3 * d, true, dtype));
  proj = register_module("proj", std::make_shared<Linear>(d, d, true, dtype));
}

std::pair<Tensor, Tensor> ViTAttention::forward_with_attention(const Tensor& x) {
  const int64_t B = x.size(0), N = x.size(1), hd = dim / num_heads;
  // [B, N, 3, H, hd] -> [3, B, H, N, hd]
  Tensor qkv_ = qkv->forward(x).reshape({B, N, 3, num_heads, hd}).permute({2, 0, 3, 1, 4});
  Tensor q = qkv_.select(0, 0), k = qkv_.select(0, 1), v = qkv_.select(0, 2);
  Tensor attn = softmax(mul(matmul(q, k.transpose(-2, -1)), 1.0 / std::sqrt(double(hd))), -1);  // [B, H, N, N]
  Tensor a = F::dropout(attn, attn_drop, is_training() && attn_drop > 0);
  Tensor o = matmul(a, v).transpose(1, 2).reshape({B, N, dim});
  o = F::dropout(proj->forward(o), proj_drop, is_training() && proj_drop > 0);
  return {o, attn};
}

ViTMlp::ViTMlp(int64_t d, int64_t hidden, double dr, DType dtype) : Module("Mlp"), drop(dr) {
  fc1 = register_module("fc1", std::make_shared<Linear>(d, hidden, true, dtype));
  fc2 = register_module("fc2", std::make_shared<Linear>(hidden, d, true, dtype));
}

Tensor ViTMlp::forward(const Tensor& x) {
  const bool on = is_training() && drop > 0;
  Tensor h = F::dropout(gelu(fc1->forward(x)), drop, on);
  return F::dropout(fc2->forward(h), drop, on);
}

ViTBlock::ViTBlock(int64_t d, int64_t h, double mlp_ratio, double dr, DType dtype) : Module("Block"), dropout(dr) {
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(Shape{d}, 1e-6, true, true, dtype));
  attn = register_module("attn", std::make_shared<ViTAttention>(d, h, dr, dr, dtype));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(Shape{d}, 1e-6, true, true, dtype));
  mlp = register_module("mlp", std::make_shared<ViTMlp>(d, int64_t(double(d) * mlp_ratio), dr, dtype));
}

std::pair<Tensor, Tensor> ViTBlock::forward_with_attention(const Tensor& x) {
  auto [a, w] = attn->forward_with_attention(norm1->forward(x));
  Tensor h = add(x, a);
  return {add(h, mlp->forward(norm2->forward(h))), w};
}

ViT::ViT(int64_t img, int64_t patch, int64_t in_chans, int64_t classes, int64_t dim, int64_t dep, int64_t heads,
         double mlp_ratio, double dr, DType dtype)
    : Module("ViT"), num_classes(classes), embed_dim(dim), depth(dep), num_heads(heads), dropout(dr) {
  SS_CHECK(classes > 0 && dep >= 0, ValueError, "ViT: num_classes must be positive and depth non-negative, got ",
           classes, " and ", dep);
  SS_CHECK(heads > 0 && dim % heads == 0, ValueError, "ViT: embed_dim (", dim, ") must be divisible by num_heads (",
           heads, ")");
  SS_CHECK(dr >= 0 && dr <= 1, ValueError, "ViT: dropout must be in [0, 1], got ", dr);
  // timm's order: cls_token and pos_embed are the model's own parameters (state_dict lists them first).
  register_parameter("cls_token", zeros({1, 1, dim}, dtype));
  patch_embed = register_module("patch_embed", std::make_shared<PatchEmbedding>(img, patch, in_chans, dim, dtype));
  register_parameter("pos_embed", empty({1, patch_embed->num_patches + 1, dim}, dtype));
  blocks = register_module("blocks", std::make_shared<ModuleList>());
  for (int64_t i = 0; i < dep; ++i) blocks->push_back(std::make_shared<ViTBlock>(dim, heads, mlp_ratio, dr, dtype));
  norm = register_module("norm", std::make_shared<LayerNorm>(Shape{dim}, 1e-6, true, true, dtype));
  head = register_module("head", std::make_shared<Linear>(dim, classes, true, dtype));
  // timm's init: trunc_normal(0.02) position embeddings and Linear weights, zero biases, tiny CLS token.
  init::trunc_normal_(parameter("pos_embed"), 0.0, 0.02, -0.04, 0.04);
  init::normal_(parameter("cls_token"), 0.0, 1e-6);
  // (named_modules() needs shared_from_this, not available in a constructor: walk the blocks directly.)
  std::vector<Linear*> lins{head.get()};
  for (size_t i = 0; i < blocks->size(); ++i) {
    auto* b = static_cast<ViTBlock*>((*blocks)[int64_t(i)].get());
    lins.insert(lins.end(), {b->attn->qkv.get(), b->attn->proj.get(), b->mlp->fc1.get(), b->mlp->fc2.get()});
  }
  for (Linear* lin : lins) {
    init::trunc_normal_(lin->weight(), 0.0, 0.02, -0.04, 0.04);
    if (lin->bias().defined()) init::zeros_(lin->bias());
  }
}

Tensor ViT::tokens(const Tensor& x, std::vector<Tensor>* attentions) {
  Tensor t = patch_embed->forward(x);  // [B, N, D]
  const int64_t B = t.size(0);
  Tensor& pos = parameter("pos_embed");
  SS_CHECK(t.size(1) + 1 == pos.size(1), ValueError, "ViT: input of shape ", x.shape(), " gives ", t.size(1),
           " patches but the model was built for ", pos.size(1) - 1, " (img_size ", patch_embed->img_size, ")");
  Tensor cls = parameter("cls_token").expand({B, 1, embed_dim});
  t = add(cat({cls, t}, 1), pos);
  t = F::dropout(t, dropout, is_training() && dropout > 0);
  for (size_t i = 0; i < blocks->size(); ++i) {
    auto* blk = static_cast<ViTBlock*>((*blocks)[int64_t(i)].get());
    auto [y, w] = blk->forward_with_attention(t);
    t = y;
    if (attentions) attentions->push_back(w);
  }
  return norm->forward(t);
}

Tensor ViT::forward_features(const Tensor& x) { return tokens(x, nullptr).select(1, 0); }

ViTOutput ViT::forward_with_attention(const Tensor& x, bool return_attention) {
  ViTOutput out;
  Tensor t = tokens(x, return_attention ? &out.attentions : nullptr);
  out.logits = head->forward(t.select(1, 0));
  return out;
}

}  // namespace shanshui::nn
