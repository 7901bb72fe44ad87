// Graph attention: scatter_reduce, segment (edge) softmax, GATConv.
#include <catch2/catch.hpp>
#include <cmath>

#include "autograd/gradcheck.h"
#include "core/ops.h"
#include "nn/nn.h"
#include "optim/adam.h"

using namespace shanshui;
namespace F = shanshui::nn::functional;

namespace {
Tensor randn64(const Shape& s, bool grad = true) {
  Tensor t = randn(s, DType::Float64);
  if (grad) t.requires_grad_();
  return t;
}
Tensor idx(const std::vector<int64_t>& v, const Shape& s) { return from_vector(v, s); }
void require_ok(const autograd::GradcheckResult& r) {
  INFO(r.message);
  REQUIRE(r.ok);
}
}  // namespace

TEST_CASE("scatter_reduce follows its definition for each reduction") {
  // input [3], index [4]: slots 0 <- {1, 2}, 2 <- {3, 4}; slot 1 untouched.
  Tensor in = from_vector(std::vector<double>{10, 20, -5}, {3}, DType::Float64);
  Tensor src = from_vector(std::vector<double>{1, 2, 3, 4}, {4}, DType::Float64);
  Tensor ix = idx({0, 0, 2, 2}, {4});
  CHECK(to_vector(scatter_reduce(in, 0, ix, src, "sum")) == std::vector<double>{13, 20, 2});
  CHECK(to_vector(scatter_reduce(in, 0, ix, src, "sum", false)) == std::vector<double>{3, 20, 7});
  CHECK(to_vector(scatter_reduce(in, 0, ix, src, "amax")) == std::vector<double>{10, 20, 4});
  CHECK(to_vector(scatter_reduce(in, 0, ix, src, "amax", false)) == std::vector<double>{2, 20, 4});
  CHECK(to_vector(scatter_reduce(in, 0, ix, src, "amin")) == std::vector<double>{1, 20, -5});
  CHECK(to_vector(scatter_reduce(in, 0, ix, src, "mean")) == std::vector<double>{13.0 / 3, 20, 2.0 / 3});
  CHECK(to_vector(scatter_reduce(in, 0, ix, src, "mean", false)) == std::vector<double>{1.5, 20, 3.5});
}

TEST_CASE("scatter_reduce gradients pass gradcheck (float64), along an inner dim too") {
  manual_seed(3);
  Tensor ix = idx({2, 0, 1, 0, 2, 2, 1, 0}, {4, 2});
  for (const char* r : {"sum", "mean", "amax", "amin"})
    for (bool self : {true, false}) {
      INFO(r << " include_self=" << self);
      Tensor in = randn64({3, 2}), src = randn64({4, 2});
      require_ok(autograd::gradcheck(
          [&](const std::vector<Tensor>& v) { return scatter_reduce(v[0], 0, ix, v[1], r, self); }, {in, src}));
      Tensor in1 = randn64({2, 3}), src1 = randn64({2, 4});
      Tensor ix1 = idx({2, 0, 1, 0, 2, 2, 1, 0}, {2, 4});
      require_ok(autograd::gradcheck(
          [&](const std::vector<Tensor>& v) { return scatter_reduce(v[0], 1, ix1, v[1], r, self); }, {in1, src1}));
    }
}

TEST_CASE("scatter_reduce amax splits the gradient evenly between ties") {
  Tensor in = from_vector(std::vector<double>{0}, {1}, DType::Float64).requires_grad_();
  Tensor src = from_vector(std::vector<double>{2, 2, 1}, {3}, DType::Float64).requires_grad_();
  scatter_reduce(in, 0, idx({0, 0, 0}, {3}), src, "amax").sum().backward();
  CHECK(to_vector(src.grad()) == std::vector<double>{0.5, 0.5, 0});
  CHECK(to_vector(in.grad()) == std::vector<double>{0});
}

TEST_CASE("scatter_reduce rejects bad input with clear errors") {
  Tensor in = zeros({3}), src = ones({2});
  CHECK_THROWS_AS(scatter_reduce(in, 0, idx({0, 3}, {2}), src, "sum"), IndexError);
  CHECK_THROWS_AS(scatter_reduce(in, 0, idx({-1, 0}, {2}), src, "sum"), IndexError);
  CHECK_THROWS_AS(scatter_reduce(in, 0, idx({0, 1}, {2}), src, "max"), ValueError);
  CHECK_THROWS_AS(scatter_reduce(in, 0, idx({0, 1}, {2}).to(DType::Float32), src, "sum"), TypeError);
  CHECK_THROWS_AS(scatter_reduce(in, 0, idx({0, 1, 1}, {3}), src, "sum"), ValueError);
}

