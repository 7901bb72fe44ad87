// Shape ops: cat, stack, split, chunk, unbind, repeat, tril, triu.
#include <catch2/catch.hpp>

#include "autograd/gradcheck.h"
#include "autograd/grad_mode.h"
#include "core/ops.h"

using namespace shanshui;

namespace {
// Distinct, non-trivial float64 values 0.5, 1.25, 2.0, ... in a tensor of `shape`.
Tensor seq(const Shape& shape, DType dt = DType::Float64) {
  std::vector<double> v(size_t(numel_of(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = 0.5 + 0.75 * double(i);
  return from_vector(v, shape, dt);
}
Tensor leaf(const Shape& shape) { return seq(shape).requires_grad_(); }
void require_values(const Tensor& t, const std::vector<double>& want) {
  auto got = to_vector(t);
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) REQUIRE(got[i] == Approx(want[i]).margin(1e-12));
}
void require_gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, const std::vector<Tensor>& in) {
  auto r = autograd::gradcheck(f, in);
  INFO(r.message);
  REQUIRE(r.ok);
}
}  // namespace

TEST_CASE("cat values, dims and dtype promotion", "[shape]") {
  Tensor a = from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2});
  Tensor b = from_vector(std::vector<double>{5, 6}, {1, 2});
  Tensor c = cat({a, b}, 0);
  REQUIRE(c.shape() == Shape{3, 2});
  require_values(c, {1, 2, 3, 4, 5, 6});
  Tensor d = cat({a, b.t()}, -1);
  REQUIRE(d.shape() == Shape{2, 3});
  require_values(d, {1, 2, 5, 3, 4, 6});
  // bool + int64 -> int64; float32 + float64 -> float64 (torch.cat's promotion).
  Tensor bi = cat({from_vector(std::vector<double>{1, 0}, {2}, DType::Bool), from_vector(std::vector<int64_t>{7}, {1})});
  REQUIRE(bi.dtype() == DType::Int64);
  require_values(bi, {1, 0, 7});
  REQUIRE(cat({a, b.to(DType::Float64)}).dtype() == DType::Float64);
  // Legacy: 1-D empty tensors are skipped whatever the other shapes.
  Tensor e = cat({zeros({0}), a, zeros({0})}, 1);
  REQUIRE(e.shape() == Shape{2, 2});
  // cat copies: writes to the result do not reach the inputs.
  c.fill_(0);
  require_values(a, {1, 2, 3, 4});
  // zero-size along the cat dim
  REQUIRE(cat({zeros({2, 0}), ones({2, 3})}, 1).shape() == Shape{2, 3});
}

TEST_CASE("cat and stack reject bad input with the tensor index and shapes", "[shape][errors]") {
  REQUIRE_THROWS_AS(cat({}, 0), ValueError);
  REQUIRE_THROWS_AS(cat({zeros({2, 3}), zeros({3, 3})}, 1), ValueError);
  REQUIRE_THROWS_AS(cat({zeros({2, 3}), zeros({3})}, 0), ValueError);
  REQUIRE_THROWS_AS(cat({zeros({}), zeros({})}, 0), ValueError);
  REQUIRE_THROWS_AS(cat({zeros({2})}, 1), IndexError);
  try {
    cat({zeros({2, 3}), zeros({2, 3}), zeros({3, 4})}, 0);
    FAIL("expected a throw");
  } catch (const ValueError& e) {
    std::string m = e.what();
    REQUIRE(m.find("tensor number 2") != std::string::npos);
    REQUIRE(m.find("[3, 4]") != std::string::npos);
  }
  REQUIRE_THROWS_AS(stack({zeros({2, 3}), zeros({3})}), ValueError);
  REQUIRE_THROWS_AS(stack({}), ValueError);
  REQUIRE_THROWS_AS(stack({zeros({2})}, 2), IndexError);
}

