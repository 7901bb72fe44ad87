// optim: update rules against their formulas, schedules against closed forms, clipping.
#include <catch2/catch.hpp>
#include <cmath>

#include "core/ops.h"
#include "optim/optim.h"

using namespace shanshui;
using namespace shanshui::optim;

namespace {
Tensor param(std::vector<double> v) { return from_vector(v, {int64_t(v.size())}, DType::Float64).requires_grad_(); }
void set_grad(Tensor& p, std::vector<double> g) { p.set_grad(from_vector(g, p.shape(), DType::Float64)); }
}  // namespace

TEST_CASE("SGD with momentum, dampening, nesterov and weight decay follows PyTorch's update") {
  Tensor p = param({1.0, -2.0});
  SGD opt({p}, SGDOptions{.lr = 0.1, .momentum = 0.9, .dampening = 0.0, .weight_decay = 0.01, .nesterov = true});
  // Step 1: d = g + wd p; buf = d; d = d + m buf; p -= lr d.
  set_grad(p, {0.5, 0.25});
  opt.step();
  double d0 = 0.5 + 0.01 * 1.0, d1 = 0.25 + 0.01 * -2.0;
  double p0 = 1.0 - 0.1 * (d0 + 0.9 * d0), p1 = -2.0 - 0.1 * (d1 + 0.9 * d1);
  CHECK(to_vector(p)[0] == Approx(p0).epsilon(1e-14));
  CHECK(to_vector(p)[1] == Approx(p1).epsilon(1e-14));
  // Step 2: buf = m buf + d.
  set_grad(p, {0.5, 0.25});
  opt.step();
  double e0 = 0.5 + 0.01 * p0, b0 = 0.9 * d0 + e0;
  CHECK(to_vector(p)[0] == Approx(p0 - 0.1 * (e0 + 0.9 * b0)).epsilon(1e-14));
  REQUIRE_THROWS_AS(SGD({p}, SGDOptions{.lr = -1.0}), ValueError);
  REQUIRE_THROWS_AS(SGD({p}, SGDOptions{.lr = 0.1, .momentum = 0.0, .dampening = 0.0, .weight_decay = 0.0, .nesterov = true}),
                    ValueError);
}

TEST_CASE("Adam's first step moves each parameter by lr against the gradient's sign; AdamW decays first") {
  Tensor p = param({1.0, -1.0, 0.5});
  Adam opt({p}, AdamOptions{.lr = 0.01});
  set_grad(p, {3.0, -0.2, 1e-3});
  opt.step();
  // m = 0.1 g, v = 0.001 g^2, mhat = g, vhat = g^2: step = lr * g / (|g| + eps).
  auto v = to_vector(p);
  CHECK(v[0] == Approx(1.0 - 0.01 * 3.0 / (3.0 + 1e-8)).epsilon(1e-12));
  CHECK(v[1] == Approx(-1.0 + 0.01 * 0.2 / (0.2 + 1e-8)).epsilon(1e-12));
  CHECK(v[2] == Approx(0.5 - 0.01 * 1e-3 / (1e-3 + 1e-8)).epsilon(1e-12));
  CHECK(opt.state(p).step == 1);

  Tensor q = param({2.0});
  AdamW w({q}, [] { AdamWOptions o; o.lr = 0.1; o.weight_decay = 0.5; return o; }());
  set_grad(q, {1.0});
  w.step();
  CHECK(to_vector(q)[0] == Approx(2.0 * (1 - 0.1 * 0.5) - 0.1 * 1.0 / (1.0 + 1e-8)).epsilon(1e-12));
}

TEST_CASE("Optimizer state_dict round-trips so training resumes exactly") {
  Tensor a = param({1.0, 2.0}), b = param({1.0, 2.0});
  Adam oa({a}, AdamOptions{.lr = 0.05});
  for (int i = 0; i < 3; ++i) {
    set_grad(a, {0.3 * i + 0.1, -0.2});
    oa.step();
  }
  b.detach().copy_(a.detach());
  Adam ob({b}, AdamOptions{.lr = 0.05});
  ob.load_state_dict(oa.state_dict());
  for (int i = 0; i < 3; ++i) {
    set_grad(a, {0.5, 0.1 * i});
    set_grad(b, {0.5, 0.1 * i});
    oa.step();
    ob.step();
  }
  CHECK(equal(a, b));
}

TEST_CASE("zero_grad sets grads to None by default, or zeroes them") {
  Tensor p = param({1.0});
  SGD opt({p}, SGDOptions{.lr = 0.1});
  set_grad(p, {2.0});
  opt.zero_grad(false);
  CHECK(to_vector(p.grad())[0] == 0.0);
  opt.zero_grad();
  CHECK_FALSE(p.grad().defined());
}

