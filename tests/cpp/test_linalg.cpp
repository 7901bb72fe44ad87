// matmul family: PyTorch's 1-D / 2-D / batched / broadcast rules, BLAS layouts
// read from strides, bmm, linear, gradients and errors.
#include <catch2/catch.hpp>

#include "autograd/gradcheck.h"
#include "autograd/node.h"
#include "core/ops.h"
#include "core/storage.h"

using namespace shanshui;
using autograd::gradcheck;
using autograd::tensor_list;

namespace {
Tensor f64(const std::vector<double>& v, const Shape& s) { return from_vector(v, s, DType::Float64); }
// Deterministic values in [-1, 1) (no dependence on the RNG family).
Tensor rnd(const Shape& s, uint64_t seed = 1, DType dt = DType::Float64) {
  std::vector<double> v(size_t(numel_of(s)));
  uint64_t x = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  for (auto& e : v) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    e = double(x >> 11) / double(1ULL << 53) * 2 - 1;
  }
  return from_vector(v, s, dt);
}
Tensor param(const Shape& s, uint64_t seed) { return rnd(s, seed).requires_grad_(); }
void require_close(const Tensor& t, const std::vector<double>& want, double tol = 1e-9) {
  auto got = to_vector(t);
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) REQUIRE(got[i] == Approx(want[i]).margin(tol));
}
void require_same(const Tensor& a, const Tensor& b, double tol = 1e-9) {
  REQUIRE(a.shape() == b.shape());
  require_close(a, to_vector(b), tol);
}
uint64_t allocations() {
  auto s = allocator::stats();
  return s.system_allocs + s.cache_hits;
}
void check_grad(const std::function<Tensor(const tensor_list&)>& f, const tensor_list& in) {
  auto r = gradcheck(f, in);
  INFO(r.message);
  REQUIRE(r.ok);
}
}  // namespace

TEST_CASE("mm and matmul on hand-computed values", "[linalg]") {
  Tensor a = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = f64({7, 8, 9, 10, 11, 12}, {3, 2});
  // [[1*7+2*9+3*11, 1*8+2*10+3*12], [4*7+5*9+6*11, 4*8+5*10+6*12]]
  Tensor c = mm(a, b);
  REQUIRE(c.shape() == Shape{2, 2});
  require_close(c, {58, 64, 139, 154});
  require_same(matmul(a, b), c);
  require_same(a.matmul(b), c);

  // 1-D . 1-D: a dot product, 0-d result.
  Tensor d = matmul(f64({1, 2, 3}, {3}), f64({4, 5, 6}, {3}));
  REQUIRE(d.dim() == 0);
  REQUIRE(d.item<double>() == 32);
  // 2-D @ 1-D: the vector is a column, then squeezed.
  Tensor mv = matmul(a, f64({1, 1, 1}, {3}));
  REQUIRE(mv.shape() == Shape{2});
  require_close(mv, {6, 15});
  // 1-D @ 2-D: the vector is a row, then squeezed.
  Tensor vm = matmul(f64({1, 1}, {2}), a);
  REQUIRE(vm.shape() == Shape{3});
  require_close(vm, {5, 7, 9});
}

TEST_CASE("batched and broadcast matmul follow PyTorch's shape rules", "[linalg]") {
  Tensor a3 = rnd({4, 2, 3}, 1), b2 = rnd({3, 5}, 2);
  Tensor c = matmul(a3, b2);  // folded into one [8, 3] @ [3, 5]
  REQUIRE(c.shape() == Shape{4, 2, 5});
  for (int64_t i = 0; i < 4; ++i) require_same(c.select(0, i), mm(a3.select(0, i), b2));

  Tensor a4 = rnd({2, 1, 2, 3}, 3), b3 = rnd({4, 3, 2}, 4);
  Tensor e = matmul(a4, b3);  // batch dims [2, 1] and [4] broadcast to [2, 4]
  REQUIRE(e.shape() == Shape{2, 4, 2, 2});
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 4; ++j) require_same(e.select(0, i).select(0, j), mm(a4.select(0, i).select(0, 0), b3.select(0, j)));

  // 1-D with batched operands: the 1-D dim is added then removed.
  Tensor v = rnd({3}, 5);
  Tensor vb = matmul(v, b3);
  REQUIRE(vb.shape() == Shape{4, 2});
  for (int64_t j = 0; j < 4; ++j) require_same(vb.select(0, j), matmul(v, b3.select(0, j)));
  Tensor bv = matmul(a3, v);
  REQUIRE(bv.shape() == Shape{4, 2});
  for (int64_t i = 0; i < 4; ++i) require_same(bv.select(0, i), matmul(a3.select(0, i), v));
  // 2-D @ 3-D broadcasts the matrix over the batch.
  Tensor m2 = rnd({2, 3}, 6);
  Tensor mb = matmul(m2, b3);
  REQUIRE(mb.shape() == Shape{4, 2, 2});
  for (int64_t j = 0; j < 4; ++j) require_same(mb.select(0, j), mm(m2, b3.select(0, j)));
}

