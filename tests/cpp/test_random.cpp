// Random sampling: Philox known answers, determinism under manual_seed,
// statistical sanity on 1e5 samples, bounds, and bad input.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "autograd/grad_mode.h"
#include "core/ops.h"
#include "core/parallel.h"

using namespace shanshui;

namespace {
struct Moments {
  double mean, var;
};
Moments moments(const std::vector<double>& v) {
  double m = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size()), s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return {m, s / double(v.size() - 1)};
}
bool same_values(const Tensor& a, const Tensor& b) { return to_vector(a) == to_vector(b); }
}  // namespace

TEST_CASE("philox4x32-10 matches the Random123 known-answer vectors", "[random]") {
  using philox::Block;
  // Random123 kat_vectors: philox4x32 10 <ctr x4> <key x2> -> <out x4>
  REQUIRE(philox::philox4x32_10(Block{0, 0, 0, 0}, 0) == Block{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});
  REQUIRE(philox::philox4x32_10(Block{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, 0xffffffffffffffffULL) ==
          Block{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd});
  REQUIRE(philox::philox4x32_10(Block{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
                                (uint64_t(0x299f31d0) << 32) | 0xa4093822) ==
          Block{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1});
  // The fast 64-bit-counter form agrees with the general one.
  REQUIRE(philox::philox4x32_10(0x0123456789abcdefULL, 42) ==
          philox::philox4x32_10(Block{0x89abcdef, 0x01234567, 0, 0}, 42));
}

TEST_CASE("manual_seed makes every draw reproducible", "[random]") {
  auto draw_all = [] {
    std::vector<Tensor> v;
    v.push_back(rand({5, 7}));
    v.push_back(randn({33}, DType::Float64));
    v.push_back(randint(-3, 9, {4, 4}));
    v.push_back(randperm(20));
    v.push_back(bernoulli(full({17}, 0.3)));
    v.push_back(bernoulli(zeros({9}), 0.5));
    v.push_back(multinomial(from_vector(std::vector<double>{1, 2, 3, 4}, {4}), 3));
    Tensor u = empty({6});
    v.push_back(uniform_(u, -2, 2));
    Tensor n = empty({3, 3}, DType::Float64);
    v.push_back(normal_(n, 1, 3));
    return v;
  };
  manual_seed(1234);
  REQUIRE(initial_seed() == 1234);
  auto a = draw_all();
  manual_seed(1234);
  auto b = draw_all();
  auto c = draw_all();  // the stream advances: the next draws differ
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) REQUIRE(same_values(a[i], b[i]));
  REQUIRE_FALSE(same_values(a[0], c[0]));
  REQUIRE_FALSE(same_values(a[1], c[1]));
  manual_seed(1235);
  REQUIRE_FALSE(same_values(a[0], rand({5, 7})));

  // get_state / set_state replays draws.
  auto st = default_generator().get_state();
  Tensor x = randn({10});
  default_generator().set_state(st);
  REQUIRE(same_values(x, randn({10})));
}

TEST_CASE("results do not depend on the thread count", "[random]") {
  int saved = get_num_threads();
  set_num_threads(1);
  manual_seed(7);
  Tensor a = randn({200000});
  set_num_threads(2);
  manual_seed(7);
  Tensor b = randn({200000});
  set_num_threads(saved);
  REQUIRE(same_values(a, b));
}

TEST_CASE("rand and uniform_ are uniform on [from, to)", "[random]") {
  manual_seed(0);
  for (DType dt : {DType::Float32, DType::Float64}) {
    Tensor t = rand({100000}, dt);
    REQUIRE(t.dtype() == dt);
    auto v = to_vector(t);
    REQUIRE(*std::min_element(v.begin(), v.end()) >= 0.0);
    REQUIRE(*std::max_element(v.begin(), v.end()) < 1.0);
    auto m = moments(v);
    // U[0,1): mean 1/2, var 1/12; sd of the mean is 0.29/sqrt(1e5) ~ 1e-3.
    REQUIRE(m.mean == Approx(0.5).margin(0.005));
    REQUIRE(m.var == Approx(1.0 / 12).margin(0.002));
  }
  Tensor u = empty({100000}, DType::Float64);
  uniform_(u, -3, 5);
  auto v = to_vector(u);
  REQUIRE(*std::min_element(v.begin(), v.end()) >= -3.0);
  REQUIRE(*std::max_element(v.begin(), v.end()) < 5.0);
  auto m = moments(v);
  REQUIRE(m.mean == Approx(1.0).margin(0.05));         // (a + b) / 2
  REQUIRE(m.var == Approx(64.0 / 12).margin(0.1));     // (b - a)^2 / 12
  // from == to gives that value
  Tensor c = empty({4});
  uniform_(c, 2, 2);
  for (double x : to_vector(c)) REQUIRE(x == 2.0);
  // 0-size is fine
  REQUIRE(rand({0, 3}).numel() == 0);
  REQUIRE(rand({}).dim() == 0);
}

TEST_CASE("randn and normal_ have the requested mean and variance", "[random]") {
  manual_seed(1);
  for (DType dt : {DType::Float32, DType::Float64}) {
    auto v = to_vector(randn({100001}, dt));  // odd length: the last Box-Muller pair is cut
    for (double x : v) REQUIRE(std::isfinite(x));
    auto m = moments(v);
    REQUIRE(m.mean == Approx(0.0).margin(0.01));
    REQUIRE(m.var == Approx(1.0).margin(0.02));
    // Tail mass: P(|z| > 2) = 0.0455
    double tail = double(std::count_if(v.begin(), v.end(), [](double x) { return std::abs(x) > 2; })) / v.size();
    REQUIRE(tail == Approx(0.0455).margin(0.003));
  }
  Tensor n = empty({100000});
  normal_(n, 3, 0.5);
  auto m = moments(to_vector(n));
  REQUIRE(m.mean == Approx(3.0).margin(0.01));
  REQUIRE(m.var == Approx(0.25).margin(0.01));
  Tensor z = empty({5});
  normal_(z, -1, 0);  // std 0: the mean exactly
  for (double x : to_vector(z)) REQUIRE(x == -1.0);
}

TEST_CASE("in-place fills work on non-contiguous views and bump the version", "[random]") {
  Tensor base = zeros({4, 6});
  Tensor view = base.t();  // [6, 4], strides [1, 6]
  REQUIRE_FALSE(view.is_contiguous());
  uint64_t v0 = base.version();
  uniform_(view, 1, 2);
  REQUIRE(base.version() > v0);
  for (double x : to_vector(base)) REQUIRE((x >= 1 && x < 2));
  Tensor col = base.narrow(1, 0, 1);  // a column: only it changes
  normal_(col, 100, 1);
  auto all = to_vector(base);
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 6; ++j) REQUIRE((j == 0 ? all[i * 6 + j] > 50 : all[i * 6 + j] < 2));
}