TEST_CASE("schedules follow their closed forms") {
  Tensor p = param({1.0});
  SGD opt({p}, SGDOptions{.lr = 0.1});
  StepLR s(opt, 3, 0.5);
  std::vector<double> lrs;
  for (int i = 0; i < 7; ++i) {
    lrs.push_back(opt.param_groups()[0].options["lr"]);
    s.step();
  }
  CHECK(lrs == std::vector<double>{0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025});

  SGD opt2({param({1.0})}, SGDOptions{.lr = 1.0});
  CosineAnnealingLR c(opt2, 10, 0.1);
  for (int i = 0; i < 5; ++i) c.step();
  CHECK(opt2.param_groups()[0].options["lr"] == Approx(0.1 + 0.9 * (1 + std::cos(M_PI * 5 / 10)) / 2));

  SGD opt3({param({1.0})}, SGDOptions{.lr = 1.0});
  InverseSqrtLR n(opt3, 512, 4000);
  for (int i = 0; i < 99; ++i) n.step();  // step number 100
  CHECK(opt3.param_groups()[0].options["lr"] == Approx(std::pow(512, -0.5) * 100 * std::pow(4000, -1.5)));

  SGD opt4({param({1.0})}, SGDOptions{.lr = 2.0});
  WarmupCosineLR wc(opt4, 4, 12);
  CHECK(opt4.param_groups()[0].options["lr"] == 0.0);
  for (int i = 0; i < 2; ++i) wc.step();
  CHECK(opt4.param_groups()[0].options["lr"] == Approx(1.0));
  for (int i = 0; i < 2; ++i) wc.step();
  CHECK(opt4.param_groups()[0].options["lr"] == Approx(2.0));
  for (int i = 0; i < 8; ++i) wc.step();
  CHECK(opt4.param_groups()[0].options["lr"] == Approx(0.0).margin(1e-12));
}

TEST_CASE("clip_grad_norm_ scales to max_norm and returns the total norm; clip_grad_value_ clamps") {
  Tensor a = param({0.0, 0.0}), b = param({0.0});
  set_grad(a, {3.0, 0.0});
  set_grad(b, {4.0});
  double total = clip_grad_norm_({a, b}, 1.0);
  CHECK(total == Approx(5.0));
  CHECK(to_vector(a.grad())[0] == Approx(3.0 / (5.0 + 1e-6)));
  CHECK(to_vector(b.grad())[0] == Approx(4.0 / (5.0 + 1e-6)));
  set_grad(a, {3.0, -7.0});
  CHECK(clip_grad_norm_({a}, 100.0, INFINITY) == Approx(7.0));
  clip_grad_value_({a}, 2.0);
  CHECK(to_vector(a.grad()) == std::vector<double>{2.0, -2.0});
}

TEST_CASE("turning amsgrad / momentum / centered on after a state exists creates the missing buffers") {
  Tensor p = param({1.0, -1.0});
  Adam adam({p}, AdamOptions{.lr = 0.01});
  set_grad(p, {0.5, 0.5});
  adam.step();
  adam.param_groups()[0].options["amsgrad"] = 1.0;
  adam.step();  // used to index a missing max_exp_avg_sq
  REQUIRE(adam.state(p).tensors.count("max_exp_avg_sq") == 1);
  REQUIRE(adam.state(p).step == 2);
  Tensor q = param({1.0, -1.0});
  RMSprop rms({q}, RMSpropOptions{});
  set_grad(q, {0.5, 0.5});
  rms.step();
  rms.param_groups()[0].options["momentum"] = 0.9;
  rms.param_groups()[0].options["centered"] = 1.0;
  rms.step();
  REQUIRE(rms.state(q).tensors.count("momentum_buffer") == 1);
  REQUIRE(rms.state(q).tensors.count("grad_avg") == 1);
}

TEST_CASE("Adam reads decoupled_weight_decay per group (torch >= 2.6), AdamW by default") {
  Tensor a = param({1.0}), b = param({1.0});
  Adam opt({ParamGroup{{a}, {{"decoupled_weight_decay", 1.0}}}, ParamGroup{{b}, {}}},
           AdamOptions{.lr = 0.1, .weight_decay = 0.5});
  set_grad(a, {0.0});
  set_grad(b, {0.0});
  opt.step();
  // Zero gradient: decoupled decay gives p = 1 - lr * wd exactly (the Adam step of a zero moment is 0);
  // L2 decay turns into a gradient of wd * p and a step of about lr.
  CHECK(to_vector(a)[0] == Approx(1.0 - 0.1 * 0.5).epsilon(1e-12));
  CHECK(to_vector(b)[0] == Approx(1.0 - 0.1).epsilon(1e-6));
}

TEST_CASE("LRScheduler::load_state resumes the schedule") {
  Tensor p = param({1.0});
  SGD opt({p}, SGDOptions{.lr = 1.0});
  CosineAnnealingLR s(opt, 10, 0.1);
  for (int i = 0; i < 4; ++i) s.step();
  SGD opt2({param({1.0})}, SGDOptions{.lr = 1.0});
  CosineAnnealingLR s2(opt2, 10, 0.1);
  s2.load_state(s.last_epoch(), s.base_lrs());
  for (int i = 0; i < 3; ++i) s.step(), s2.step();
  REQUIRE(s2.get_last_lr() == s.get_last_lr());
  REQUIRE(opt2.param_groups()[0].options.at("lr") == opt.param_groups()[0].options.at("lr"));
  REQUIRE_THROWS_AS(s2.load_state(-1, s.base_lrs()), ValueError);
  REQUIRE_THROWS_AS(s2.load_state(1, {1.0, 2.0}), ValueError);
}