TEST_CASE("segment_softmax normalises per group, is stable for large scores and passes gradcheck") {
  Tensor s = from_vector(std::vector<double>{1000, 1001, 5, -3, 7}, {5}, DType::Float64);
  Tensor g = idx({0, 0, 2, 1, 2}, {5});
  auto o = to_vector(segment_softmax(s, g, 4));
  double a = 1.0 / (1.0 + std::exp(1.0));  // softmax(1000, 1001)[0]
  CHECK(o[0] == Approx(a));
  CHECK(o[1] == Approx(1 - a));
  CHECK(o[3] == Approx(1.0));  // a group of one
  CHECK(o[2] == Approx(1.0 / (1.0 + std::exp(2.0))));
  manual_seed(5);
  Tensor x = randn64({7, 3});
  Tensor gi = idx({1, 0, 1, 1, 3, 0, 3}, {7});
  require_ok(autograd::gradcheck([&](const std::vector<Tensor>& v) { return segment_softmax(v[0], gi, 5); }, {x}));
  CHECK(segment_softmax(zeros({0, 2}), idx({}, {0}), 3).shape() == Shape{0, 2});
  CHECK_THROWS_AS(segment_softmax(zeros({2}), idx({0, 3}, {2}), 3), IndexError);
  CHECK_THROWS_AS(segment_softmax(zeros({2}), idx({0}, {1}), 3), ValueError);
}

TEST_CASE("GATConv has PyG's parameter names and layout") {
  nn::GATConv conv(5, 4, 3);
  auto sd = conv.state_dict();
  REQUIRE(sd.size() == 4);
  CHECK(sd[0].first == "att_src");
  CHECK(sd[0].second.shape() == Shape{1, 3, 4});
  CHECK(sd[1].first == "att_dst");
  CHECK(sd[2].first == "bias");
  CHECK(sd[2].second.shape() == Shape{12});
  CHECK(sd[3].first == "lin.weight");
  CHECK(sd[3].second.shape() == Shape{12, 5});
  nn::GATConv mean_heads(5, 4, 3, false);
  CHECK(mean_heads.bias().shape() == Shape{4});
  CHECK(mean_heads.forward(randn({6, 5}), idx({0, 1, 2, 3}, {2, 2})).shape() == Shape{6, 4});
}

TEST_CASE("GATConv matches a per-node reference on a small graph and passes gradcheck") {
  manual_seed(11);
  const int64_t N = 5, H = 2, C = 3;
  nn::GATConv conv(4, C, H, true, 0.2, 0.0, true, true, DType::Float64);
  nn::init::normal_(conv.bias());
  Tensor x = randn64({N, 4});
  // includes a duplicate edge (0->1 twice), an existing self loop (2->2) and isolated node 4
  Tensor ei = idx({0, 0, 2, 3, 1, 2, 1, 1, 1, 0, 3, 2}, {2, 6});
  auto r = conv.forward_with_attention(x, ei);
  REQUIRE(r.edge_index.shape() == Shape{2, 5 + N});  // the 2->2 loop is replaced by the appended loops
  REQUIRE(r.alpha.shape() == Shape{5 + N, H});
  // Dense-by-node reference: for each target i and head h, softmax over incoming edges.
  auto W = to_vector(conv.lin->weight()), as = to_vector(conv.att_src()), ad = to_vector(conv.att_dst());
  auto xv = to_vector(x), b = to_vector(conv.bias()), ev = to_vector(r.edge_index), out = to_vector(r.out);
  const int64_t E = r.edge_index.size(1);
  std::vector<double> h(size_t(N * H * C), 0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < H * C; ++o)
      for (int64_t k = 0; k < 4; ++k) h[size_t(n * H * C + o)] += xv[size_t(n * 4 + k)] * W[size_t(o * 4 + k)];
  for (int64_t i = 0; i < N; ++i)
    for (int64_t hh = 0; hh < H; ++hh) {
      std::vector<double> sc;
      std::vector<int64_t> js;
      for (int64_t e = 0; e < E; ++e)
        if (ev[size_t(E + e)] == i) {
          int64_t j = int64_t(ev[size_t(e)]);
          double s = 0;
          for (int64_t c = 0; c < C; ++c)
            s += h[size_t(j * H * C + hh * C + c)] * as[size_t(hh * C + c)] +
                 h[size_t(i * H * C + hh * C + c)] * ad[size_t(hh * C + c)];
          sc.push_back(s > 0 ? s : 0.2 * s);
          js.push_back(j);
        }
      double m = *std::max_element(sc.begin(), sc.end()), z = 0;
      for (double& s : sc) z += (s = std::exp(s - m));
      for (int64_t c = 0; c < C; ++c) {
        double want = b[size_t(hh * C + c)];
        for (size_t k = 0; k < js.size(); ++k) want += sc[k] / z * h[size_t(js[k] * H * C + hh * C + c)];
        CHECK(out[size_t(i * H * C + hh * C + c)] == Approx(want).epsilon(1e-10));
      }
    }
  for (bool concat : {true, false}) {
    nn::GATConv c2(4, C, H, concat, 0.2, 0.0, true, true, DType::Float64);
    nn::init::normal_(c2.bias());
    Tensor W2 = c2.lin->weight(), a1 = c2.att_src(), a2 = c2.att_dst(), bb = c2.bias();
    require_ok(autograd::gradcheck(
        [&](const std::vector<Tensor>& v) {
          return F::gat_conv(v[0], ei, v[1], v[2], v[3], v[4], H, concat).out;
        },
        {x, W2, a1, a2, bb}));
  }
}

