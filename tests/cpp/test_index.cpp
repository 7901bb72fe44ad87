// Indexing: Python-style subscripts (index / index_put_) and the gather/scatter
// family. Expected values of the subscript cases were produced by PyTorch.
#include <catch2/catch.hpp>

#include "autograd/gradcheck.h"
#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "core/ops.h"

using namespace shanshui;

namespace {
// 0.5, 1.25, 2.0, ... (0.5 + 0.75 i) in `shape`.
Tensor seq(const Shape& shape, DType dt = DType::Float64) {
  std::vector<double> v(size_t(numel_of(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = 0.5 + 0.75 * double(i);
  return from_vector(v, shape, dt);
}
Tensor leaf(const Shape& shape) { return seq(shape).requires_grad_(); }
Tensor ids(const std::vector<int64_t>& v, const Shape& s) { return from_vector(v, s); }
Tensor ids(const std::vector<int64_t>& v) { return from_vector(v, {int64_t(v.size())}); }
Tensor mask(const std::vector<double>& v, const Shape& s) { return from_vector(v, s, DType::Bool); }
Tensor f64(const std::vector<double>& v, const Shape& s) { return from_vector(v, s, DType::Float64); }
void require_values(const Tensor& t, const std::vector<double>& want) {
  REQUIRE(t.defined());
  auto got = to_vector(t);
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) REQUIRE(got[i] == Approx(want[i]).margin(1e-12));
}
void require_gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, const std::vector<Tensor>& in) {
  auto r = autograd::gradcheck(f, in);
  INFO(r.message);
  REQUIRE(r.ok);
}
const Slice _all{};
}  // namespace

TEST_CASE("basic subscripts give views with PyTorch's values", "[index]") {
  Tensor x = seq({2, 3, 4});
  require_values(x.index({1, _all, Slice{std::nullopt, std::nullopt, 2}}), {9.5, 11.0, 12.5, 14.0, 15.5, 17.0});
  Tensor a = x.index({NewAxis{}, 0, Ellipsis{}, -1});
  REQUIRE(a.shape() == Shape{1, 3});
  require_values(a, {2.75, 5.75, 8.75});
  require_values(x.index({_all, Slice{1, 10, 2}, Slice{-3, std::nullopt}}), {4.25, 5.0, 5.75, 13.25, 14.0, 14.75});
  REQUIRE(x.index({Slice{5, 9}}).shape() == Shape{0, 3, 4});  // clamped, empty
  REQUIRE(x.index({Ellipsis{}}).shape() == x.shape());
  REQUIRE(x.index({}).storage() == x.storage());
  // A 0-d int64 tensor index is a select (a view), as in PyTorch.
  Tensor s = x.index({scalar_tensor(1, DType::Int64)});
  REQUIRE(s.shape() == Shape{3, 4});
  REQUIRE(s.storage() == x.storage());
  // Views write through shared storage.
  Tensor row = x.index({0, 1});
  row.fill_(-1);
  REQUIRE(to_vector(x)[4] == -1);
  REQUIRE(to_vector(x)[7] == -1);
}

TEST_CASE("advanced indexing: broadcasting and where the dims go", "[index]") {
  Tensor x = seq({2, 3, 4});
  Tensor r = x.index({ids({1, 0, 1})});
  REQUIRE(r.shape() == Shape{3, 3, 4});
  require_values(r.index({_all, 0, 0}), {9.5, 0.5, 9.5});
  REQUIRE(r.storage() != x.storage());  // advanced indexing copies
  Tensor i = ids({0, 1, 1, 0}, {2, 2}), j = ids({2, -1});
  // separated by a slice: the broadcast dims go first
  Tensor sep = x.index({i, _all, j});
  REQUIRE(sep.shape() == Shape{2, 2, 3});
  require_values(sep, {2.0, 5.0, 8.0, 11.75, 14.75, 17.75, 11.0, 14.0, 17.0, 2.75, 5.75, 8.75});
  // adjacent: they stay in place
  Tensor adj = x.index({_all, i, j});
  REQUIRE(adj.shape() == Shape{2, 2, 2});
  require_values(adj, {2.0, 5.75, 5.0, 2.75, 11.0, 14.75, 14.0, 11.75});
  // an int is a select first (PyTorch, unlike NumPy)
  Tensor withint = x.index({0, _all, ids({3, 0})});
  REQUIRE(withint.shape() == Shape{3, 2});
  require_values(withint, {2.75, 0.5, 5.75, 3.5, 8.75, 6.5});
  REQUIRE(x.index({Ellipsis{}, NewAxis{}, ids({1, 2})}).shape() == Shape{2, 3, 1, 2});
  // non-contiguous source and index
  Tensor xt = x.transpose(0, 2);  // [4, 3, 2]
  Tensor idx = ids({0, 1, 2, 3, 4, 5}, {2, 3}).t().index({_all, 0});  // column 0 of [[0,3],[1,4],[2,5]], strided
  require_values(idx, {0, 1, 2});
  require_values(xt.index({idx, 1, 0}), {3.5, 4.25, 5.0});
  // zero-size
  REQUIRE(x.index({ids({}, {0})}).shape() == Shape{0, 3, 4});
  REQUIRE(zeros({0, 3}).index({_all, ids({2})}).shape() == Shape{0, 1});
}

TEST_CASE("bool masks", "[index]") {
  Tensor x = seq({2, 3, 4});
  Tensor m = mask({1, 0, 1, 0, 0, 1}, {2, 3});
  Tensor r = x.index({m});
  REQUIRE(r.shape() == Shape{3, 4});
  require_values(r.index({_all, 1}), {1.25, 7.25, 16.25});
  REQUIRE(x.index({_all, mask({1, 0, 1}, {3})}).shape() == Shape{2, 2, 4});
  require_values(x.index({1, mask({1, 0, 1}, {3}), 2}), {11.0, 17.0});
  REQUIRE(x.index({scalar_tensor(true, DType::Bool)}).shape() == Shape{1, 2, 3, 4});
  REQUIRE(x.index({scalar_tensor(false, DType::Bool)}).shape() == Shape{0, 2, 3, 4});
  REQUIRE_THROWS_AS(x.index({mask({1, 0}, {2, 1})}), IndexError);
  REQUIRE(nonzero(m).shape() == Shape{3, 2});
  require_values(nonzero(m), {0, 0, 0, 2, 1, 2});
  REQUIRE(nonzero(scalar_tensor(3.0, DType::Float32)).shape() == Shape{1, 0});
  REQUIRE(nonzero(scalar_tensor(0.0, DType::Float32)).shape() == Shape{0, 0});
  require_values(nonzero(seq({2, 2}).t().index({_all, 1})), {0, 1});  // strided input
}

TEST_CASE("index errors", "[index][errors]") {
  Tensor x = seq({2, 3});
  REQUIRE_THROWS_AS(x.index({0, 0, 0}), IndexError);
  REQUIRE_THROWS_AS(x.index({2}), IndexError);
  REQUIRE_THROWS_AS(x.index({-3}), IndexError);
  REQUIRE_THROWS_AS(x.index({Ellipsis{}, Ellipsis{}}), IndexError);
  REQUIRE_THROWS_AS(x.index({Slice{0, 2, 0}}), ValueError);
  REQUIRE_THROWS_AS(x.index({ids({0, 2})}), IndexError);
  REQUIRE_THROWS_AS(x.index({_all, ids({-4})}), IndexError);
  REQUIRE_THROWS_AS(x.index({ids({0, 1}), ids({0, 1, 2})}), IndexError);
  REQUIRE_THROWS_AS(x.index({seq({2})}), TypeError);
  try {
    x.index({_all, ids({7})});
    FAIL("expected a throw");
  } catch (const IndexError& e) {
    std::string m = e.what();
    REQUIRE(m.find("index 7") != std::string::npos);
    REQUIRE(m.find("size 3") != std::string::npos);
  }
}

TEST_CASE("index gradients", "[index][grad]") {
  Tensor x = leaf({3, 4, 2});
  require_gradcheck([](const std::vector<Tensor>& in) { return in[0].index({1, Slice{1, 4, 2}, NewAxis{}}); }, {x});
  require_gradcheck(
      [](const std::vector<Tensor>& in) { return in[0].transpose(0, 1).index({ids({3, 0, 3}), Slice{0, 2}}); },
      {x});
  require_gradcheck(
      [](const std::vector<Tensor>& in) { return in[0].index({ids({0, 2, 2, 1}, {2, 2}), _all, ids({1, -1})}); }, {x});
  require_gradcheck(
      [](const std::vector<Tensor>& in) { return in[0].index({mask({1, 0, 1, 1}, {4}).unsqueeze(0).expand({3, 4})}); },
      {x});
  require_gradcheck([](const std::vector<Tensor>& in) { return in[0].index({ids({}, {0})}); }, {x});
  // Duplicate indices accumulate: d/dx sum(x[[0, 0, 2]]) = [2, 0, 1]
  Tensor v = leaf({3});
  v.index({ids({0, 0, 2})}).sum().backward();
  require_values(v.grad(), {2, 0, 1});
}

TEST_CASE("index_put_ values, broadcasting, views", "[index][put]") {
  Tensor y = zeros({3, 4});
  y.index_put_({ids({0, 2}), Slice{1, 3}}, from_vector(std::vector<double>{1, 2}, {2}));
  require_values(y, {0, 1, 2, 0, 0, 0, 0, 0, 0, 1, 2, 0});
  Tensor z = zeros({3, 4});
  z.index_put_({_all, ids({0, 0, 3})}, from_vector(std::vector<double>{1, 2, 3}, {3, 1}));
  require_values(z, {1, 0, 0, 1, 2, 0, 0, 2, 3, 0, 0, 3});
  // mask assignment with a scalar value; int value into a float tensor is converted
  Tensor w = seq({2, 3}, DType::Float32);
  w.index_put_({mask({0, 0, 0, 1, 1, 1}, {2, 3})}, scalar_tensor(0, DType::Int64));
  require_values(w, {0.5, 1.25, 2.0, 0, 0, 0});
  // leading size-1 dims of the value are dropped (x[0] = t[None])
  Tensor u = zeros({2, 3});
  u.index_put_({0}, ones({1, 1, 3}));
  require_values(u, {1, 1, 1, 0, 0, 0});
  // writing into a view via basic indexing writes through shared storage
  Tensor base = zeros({3, 3});
  Tensor col = base.index({_all, 1});
  col.index_put_({ids({0, 2})}, scalar_tensor(5.0, DType::Float32));
  require_values(base, {0, 5, 0, 0, 0, 0, 0, 5, 0});
  base.index_put_({Slice{1, std::nullopt}, Slice{0, 2}}, scalar_tensor(7.0, DType::Float32));
  require_values(base, {0, 5, 0, 7, 7, 0, 7, 7, 0});
  // overlapping source and destination: x[1:] = x[:-1]
  Tensor s = from_vector(std::vector<double>{0, 1, 2, 3, 4}, {5});
  s.index_put_({Slice{1, std::nullopt}}, s.index({Slice{std::nullopt, -1}}));
  require_values(s, {0, 0, 1, 2, 3});
  uint64_t ver = s.version();
  s.index_put_({0}, scalar_tensor(9.0, DType::Float32));
  REQUIRE(s.version() > ver);
  // errors
  REQUIRE_THROWS_AS(zeros({3}).index_put_({ids({0, 1})}, zeros({3})), ValueError);
  REQUIRE_THROWS_AS(zeros({3}).index_put_({ids({3})}, zeros({1})), IndexError);
  Tensor ex = zeros({1, 3}).expand({2, 3});
  REQUIRE_THROWS_AS(ex.index_put_({0}, zeros({3})), RuntimeError);
}

TEST_CASE("index_put_ with autograd rebases history", "[index][put][grad]") {
  Tensor x = leaf({3, 2}), v = leaf({2});
  REQUIRE_THROWS_AS(Tensor(x).index_put_({0}, v), RuntimeError);  // leaf that requires grad
  Tensor y = x.mul(scalar_tensor(2.0, DType::Float64));
  y.index_put_({1}, v);
  REQUIRE(std::string(y.grad_fn()->name()) == "IndexPutBackward");
  // sum(w * y): dy/dx = 2 except the overwritten row; dy/dv = w[1]
  Tensor wt = f64({1, 2, 3, 4, 5, 6}, {3, 2});
  y.mul(wt).sum().backward();
  require_values(x.grad(), {2, 4, 0, 0, 10, 12});
  require_values(v.grad(), {3, 4});
  {
    NoGradGuard ng;  // allowed on a leaf under no_grad
    Tensor(x).index_put_({0}, zeros({2}, DType::Float64));
  }
  require_values(x.index({0}), {0, 0});
  require_gradcheck(
      [](const std::vector<Tensor>& in) {
        Tensor t = in[0].t().mul(scalar_tensor(1.0, DType::Float64));  // non-leaf from a non-contiguous input
        t.index_put_({_all, ids({2, 0})}, in[1]);
        return t;
      },
      {leaf({4, 2}), leaf({2, 1})});
  // Duplicate positions (undefined which write wins): as PyTorch, the value gets the gradient
  // of every position it was written to: d/dv sum(w * t) = w[1] + w[1] = 4.
  Tensor dv = leaf({});
  Tensor t = zeros({3}, DType::Float64);
  t.index_put_({ids({1, 1})}, dv);
  t.mul(f64({1, 2, 3}, {3})).sum().backward();
  require_values(dv.grad(), {4});
}

TEST_CASE("gather and scatter_add", "[index][gather]") {
  Tensor x = seq({2, 3});  // [[0.5, 1.25, 2], [2.75, 3.5, 4.25]]
  Tensor g = gather(x, 1, ids({2, 0, 1, 1}, {2, 2}));
  require_values(g, {2.0, 0.5, 3.5, 3.5});
  require_values(gather(x, 0, ids({1, 0, 1}, {1, 3})), {2.75, 1.25, 4.25});
  require_values(gather(x.t(), 0, ids({2, 0}, {2, 1})), {2.0, 0.5});
  // scatter_add: out[i][index[i][j]] += src[i][j]; duplicates accumulate
  Tensor s = scatter_add(zeros({2, 3}, DType::Float64), 1, ids({0, 0, 2, 1}, {2, 2}), f64({1, 2, 3, 4}, {2, 2}));
  require_values(s, {3, 0, 0, 0, 4, 3});
  // index smaller than src: only index.shape elements are used
  Tensor s0 = scatter_add(ones({3}, DType::Float64), 0, ids({2, 2}), f64({1, 2, 100}, {3}));
  require_values(s0, {1, 1, 4});
  // large enough to run multi-threaded: every column gets 4096 ones at row 0
  Tensor big = scatter_add(zeros({2, 64}), 0, zeros({4096, 64}, DType::Int64), ones({4096, 64}));
  require_values(big.index({0}).sum(), {4096.0 * 64});
  require_values(big.index({1}).sum(), {0});
  REQUIRE_THROWS_AS(gather(x, 1, ids({3}, {1, 1})), IndexError);
  REQUIRE_THROWS_AS(gather(x, 1, ids({-1}, {1, 1})), IndexError);
  REQUIRE_THROWS_AS(gather(x, 1, ids({0})), ValueError);
  REQUIRE_THROWS_AS(gather(x, 1, ids({0, 0, 0}, {3, 1})), ValueError);
  REQUIRE_THROWS_AS(gather(x, 2, ids({0}, {1, 1})), IndexError);
  REQUIRE_THROWS_AS(gather(x, 1, zeros({1, 1})), TypeError);
  REQUIRE_THROWS_AS(scatter_add(x, 1, ids({0}, {1, 1}), zeros({1, 1})), TypeError);  // float32 src into float64
  REQUIRE_THROWS_AS(scatter_add(x, 1, ids({0, 0}, {1, 2}), zeros({1, 1}, DType::Float64)), ValueError);
  REQUIRE_THROWS_AS(scatter_add(x, 1, ids({5}, {1, 1}), zeros({1, 1}, DType::Float64)), IndexError);
}

TEST_CASE("gather and scatter_add gradients", "[index][gather][grad]") {
  Tensor idx = ids({2, 0, 2, 1, 1, 1}, {3, 2});
  require_gradcheck([idx](const std::vector<Tensor>& in) { return gather(in[0].t(), 1, idx); }, {leaf({3, 3})});
  require_gradcheck([idx](const std::vector<Tensor>& in) { return gather(in[0], 0, idx.t()); }, {leaf({3, 3})});
  require_gradcheck(
      [idx](const std::vector<Tensor>& in) { return scatter_add(in[0], 1, idx, in[1].t()); },
      {leaf({3, 4}), leaf({3, 3})});  // src [3, 3] larger than index [3, 2]
  require_gradcheck([](const std::vector<Tensor>& in) { return gather(in[0], 0, ids({}, {0})); }, {leaf({0})});
  // d/dx sum(gather(x, 0, [0, 0, 1])) = [2, 1, 0]
  Tensor x = leaf({3});
  gather(x, 0, ids({0, 0, 1})).sum().backward();
  require_values(x.grad(), {2, 1, 0});
}

TEST_CASE("index_select and index_add", "[index][select]") {
  Tensor x = seq({3, 2});  // [[0.5, 1.25], [2, 2.75], [3.5, 4.25]]
  require_values(index_select(x, 0, ids({2, 0, 2})), {3.5, 4.25, 0.5, 1.25, 3.5, 4.25});
  require_values(index_select(x, 1, ids({1})), {1.25, 2.75, 4.25});
  REQUIRE(index_select(x, 0, scalar_tensor(1, DType::Int64)).shape() == Shape{1, 2});
  REQUIRE(index_select(scalar_tensor(5.0, DType::Float64), 0, ids({0})).shape() == Shape{});
  require_values(index_select(x.t(), 1, ids({1})), {2.0, 2.75});
  // index_add: out[index[i]] += alpha * source[i]; duplicates accumulate
  Tensor a = index_add(zeros({3, 2}, DType::Float64), 0, ids({2, 2, 0}), f64({1, 2, 3, 4, 5, 6}, {3, 2}), 2);
  require_values(a, {10, 12, 0, 0, 8, 12});
  REQUIRE_THROWS_AS(index_select(x, 0, ids({3})), IndexError);
  REQUIRE_THROWS_AS(index_select(x, 0, ids({-1})), IndexError);
  REQUIRE_THROWS_AS(index_select(x, 0, ids({0, 1}, {1, 2})), ValueError);
  REQUIRE_THROWS_AS(index_select(x, 2, ids({0})), IndexError);
  REQUIRE_THROWS_AS(index_add(x, 0, ids({0}), zeros({2, 2}, DType::Float64)), ValueError);
  REQUIRE_THROWS_AS(index_add(x, 0, ids({3}), zeros({1, 2}, DType::Float64)), IndexError);
  REQUIRE_THROWS_AS(index_add(x, 0, ids({0}), zeros({1, 2})), TypeError);
}

TEST_CASE("index_select and index_add gradients", "[index][select][grad]") {
  Tensor idx = ids({1, 1, 0, 3});
  require_gradcheck([idx](const std::vector<Tensor>& in) { return index_select(in[0].t(), 0, idx); },
                    {leaf({3, 4})});
  require_gradcheck([idx](const std::vector<Tensor>& in) { return index_select(in[0], 1, idx); }, {leaf({2, 4})});
  require_gradcheck(
      [idx](const std::vector<Tensor>& in) { return index_add(in[0], 1, idx, in[1].t(), 0.5); },
      {leaf({3, 5}), leaf({4, 3})});
  // d/dsrc sum(w * index_add(x, 0, [1, 1], src, alpha=3)) = 3 * w[1] for both rows
  Tensor x = leaf({2}), src = leaf({2});
  index_add(x, 0, ids({1, 1}), src, 3).mul(f64({10, 20}, {2})).sum().backward();
  require_values(src.grad(), {60, 60});
  require_values(x.grad(), {10, 20});
}

TEST_CASE("embedding", "[index][embedding]") {
  Tensor w = seq({4, 2});
  Tensor e = embedding(w, ids({3, 0, 3, 1}, {2, 2}));
  REQUIRE(e.shape() == Shape{2, 2, 2});
  require_values(e, {5.0, 5.75, 0.5, 1.25, 5.0, 5.75, 2.0, 2.75});
  // Backward: row r gets the sum over its occurrences; padding_idx rows get zero.
  Tensor wl = leaf({4, 2});
  embedding(wl, ids({3, 0, 3, 1}, {2, 2}), 3).sum().backward();
  require_values(wl.grad(), {1, 1, 1, 1, 0, 0, 0, 0});
  Tensor wl2 = leaf({4, 2});
  embedding(wl2, ids({3, 0, 3, 1}, {2, 2}), -4).sum().backward();  // padding_idx -4 == 0
  require_values(wl2.grad(), {0, 0, 1, 1, 0, 0, 2, 2});
  require_gradcheck([](const std::vector<Tensor>& in) { return embedding(in[0], ids({1, 2, 1}), 0); },  // padding row unused: true gradient
                    {leaf({3, 2})});
  require_gradcheck([](const std::vector<Tensor>& in) { return embedding(in[0].t(), ids({0, 2, 0, 0}, {2, 2})); },
                    {leaf({2, 3})});
  REQUIRE_THROWS_AS(embedding(w, ids({4})), IndexError);
  REQUIRE_THROWS_AS(embedding(w, ids({-1})), IndexError);
  REQUIRE_THROWS_AS(embedding(w, seq({2})), TypeError);
  REQUIRE_THROWS_AS(embedding(seq({4}), ids({0})), ValueError);
  REQUIRE_THROWS_AS(embedding(w, ids({0}), 4), ValueError);
}

TEST_CASE("one_hot", "[index]") {
  Tensor o = one_hot(ids({0, 2, 1}));
  REQUIRE(o.shape() == Shape{3, 3});
  REQUIRE(o.dtype() == DType::Int64);
  require_values(o, {1, 0, 0, 0, 0, 1, 0, 1, 0});
  REQUIRE(one_hot(ids({1, 0}, {2, 1}), 4).shape() == Shape{2, 1, 4});
  REQUIRE(one_hot(ids({}, {0}), 3).shape() == Shape{0, 3});
  REQUIRE_THROWS_AS(one_hot(ids({}, {0})), ValueError);
  REQUIRE_THROWS_AS(one_hot(ids({3}), 3), IndexError);
  REQUIRE_THROWS_AS(one_hot(ids({-1}), 3), IndexError);
  REQUIRE_THROWS_AS(one_hot(seq({2})), TypeError);
}

TEST_CASE("gather and index backwards are differentiable (double backward)", "[index][grad]") {
  // s = sum(gather(x, 0, [0, 0, 2])^2); ds/dx = [4 x0, 0, 2 x2]; d(sum ds/dx)/dx = [4, 0, 2]
  for (int which = 0; which < 3; ++which) {
    Tensor x = leaf({3});
    Tensor i = ids({0, 0, 2});
    Tensor y = which == 0 ? gather(x, 0, i) : which == 1 ? x.index({i}) : index_select(x, 0, i);
    Tensor s = y.mul(y).sum();
    auto g = autograd::grad({s}, {x}, {}, false, /*create_graph=*/true);
    require_values(g[0], {4 * 0.5, 0, 2 * 2.0});
    g[0].sum().backward();
    require_values(x.grad(), {4, 0, 2});
  }
}
