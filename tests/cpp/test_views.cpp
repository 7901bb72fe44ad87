// Views: new geometry over the same storage (view, reshape, flatten, unflatten,
// permute, transpose, squeeze, unsqueeze, expand, slice, narrow, select).
#include <catch2/catch.hpp>

#include <limits>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/gradcheck.h"
#include "autograd/node.h"
#include "core/ops.h"

using namespace shanshui;
using autograd::tensor_list;

namespace {
Tensor iota(const Shape& s, DType dt = DType::Float64) { return arange(numel_of(s), dt).reshape(s); }
Tensor param(const Shape& s) {
  std::vector<double> v(size_t(numel_of(s)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = 0.3 * double(i) - 0.7 + 0.01 * double(i * i % 7);
  return from_vector(v, s, DType::Float64).requires_grad_();
}
void require_close(const Tensor& t, const std::vector<double>& want) {
  auto got = to_vector(t);
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) REQUIRE(got[i] == Approx(want[i]).margin(1e-12));
}
void check_grad(const std::function<Tensor(const tensor_list&)>& f, const tensor_list& in) {
  auto r = autograd::gradcheck(f, in);
  INFO(r.message);
  REQUIRE(r.ok);
}
bool shares(const Tensor& a, const Tensor& b) { return a.storage() == b.storage(); }
}  // namespace

TEST_CASE("view shares memory and infers -1", "[views]") {
  Tensor x = iota({2, 3});
  Tensor y = x.view({3, 2});
  REQUIRE(shares(x, y));
  REQUIRE(y.strides() == Shape{2, 1});
  y.select(0, 0).fill_(42.0);  // writes through to x
  require_close(x, {42, 42, 2, 3, 4, 5});
  REQUIRE(x.view({-1}).shape() == Shape{6});
  REQUIRE(x.view({-1, 2}).shape() == Shape{3, 2});
  REQUIRE(x.view({1, -1, 1}).shape() == Shape{1, 6, 1});
  REQUIRE(scalar_tensor(1.0, DType::Float64).view({1, 1}).shape() == Shape{1, 1});
  REQUIRE(x.view({6}).view({2, 3}).strides() == Shape{3, 1});
  REQUIRE(zeros({0, 3}).view({3, 0, 5}).shape() == Shape{3, 0, 5});
  // A transposed tensor can still be split along one dim without a copy.
  Tensor t = iota({4, 6}).t();  // [6, 4], strides [1, 6]
  Tensor v = t.view({6, 2, 2});
  REQUIRE(shares(v, t));
  REQUIRE(v.strides() == Shape{1, 12, 6});
  REQUIRE(to_vector(v) == to_vector(t.contiguous().view({6, 2, 2})));
}

TEST_CASE("view and reshape errors", "[views]") {
  Tensor x = iota({2, 3});
  REQUIRE_THROWS_AS(x.view({-1, -1}), ValueError);
  REQUIRE_THROWS_WITH(x.view({-1, -1}), Catch::Contains("only one dimension can be inferred"));
  REQUIRE_THROWS_AS(x.view({4, 2}), ValueError);
  REQUIRE_THROWS_WITH(x.reshape({4}), Catch::Contains("[4] is invalid for input of size 6"));
  REQUIRE_THROWS_AS(x.view({-1, 4}), ValueError);
  REQUIRE_THROWS_AS(x.view({-2, 3}), ValueError);
  const int64_t big = std::numeric_limits<int64_t>::max() / 2;
  REQUIRE_THROWS_AS(x.view({big, 4}), ValueError);   // product overflows int64
  REQUIRE_THROWS_AS(x.view({big, 4, -1}), ValueError);
  REQUIRE_THROWS_AS(zeros({0, 3}).view({-1, 0}), ValueError);  // -1 is ambiguous
  REQUIRE_THROWS_AS(x.t().view({6}), RuntimeError);            // needs a copy
  REQUIRE_THROWS_WITH(x.t().view({6}), Catch::Contains("use .reshape"));
}

TEST_CASE("reshape is a view when it can be, a copy otherwise", "[views]") {
  Tensor x = iota({2, 3});
  Tensor r = x.reshape({3, -1});
  REQUIRE(shares(x, r));
  Tensor t = x.t();
  Tensor c = t.reshape({6});
  REQUIRE_FALSE(shares(t, c));
  require_close(c, {0, 3, 1, 4, 2, 5});
  REQUIRE(x.reshape({2, 3}).storage() == x.storage());
  REQUIRE(scalar_tensor(3.0, DType::Float64).reshape({}).dim() == 0);
  REQUIRE(iota({1}).reshape({}).dim() == 0);
}

TEST_CASE("flatten and unflatten", "[views]") {
  Tensor x = iota({2, 3, 4});
  REQUIRE(x.flatten().shape() == Shape{24});
  REQUIRE(x.flatten(1).shape() == Shape{2, 12});
  REQUIRE(x.flatten(0, 1).shape() == Shape{6, 4});
  REQUIRE(x.flatten(-2, -1).shape() == Shape{2, 12});
  REQUIRE(shares(x.flatten(1), x));
  REQUIRE(scalar_tensor(1.0, DType::Float64).flatten().shape() == Shape{1});
  REQUIRE_THROWS_AS(x.flatten(2, 1), ValueError);
  REQUIRE_THROWS_AS(x.flatten(0, 3), IndexError);
  Tensor f = x.transpose(0, 2).flatten();  // not viewable: copied, values in logical order
  REQUIRE(to_vector(f) == to_vector(x.transpose(0, 2).contiguous().view({24})));

  Tensor u = unflatten(x.flatten(1), 1, {3, -1});
  REQUIRE(u.shape() == Shape{2, 3, 4});
  REQUIRE(to_vector(u) == to_vector(x));
  REQUIRE(unflatten(x, -1, {2, 2}).shape() == Shape{2, 3, 2, 2});
  REQUIRE_THROWS_AS(unflatten(x, 1, {2, 2}), ValueError);
  REQUIRE_THROWS_AS(unflatten(x, 1, {}), ValueError);
  REQUIRE_THROWS_AS(unflatten(x, 3, {1}), IndexError);
}

TEST_CASE("permute and transpose swap strides", "[views]") {
  Tensor x = iota({2, 3, 4});
  Tensor p = x.permute({2, 0, 1});
  REQUIRE(p.shape() == Shape{4, 2, 3});
  REQUIRE(p.strides() == Shape{1, 12, 4});
  REQUIRE(shares(p, x));
  REQUIRE(x.permute({-1, 0, 1}).shape() == Shape{4, 2, 3});
  REQUIRE_THROWS_AS(x.permute({0, 1}), ValueError);
  REQUIRE_THROWS_AS(x.permute({0, 0, 1}), ValueError);
  REQUIRE_THROWS_AS(x.permute({0, 1, 3}), IndexError);

  Tensor t = x.transpose(0, -1);
  REQUIRE(t.shape() == Shape{4, 3, 2});
  REQUIRE(t.strides() == Shape{1, 4, 12});
  // t[i][j][k] == x[k][j][i]
  REQUIRE(t.select(0, 3).select(0, 1).select(0, 0).item<double>() == x.select(0, 0).select(0, 1).select(0, 3).item<double>());
  REQUIRE_THROWS_AS(x.transpose(0, 3), IndexError);
  Tensor s = scalar_tensor(2.0, DType::Float64);
  REQUIRE(s.transpose(0, -1).dim() == 0);
  REQUIRE_THROWS_AS(s.transpose(0, 1), IndexError);
  REQUIRE(iota({2, 3}).t().shape() == Shape{3, 2});
  REQUIRE(iota({2, 3, 4}).mT().shape() == Shape{2, 4, 3});
  REQUIRE(iota({2, 3, 4}).T().shape() == Shape{4, 3, 2});
  REQUIRE_THROWS_AS(x.t(), ValueError);
}

TEST_CASE("squeeze and unsqueeze", "[views]") {
  Tensor x = iota({1, 3, 1, 2});
  REQUIRE(x.squeeze().shape() == Shape{3, 2});
  REQUIRE(x.squeeze(0).shape() == Shape{3, 1, 2});
  REQUIRE(x.squeeze(-2).shape() == Shape{1, 3, 2});
  REQUIRE(x.squeeze(1).shape() == x.shape());  // not size 1: unchanged
  REQUIRE(shares(x.squeeze(), x));
  REQUIRE_THROWS_AS(x.squeeze(4), IndexError);
  REQUIRE(scalar_tensor(1.0, DType::Float64).squeeze(0).dim() == 0);
  REQUIRE_THROWS_AS(scalar_tensor(1.0, DType::Float64).squeeze(1), IndexError);

  Tensor y = iota({3, 2});
  Tensor u0 = y.unsqueeze(0), u1 = y.unsqueeze(1), u2 = y.unsqueeze(-1);
  REQUIRE(u0.shape() == Shape{1, 3, 2});
  REQUIRE(u1.shape() == Shape{3, 1, 2});
  REQUIRE(u1.strides() == Shape{2, 2, 1});
  REQUIRE(u2.shape() == Shape{3, 2, 1});
  REQUIRE(u2.strides() == Shape{2, 1, 1});
  REQUIRE(shares(u1, y));
  REQUIRE_THROWS_AS(y.unsqueeze(3), IndexError);
  REQUIRE(y.unsqueeze(-3).shape() == Shape{1, 3, 2});
}

TEST_CASE("expand broadcasts with stride 0", "[views]") {
  Tensor x = iota({3, 1});
  Tensor e = x.expand({2, 3, 4});
  REQUIRE(e.shape() == Shape{2, 3, 4});
  REQUIRE(e.strides() == Shape{0, 1, 0});
  REQUIRE(shares(e, x));
  require_close(e.select(0, 1).select(0, 2), {2, 2, 2, 2});
  REQUIRE(x.expand({-1, 5}).shape() == Shape{3, 5});
  REQUIRE(x.expand({3, 0}).shape() == Shape{3, 0});
  REQUIRE(x.expand_as(zeros({3, 2})).shape() == Shape{3, 2});
  REQUIRE_THROWS_AS(x.expand({4, 4}), ValueError);       // 3 is not 1
  REQUIRE_THROWS_AS(x.expand({4}), ValueError);          // fewer dims
  REQUIRE_THROWS_AS(x.expand({-1, 3, 1}), ValueError);   // -1 in a new leading dim
  REQUIRE_THROWS_AS(x.expand({3, -2}), ValueError);
  REQUIRE(broadcast_to(iota({2}), {3, 2}).strides() == Shape{0, 1});
}

TEST_CASE("slice, narrow and select", "[views]") {
  Tensor x = iota({4, 5});
  Tensor s = x.slice(1, 1, 4);
  REQUIRE(s.shape() == Shape{4, 3});
  REQUIRE(s.offset() == 1);
  REQUIRE(s.strides() == Shape{5, 1});
  REQUIRE(shares(s, x));
  Tensor st = x.slice(0, 1, std::nullopt, 2);  // rows 1, 3
  REQUIRE(st.shape() == Shape{2, 5});
  REQUIRE(st.strides() == Shape{10, 1});
  require_close(st.select(1, 0), {5, 15});
  REQUIRE(x.slice(1, -2, std::nullopt).shape() == Shape{4, 2});  // negative start
  REQUIRE(x.slice(1, -100, 100).shape() == Shape{4, 5});          // clamped
  REQUIRE(x.slice(1, 3, 1).shape() == Shape{4, 0});               // empty
  REQUIRE(x.slice(1, 0, 5, 3).shape() == Shape{4, 2});            // ceil(5 / 3)
  REQUIRE_THROWS_AS(x.slice(1, 0, 5, 0), ValueError);
  REQUIRE_THROWS_AS(x.slice(2, 0, 1), IndexError);
  REQUIRE_THROWS_AS(scalar_tensor(1.0, DType::Float64).slice(0, 0, 1), IndexError);

  Tensor n = x.narrow(0, 1, 2);
  REQUIRE(n.shape() == Shape{2, 5});
  REQUIRE(n.offset() == 5);
  REQUIRE(x.narrow(1, -2, 2).offset() == 3);
  REQUIRE(x.narrow(0, 4, 0).shape() == Shape{0, 5});
  REQUIRE_THROWS_AS(x.narrow(0, 3, 2), IndexError);
  REQUIRE_THROWS_AS(x.narrow(0, 5, 0), IndexError);
  REQUIRE_THROWS_AS(x.narrow(0, 0, -1), IndexError);

  Tensor r = x.select(0, -1);
  REQUIRE(r.shape() == Shape{5});
  require_close(r, {15, 16, 17, 18, 19});
  REQUIRE(x.select(1, 2).strides() == Shape{5});
  REQUIRE_THROWS_AS(x.select(0, 4), IndexError);
  REQUIRE_THROWS_AS(x.select(0, -5), IndexError);
  REQUIRE_THROWS_AS(scalar_tensor(1.0, DType::Float64).select(0, 0), IndexError);
}

TEST_CASE("view op gradients (hand-derived)", "[views][grad]") {
  // d/dx sum(w * x.slice(1, 1, 3)) puts w in the window and 0 elsewhere.
  Tensor x = param({2, 4});
  Tensor w = from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2}, DType::Float64);
  x.slice(1, 1, 3).mul(w).sum().backward();
  require_close(x.grad(), {0, 1, 2, 0, 0, 3, 4, 0});
  // expand sums the gradient over the broadcast dims.
  Tensor y = param({3, 1});
  y.expand({2, 3, 4}).sum().backward();
  require_close(y.grad(), {8, 8, 8});
}