TEST_CASE("transposed operands are read by BLAS without copies", "[linalg]") {
  Tensor x = rnd({3, 4}, 7, DType::Float32), y = rnd({3, 5}, 8, DType::Float32);
  Tensor xt = x.t(), yt = y.t();  // [4, 3], [5, 3] non-contiguous views
  REQUIRE_FALSE(xt.is_contiguous());
  Tensor want = mm(xt.contiguous(), y);
  uint64_t before = allocations();
  Tensor got = mm(xt, y);
  REQUIRE(allocations() - before == 1);  // the output only
  require_same(got, want, 1e-5);
  before = allocations();
  Tensor got2 = mm(xt, yt.t());
  REQUIRE(allocations() - before == 1);
  require_same(got2, want, 1e-5);

  // bmm with transposed batches, and a batch-broadcast (stride 0) operand.
  Tensor a = rnd({2, 4, 3}, 9), b = rnd({2, 5, 4}, 10);
  Tensor bt = b.transpose(1, 2);  // [2, 4, 5]
  Tensor at = a.transpose(1, 2);  // [2, 3, 4]
  before = allocations();
  Tensor r = bmm(at, bt);
  REQUIRE(allocations() - before == 1);
  for (int64_t i = 0; i < 2; ++i) require_same(r.select(0, i), mm(at.select(0, i), bt.select(0, i)));
  Tensor one = rnd({1, 3, 4}, 11).expand({2, 3, 4});
  Tensor r2 = bmm(one, bt);
  for (int64_t i = 0; i < 2; ++i) require_same(r2.select(0, i), mm(one.select(0, 0), bt.select(0, i)));

  // A layout BLAS cannot take (no unit stride) is copied and still right.
  Tensor big = rnd({6, 8}, 12);
  Tensor strided = big.slice(0, 0, 6, 2).slice(1, 0, 8, 2);  // [3, 4], strides [16, 2]
  require_same(mm(strided, rnd({4, 2}, 13)), mm(strided.contiguous(), rnd({4, 2}, 13)));
}

TEST_CASE("bmm checks its operands", "[linalg]") {
  Tensor a = f64({1, 2, 3, 4}, {1, 2, 2}), b = f64({1, 0, 0, 1}, {1, 2, 2});
  require_close(bmm(a, b), {1, 2, 3, 4});
  REQUIRE_THROWS_AS(bmm(rnd({2, 2, 3}), rnd({3, 3, 2})), ValueError);  // batch sizes differ
  REQUIRE_THROWS_AS(bmm(rnd({2, 3}), rnd({3, 2})), ValueError);        // not 3-D
  REQUIRE_THROWS_WITH(bmm(rnd({2, 2, 3}), rnd({2, 4, 2})), Catch::Contains("(3 != 4)"));
  REQUIRE(bmm(rnd({0, 2, 3}), rnd({0, 3, 4})).shape() == Shape{0, 2, 4});
}

