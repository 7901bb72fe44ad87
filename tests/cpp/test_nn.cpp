// nn: the Module system, layers, functional kernels and losses.
#include <catch2/catch.hpp>
#include <cmath>

#include "autograd/gradcheck.h"
#include "core/ops.h"
#include "nn/nn.h"

using namespace shanshui;
namespace F = shanshui::nn::functional;

namespace {
Tensor randn64(const Shape& s, bool grad = true) {
  Tensor t = randn(s, DType::Float64);
  if (grad) t.requires_grad_();
  return t;
}

struct TwoLayer : nn::Module {
  std::shared_ptr<nn::Linear> fc1, fc2;
  TwoLayer() : Module("TwoLayer") {
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(4, 8));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(8, 3));
    register_buffer("steps", zeros({1}));
  }
  Tensor forward(const Tensor& x) override { return (*fc2)(relu((*fc1)(x))); }
};
}  // namespace

TEST_CASE("Module registers parameters, buffers and children in order with dotted names") {
  auto m = std::make_shared<TwoLayer>();
  auto named = m->named_parameters();
  REQUIRE(named.size() == 4);
  CHECK(named[0].first == "fc1.weight");
  CHECK(named[1].first == "fc1.bias");
  CHECK(named[2].first == "fc2.weight");
  CHECK(named[3].first == "fc2.bias");
  CHECK(named[0].second.shape() == Shape{8, 4});  // [out, in], as PyTorch
  CHECK(named[0].second.requires_grad());
  auto sd = m->state_dict();
  REQUIRE(sd.size() == 5);
  CHECK(sd[0].first == "steps");  // own parameters and buffers come before the children's, as PyTorch
  CHECK(sd[1].first == "fc1.weight");
  auto mods = m->named_modules();
  REQUIRE(mods.size() == 3);
  CHECK(mods[0].first == "");
  CHECK(mods[1].first == "fc1");
  m->eval();
  CHECK_FALSE(m->fc1->is_training());
  m->train();
  CHECK(m->fc2->is_training());
}

TEST_CASE("load_state_dict copies in place and reports missing, unexpected and mis-shaped keys") {
  auto a = std::make_shared<TwoLayer>();
  auto b = std::make_shared<TwoLayer>();
  Tensor w_before = b->fc1->weight();
  b->load_state_dict(a->state_dict());
  CHECK(equal(b->fc1->weight(), a->fc1->weight()));
  CHECK(b->fc1->weight().is_same(w_before));  // same tensor object: optimizers keep their references

  nn::StateDict sd = a->state_dict();
  sd.erase(sd.begin());                             // drop "steps"
  sd.emplace_back("extra.weight", zeros({1}));
  REQUIRE_THROWS_AS(b->load_state_dict(sd, true), RuntimeError);
  auto res = b->load_state_dict(sd, false);
  REQUIRE(res.missing_keys == std::vector<std::string>{"steps"});
  REQUIRE(res.unexpected_keys == std::vector<std::string>{"extra.weight"});

  nn::StateDict bad = a->state_dict();
  bad[1].second = zeros({3, 3});  // fc1.weight
  Tensor keep = b->fc1->bias().clone();
  try {
    b->load_state_dict(bad);
    FAIL("expected a shape error");
  } catch (const ValueError& e) {
    std::string msg = e.what();
    CHECK(msg.find("fc1.weight") != std::string::npos);
    CHECK(msg.find("[3, 3]") != std::string::npos);
    CHECK(msg.find("[8, 4]") != std::string::npos);
  }
  CHECK(equal(b->fc1->bias(), keep));  // a failed load changes nothing
}

TEST_CASE("Linear computes x W^T + b and its default init is U(-1/sqrt(in), 1/sqrt(in))") {
  manual_seed(0);
  nn::Linear lin(100, 50);
  double bound = 1.0 / std::sqrt(100.0);
  CHECK(amax(lin.weight()).item<double>() <= bound);
  CHECK(amin(lin.weight()).item<double>() >= -bound);
  CHECK(amax(lin.weight()).item<double>() > 0.9 * bound);
  Tensor x = randn({7, 100});
  Tensor y = lin(x);
  Tensor ref = matmul(x, lin.weight().t()).add(lin.bias());
  CHECK(allclose(y, ref, 1e-5, 1e-6));
  REQUIRE_THROWS_AS(lin(randn({7, 99})), ValueError);
}

TEST_CASE("Sequential chains modules and forward hooks see inputs and outputs") {
  auto seq = std::make_shared<nn::Sequential>(
      std::initializer_list<nn::ModulePtr>{std::make_shared<nn::Linear>(3, 5), std::make_shared<nn::ReLU>(),
                                          std::make_shared<nn::Linear>(5, 2)});
  Shape seen;
  int id = (*seq)[1]->register_forward_hook(
      [&](nn::Module&, const std::vector<Tensor>&, const std::vector<Tensor>& out) { seen = out[0].shape(); });
  Tensor y = (*seq)(randn({4, 3}));
  CHECK(y.shape() == Shape{4, 2});
  CHECK(seen == Shape{4, 5});
  (*seq)[1]->remove_forward_hook(id);
  seen.clear();
  (*seq)(randn({4, 3}));
  CHECK(seen.empty());
  CHECK(seq->parameters().size() == 4);
}

