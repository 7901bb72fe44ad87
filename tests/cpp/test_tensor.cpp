// Tensor core: creation ops, dtype conversion, copies, in-place ops with the
// version counter, and PyTorch's type promotion.
#include <catch2/catch.hpp>

#include <limits>

#include "autograd/gradcheck.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "core/ops.h"

using namespace shanshui;
using autograd::tensor_list;

namespace {
Tensor f64(const std::vector<double>& v, const Shape& s) { return from_vector(v, s, DType::Float64); }
Tensor i64(const std::vector<int64_t>& v, const Shape& s) { return from_vector(v, s); }
void require_close(const Tensor& t, const std::vector<double>& want, double tol = 1e-12) {
  auto got = to_vector(t);
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) REQUIRE(got[i] == Approx(want[i]).margin(tol));
}
}  // namespace

TEST_CASE("zeros, ones, full, empty and the _like variants", "[tensor][creation]") {
  Tensor z = zeros({2, 3});
  REQUIRE(z.dtype() == DType::Float32);
  REQUIRE(z.shape() == Shape{2, 3});
  REQUIRE(z.strides() == Shape{3, 1});
  require_close(z, {0, 0, 0, 0, 0, 0});
  require_close(ones({2}, DType::Int64), {1, 1});
  REQUIRE(ones({2}, DType::Int64).dtype() == DType::Int64);
  // full infers the dtype from the value, as torch.full.
  REQUIRE(full({2}, 1.5).dtype() == DType::Float32);
  REQUIRE(full({2}, 3).dtype() == DType::Int64);
  REQUIRE(full({2}, true).dtype() == DType::Bool);
  REQUIRE(full({2}, 3, DType::Float64).dtype() == DType::Float64);
  require_close(full({2, 2}, -2.5), {-2.5, -2.5, -2.5, -2.5});
  REQUIRE(empty({0, 4}).numel() == 0);
  REQUIRE(zeros({}).dim() == 0);
  REQUIRE(zeros({}).numel() == 1);

  Tensor src = f64({1, 2, 3}, {3});
  REQUIRE(zeros_like(src).dtype() == DType::Float64);
  require_close(ones_like(src), {1, 1, 1});
  require_close(full_like(src, 7), {7, 7, 7});
  REQUIRE(full_like(src, 7).dtype() == DType::Float64);
  REQUIRE(empty_like(src).shape() == Shape{3});
  Tensor s = scalar_tensor(4, DType::Int64);
  REQUIRE(s.dim() == 0);
  REQUIRE(s.item<int64_t>() == 4);

  REQUIRE_THROWS_AS(zeros({2, -1}), ValueError);
  REQUIRE_THROWS_AS(ones({-3}), ValueError);
  const int64_t big = std::numeric_limits<int64_t>::max() / 2;
  REQUIRE_THROWS_AS(zeros({big, 3}), ValueError);
  REQUIRE_THROWS_WITH(zeros({big, 3}), Catch::Contains("more elements than int64"));
  REQUIRE(zeros({big, 0}).numel() == 0);  // a zero anywhere makes the shape valid
}

TEST_CASE("arange, linspace and eye", "[tensor][creation]") {
  Tensor a = arange(5);
  REQUIRE(a.dtype() == DType::Int64);
  require_close(a, {0, 1, 2, 3, 4});
  Tensor b = arange(0.0, 1.0, 0.3);
  REQUIRE(b.dtype() == DType::Float32);
  require_close(b, {0, 0.3, 0.6, 0.9}, 1e-6);
  REQUIRE(arange(1, 2.5).dtype() == DType::Float32);  // any float argument gives float
  require_close(arange(5, 0, -2), {5, 3, 1});
  REQUIRE(arange(3, DType::Float64).dtype() == DType::Float64);
  REQUIRE(arange(2, 2).numel() == 0);
  REQUIRE_THROWS_AS(arange(0, 5, -1), ValueError);
  REQUIRE_THROWS_AS(arange(0, 5, 0), ValueError);

  require_close(linspace(0, 1, 5), {0, 0.25, 0.5, 0.75, 1});
  require_close(linspace(0, 10, 1), {0});  // one step gives start
  REQUIRE(linspace(0, 1, 0).numel() == 0);
  require_close(linspace(0, 10, 5, DType::Int64), {0, 2, 5, 7, 10});  // as torch: truncated 2.5 steps
  REQUIRE(linspace(-1, 1, 7, DType::Float64).select(0, 6).item_double() == 1);  // exactly end
  REQUIRE_THROWS_AS(linspace(0, 1, -1), ValueError);

  require_close(eye(2), {1, 0, 0, 1});
  Tensor e = eye(2, 3, DType::Int64);
  REQUIRE(e.shape() == Shape{2, 3});
  REQUIRE(e.dtype() == DType::Int64);
  require_close(e, {1, 0, 0, 0, 1, 0});
  REQUIRE(eye(0).shape() == Shape{0, 0});
  REQUIRE_THROWS_AS(eye(-1), ValueError);

  REQUIRE_THROWS_AS(from_vector(std::vector<double>{1, 2, 3}, {2, 2}), ValueError);
}