TEST_CASE("randint covers [low, high) evenly", "[random]") {
  manual_seed(3);
  Tensor t = randint(-2, 5, {100000});
  REQUIRE(t.dtype() == DType::Int64);
  std::vector<int64_t> counts(7, 0);
  for (double x : to_vector(t)) {
    REQUIRE((x >= -2 && x < 5));
    counts[size_t(x + 2)]++;
  }
  for (auto c : counts) REQUIRE(double(c) / 100000 == Approx(1.0 / 7).margin(0.006));
  // other dtypes, extreme ranges, single value
  Tensor f = randint(0, 10, {1000}, DType::Float32);
  REQUIRE(f.dtype() == DType::Float32);
  for (double x : to_vector(f)) REQUIRE((x == std::floor(x) && x >= 0 && x < 10));
  Tensor b = randint(0, 2, {1000}, DType::Bool);
  auto bv = to_vector(b);
  REQUIRE(std::count(bv.begin(), bv.end(), 1.0) > 400);
  REQUIRE(std::count(bv.begin(), bv.end(), 0.0) > 400);
  for (double x : to_vector(randint(5, 6, {10}))) REQUIRE(x == 5);
  Tensor big = randint(INT64_MIN, INT64_MAX, {1000});
  const int64_t* bp = big.data_ptr<int64_t>();
  REQUIRE(std::count_if(bp, bp + 1000, [](int64_t x) { return x < 0; }) > 400);
  REQUIRE(randint(0, 3, {2, 0}).shape() == Shape{2, 0});
}