TEST_CASE("view op gradchecks, incl. non-contiguous and zero-size inputs", "[views][grad]") {
  auto sq = [](const Tensor& t) { return t.mul(t); };  // a non-linear op after the view
  tensor_list inputs{param({2, 3, 4})};
  tensor_list noncontig{param({4, 3, 2}).transpose(0, 2)};  // [2, 3, 4], transposed leaf
  noncontig[0].requires_grad_();
  for (const tensor_list& in : {inputs, noncontig}) {
    check_grad([&](const tensor_list& a) { return sq(a[0].reshape({6, 4})); }, in);
    check_grad([&](const tensor_list& a) { return sq(a[0].reshape({-1})); }, in);
    check_grad([&](const tensor_list& a) { return sq(a[0].flatten(1)); }, in);
    check_grad([&](const tensor_list& a) { return sq(unflatten(a[0], 2, {2, 2})); }, in);
    check_grad([&](const tensor_list& a) { return sq(a[0].permute({1, 2, 0})); }, in);
    check_grad([&](const tensor_list& a) { return sq(a[0].transpose(0, 1)); }, in);
    check_grad([&](const tensor_list& a) { return sq(a[0].unsqueeze(1).squeeze(1)); }, in);
    check_grad([&](const tensor_list& a) { return sq(a[0].slice(2, 1, 4, 2)); }, in);
    check_grad([&](const tensor_list& a) { return sq(a[0].narrow(1, 1, 2)); }, in);
    check_grad([&](const tensor_list& a) { return sq(a[0].select(1, -1)); }, in);
  }
  check_grad([&](const tensor_list& a) { return sq(a[0].view({3, 4})); }, {param({2, 6})});
  check_grad([&](const tensor_list& a) { return sq(a[0].expand({2, 3, 4})); }, {param({3, 1})});
  check_grad([&](const tensor_list& a) { return sq(a[0].squeeze()); }, {param({1, 3, 1})});
  // Zero-size inputs.
  check_grad([&](const tensor_list& a) { return sq(a[0].reshape({0, 2})); }, {param({2, 0})});
  check_grad([&](const tensor_list& a) { return sq(a[0].slice(0, 1, 1)); }, {param({3, 2})});
  check_grad([&](const tensor_list& a) { return sq(a[0].transpose(0, 1)); }, {param({0, 3})});
  check_grad([&](const tensor_list& a) { return sq(a[0].expand({0, 3})); }, {param({1, 3})});
}

