#include "bench/cpp/workloads.h"

#include <array>
#include <memory>
#include <vector>

#include "nn/nn.h"
#include "optim/adam.h"

namespace ss = shanshui;
namespace nn = shanshui::nn;
namespace F = shanshui::nn::functional;

namespace shanshui_bench {

namespace {

// Forward FLOPs per query token of one Transformer layer (bench/workloads.py).
double transformer_layer_flops(double d, double ff, double t_k, bool cross = false) {
  double attn = 2 * 4 * d * d + 2 * 2 * t_k * d;
  if (cross) attn *= 2;
  return attn + 2 * 2 * d * ff;
}

// ---- W1: Transformer encoder-decoder training step ------------------------------------------------
struct Seq2Seq : nn::Module {
  std::shared_ptr<nn::Embedding> src_emb, tgt_emb;
  std::shared_ptr<nn::Transformer> transformer;
  std::shared_ptr<nn::Linear> generator;
  Seq2Seq(int64_t vocab, int64_t d, int64_t heads, int64_t layers, int64_t ff) : nn::Module("Seq2Seq") {
    src_emb = register_module("src_emb", std::make_shared<nn::Embedding>(vocab, d));
    tgt_emb = register_module("tgt_emb", std::make_shared<nn::Embedding>(vocab, d));
    transformer = register_module("transformer", std::make_shared<nn::Transformer>(d, heads, layers, layers, ff, 0.1,
                                                                                   "relu", 1e-5, true));
    generator = register_module("generator", std::make_shared<nn::Linear>(d, vocab));
  }
  ss::Tensor forward(const ss::Tensor& src, const ss::Tensor& tgt, const ss::Tensor& mask) {
    return generator->forward(transformer->forward(src_emb->forward(src), tgt_emb->forward(tgt), ss::Tensor(), mask));
  }
  using nn::Module::forward;
};

Workload w1(bool tiny) {
  const int64_t vocab = tiny ? 50 : 1000, d = tiny ? 16 : 256, heads = tiny ? 2 : 8, ff = tiny ? 32 : 1024,
                layers = tiny ? 1 : 3, batch = tiny ? 2 : 32, t = tiny ? 5 : 32;
  ss::manual_seed(0);
  auto model = std::make_shared<Seq2Seq>(vocab, d, heads, layers, ff);
  auto opt = std::make_shared<ss::optim::Adam>(model->parameters(), ss::optim::AdamOptions{.lr = 1e-4});
  ss::Tensor src = ss::randint(0, vocab, {batch, t});
  ss::Tensor tgt = ss::randint(0, vocab, {batch, t + 1});
  ss::Tensor tgt_in = tgt.slice(1, 0, -1), tgt_out = tgt.slice(1, 1, std::nullopt).reshape({-1});
  ss::Tensor mask = nn::Transformer::generate_square_subsequent_mask(t);
  auto step = [=] {
    opt->zero_grad();
    ss::Tensor logits = model->forward(src, tgt_in, mask);
    F::cross_entropy(logits.reshape({-1, vocab}), tgt_out).backward();
    opt->step();
  };
  double per_tok = layers * transformer_layer_flops(d, ff, t) + layers * transformer_layer_flops(d, ff, t, true);
  per_tok += 2.0 * d * vocab;
  return {step, 3.0 * per_tok * batch * t, double(batch * t), "tok"};
}

// ---- W2: ViT training step, spelled out from generic layers as in bench/workloads.py -----------------
struct ViT : nn::Module {
  int64_t d;
  std::shared_ptr<nn::Conv2d> patch_embed;
  std::vector<std::shared_ptr<nn::TransformerEncoderLayer>> blocks;
  std::shared_ptr<nn::LayerNorm> norm;
  std::shared_ptr<nn::Linear> head;
  ViT(int64_t patch, int64_t d_, int64_t depth, int64_t heads, int64_t mlp, int64_t n, int64_t classes)
      : nn::Module("ViT"), d(d_) {
    patch_embed = register_module("patch_embed", std::make_shared<nn::Conv2d>(3, d, patch, patch));
    register_parameter("cls_token", ss::zeros({1, 1, d}));
    register_parameter("pos_embed", ss::mul(ss::randn({1, n, d}), 0.02));
    auto list = register_module("blocks", std::make_shared<nn::ModuleList>());
    for (int64_t i = 0; i < depth; ++i) {
      blocks.push_back(std::make_shared<nn::TransformerEncoderLayer>(d, heads, mlp, 0.0, "gelu", 1e-5, true, true));
      list->push_back(blocks.back());
    }
    norm = register_module("norm", std::make_shared<nn::LayerNorm>(d));
    head = register_module("head", std::make_shared<nn::Linear>(d, classes));
  }
  ss::Tensor forward(const ss::Tensor& img) override {
    ss::Tensor x = patch_embed->forward(img).flatten(2).transpose(1, 2);
    x = ss::add(ss::cat({parameter("cls_token").expand({x.size(0), 1, d}), x}, 1), parameter("pos_embed"));
    for (auto& blk : blocks) x = blk->forward(x);
    return head->forward(norm->forward(x.select(1, 0)));
  }
};

Workload w2(bool tiny) {
  const int64_t img = tiny ? 8 : 32, patch = 4, d = tiny ? 12 : 192, depth = tiny ? 1 : 6, heads = tiny ? 2 : 3,
                mlp = tiny ? 24 : 768, batch = tiny ? 2 : 64, classes = 10;
  const int64_t n = (img / patch) * (img / patch) + 1;
  ss::manual_seed(0);
  auto model = std::make_shared<ViT>(patch, d, depth, heads, mlp, n, classes);
  // AdamWOptions' defaults (lr 1e-3, weight_decay 1e-2) are torch's, as the Python half relies on.
  auto opt = std::make_shared<ss::optim::AdamW>(model->parameters(), ss::optim::AdamWOptions());
  ss::Tensor x = ss::randn({batch, 3, img, img});
  ss::Tensor y = ss::randint(0, classes, {batch});
  auto step = [=] {
    opt->zero_grad();
    F::cross_entropy(model->forward(x), y).backward();
    opt->step();
  };
  double per_img = double(depth * n) * transformer_layer_flops(d, mlp, n) + 2.0 * (n - 1) * 3 * patch * patch * d;
  return {step, 3.0 * per_img * batch, double(batch), "img"};
}

// ---- W1g, W2g: the GEMMs of a W1 / W2 step alone (bench/workloads.py) ------------------------------
using LinearShape = std::array<int64_t, 3>;  // rows, in_features, out_features

std::vector<LinearShape> linear_shapes_w1(bool tiny) {
  const int64_t vocab = tiny ? 50 : 1000, d = tiny ? 16 : 256, ff = tiny ? 32 : 1024, layers = tiny ? 1 : 3,
                rows = tiny ? 10 : 32 * 32;
  std::vector<LinearShape> enc = {{rows, d, 3 * d}, {rows, d, d}, {rows, d, ff}, {rows, ff, d}};
  std::vector<LinearShape> dec = {{rows, d, 3 * d}, {rows, d, d},  {rows, d, d}, {rows, d, 2 * d},
                                  {rows, d, d},     {rows, d, ff}, {rows, ff, d}};
  std::vector<LinearShape> all;
  for (int64_t i = 0; i < layers; ++i) all.insert(all.end(), enc.begin(), enc.end());
  for (int64_t i = 0; i < layers; ++i) all.insert(all.end(), dec.begin(), dec.end());
  all.push_back({rows, d, vocab});
  return all;
}

std::vector<LinearShape> linear_shapes_w2(bool tiny) {
  const int64_t d = tiny ? 12 : 192, depth = tiny ? 1 : 6, mlp = tiny ? 24 : 768, batch = tiny ? 2 : 64,
                n = tiny ? 5 : 65, patch = 4, rows = batch * n;
  std::vector<LinearShape> all = {{batch * (n - 1), 3 * patch * patch, d}};
  for (int64_t i = 0; i < depth; ++i)
    all.insert(all.end(), {{rows, d, 3 * d}, {rows, d, d}, {rows, d, mlp}, {rows, mlp, d}});
  all.push_back({batch, d, 10});
  return all;
}

Workload gemm_replay(const std::vector<LinearShape>& shapes) {
  ss::manual_seed(0);
  std::vector<std::array<ss::Tensor, 3>> ops;
  double flops = 0;
  for (const auto& [m, k, n] : shapes) {
    ops.push_back({ss::randn({m, k}), ss::randn({n, k}), ss::randn({m, n})});
    flops += 3 * 2.0 * double(m) * double(k) * double(n);
  }
  auto step = [ops] {
    for (const auto& [x, w, g] : ops) {
      ss::matmul(x, w.t());  // forward
      ss::matmul(g, w);      // input gradient
      ss::matmul(g.t(), x);  // weight gradient
    }
  };
  return {step, flops, 1, "step"};
}

Workload w1g(bool tiny) { return gemm_replay(linear_shapes_w1(tiny)); }
Workload w2g(bool tiny) { return gemm_replay(linear_shapes_w2(tiny)); }

// ---- W3: GAT training step on a Cora-sized graph -------------------------------------------------
Workload w3(bool tiny) {
  const int64_t nodes = tiny ? 20 : 2708, edges = tiny ? 60 : 10556, feats = tiny ? 10 : 1433, heads = tiny ? 2 : 8,
                hidden = tiny ? 3 : 8, classes = tiny ? 3 : 7;
  ss::manual_seed(0);
  auto conv1 = std::make_shared<nn::GATConv>(feats, hidden, heads, true, 0.2, 0.6);
  auto conv2 = std::make_shared<nn::GATConv>(hidden * heads, classes, 1, false, 0.2, 0.6);
  std::vector<ss::Tensor> params = conv1->parameters();
  for (auto& p : conv2->parameters()) params.push_back(p);
  auto opt = std::make_shared<ss::optim::Adam>(params, ss::optim::AdamOptions{.lr = 0.005, .weight_decay = 5e-4});
  ss::Tensor x = ss::lt(ss::rand({nodes, feats}), 0.01).to(ss::DType::Float32);
  ss::Tensor edge_index = ss::randint(0, nodes, {2, edges});
  ss::Tensor y = ss::randint(0, classes, {nodes});
  auto step = [=] {
    opt->zero_grad();
    ss::Tensor h = F::elu(conv1->forward(F::dropout(x, 0.6, true), edge_index));
    ss::Tensor out = conv2->forward(F::dropout(h, 0.6, true), edge_index);
    F::cross_entropy(out, y).backward();
    opt->step();
  };
  double flops = 2.0 * nodes * feats * heads * hidden + 2.0 * nodes * heads * hidden * classes;
  return {step, 3.0 * flops, 1, "step"};
}

// ---- W4: multi-head attention forward, inference, batch 1 -------------------------------------
Workload w4(bool tiny) {
  const int64_t length = tiny ? 4 : 128, d = tiny ? 8 : 512, heads = tiny ? 2 : 8;
  ss::manual_seed(0);
  auto mha = std::make_shared<nn::MultiheadAttention>(d, heads, 0.0, true, false, false, std::nullopt, std::nullopt,
                                                      true);
  mha->eval();
  ss::Tensor x = ss::randn({1, length, d});
  auto step = [=] {
    ss::autograd::NoGradGuard ng;
    mha->forward(x, x, x, ss::Tensor(), false);
  };
  double flops = 2.0 * length * 4 * d * d + 2.0 * 2 * length * length * d;
  return {step, flops, 1, "call"};
}

// ---- W5: scaled dot-product attention forward + backward, causal ------------------------------
// W5u runs it through the unfused composite path (T x T scores materialised): the
// yardstick of the fused kernel's >= 1.5x goal.
template <class Sdpa>
Workload sdpa_step(bool tiny, Sdpa sdpa) {
  const int64_t b = tiny ? 1 : 4, h = tiny ? 2 : 8, t = tiny ? 8 : 1024, dh = tiny ? 4 : 64;
  ss::manual_seed(0);
  ss::Tensor q = ss::randn({b, h, t, dh}).requires_grad_(), k = ss::randn({b, h, t, dh}).requires_grad_(),
             v = ss::randn({b, h, t, dh}).requires_grad_();
  ss::Tensor g = ss::randn({b, h, t, dh});
  auto step = [=]() mutable {
    for (ss::Tensor* p : {&q, &k, &v}) p->set_grad(ss::Tensor());
    sdpa(q, k, v).backward(g);
  };
  double fwd = 2.0 * 2 * b * h * double(t) * t * dh / 2;  // causal: half the score matrix
  return {step, 3.0 * fwd, 1, "step"};
}

Workload w5(bool tiny) {
  return sdpa_step(tiny, [](const ss::Tensor& q, const ss::Tensor& k, const ss::Tensor& v) {
    return F::scaled_dot_product_attention(q, k, v, ss::Tensor(), 0.0, true);
  });
}

Workload w5u(bool tiny) {
  return sdpa_step(tiny, [](const ss::Tensor& q, const ss::Tensor& k, const ss::Tensor& v) {
    return F::scaled_dot_product_attention_math(q, k, v, ss::Tensor(), 0.0, true);
  });
}

Workload sgemm(bool tiny) {
  const int64_t n = tiny ? 32 : 1024;
  ss::manual_seed(0);
  ss::Tensor a = ss::randn({n, n}), b = ss::randn({n, n});
  return {[a, b] { ss::matmul(a, b); }, 2.0 * double(n) * double(n) * double(n), 1, "call"};
}

}  // namespace

const std::map<std::string, Factory>& workloads() {
  static const std::map<std::string, Factory> table = {
      {"W1", w1}, {"W1g", w1g}, {"W2", w2}, {"W2g", w2g}, {"W3", w3}, {"W4", w4}, {"W5", w5}, {"W5u", w5u}, {"SGEMM", sgemm},
  };
  return table;
}

}  // namespace shanshui_bench