TEST_CASE("randperm is a permutation", "[random]") {
  manual_seed(4);
  for (int64_t n : {0, 1, 2, 10, 1000}) {
    Tensor p = randperm(n);
    REQUIRE(p.shape() == Shape{n});
    REQUIRE(p.dtype() == DType::Int64);
    std::vector<int64_t> v(p.data_ptr<int64_t>(), p.data_ptr<int64_t>() + n);
    std::sort(v.begin(), v.end());
    for (int64_t i = 0; i < n; ++i) REQUIRE(v[size_t(i)] == i);
  }
  // Each position is uniform: where does 0 land over many 4-permutations?
  std::vector<int> pos(4, 0);
  for (int k = 0; k < 4000; ++k) {
    Tensor p = randperm(4);
    for (int i = 0; i < 4; ++i)
      if (p.data_ptr<int64_t>()[i] == 0) pos[size_t(i)]++;
  }
  for (int c : pos) REQUIRE(c == Approx(1000).margin(120));
}

TEST_CASE("bernoulli matches its probabilities", "[random]") {
  manual_seed(5);
  Tensor p = full({100000}, 0.3, DType::Float64);
  Tensor s = bernoulli(p);
  REQUIRE(s.dtype() == DType::Float64);
  auto v = to_vector(s);
  for (double x : v) REQUIRE((x == 0 || x == 1));
  REQUIRE(moments(v).mean == Approx(0.3).margin(0.006));
  // p = 0 never fires, p = 1 always does (float32 included)
  for (double x : to_vector(bernoulli(zeros({1000})))) REQUIRE(x == 0);
  for (double x : to_vector(bernoulli(ones({1000})))) REQUIRE(x == 1);
  // elementwise probabilities from a non-contiguous tensor
  Tensor pm = from_vector(std::vector<double>{0, 1, 0, 1, 0, 1}, {3, 2}).t();  // [[0,0,0],[1,1,1]]
  auto r = to_vector(bernoulli(pm));
  REQUIRE(r == std::vector<double>{0, 0, 0, 1, 1, 1});
  // scalar form keeps the dtype and shape of `like`
  Tensor l = bernoulli(zeros({100000}, DType::Int64), 0.75);
  REQUIRE(l.dtype() == DType::Int64);
  REQUIRE(moments(to_vector(l)).mean == Approx(0.75).margin(0.006));
  Tensor lb = bernoulli(zeros({2, 3}, DType::Bool), 1.0);
  REQUIRE(lb.shape() == Shape{2, 3});
  for (double x : to_vector(lb)) REQUIRE(x == 1);
  for (double x : to_vector(bernoulli(zeros({100}), 0.0))) REQUIRE(x == 0);
}

TEST_CASE("multinomial with replacement follows the weights", "[random]") {
  manual_seed(6);
  Tensor w = from_vector(std::vector<double>{1, 0, 3, 6}, {4});  // unnormalised
  Tensor s = multinomial(w, 100000, true);
  REQUIRE(s.dtype() == DType::Int64);
  REQUIRE(s.shape() == Shape{100000});
  std::vector<double> counts(4, 0);
  for (double x : to_vector(s)) counts[size_t(x)]++;
  REQUIRE(counts[1] == 0);  // zero weight is never drawn
  REQUIRE(counts[0] / 1e5 == Approx(0.1).margin(0.005));
  REQUIRE(counts[2] / 1e5 == Approx(0.3).margin(0.007));
  REQUIRE(counts[3] / 1e5 == Approx(0.6).margin(0.007));
  // 2-D: one distribution per row
  Tensor w2 = from_vector(std::vector<double>{0, 0, 1, 1, 0, 0}, {2, 3});
  Tensor s2 = multinomial(w2, 50, true);
  REQUIRE(s2.shape() == Shape{2, 50});
  auto v2 = to_vector(s2);
  for (int i = 0; i < 50; ++i) REQUIRE(v2[size_t(i)] == 2);
  for (int i = 50; i < 100; ++i) REQUIRE(v2[size_t(i)] == 0);
  REQUIRE(multinomial(zeros({0, 3}), 2).shape() == Shape{0, 2});
}

TEST_CASE("multinomial without replacement draws distinct categories", "[random]") {
  manual_seed(8);
  Tensor w = from_vector(std::vector<double>{1, 2, 0, 4, 8}, {1, 5}, DType::Float32);
  std::vector<double> first(5, 0);
  for (int k = 0; k < 5000; ++k) {
    auto v = to_vector(multinomial(w, 4, false));
    std::set<double> distinct(v.begin(), v.end());
    REQUIRE(distinct.size() == 4);
    REQUIRE(distinct.count(2) == 0);  // the zero-weight category
    first[size_t(v[0])]++;
  }
  // The first draw is distributed as the weights: 8 / 15 for category 4.
  REQUIRE(first[4] / 5000 == Approx(8.0 / 15).margin(0.025));
  REQUIRE(first[0] / 5000 == Approx(1.0 / 15).margin(0.015));
  // all categories: a permutation
  auto all = to_vector(multinomial(ones({6}), 6));
  std::sort(all.begin(), all.end());
  REQUIRE(all == std::vector<double>{0, 1, 2, 3, 4, 5});
}