TEST_CASE("slice and select backward are themselves differentiable", "[views][grad]") {
  // f = sum(x[1:3]^2): df/dx = 2x in the window; d(sum df/dx)/dx = 2 in the window.
  Tensor x = param({4});
  Tensor f = x.slice(0, 1, 3).mul(x.slice(0, 1, 3)).sum();
  tensor_list g = autograd::grad({f}, {x}, {}, false, /*create_graph=*/true);
  REQUIRE(g[0].requires_grad());
  tensor_list g2 = autograd::grad({g[0].sum()}, {x});
  require_close(g2[0], {0, 2, 2, 0});
  Tensor y = param({3, 2});
  Tensor h = y.select(0, 1).mul(y.select(0, 1)).sum();
  tensor_list gy = autograd::grad({h}, {y}, {}, false, true);
  require_close(autograd::grad({gy[0].sum()}, {y})[0], {0, 0, 2, 2, 0, 0});
}

// ---- in-place ops on views (CopySlices, autograd/copy_slices.h) ------------------------------

TEST_CASE("in-place op on a view rebases its base's history", "[views][autograd][inplace]") {
  // b = a * 1; b[1] *= c; so d(sum b)/da is 1 except row 1, where it is c, and d/dc = a[1].
  Tensor a = param({4, 3});
  Tensor c = from_vector(std::vector<double>{0.5, -1.5, 2.0}, {3}, DType::Float64).requires_grad_();
  Tensor b = a.mul(1.0);
  Tensor row = b.select(0, 1);
  row.mul_(c);
  REQUIRE(b.grad_fn()->name() == "CopySlices");
  REQUIRE(row.grad_fn()->name() == "AsStridedBackward");
  REQUIRE(row.version() == b.version());
  b.sum().backward();
  auto av = to_vector(a);
  require_close(a.grad(), {1, 1, 1, 0.5, -1.5, 2.0, 1, 1, 1, 1, 1, 1});
  require_close(c.grad(), {av[3], av[4], av[5]});

  // Against finite differences: several views, a fill (no gradient for the region),
  // a view of a view, and uses of the view and of the base afterwards.
  check_grad([](const tensor_list& in) {
    Tensor x = in[0].mul(1.0);
    Tensor r = x.select(0, 1);
    r.mul_(in[1]);
    x.select(1, 0).zero_();
    x.slice(0, 0, 4, 2).add_(in[1]);
    x.transpose(0, 1).select(0, 2).slice(0, 1, 3).clamp_(-0.4, 0.6);
    return x.mul(x).add(r.sum());
  }, {param({4, 3}), from_vector(std::vector<double>{0.5, -1.5, 2.0}, {3}, DType::Float64).requires_grad_()});
}