TEST_CASE("linear with and without bias", "[linalg]") {
  Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor w = f64({1, 0, 1, 0, 1, 0}, {2, 3});  // [out=2, in=3]
  Tensor b = f64({10, 20}, {2});
  // x @ w^T: rows (1+3, 2), (4+6, 5); plus bias
  require_close(linear(x, w), {4, 2, 10, 5});
  require_close(linear(x, w, b), {14, 22, 20, 25});
  Tensor x3 = rnd({2, 4, 3}, 1);
  Tensor y3 = linear(x3, w, b);
  REQUIRE(y3.shape() == Shape{2, 4, 2});
  require_same(y3, matmul(x3, w.t()).add(b));
  Tensor x1 = f64({1, 2, 3}, {3});
  REQUIRE(linear(x1, w, b).shape() == Shape{2});
  require_close(linear(x1, w, b), {14, 22});
  // Zero input features: the output is the bias.
  require_close(linear(rnd({2, 0}), rnd({2, 0}), b), {10, 20, 10, 20});
  REQUIRE_THROWS_AS(linear(x, rnd({2, 4})), ValueError);
  REQUIRE_THROWS_AS(linear(x, w, rnd({3})), ValueError);
  REQUIRE_THROWS_AS(linear(x, w, rnd({2}, 1, DType::Float32)), TypeError);
}