TEST_CASE("layer_norm matches the composite formula and passes gradcheck") {
  Tensor x = randn64({3, 4, 6});
  Tensor w = randn64({6}), b = randn64({6});
  Tensor y = F::layer_norm(x, {6}, w, b, 1e-5);
  Tensor mu = x.mean({-1}, true);
  Tensor var = x.sub(mu).pow(2.0).mean({-1}, true);
  Tensor ref = x.sub(mu).div(var.add(1e-5).sqrt()).mul(w).add(b);
  CHECK(allclose(y, ref, 1e-10, 1e-10));
  auto r = autograd::gradcheck([](const std::vector<Tensor>& in) { return F::layer_norm(in[0], {6}, in[1], in[2]); },
                               {x, w, b});
  INFO(r.message);
  CHECK(r.ok);
  // Two normalised dims, no affine, non-contiguous input.
  Tensor xt = randn64({5, 3, 4}).transpose(0, 2);
  auto r2 = autograd::gradcheck([](const std::vector<Tensor>& in) { return F::layer_norm(in[0], {3, 5}); }, {xt});
  INFO(r2.message);
  CHECK(r2.ok);
  REQUIRE_THROWS_AS(F::layer_norm(x, {5}), ValueError);
}

TEST_CASE("cross_entropy fused kernel equals log_softmax + nll, with weights, ignore_index and label smoothing") {
  Tensor logits = randn64({6, 5});
  Tensor target = from_vector(std::vector<int64_t>{0, 4, 2, -100, 1, 4}, {6});
  Tensor weight = rand({5}, DType::Float64).add(0.5);
  for (double eps : {0.0, 0.2}) {
    for (std::string red : {"mean", "sum", "none"}) {
      Tensor l = F::cross_entropy(logits, target, weight, -100, red, eps);
      // Reference: q = (1-eps) w_y onehot + eps w / C over non-ignored rows.
      Tensor logp = log_softmax(logits, 1);
      Tensor valid = ne(target, -100);
      Tensor safe = where(valid, target, zeros_like(target));
      Tensor wy = index_select(weight, 0, safe).mul(valid.to(DType::Float64));
      Tensor nll = gather(logp, 1, safe.unsqueeze(1)).squeeze(1).mul(wy).neg();
      Tensor smooth = logp.mul(weight).sum({1}).neg().div(5.0).mul(valid.to(DType::Float64));
      Tensor rows = nll.mul(1 - eps).add(smooth.mul(eps));
      Tensor ref = red == "none" ? rows : (red == "sum" ? rows.sum() : rows.sum().div(wy.sum()));
      CHECK(allclose(l, ref, 1e-10, 1e-12));
      auto r = autograd::gradcheck(
          [&](const std::vector<Tensor>& in) { return F::cross_entropy(in[0], target, weight, -100, red, eps); },
          {logits});
      INFO(r.message);
      CHECK(r.ok);
    }
  }
  // [N, C, d] layout.
  Tensor x3 = randn64({2, 4, 3});
  Tensor t3 = randint(0, 4, {2, 3});
  auto r3 = autograd::gradcheck([&](const std::vector<Tensor>& in) { return F::cross_entropy(in[0], t3); }, {x3});
  INFO(r3.message);
  CHECK(r3.ok);
  REQUIRE_THROWS_AS(F::cross_entropy(logits, from_vector(std::vector<int64_t>{0, 5, 0, 0, 0, 0}, {6})), IndexError);
  REQUIRE_THROWS_AS(F::cross_entropy(logits, target.narrow(0, 0, 5)), ValueError);
}

TEST_CASE("losses: mse, l1, bce_with_logits, nll") {
  Tensor a = randn64({4, 3}), b = randn64({4, 3}, false);
  CHECK(F::mse_loss(a, b).item<double>() == Approx(a.sub(b).pow(2.0).mean().item<double>()));
  CHECK(F::l1_loss(a, b, "sum").item<double>() == Approx(a.sub(b).abs().sum().item<double>()));
  Tensor y = rand({4, 3}, DType::Float64);
  // Stable formula vs the direct one on moderate logits.
  Tensor direct = y.mul(sigmoid(a).log()).add(rsub(y, 1.0).mul(rsub(sigmoid(a), 1.0).log())).neg().mean();
  CHECK(F::binary_cross_entropy_with_logits(a, y).item<double>() == Approx(direct.item<double>()).epsilon(1e-10));
  auto r = autograd::gradcheck(
      [&](const std::vector<Tensor>& in) { return F::binary_cross_entropy_with_logits(in[0], y); }, {a});
  CHECK(r.ok);
  // Large logits stay finite.
  Tensor big = from_vector(std::vector<double>{200.0, -200.0}, {2}, DType::Float64);
  Tensor t2 = from_vector(std::vector<double>{0.0, 1.0}, {2}, DType::Float64);
  CHECK(F::binary_cross_entropy_with_logits(big, t2).item<double>() == Approx(200.0));
  Tensor tgt = from_vector(std::vector<int64_t>{2, 0, 1, 2}, {4});
  Tensor lp = log_softmax(a, 1);
  CHECK(F::nll_loss(lp, tgt).item<double>() == Approx(F::cross_entropy(a, tgt).item<double>()).epsilon(1e-12));
}