TEST_CASE("cat and stack gradients", "[shape][grad]") {
  Tensor a = leaf({2, 3}), b = leaf({2, 1}), c = leaf({3, 2});
  // dim 1 with a transposed (non-contiguous) input
  require_gradcheck([](const std::vector<Tensor>& in) { return cat({in[0], in[1], in[2].t()}, 1); }, {a, b, c});
  require_gradcheck([](const std::vector<Tensor>& in) { return cat({in[0], in[1].t()}, 0); }, {a, c});
  require_gradcheck([](const std::vector<Tensor>& in) { return stack({in[0], in[1].expand({2, 3})}, 1); }, {a, b});
  require_gradcheck([](const std::vector<Tensor>& in) { return cat({in[0], zeros({0}, DType::Float64)}, 0); },
                    {a});
  // Hand-derived: d/da sum(w * cat(a, b)) = w[:2], d/db = w[2:]
  Tensor x = leaf({2}), y = leaf({1});
  Tensor w = from_vector(std::vector<double>{1, 2, 3}, {3}, DType::Float64);
  cat({x, y}).mul(w).sum().backward();
  require_values(x.grad(), {1, 2});
  require_values(y.grad(), {3});
}

TEST_CASE("stack values", "[shape]") {
  Tensor a = seq({2, 2}), b = mul(seq({2, 2}), 2.0);
  Tensor s = stack({a, b}, 0);
  REQUIRE(s.shape() == Shape{2, 2, 2});
  Tensor s1 = stack({a, b}, -1);
  REQUIRE(s1.shape() == Shape{2, 2, 2});
  require_values(s1, {0.5, 1.0, 1.25, 2.5, 2.0, 4.0, 2.75, 5.5});
}

TEST_CASE("split, chunk and unbind are views", "[shape][views]") {
  Tensor x = seq({5, 2});
  auto parts = split(x, 2, 0);
  REQUIRE(parts.size() == 3);
  REQUIRE(parts[0].shape() == Shape{2, 2});
  REQUIRE(parts[2].shape() == Shape{1, 2});
  require_values(parts[2], {6.5, 7.25});
  parts[1].fill_(-1);  // writes through shared storage
  require_values(x.select(0, 2), {-1, -1});
  auto sz = x.split(std::vector<int64_t>{1, 4}, 0);
  REQUIRE(sz[1].shape() == Shape{4, 2});
  REQUIRE(sz[0].storage() == x.storage());
  auto ch = x.chunk(3, 0);  // ceil(5/3) = 2 -> sizes 2, 2, 1
  REQUIRE(ch.size() == 3);
  REQUIRE(ch[2].shape() == Shape{1, 2});
  REQUIRE(chunk(seq({6}), 4).size() == 3);  // PyTorch: 6 / ceil(6/4)=2 -> 3 pieces
  REQUIRE(chunk(zeros({0}), 3).size() == 3);
  REQUIRE(split(zeros({0}), 2).size() == 1);
  auto cols = x.split(1, 1);
  REQUIRE(cols.size() == 2);
  REQUIRE(cols[1].shape() == Shape{5, 1});
  auto rows = unbind(x, 1);
  REQUIRE(rows.size() == 2);
  REQUIRE(rows[0].shape() == Shape{5});
  rows[0].fill_(3);
  REQUIRE(to_vector(x)[8] == 3);
}

TEST_CASE("split, chunk and unbind errors", "[shape][errors]") {
  Tensor x = seq({5, 2});
  REQUIRE_THROWS_AS(split(x, 0, 0), ValueError);
  REQUIRE_THROWS_AS(split(x, -1, 0), ValueError);
  REQUIRE_THROWS_AS(split(x, std::vector<int64_t>{2, 2}, 0), ValueError);
  REQUIRE_THROWS_AS(split(x, std::vector<int64_t>{6, -1}, 0), ValueError);
  REQUIRE_THROWS_AS(split(x, 1, 2), IndexError);
  REQUIRE_THROWS_AS(chunk(x, 0), ValueError);
  REQUIRE_THROWS_AS(split(scalar_tensor(1.0, DType::Float32), 1), ValueError);
  REQUIRE_THROWS_AS(unbind(scalar_tensor(1.0, DType::Float32)), ValueError);
}