TEST_CASE("GATConv handles empty edge sets and rejects bad edge_index") {
  nn::GATConv conv(3, 2, 2);
  Tensor x = randn({4, 3});
  Tensor empty_ei = zeros({2, 0}, DType::Int64);
  // With self loops every node attends to itself only: out = x W^T (+ zero bias).
  CHECK(allclose(conv.forward(x, empty_ei), linear(x, conv.lin->weight()), 1e-5, 1e-6));
  nn::GATConv no_loops(3, 2, 2, true, 0.2, 0.0, false);
  nn::init::normal_(no_loops.bias());
  Tensor o = no_loops.forward(x, empty_ei);
  CHECK(allclose(o, no_loops.bias().expand({4, 4})));
  CHECK_THROWS_AS(conv.forward(x, idx({0, 4}, {2, 1})), IndexError);
  CHECK_THROWS_AS(conv.forward(x, idx({-1, 0}, {2, 1})), IndexError);
  CHECK_THROWS_AS(conv.forward(x, idx({0, 1, 2}, {3, 1})), ValueError);
  CHECK_THROWS_AS(conv.forward(x, zeros({2, 1})), TypeError);
  CHECK_THROWS_AS(conv.forward(randn({4, 5}), empty_ei), ValueError);
}

TEST_CASE("a tiny GAT learns node classification on a contextual stochastic block model") {
  // Two classes, 60 nodes; edges mostly within a class, features = noisy class means.
  manual_seed(7);
  const int64_t N = 60, D = 8;
  std::vector<int64_t> y(N), src, dst;
  for (int64_t i = 0; i < N; ++i) y[size_t(i)] = i % 2;
  Tensor u = rand({N, N});
  auto uv = to_vector(u);
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < N; ++j)
      if (i != j && uv[size_t(i * N + j)] < (y[size_t(i)] == y[size_t(j)] ? 0.2 : 0.02)) {
        src.push_back(j);
        dst.push_back(i);
      }
  std::vector<int64_t> eiv = src;
  eiv.insert(eiv.end(), dst.begin(), dst.end());
  Tensor ei = from_vector(eiv, {2, int64_t(src.size())});
  Tensor yt = from_vector(y, {N});
  Tensor mu = randn({2, D}).mul(0.5);
  Tensor x = add(index_select(mu, 0, yt), randn({N, D}));
  auto c1 = std::make_shared<nn::GATConv>(D, 4, 2, true, 0.2, 0.1);
  auto c2 = std::make_shared<nn::GATConv>(8, 2, 1);
  std::vector<Tensor> params = c1->parameters();
  for (auto& p : c2->parameters()) params.push_back(p);
  optim::Adam opt(params, {0.02});
  for (int step = 0; step < 100; ++step) {
    opt.zero_grad();
    Tensor logits = c2->forward(elu(c1->forward(x, ei)), ei);
    F::cross_entropy(logits, yt).backward();
    opt.step();
  }
  c1->eval();
  Tensor pred = argmax(c2->forward(elu(c1->forward(x, ei)), ei), 1);
  double acc = sum(eq(pred, yt).to(DType::Float64)).item_double() / double(N);
  CHECK(acc >= 0.9);
}