TEST_CASE("Dropout scales kept elements by 1/(1-p), is the identity in eval mode, and rejects bad p") {
  manual_seed(1);
  nn::Dropout d(0.25);
  Tensor x = ones({100000});
  Tensor y = d(x);
  double kept = mean(ne(y, 0.0).to(DType::Float32)).item<double>();
  CHECK(kept == Approx(0.75).margin(0.01));
  CHECK(amax(y).item<double>() == Approx(1.0 / 0.75));
  d.eval();
  CHECK(d(x).is_same(x));
  REQUIRE_THROWS_AS(nn::Dropout(1.5), ValueError);
}

TEST_CASE("Embedding looks up rows and gives no gradient to padding_idx") {
  nn::Embedding emb(10, 4, 2);
  CHECK(equal(emb.weight().select(0, 2), zeros({4})));
  Tensor idx = from_vector(std::vector<int64_t>{1, 2, 2, 5}, {2, 2});
  Tensor out = emb(idx);
  CHECK(out.shape() == Shape{2, 2, 4});
  out.sum().backward();
  Tensor g = emb.weight().grad();
  CHECK(equal(g.select(0, 2), zeros({4})));
  CHECK(equal(g.select(0, 1), ones({4})));
  CHECK(equal(g.select(0, 0), zeros({4})));
}

TEST_CASE("init functions follow PyTorch's fan rules") {
  manual_seed(3);
  Tensor w = empty({200, 300});
  nn::init::xavier_uniform_(w);
  double bound = std::sqrt(6.0 / 500.0);
  CHECK(amax(w.abs()).item<double>() <= bound);
  nn::init::kaiming_normal_(w, 0.0, "fan_in", "relu");
  CHECK(shanshui::std(w).item<double>() == Approx(std::sqrt(2.0 / 300.0)).epsilon(0.03));
  nn::init::trunc_normal_(w, 0.0, 1.0, -0.5, 0.5);
  CHECK(amax(w.abs()).item<double>() <= 0.5);
  Tensor vec = empty({3});
  REQUIRE_THROWS_AS(nn::init::xavier_uniform_(vec), ValueError);
}

TEST_CASE("replacing forward hooks change the output; repr follows PyTorch's layout") {
  nn::Linear lin(2, 3);
  Tensor x = randn({4, 2});
  int id = lin.register_replacing_forward_hook(
      [](nn::Module&, const std::vector<Tensor>&, std::vector<Tensor>& out) { out[0] = out[0].mul(0.0); });
  CHECK(amax(lin(x).abs()).item<double>() == 0.0);
  lin.remove_forward_hook(id);
  CHECK(amax(lin(x).abs()).item<double>() > 0.0);
  // A hook returning two tensors where the caller takes one is an error, not a silent drop.
  lin.register_replacing_forward_hook(
      [](nn::Module&, const std::vector<Tensor>&, std::vector<Tensor>& out) { out.push_back(out[0]); });
  REQUIRE_THROWS_AS(lin(x), TypeError);

  CHECK(nn::Module::float_repr(1.0) == "1.0");
  CHECK(nn::Module::float_repr(1e-5) == "1e-05");
  CHECK(nn::Module::float_repr(0.01) == "0.01");
  CHECK(nn::Dropout(0.5).repr() == "Dropout(p=0.5, inplace=False)");
  CHECK(nn::LayerNorm(4).repr() == "LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True)");
  nn::Sequential seq{std::make_shared<nn::Linear>(1, 1), std::make_shared<nn::ELU>()};
  CHECK(seq.repr() == "Sequential(\n  (0): Linear(in_features=1, out_features=1, bias=True)\n  (1): ELU(alpha=1.0)\n)");
}

TEST_CASE("named_modules works on a module that no shared_ptr owns") {
  nn::Sequential seq{std::make_shared<nn::ReLU>()};  // on the stack, as a Python-owned module looks to C++
  auto mods = seq.named_modules();
  REQUIRE(mods.size() == 2);
  CHECK(mods[0].second.get() == &seq);
  CHECK(mods[1].first == "0");
  CHECK(nn::Softmax().forward(ones({2, 3})).sum().item<double>() == Approx(2.0));  // implicit dim 1 for 2-d
}
