// Recurrent layers: the fused recurrence against a step-by-step composite of
// core ops, float64 gradchecks of every cell and of multi-layer /
// bidirectional / batch_first networks, shapes and bad input.
// (Comparisons with PyTorch's own modules are in tests/python/test_rnn.py.)
#include <catch2/catch.hpp>
#include <cmath>

#include "autograd/engine.h"
#include "autograd/gradcheck.h"
#include "core/ops.h"
#include "nn/nn.h"

using namespace shanshui;
using nn::functional::RecurrentMode;

namespace {
Tensor randn64(const Shape& s, bool grad = true) {
  Tensor t = randn(s, DType::Float64);
  if (grad) t.requires_grad_();
  return t;
}

Tensor flat_cat(const std::vector<Tensor>& ts) {
  std::vector<Tensor> f;
  for (auto& t : ts) f.push_back(t.reshape({-1}));
  return cat(f, 0);
}

// One step written with core ops only, as the PyTorch documentation states the formulas.
std::vector<Tensor> composite_step(RecurrentMode m, const Tensor& x, const Tensor& h, const Tensor& c, const Tensor& wih,
                                   const Tensor& whh, const Tensor& bih, const Tensor& bhh) {
  Tensor gi = linear(x, wih, bih), gh = linear(h, whh, bhh);
  if (m == RecurrentMode::RNN_TANH) return {tanh(gi + gh)};
  if (m == RecurrentMode::RNN_RELU) return {relu(gi + gh)};
  if (m == RecurrentMode::GRU) {
    auto a = chunk(gi, 3, 1), b = chunk(gh, 3, 1);
    Tensor r = sigmoid(a[0] + b[0]), z = sigmoid(a[1] + b[1]);
    Tensor n = tanh(a[2] + r * b[2]);
    return {(1.0 - z) * n + z * h};
  }
  auto g = chunk(gi + gh, 4, 1);
  Tensor i = sigmoid(g[0]), f = sigmoid(g[1]), gg = tanh(g[2]), o = sigmoid(g[3]);
  Tensor c2 = f * c + i * gg;
  return {o * tanh(c2), c2};
}
}  // namespace

TEST_CASE("recurrent_layer matches a step-by-step composite, both directions, all modes") {
  manual_seed(1);
  for (auto m : {RecurrentMode::RNN_TANH, RecurrentMode::RNN_RELU, RecurrentMode::GRU, RecurrentMode::LSTM}) {
    for (bool rev : {false, true}) {
      const int64_t T = 4, B = 3, I = 5, H = 6, G = nn::functional::gate_count(m);
      Tensor x = randn64({T, B, I}), h0 = randn64({B, H}), c0 = randn64({B, H});
      Tensor wih = randn64({G * H, I}), whh = randn64({G * H, H}), bih = randn64({G * H}), bhh = randn64({G * H});
      Tensor gi = linear(x.reshape({T * B, I}), wih, bih).view({T, B, G * H});
      bool lstm = m == RecurrentMode::LSTM;
      auto fused = nn::functional::recurrent_layer(m, gi, h0, lstm ? c0 : Tensor(), whh, bhh, rev);
      Tensor h = h0, c = c0;
      std::vector<Tensor> outs(T);
      for (int64_t s = 0; s < T; ++s) {
        int64_t t = rev ? T - 1 - s : s;
        auto r = composite_step(m, x.select(0, t), h, c, wih, whh, bih, bhh);
        h = r[0];
        if (lstm) c = r[1];
        outs[t] = h;
      }
      Tensor ref = stack(outs, 0);
      CHECK(allclose(fused[0], ref, 1e-10, 1e-12));
      CHECK(allclose(fused[1], h, 1e-10, 1e-12));
      if (lstm) CHECK(allclose(fused[2], c, 1e-10, 1e-12));
      // Gradients of a weighted sum of all outputs agree with the composite's.
      Tensor w1 = randn64(ref.shape(), false), w2 = randn64({B, H}, false);
      Tensor lf = (fused[0] * w1).sum() + (fused[1] * w2).sum() + (lstm ? (fused[2] * w2).sum() : zeros({}, DType::Float64));
      Tensor lr = (ref * w1).sum() + (h * w2).sum() + (lstm ? (c * w2).sum() : zeros({}, DType::Float64));
      std::vector<Tensor> wrt{x, h0, wih, whh, bih, bhh};
      if (lstm) wrt.push_back(c0);
      auto gf = autograd::grad({lf}, wrt), gr = autograd::grad({lr}, wrt);
      for (size_t k = 0; k < wrt.size(); ++k) CHECK(allclose(gf[k], gr[k], 1e-9, 1e-11));
    }
  }
}

