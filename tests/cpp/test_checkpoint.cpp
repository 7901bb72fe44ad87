// optim/checkpoint: a whole training state (model, optimizer, schedule, step,
// generator) saved mid-run and resumed gives bit-identical parameters.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "core/ops.h"
#include "core/ops/random.h"
#include "core/serialize.h"
#include "nn/nn.h"
#include "optim/optim.h"

using namespace shanshui;
using namespace shanshui::optim;
namespace fs = std::filesystem;

namespace {

struct Net : nn::Module {
  std::shared_ptr<nn::Linear> fc1, fc2;
  std::shared_ptr<nn::Dropout> drop;
  Net() : Module("Net") {
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(4, 16));
    drop = register_module("drop", std::make_shared<nn::Dropout>(0.25));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(16, 2));
  }
  Tensor forward(const Tensor& x) override { return fc2->forward(drop->forward(fc1->forward(x).relu())); }
};

struct Run {
  std::shared_ptr<Net> net;
  std::unique_ptr<Optimizer> opt;
  std::unique_ptr<LRScheduler> sched;
  explicit Run(uint64_t seed, bool adam) {
    manual_seed(seed);
    net = std::make_shared<Net>();
    std::vector<Tensor> ps;
    for (auto& [n, p] : net->named_parameters()) ps.push_back(p);
    if (adam) {
      opt = std::make_unique<AdamW>(ps, AdamWOptions{});
      sched = std::make_unique<WarmupCosineLR>(*opt, 4, 30);
    } else {
      opt = std::make_unique<SGD>(ps, SGDOptions{.lr = 0.05, .momentum = 0.9, .nesterov = true});
      sched = std::make_unique<StepLR>(*opt, 5, 0.5);
    }
  }
  void train(int steps) {
    for (int i = 0; i < steps; ++i) {
      Tensor x = randn({8, 4}), y = randn({8, 2});
      Tensor loss = nn::functional::mse_loss(net->forward(x), y);
      opt->zero_grad();
      loss.backward();
      clip_grad_norm_(net->parameters(), 1.0);
      opt->step();
      sched->step();
    }
  }
};

std::string tmp_file(const std::string& name) {
  return (fs::temp_directory_path() / ("shanshui_test_ckpt_" + std::to_string(::getpid()) + "_" + name)).string();
}

}  // namespace

TEST_CASE("a saved training state resumes bit-identically", "[checkpoint]") {
  for (bool adam : {true, false}) {
    INFO("adam " << adam);
    const std::string path = tmp_file(adam ? "adam.safetensors" : "sgd.safetensors");
    Run a(7, adam);
    a.train(10);
    save_training_state(path, *a.net, *a.opt, a.sched.get(), 10);
    a.train(10);

    Run b(99, adam);  // other weights, other generator position
    REQUIRE(load_training_state(path, *b.net, *b.opt, b.sched.get()) == 10);
    REQUIRE(b.sched->last_epoch() == 10);
    b.train(10);
    auto pa = a.net->state_dict(), pb = b.net->state_dict();
    REQUIRE(pa.size() == pb.size());
    for (size_t i = 0; i < pa.size(); ++i) {
      INFO(pa[i].first);
      REQUIRE(equal(pa[i].second, pb[i].second));
    }
    REQUIRE(a.sched->get_last_lr() == b.sched->get_last_lr());
    // The file is an ordinary safetensors file with dotted names.
    auto t = load_safetensors(path);
    REQUIRE(t.count("model.fc1.weight") == 1);
    REQUIRE(t.count("rng_state") == 1);
    REQUIRE(t.count(adam ? "optimizer.state.0.exp_avg" : "optimizer.state.0.momentum_buffer") == 1);
    fs::remove(path);
  }
}

TEST_CASE("load_training_state refuses mismatched objects and files without a state", "[checkpoint]") {
  const std::string path = tmp_file("m.safetensors");
  Run a(1, true);
  a.train(2);
  save_training_state(path, *a.net, *a.opt, a.sched.get(), 2);
  Run sgd(1, false);
  REQUIRE_THROWS_AS(load_training_state(path, *sgd.net, *sgd.opt, sgd.sched.get()), ValueError);  // AdamW vs SGD
  auto other = std::make_shared<nn::Linear>(4, 16);
  AdamW o2(other->parameters(), AdamWOptions{});
  REQUIRE_THROWS_WITH(load_training_state(path, *other, o2, nullptr), Catch::Contains("Missing key"));
  save_safetensors({{"w", ones({2})}}, path);
  REQUIRE_THROWS_WITH(load_training_state(path, *a.net, *a.opt, nullptr), Catch::Contains("no training state"));
  fs::remove(path);
}