TEST_CASE("random ops reject bad input", "[random]") {
  REQUIRE_THROWS_AS(rand({2, -1}), ValueError);
  REQUIRE_THROWS_AS(rand({2}, DType::Int64), TypeError);
  REQUIRE_THROWS_AS(randn({2}, DType::Bool), TypeError);
  REQUIRE_THROWS_AS(rand_like(zeros({2}, DType::Int64)), TypeError);
  REQUIRE_THROWS_AS(randint(5, 5, {3}), ValueError);
  REQUIRE_THROWS_AS(randint(5, 2, {3}), ValueError);
  REQUIRE_THROWS_AS(randint(0, 3, {3}, DType::Bool), ValueError);
  REQUIRE_THROWS_AS(randint(0, (int64_t(1) << 30), {3}, DType::Float32), ValueError);
  REQUIRE_THROWS_AS(randperm(-1), ValueError);
  REQUIRE_THROWS_AS(bernoulli(from_vector(std::vector<double>{0.5, 1.5}, {2})), ValueError);
  REQUIRE_THROWS_AS(bernoulli(from_vector(std::vector<double>{-0.1}, {1})), ValueError);
  REQUIRE_THROWS_AS(bernoulli(from_vector(std::vector<double>{NAN}, {1})), ValueError);
  REQUIRE_THROWS_AS(bernoulli(zeros({2}, DType::Int64)), TypeError);
  REQUIRE_THROWS_AS(bernoulli(zeros({2}), 1.5), ValueError);
  REQUIRE_THROWS_AS(bernoulli(zeros({2}), -0.5), ValueError);
  Tensor w = from_vector(std::vector<double>{1, 0, 0}, {3});
  REQUIRE_THROWS_AS(multinomial(w, 2, false), ValueError);  // only one nonzero category
  REQUIRE_NOTHROW(multinomial(w, 2, true));
  REQUIRE_THROWS_AS(multinomial(w, 4, false), ValueError);  // more than the categories
  REQUIRE_THROWS_AS(multinomial(w, 0, true), ValueError);
  REQUIRE_THROWS_AS(multinomial(from_vector(std::vector<double>{1, 1, 0, 0}, {2, 2}), 1, true), ValueError);
  REQUIRE_THROWS_AS(multinomial(from_vector(std::vector<double>{1, -1}, {2}), 1, true), ValueError);
  REQUIRE_THROWS_AS(multinomial(from_vector(std::vector<double>{1, INFINITY}, {2}), 1, true), ValueError);
  REQUIRE_THROWS_AS(multinomial(from_vector(std::vector<double>{1, NAN}, {2}), 1, true), ValueError);
  REQUIRE_THROWS_AS(multinomial(ones({2, 2, 2}), 1), ValueError);
  REQUIRE_THROWS_AS(multinomial(ones({2}, DType::Int64), 1), TypeError);
  REQUIRE_THROWS_AS(multinomial(zeros({2, 0}), 1, true), ValueError);
  Tensor t = zeros({3});
  REQUIRE_THROWS_AS(uniform_(t, 2, 1), ValueError);
  REQUIRE_THROWS_AS(normal_(t, 0, -1), ValueError);
  Tensor ti = zeros({3}, DType::Int64);
  REQUIRE_THROWS_AS(uniform_(ti), TypeError);
  REQUIRE_THROWS_AS(normal_(ti), TypeError);
  Tensor leaf = zeros({3});
  leaf.requires_grad_();
  REQUIRE_THROWS_AS(uniform_(leaf), RuntimeError);
  {
    autograd::NoGradGuard ng;  // nn.init runs under no_grad
    REQUIRE_NOTHROW(normal_(leaf));
  }
  try {
    multinomial(w, 2, false);
    FAIL("expected a throw");
  } catch (const ValueError& e) {
    REQUIRE(std::string(e.what()).find("multinomial") != std::string::npos);
  }
}