TEST_CASE("recurrent_layer passes float64 gradcheck") {
  manual_seed(2);
  for (auto m : {RecurrentMode::RNN_TANH, RecurrentMode::RNN_RELU, RecurrentMode::GRU, RecurrentMode::LSTM}) {
    const int64_t T = 3, B = 2, H = 3, G = nn::functional::gate_count(m);
    bool lstm = m == RecurrentMode::LSTM;
    std::vector<Tensor> in{randn64({T, B, G * H}), randn64({B, H}), randn64({B, H}), randn64({G * H, H}),
                           randn64({G * H})};
    for (bool rev : {false, true}) {
      auto f = [&](const std::vector<Tensor>& v) {
        auto r = nn::functional::recurrent_layer(m, v[0], v[1], lstm ? v[2] : Tensor(), v[3], v[4], rev);
        return flat_cat(r);
      };
      std::vector<Tensor> args = in;
      if (!lstm) args[2] = args[2].detach();
      auto res = autograd::gradcheck(f, args);
      INFO(nn::functional::mode_name(m) << " reverse=" << rev << ": " << res.message);
      CHECK(res.ok);
    }
  }
}

TEST_CASE("cells pass gradcheck with respect to inputs, states and parameters") {
  manual_seed(3);
  {
    nn::RNNCell cell(3, 4, true, "tanh", DType::Float64);
    Tensor x = randn64({2, 3}), h = randn64({2, 4});
    std::vector<Tensor> in{x, h, cell.weight_ih(), cell.weight_hh(), cell.bias_ih(), cell.bias_hh()};
    auto res = autograd::gradcheck([&](const std::vector<Tensor>& v) { return cell.forward(v[0], v[1]); }, in);
    INFO(res.message);
    CHECK(res.ok);
  }
  {
    nn::GRUCell cell(3, 4, true, DType::Float64);
    Tensor x = randn64({2, 3}), h = randn64({2, 4});
    std::vector<Tensor> in{x, h, cell.weight_ih(), cell.weight_hh(), cell.bias_ih(), cell.bias_hh()};
    auto res = autograd::gradcheck([&](const std::vector<Tensor>& v) { return cell.forward(v[0], v[1]); }, in);
    INFO(res.message);
    CHECK(res.ok);
  }
  {
    nn::LSTMCell cell(3, 4, false, DType::Float64);
    Tensor x = randn64({3}), h = randn64({4}), c = randn64({4});  // unbatched, no bias
    std::vector<Tensor> in{x, h, c, cell.weight_ih(), cell.weight_hh()};
    auto res = autograd::gradcheck(
        [&](const std::vector<Tensor>& v) {
          auto r = cell.forward(v[0], std::make_pair(v[1], v[2]));
          return cat({r.first, r.second}, 0);
        },
        in);
    INFO(res.message);
    CHECK(res.ok);
  }
}

TEST_CASE("multi-layer bidirectional batch_first GRU and LSTM pass gradcheck") {
  manual_seed(4);
  {
    nn::GRU gru(3, 2, 2, true, true, 0.0, true, DType::Float64);
    Tensor x = randn64({2, 3, 3}), h0 = randn64({4, 2, 2});
    std::vector<Tensor> in{x, h0};
    for (auto& p : gru.parameters()) in.push_back(p);
    auto res = autograd::gradcheck(
        [&](const std::vector<Tensor>& v) {
          auto r = gru.forward(v[0], v[1]);
          return flat_cat({r.first, r.second});
        },
        in);
    INFO(res.message);
    CHECK(res.ok);
  }
  {
    nn::LSTM lstm(2, 2, 2, true, false, 0.0, true, DType::Float64);
    Tensor x = randn64({3, 2, 2}), h0 = randn64({4, 2, 2}), c0 = randn64({4, 2, 2});
    std::vector<Tensor> in{x, h0, c0};
    for (auto& p : lstm.parameters()) in.push_back(p);
    auto res = autograd::gradcheck(
        [&](const std::vector<Tensor>& v) {
          auto r = lstm.forward(v[0], std::make_pair(v[1], v[2]));
          return flat_cat({r.first, r.second.first, r.second.second});
        },
        in);
    INFO(res.message);
    CHECK(res.ok);
  }
  {
    nn::RNN rnn(2, 3, 2, "relu", true, false, 0.0, false, DType::Float64);
    Tensor x = randn64({3, 2});  // unbatched
    std::vector<Tensor> in{x};
    for (auto& p : rnn.parameters()) in.push_back(p);
    auto res = autograd::gradcheck([&](const std::vector<Tensor>& v) {
      auto r = rnn.forward(v[0], Tensor());
      return flat_cat({r.first, r.second});
    }, in);
    INFO(res.message);
    CHECK(res.ok);
  }
}