TEST_CASE("in-place on views: errors and no_grad", "[views][autograd][inplace]") {
  Tensor leaf = param({2, 3});
  REQUIRE_THROWS_AS(leaf.select(0, 0).mul_(2.0), RuntimeError);
  REQUIRE_THROWS_WITH(leaf.select(0, 0).mul_(2.0), Catch::Contains("mul_") && Catch::Contains("leaf Variable") &&
                                                       Catch::Contains("[3]"));
  Tensor e = leaf.mul(1.0).slice(1, 0, 1).expand({2, 3});
  REQUIRE_THROWS_WITH(e.add_(1.0), Catch::Contains("add_") && Catch::Contains("single memory location") &&
                                       Catch::Contains("[2, 3]"));
  {
    autograd::NoGradGuard ng;
    leaf.select(0, 0).fill_(1.0);  // allowed without grad, no history
  }
  REQUIRE(leaf.is_leaf());
  require_close(leaf.select(0, 0), {1, 1, 1});
  // A tensor saved for backward and then modified through a view: the version check fires.
  Tensor b = leaf.mul(1.0);
  Tensor s = b.sin();  // saves b
  b.select(0, 1).mul_(2.0);
  REQUIRE_THROWS_WITH(s.sum().backward(), Catch::Contains("modified by an inplace operation"));
}
