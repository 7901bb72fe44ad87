// PatchEmbedding, NonLocalBlock2d and ViT: layouts, definitions, gradchecks,
// bad input, and a tiny ViT that learns a synthetic task.
#include <catch2/catch.hpp>

#include "autograd/gradcheck.h"
#include "core/ops.h"
#include "nn/nn.h"
#include "optim/adam.h"

using namespace shanshui;
namespace F = shanshui::nn::functional;

namespace {
void require_ok(const autograd::GradcheckResult& r) {
  INFO(r.message);
  REQUIRE(r.ok);
}
}  // namespace

TEST_CASE("PatchEmbedding is a strided conv named proj and rejects non-divisible images") {
  manual_seed(1);
  nn::PatchEmbedding pe(8, 4, 3, 16);
  CHECK(pe.proj->weight().shape() == Shape{16, 3, 4, 4});
  CHECK(pe.num_patches == 4);
  Tensor x = randn({2, 3, 8, 8});
  Tensor y = pe.forward(x);
  REQUIRE(y.shape() == Shape{2, 4, 16});
  // Token 1 is the top-right patch: <weight, patch> + bias.
  Tensor patch = x.slice(2, 0, 4).slice(3, 4, 8).select(0, 0);  // [3, 4, 4]
  Tensor want = add(matmul(pe.proj->weight().reshape({16, 48}), patch.reshape({48})), pe.proj->bias());
  CHECK(allclose(y.select(0, 0).select(0, 1), want, 1e-5, 1e-5));
  CHECK_THROWS_WITH(pe.forward(randn({1, 3, 8, 9})), Catch::Contains("not divisible by patch_size"));
  CHECK_THROWS_AS(nn::PatchEmbedding(10, 4, 3, 8), ValueError);
  CHECK_THROWS_AS(nn::PatchEmbedding(8, 0, 3, 8), ValueError);
}

TEST_CASE("NonLocalBlock2d starts as the identity, has the right layout and passes gradcheck in every mode") {
  manual_seed(2);
  for (const char* mode : {"embedded_gaussian", "gaussian", "dot_product"}) {
    INFO(mode);
    nn::NonLocalBlock2d blk(4, std::nullopt, mode, DType::Float64);
    CHECK(blk.inter_channels == 2);
    CHECK(blk.W_z->weight().shape() == Shape{4, 2, 1, 1});
    CHECK((blk.theta != nullptr) == (std::string(mode) != "gaussian"));
    Tensor x = randn({2, 4, 3, 3}, DType::Float64);
    CHECK(allclose(blk.forward(x), x));  // W_z = 0
    nn::init::normal_(blk.W_z->weight());
    auto [z, a] = blk.forward_with_attention(x);
    CHECK(a.shape() == Shape{2, 9, 9});
    if (std::string(mode) != "dot_product")
      CHECK(allclose(sum(a, {-1}), ones({2, 9}, DType::Float64)));  // C(x) normalises each row
    x.requires_grad_();
    std::vector<Tensor> params{x};
    for (auto& p : blk.parameters()) params.push_back(p);
    require_ok(autograd::gradcheck(
        [&](const std::vector<Tensor>& v) {
          return blk.forward(v[0]);  // the parameters are the module's own tensors
        },
        params));
  }
  CHECK_THROWS_AS(nn::NonLocalBlock2d(4, std::nullopt, "concat"), ValueError);
  CHECK_THROWS_AS(nn::NonLocalBlock2d(4).forward(randn({1, 3, 2, 2})), ValueError);
}

TEST_CASE("ViT has timm's names and returns per-layer attention maps") {
  nn::ViT vit(8, 4, 3, 5, 16, 2, 2);
  auto sd = vit.state_dict();
  std::vector<std::string> names;
  for (auto& [k, v] : sd) names.push_back(k);
  REQUIRE(names.size() == 2 + 2 + 2 * 12 + 2 + 2);
  CHECK(names[0] == "cls_token");
  CHECK(names[1] == "pos_embed");
  CHECK(names[2] == "patch_embed.proj.weight");
  CHECK(names[4] == "blocks.0.norm1.weight");
  CHECK(names[6] == "blocks.0.attn.qkv.weight");
  CHECK(names[8] == "blocks.0.attn.proj.weight");
  CHECK(names[10] == "blocks.0.norm2.weight");
  CHECK(names[12] == "blocks.0.mlp.fc1.weight");
  CHECK(names[14] == "blocks.0.mlp.fc2.weight");
  CHECK(names[names.size() - 4] == "norm.weight");
  CHECK(names[names.size() - 2] == "head.weight");
  CHECK(vit.parameter("pos_embed").shape() == Shape{1, 5, 16});
  CHECK(vit.blocks->named_parameters()[2].second.shape() == Shape{48, 16});
  auto out = vit.forward_with_attention(randn({3, 3, 8, 8}));
  CHECK(out.logits.shape() == Shape{3, 5});
  REQUIRE(out.attentions.size() == 2);
  CHECK(out.attentions[1].shape() == Shape{3, 2, 5, 5});
  CHECK(allclose(sum(out.attentions[0], {-1}), ones({3, 2, 5}), 1e-5, 1e-5));
  CHECK_THROWS_AS(nn::ViT(8, 4, 3, 5, 15, 2, 2), ValueError);
  CHECK_THROWS_AS(vit.forward(randn({1, 3, 12, 12})), ValueError);
}

TEST_CASE("ViT passes gradcheck in float64") {
  manual_seed(4);
  nn::ViT vit(4, 2, 1, 3, 4, 1, 2, 2.0, 0.0, DType::Float64);
  Tensor x = randn({2, 1, 4, 4}, DType::Float64).requires_grad_();
  std::vector<Tensor> inputs{x, vit.parameter("pos_embed"), vit.blocks->parameters()[2]};
  require_ok(autograd::gradcheck([&](const std::vector<Tensor>& v) { return vit.forward(v[0]); }, inputs));
}

TEST_CASE("a tiny ViT learns which quadrant holds a bright blob") {
  manual_seed(5);
  const int64_t B = 64;
  auto batch = [&](Tensor& x, Tensor& y) {
    y = randint(0, 4, {B});
    x = randn({B, 1, 8, 8}).mul(0.3);
    auto yv = to_vector(y);
    for (int64_t i = 0; i < B; ++i) {
      int64_t q = int64_t(yv[size_t(i)]);
      x.select(0, i).select(0, 0).slice(0, (q / 2) * 4, (q / 2) * 4 + 4).slice(1, (q % 2) * 4, (q % 2) * 4 + 4).add_(1.0);
    }
  };
  nn::ViT vit(8, 4, 1, 4, 16, 1, 2, 2.0);
  optim::Adam opt(vit.parameters(), {3e-3});
  Tensor x, y;
  for (int step = 0; step < 150; ++step) {
    batch(x, y);
    opt.zero_grad();
    F::cross_entropy(vit.forward(x), y).backward();
    opt.step();
  }
  vit.eval();
  batch(x, y);
  double acc = sum(eq(argmax(vit.forward(x), 1), y).to(DType::Float64)).item_double() / double(B);
  CHECK(acc >= 0.9);
}