TEST_CASE("RNN modules use PyTorch's parameter names, shapes and output shapes") {
  nn::LSTM lstm(5, 7, 2, true, true, 0.0, true);
  auto named = lstm.named_parameters();
  REQUIRE(named.size() == 16);
  CHECK(named[0].first == "weight_ih_l0");
  CHECK(named[0].second.shape() == Shape{28, 5});
  CHECK(named[1].first == "weight_hh_l0");
  CHECK(named[2].first == "bias_ih_l0");
  CHECK(named[3].first == "bias_hh_l0");
  CHECK(named[4].first == "weight_ih_l0_reverse");
  CHECK(named[8].first == "weight_ih_l1");
  CHECK(named[8].second.shape() == Shape{28, 14});
  double bound = 1.0 / std::sqrt(7.0);
  for (auto& [n, p] : named) CHECK(amax(abs(p)).item<double>() <= bound);
  auto [out, st] = lstm.forward(randn({3, 4, 5}), std::nullopt);
  CHECK(out.shape() == Shape{3, 4, 14});
  CHECK(st.first.shape() == Shape{4, 3, 7});
  CHECK(st.second.shape() == Shape{4, 3, 7});
  nn::GRU gru(5, 7, 1, false);
  CHECK(gru.named_parameters().size() == 2);
  auto [o2, h2] = gru.forward(randn({6, 5}), Tensor());
  CHECK(o2.shape() == Shape{6, 7});
  CHECK(h2.shape() == Shape{1, 7});
}

TEST_CASE("RNN dropout between layers is active in training only") {
  manual_seed(5);
  nn::GRU gru(4, 8, 2, true, false, 0.5);
  Tensor x = randn({5, 3, 4});
  gru.eval();
  Tensor a = gru.forward(x, Tensor()).first, b = gru.forward(x, Tensor()).first;
  CHECK(equal(a, b));
  gru.train();
  Tensor c = gru.forward(x, Tensor()).first;
  CHECK_FALSE(allclose(a, c));
}

TEST_CASE("recurrent modules reject bad input with clear errors") {
  nn::GRU gru(4, 6, 2);
  CHECK_THROWS_WITH(gru.forward(randn({3, 2, 5}), Tensor()), Catch::Contains("Expected 4, got 5"));
  CHECK_THROWS_WITH(gru.forward(randn({3, 2, 4}), randn({1, 2, 6})), Catch::Contains("[2, 2, 6]"));
  CHECK_THROWS_AS(gru.forward(randn({3, 4}), randn({2, 2, 6})), ValueError);  // unbatched input, 3-D state
  CHECK_THROWS_AS(gru.forward(randn({2, 3, 2, 4}), Tensor()), ValueError);
  CHECK_THROWS_AS(gru.forward(randn({3, 2, 4}, DType::Float64), Tensor()), TypeError);
  CHECK_THROWS_AS(gru.forward(randn({0, 2, 4}), Tensor()), ValueError);
  CHECK_THROWS_AS(nn::RNN(3, 4, 1, "sigmoid"), ValueError);
  CHECK_THROWS_AS(nn::LSTM(3, 0), ValueError);
  CHECK_THROWS_AS(nn::GRU(3, 4, 1, true, false, 1.5), ValueError);
  nn::LSTMCell cell(3, 4);
  CHECK_THROWS_WITH(cell.forward(randn({2, 5}), std::nullopt), Catch::Contains("input_size"));
  CHECK_THROWS_WITH(cell.forward(randn({2, 3}), std::make_pair(randn({2, 5}), randn({2, 4}))),
                    Catch::Contains("[2, 4]"));
  nn::LSTM lstm(3, 4);
  CHECK_THROWS_AS(lstm.forward(randn({2, 2, 3}), std::make_pair(randn({1, 2, 4}), randn({1, 3, 4}))), ValueError);
}

TEST_CASE("double backward through the fused recurrence raises instead of returning wrong second derivatives") {
  nn::GRU gru(2, 3);
  Tensor x = randn({2, 1, 2}).requires_grad_();
  Tensor y = gru.forward(x, Tensor()).first.sum();
  CHECK_THROWS_AS(autograd::grad({y}, {x}, {}, false, /*create_graph=*/true), RuntimeError);
}