TEST_CASE("to(dtype) converts as C casts do, and is differentiable", "[tensor][dtype]") {
  Tensor x = f64({1.7, -1.7, 0.0, 0.5}, {4});
  Tensor i = x.to(DType::Int64);
  REQUIRE(i.dtype() == DType::Int64);
  require_close(i, {1, -1, 0, 0});  // truncation toward zero
  require_close(x.to(DType::Bool), {1, 1, 0, 1});
  require_close(i64({3, -2}, {2}).to(DType::Float32), {3, -2});
  REQUIRE(x.to(DType::Float64).is_same(x));           // no-op
  REQUIRE_FALSE(x.to(DType::Float64, true).is_same(x));  // copy requested
  REQUIRE(x.to(DType::Float64, true).storage() != x.storage());
  // Non-contiguous input.
  Tensor t = f64({1, 2, 3, 4, 5, 6}, {2, 3}).t().to(DType::Int64);
  require_close(t, {1, 4, 2, 5, 3, 6});

  Tensor p = from_vector(std::vector<float>{1, 2}, {2}).requires_grad_();
  Tensor q = p.to(DType::Float64);
  REQUIRE(q.requires_grad());
  q.mul(q).sum().backward();
  REQUIRE(p.grad().dtype() == DType::Float32);  // gradient in the input's dtype
  require_close(p.grad(), {2, 4});
  REQUIRE_FALSE(p.to(DType::Int64).requires_grad());
}

TEST_CASE("contiguous, clone and copy_", "[tensor][copy]") {
  Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  REQUIRE(x.contiguous().is_same(x));
  Tensor t = x.t();
  Tensor c = t.contiguous();
  REQUIRE(c.is_contiguous());
  REQUIRE(c.storage() != x.storage());
  require_close(c, {1, 4, 2, 5, 3, 6});
  Tensor k = x.clone();
  REQUIRE(k.storage() != x.storage());
  require_close(k, to_vector(x));

  // copy_ broadcasts and converts.
  Tensor dst = zeros({2, 3}, DType::Int64);
  dst.copy_(f64({1.9, -2.9, 3.1}, {3}));
  require_close(dst, {1, -2, 3, 1, -2, 3});
  REQUIRE(dst.version() == 1);
  Tensor col = zeros({2, 3});
  col.copy_(f64({5, 6}, {2, 1}));
  require_close(col, {5, 5, 5, 6, 6, 6});
  REQUIRE_THROWS_AS(dst.copy_(f64({1, 2}, {2})), ValueError);
  REQUIRE_THROWS_AS(zeros({3}).copy_(ones({1, 3})), ValueError);  // as torch: [1, 3] is not [3]
  // Overlapping source and destination read a snapshot.
  Tensor sq = f64({1, 2, 3, 4}, {2, 2});
  sq.copy_(sq.t());
  require_close(sq, {1, 3, 2, 4});
  // Into a non-contiguous destination.
  Tensor base = zeros({3, 2}, DType::Float64);
  base.t().copy_(f64({1, 2, 3, 4, 5, 6}, {2, 3}));
  require_close(base, {1, 4, 2, 5, 3, 6});

  // clone and copy_ are differentiable.
  Tensor w = f64({1, 2}, {2}).requires_grad_();
  w.clone().mul(f64({3, 4}, {2})).sum().backward();
  require_close(w.grad(), {3, 4});
  auto r = autograd::gradcheck([](const tensor_list& in) { return in[0].t().contiguous().mul(in[0].t()); },
                               {f64({1, 2, 3, 4, 5, 6}, {2, 3}).requires_grad_()});
  REQUIRE(r.ok);
  r = autograd::gradcheck(
      [](const tensor_list& in) {
        Tensor d = zeros({2, 2}, DType::Float64);
        d.copy_(in[0]);
        return d.mul(d);
      },
      {f64({1, 2}, {2}).requires_grad_()});
  REQUIRE(r.ok);
}