TEST_CASE("split, chunk and unbind gradients", "[shape][grad]") {
  Tensor x = leaf({5, 3});
  require_gradcheck(
      [](const std::vector<Tensor>& in) {
        auto p = split(in[0].t(), 2, 1);  // non-contiguous input
        return cat({p[2], p[0]}, 1);
      },
      {x});
  require_gradcheck(
      [](const std::vector<Tensor>& in) {
        auto p = unbind(in[0], 1);
        return stack({p[2], p[0], p[0]}, 0);  // p[0] used twice: gradients add
      },
      {x});
  require_gradcheck([](const std::vector<Tensor>& in) { return chunk(in[0], 2, 0)[1]; }, {x});
}

TEST_CASE("repeat", "[shape]") {
  Tensor x = from_vector(std::vector<double>{1, 2}, {2});
  Tensor r = repeat(x, {2, 2});
  REQUIRE(r.shape() == Shape{2, 4});
  require_values(r, {1, 2, 1, 2, 1, 2, 1, 2});
  REQUIRE(repeat(seq({2, 3}), {2, 1, 2}).shape() == Shape{2, 2, 6});
  REQUIRE(repeat(seq({2, 3}), {0, 1}).shape() == Shape{0, 3});
  Tensor same = repeat(x, {1});
  REQUIRE(same.storage() != x.storage());  // always a copy
  REQUIRE_THROWS_AS(repeat(seq({2, 3}), {2}), ValueError);
  REQUIRE_THROWS_AS(repeat(x, {-1}), ValueError);
  // d/dx sum(repeat(x, [3])) = 3 for every element
  Tensor l = leaf({2});
  repeat(l, {3}).sum().backward();
  require_values(l.grad(), {3, 3});
  require_gradcheck([](const std::vector<Tensor>& in) { return repeat(in[0].t(), {2, 1, 3}); }, {leaf({3, 2})});
}

TEST_CASE("tril and triu", "[shape]") {
  Tensor m = seq({3, 4});
  // values 0.5 + 0.75 i
  require_values(tril(m), {0.5, 0, 0, 0, 3.5, 4.25, 0, 0, 6.5, 7.25, 8.0, 0});
  require_values(triu(m, 1), {0, 1.25, 2.0, 2.75, 0, 0, 5.0, 5.75, 0, 0, 0, 8.75});
  require_values(tril(m, -1), {0, 0, 0, 0, 3.5, 0, 0, 0, 6.5, 7.25, 0, 0});
  require_values(triu(m, -5), to_vector(m));
  // batched, non-contiguous, int64 and bool
  Tensor b = seq({2, 3, 3}).transpose(1, 2);
  Tensor tb = triu(b);
  for (int64_t k = 0; k < 2; ++k)
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 3; ++j)
        REQUIRE(tb.select(0, k).select(0, i).select(0, j).item_double() ==
                (j >= i ? b.select(0, k).select(0, i).select(0, j).item_double() : 0.0));
  REQUIRE(tril(ones({2, 2}, DType::Int64)).dtype() == DType::Int64);
  require_values(tril(ones({2, 2}, DType::Bool)), {1, 0, 1, 1});
  REQUIRE(tril(zeros({0, 3})).shape() == Shape{0, 3});
  REQUIRE_THROWS_AS(tril(zeros({3})), ValueError);
  require_gradcheck([](const std::vector<Tensor>& in) { return tril(in[0].transpose(1, 2), 1); }, {leaf({2, 3, 4})});
  require_gradcheck([](const std::vector<Tensor>& in) { return triu(in[0], -1); }, {leaf({4, 3})});
}