TEST_CASE("int64 matmul and zero-size operands", "[linalg]") {
  Tensor a = from_vector(std::vector<int64_t>{1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = from_vector(std::vector<int64_t>{1, 0, 0, 1, 1, 1}, {3, 2});
  Tensor c = matmul(a, b);
  REQUIRE(c.dtype() == DType::Int64);
  require_close(c, {4, 5, 10, 11});
  require_close(matmul(a.t(), from_vector(std::vector<int64_t>{1, 1}, {2})), {5, 7, 9});

  Tensor z = matmul(rnd({2, 0}), rnd({0, 3}));  // k = 0: a sum of nothing
  REQUIRE(z.shape() == Shape{2, 3});
  require_close(z, {0, 0, 0, 0, 0, 0});
  REQUIRE(matmul(rnd({4, 2, 0}), rnd({0, 3})).shape() == Shape{4, 2, 3});
  REQUIRE(matmul(rnd({0, 3}), rnd({3, 2})).shape() == Shape{0, 2});
  REQUIRE(matmul(rnd({0}), rnd({0})).item<double>() == 0);
}

TEST_CASE("matmul errors name the op and the shapes", "[linalg]") {
  REQUIRE_THROWS_WITH(matmul(rnd({2, 3}), rnd({4, 5})),
                      "matmul: shapes [2, 3] and [4, 5] cannot be multiplied (3 != 4)");
  REQUIRE_THROWS_AS(matmul(rnd({2, 3}), rnd({4, 5})), ValueError);
  REQUIRE_THROWS_WITH(mm(rnd({2, 3}), rnd({4, 5})), "mm: shapes [2, 3] and [4, 5] cannot be multiplied (3 != 4)");
  REQUIRE_THROWS_AS(matmul(rnd({3}), rnd({4})), ValueError);
  REQUIRE_THROWS_AS(matmul(rnd({2, 2, 3}), rnd({3, 2, 2})), ValueError);   // batch 2 vs 3
  REQUIRE_THROWS_AS(matmul(scalar_tensor(1.0, DType::Float64), rnd({2})), ValueError);  // 0-d
  REQUIRE_THROWS_AS(matmul(rnd({2, 2}), rnd({2, 2}, 1, DType::Float32)), TypeError);
  Tensor t = full({2, 2}, true);
  REQUIRE_THROWS_AS(matmul(t, t), TypeError);
  REQUIRE_THROWS_AS(mm(rnd({2}), rnd({2, 2})), ValueError);
}

TEST_CASE("matmul gradients (hand-derived)", "[linalg][grad]") {
  // d/dA sum(A @ B) = 1 @ B^T: each row of grad A is the row sums of B.
  Tensor a = f64({1, 2, 3, 4}, {2, 2}).requires_grad_();
  Tensor b = f64({5, 6, 7, 8}, {2, 2}).requires_grad_();
  mm(a, b).sum().backward();
  require_close(a.grad(), {11, 15, 11, 15});
  // d/dB sum(A @ B) = A^T @ 1: each column of grad B is the column sums of A... rows: (1+3, 1+3), (2+4, 2+4)
  require_close(b.grad(), {4, 4, 6, 6});
}

TEST_CASE("matmul family gradchecks", "[linalg][grad]") {
  auto mmf = [](const tensor_list& in) { return matmul(in[0], in[1]); };
  check_grad(mmf, {param({2, 3}, 1), param({3, 4}, 2)});
  check_grad(mmf, {param({3}, 1), param({3}, 2)});             // dot
  check_grad(mmf, {param({2, 3}, 1), param({3}, 2)});          // matrix-vector
  check_grad(mmf, {param({3}, 1), param({3, 2}, 2)});          // vector-matrix
  check_grad(mmf, {param({2, 2, 3}, 1), param({3, 2}, 2)});    // folded batch
  check_grad(mmf, {param({2, 1, 2, 3}, 1), param({3, 3, 2}, 2)});  // broadcast batch
  check_grad(mmf, {param({3}, 1), param({2, 3, 2}, 2)});       // vector-batch
  check_grad(mmf, {param({2, 3}, 1), param({2, 3, 2}, 2)});    // matrix-batch
  check_grad(mmf, {param({2, 2, 3}, 1), param({3}, 2)});       // batch-vector
  check_grad([](const tensor_list& in) { return bmm(in[0], in[1]); }, {param({2, 2, 3}, 1), param({2, 3, 4}, 2)});
  // Only one side requires grad.
  check_grad(mmf, {param({2, 3}, 1), rnd({3, 4}, 2)});
  check_grad(mmf, {rnd({2, 3}, 1), param({3, 4}, 2)});
}

TEST_CASE("matmul gradchecks on non-contiguous and zero-size inputs", "[linalg][grad]") {
  auto mmf = [](const tensor_list& in) { return matmul(in[0], in[1]); };
  // Transposed leaves.
  check_grad(mmf, {rnd({3, 2}, 1).t().requires_grad_(), rnd({4, 3}, 2).t().requires_grad_()});
  // Sliced leaves (step 2: no unit stride, BLAS needs a copy).
  check_grad(mmf, {rnd({4, 6}, 1).slice(0, 0, 4, 2).slice(1, 0, 6, 2).requires_grad_(), param({3, 2}, 2)});
  // Expanded inside the function (a leaf cannot alias itself).
  check_grad([](const tensor_list& in) { return matmul(in[0].expand({3, 2, 3}), in[1]); },
             {param({2, 3}, 1), param({3, 3, 4}, 2)});
  check_grad([](const tensor_list& in) { return bmm(in[0].transpose(1, 2), in[1].transpose(1, 2)); },
             {param({2, 3, 2}, 1), param({2, 4, 3}, 2)});
  // k = 0 and m = 0: gradients exist and are zero-size or zero.
  Tensor a = param({2, 0}, 1), b = param({0, 3}, 2);
  check_grad(mmf, {a, b});
  Tensor out = matmul(a, b);
  out.sum().backward();
  REQUIRE(a.grad().shape() == Shape{2, 0});
  REQUIRE(b.grad().shape() == Shape{0, 3});
  check_grad(mmf, {param({0, 3}, 1), param({3, 2}, 2)});
  check_grad(mmf, {param({2, 2, 0}, 1), param({0, 3}, 2)});
}

TEST_CASE("linear gradchecks", "[linalg][grad]") {
  auto lin = [](const tensor_list& in) { return linear(in[0], in[1], in.size() > 2 ? in[2] : Tensor()); };
  check_grad(lin, {param({2, 3}, 1), param({4, 3}, 2), param({4}, 3)});
  check_grad(lin, {param({2, 3}, 1), param({4, 3}, 2)});
  check_grad(lin, {param({2, 2, 3}, 1), param({4, 3}, 2), param({4}, 3)});
  check_grad(lin, {param({3}, 1), param({4, 3}, 2), param({4}, 3)});
  check_grad(lin, {rnd({3, 2}, 1).t().requires_grad_(), param({4, 3}, 2), rnd({4}, 3)});  // transposed x, fixed bias
  check_grad(lin, {param({2, 0}, 1), param({4, 0}, 2), param({4}, 3)});  // zero input features
  check_grad(lin, {param({0, 3}, 1), param({4, 3}, 2), param({4}, 3)});  // empty batch
}