TEST_CASE("in-place ops bump the version counter shared by views", "[tensor][inplace]") {
  Tensor x = f64({1, 2, 3, 4}, {2, 2});
  Tensor v = x.select(0, 1);
  REQUIRE(x.version() == 0);
  x.add_(f64({1, 1}, {2}));
  REQUIRE(x.version() == 1);
  REQUIRE(v.version() == 1);
  require_close(x, {2, 3, 4, 5});
  x.sub_(f64({1, 1, 1, 1}, {2, 2}), 2);  // x - 2 * 1
  require_close(x, {0, 1, 2, 3});
  x.mul_(f64({2}, {1}));
  require_close(x, {0, 2, 4, 6});
  x.div_(f64({2, 4}, {2}));
  require_close(x, {0, 0.5, 2, 1.5});
  x.add_(1.0);
  x.mul_(2.0);
  require_close(x, {2, 3, 6, 5});
  v.fill_(9.0);  // through a view
  require_close(x, {2, 3, 9, 9});
  x.zero_();
  require_close(x, {0, 0, 0, 0});
  REQUIRE(x.version() == 8);

  // The result must fit the destination's dtype.
  Tensor i = i64({1, 2}, {2});
  REQUIRE_THROWS_AS(i.add_(f64({0.5, 0.5}, {2})), TypeError);
  REQUIRE_THROWS_AS(i.div_(i64({2, 2}, {2})), TypeError);  // true division gives float
  i.add_(i64({1, 1}, {2}));
  require_close(i, {2, 3});
  Tensor f = zeros({2});
  f.add_(i);  // int into float is fine
  require_close(f, {2, 3});
  REQUIRE_THROWS_AS(f.add_(ones({3})), ValueError);  // broadcast result must be self's shape
  REQUIRE_THROWS_AS(zeros({2}).add_(ones({2, 2})), ValueError);
  REQUIRE_THROWS_AS(i.add(i, 1.5), TypeError);  // float alpha with integers
}

TEST_CASE("result_type follows PyTorch's promotion", "[tensor][dtype]") {
  Tensor i = i64({1, 2}, {2}), i0 = scalar_tensor(1, DType::Int64);
  Tensor f = zeros({2}), f0 = scalar_tensor(1.5, DType::Float32);
  Tensor d = zeros({2}, DType::Float64), d0 = scalar_tensor(1.5, DType::Float64);
  Tensor b = full({2}, true), b0 = scalar_tensor(true, DType::Bool);
  // Same rank: promote_types.
  REQUIRE(result_type(i, f) == DType::Float32);
  REQUIRE(result_type(f, d) == DType::Float64);
  REQUIRE(result_type(b, i) == DType::Int64);
  REQUIRE(result_type(i0, f0) == DType::Float32);
  REQUIRE(result_type(i0, d0) == DType::Float64);
  // A 0-d tensor only wins with a higher category.
  REQUIRE(result_type(f, d0) == DType::Float32);
  REQUIRE(result_type(d0, f) == DType::Float32);
  REQUIRE(result_type(i, d0) == DType::Float64);
  REQUIRE(result_type(i, f0) == DType::Float32);
  REQUIRE(result_type(b, i0) == DType::Int64);
  REQUIRE(result_type(i, b0) == DType::Int64);
  REQUIRE(result_type(f, i0) == DType::Float32);
  // Python numbers rank below 0-d tensors.
  REQUIRE(result_type(i, 2.5) == DType::Float32);
  REQUIRE(result_type(i0, 2.5) == DType::Float32);
  REQUIRE(result_type(d, 2.5) == DType::Float64);
  REQUIRE(result_type(f, 2) == DType::Float32);
  REQUIRE(result_type(b, 2) == DType::Int64);
  REQUIRE(result_type(b, true) == DType::Bool);
  REQUIRE(result_type(i, true) == DType::Int64);
  REQUIRE(result_type(b, 2.5) == DType::Float32);
  // Ops use it.
  REQUIRE(add(i, 2.5).dtype() == DType::Float32);
  REQUIRE(add(f, d0).dtype() == DType::Float32);
  REQUIRE(div(i, i).dtype() == DType::Float32);  // true division
  require_close(div(i64({1, 3}, {2}), i64({2, 2}, {2})), {0.5, 1.5});
  REQUIRE(add(b, b).dtype() == DType::Bool);
  REQUIRE(mul(i, d).dtype() == DType::Float64);
  REQUIRE_THROWS_AS(sub(b, b), TypeError);
}

TEST_CASE("item and metadata", "[tensor]") {
  Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  REQUIRE(x.numel() == 6);
  REQUIRE(x.dim() == 2);
  REQUIRE(x.size(-1) == 3);
  REQUIRE(x.stride(0) == 3);
  REQUIRE_THROWS_AS(x.size(2), IndexError);
  REQUIRE(x.is_contiguous());
  REQUIRE_FALSE(x.t().is_contiguous());
  REQUIRE(zeros({3, 1}).expand({3, 1}).is_contiguous());
  REQUIRE(x.select(0, 1).select(0, 2).item<double>() == 6);
  REQUIRE(scalar_tensor(true, DType::Bool).item<bool>());
  REQUIRE_THROWS_AS(x.item<double>(), ValueError);
  REQUIRE_THROWS_AS(x.data_ptr<float>(), TypeError);
  REQUIRE(x.data_ptr<double>()[5] == 6);
}
