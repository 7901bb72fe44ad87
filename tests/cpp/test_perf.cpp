// Performance invariants that can be checked without a clock (timings belong
// to `make bench`): small work never forks threads, and a training step after
// warm-up takes all its tensor memory from the caching allocator.
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "core/kernels/loops.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "core/storage.h"
#include "nn/nn.h"
#include "optim/adam.h"

using namespace shanshui;
namespace F = shanshui::nn::functional;

namespace {

// Restores the thread setting a test changed.
struct ThreadsGuard {
  int saved = get_num_threads();
  ~ThreadsGuard() { set_num_threads(saved); }
};

// A small post-LN Transformer encoder layer with a classifier, trained with Adam:
// dropout, layer norm, attention, GELU, cross-entropy and the fused optimizer all run.
struct TinyModel {
  std::shared_ptr<nn::TransformerEncoderLayer> layer;
  std::shared_ptr<nn::Linear> head;
  std::unique_ptr<optim::Adam> opt;
  Tensor x, y;
  TinyModel(int64_t d, int64_t batch, int64_t t) {
    manual_seed(3);
    layer = std::make_shared<nn::TransformerEncoderLayer>(d, 2, 2 * d, 0.1, "gelu", 1e-5, true);
    head = std::make_shared<nn::Linear>(d, 5);
    std::vector<Tensor> ps = layer->parameters();
    for (auto& p : head->parameters()) ps.push_back(p);
    opt = std::make_unique<optim::Adam>(ps, optim::AdamOptions{.lr = 1e-3});
    x = randn({batch, t, d});
    y = randint(0, 5, {batch * t});
  }
  double step() {
    opt->zero_grad();
    Tensor loss = F::cross_entropy(head->forward(layer->forward(x)).reshape({-1, 5}), y);
    loss.backward();
    opt->step();
    return loss.item_double();
  }
};

}  // namespace

TEST_CASE("parallel_for keeps a loop below the grain size on the calling thread", "[parallel]") {
  ThreadsGuard g;
  set_num_threads(2);
  std::vector<std::pair<int64_t, int64_t>> calls;
  bool nested = false;
  const int64_t n = kGrainSize / 4;  // cost 4 per item: exactly the grain, not above it
  parallel_for(n, 4, [&](int64_t b, int64_t e) {
#ifdef _OPENMP
    nested = nested || omp_in_parallel();
#endif
    calls.emplace_back(b, e);
  });
  REQUIRE(calls.size() == 1);
  CHECK(calls[0] == std::make_pair(int64_t(0), n));
  CHECK_FALSE(nested);
  CHECK_FALSE(should_parallelize(n, 4));
  CHECK_FALSE(should_parallelize(1, kGrainSize * 8));  // one item cannot be split
}

TEST_CASE("parallel_for splits a loop above the grain size over the threads asked for", "[parallel]") {
  ThreadsGuard g;
  set_num_threads(2);
  const int64_t n = kGrainSize;  // cost 2 per item: twice the grain
  std::vector<int> hits(size_t(n), 0);
  std::set<std::thread::id> ids;
  std::mutex mu;
  const uint64_t before = parallel_region_count();
  parallel_for(n, 2, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
    std::lock_guard<std::mutex> l(mu);
    ids.insert(std::this_thread::get_id());
  });
  CHECK(std::count(hits.begin(), hits.end(), 1) == n);  // every item exactly once
#ifdef _OPENMP
  CHECK(parallel_region_count() == before + 1);
  CHECK(ids.size() == 2);
#endif
  set_num_threads(1);  // one thread: never a region, whatever the size
  const uint64_t mid = parallel_region_count();
  parallel_for(n, 64, [&](int64_t, int64_t) {});
  CHECK(parallel_region_count() == mid);
}

TEST_CASE("a contiguous elementwise op is cut into pieces and runs on both threads", "[parallel]") {
  ThreadsGuard g;
  set_num_threads(1);
  // Odd lengths: the last piece is shorter than the others.
  Tensor x = randn({300001}), y = randn({3, 100003}), b = randn({100003});
  Tensor gx1 = gelu(x), sum1 = y.add(b), exp1 = exp(y.transpose(0, 1).contiguous());
  set_num_threads(2);
  const uint64_t before = parallel_region_count();
  Tensor gx2 = gelu(x), sum2 = y.add(b), exp2 = exp(y.transpose(0, 1).contiguous());
#ifdef _OPENMP
  CHECK(parallel_region_count() >= before + 3);  // one flat run each, still split
#endif
  CHECK(equal(gx1, gx2));
  CHECK(equal(sum1, sum2));
  CHECK(equal(exp1, exp2));
  // kernels::for_each_run hands the body pieces that cover every element once.
  std::vector<int> hits(300001, 0);
  kernels::for_each_run<1>(Shape{300001}, std::array<Shape, 1>{Shape{1}}, 1, [&](const std::array<int64_t, 1>& off, int64_t n,
                                                   const std::array<int64_t, 1>& st) {
    for (int64_t i = 0; i < n; ++i) hits[size_t(off[0] + i * st[0])]++;
  });
  CHECK(std::count(hits.begin(), hits.end(), 1) == 300001);
  // scatter_add along a long dim: the run whose output stride is 0 stays whole, so the
  // sums are exactly those of one thread (same order of additions).
  Tensor idx = randint(0, 4, {1, 400000}), src = randn({1, 400000});
  Tensor s2 = scatter_add(zeros({1, 4}), 1, idx, src);
  set_num_threads(1);
  CHECK(equal(scatter_add(zeros({1, 4}), 1, idx, src), s2));
}

TEST_CASE("small GEMMs run on one thread, large ones on all, and loops keep their threads", "[parallel]") {
  ThreadsGuard g;
  set_num_threads(2);
  Tensor a = randn({32, 32}), b = randn({32, 32});
  Tensor big = randn({256, 256});  // 256^3 = 2^24 multiply-adds, above kGemmGrain
  const uint64_t before = parallel_region_count();
  Tensor c = matmul(a, b);
  CHECK(blas_num_threads() == 1);
  CHECK(parallel_region_count() == before);
  // A large one: our two threads each run a one-thread GEMM on half of C.
  Tensor d = matmul(big, big);
  CHECK(blas_num_threads() == 1);
  CHECK(parallel_region_count() == before + 1);
  // Split by rows (tall C), by columns (wide C), and with transposed operands:
  // the same numbers as one GEMM on one thread.
  Tensor tall = randn({300, 200}), wide = randn({64, 2000}), wt = randn({200, 2000}), wt2 = randn({2000, 200});
  std::vector<Tensor> two = {matmul(tall, tall.t()), matmul(wide.t(), wide), matmul(tall, wt),
                             matmul(wt.t(), tall.t()), matmul(tall, wt2.t())};
  // A small GEMM lowers OpenBLAS's (and this thread's OpenMP) default; our loops must still fork.
  matmul(a, b);
  REQUIRE(blas_num_threads() == 1);
  std::set<std::thread::id> ids;
  std::mutex mu;
  parallel_for(kGrainSize, 2, [&](int64_t, int64_t) {
    std::lock_guard<std::mutex> l(mu);
    ids.insert(std::this_thread::get_id());
  });
#ifdef _OPENMP
  CHECK(ids.size() == 2);
#endif
  // Results do not depend on the thread setting.
  set_num_threads(1);
  CHECK(allclose(matmul(big, big), d, 1e-5, 1e-4));
  CHECK(blas_num_threads() == 1);
  std::vector<Tensor> one = {matmul(tall, tall.t()), matmul(wide.t(), wide), matmul(tall, wt),
                             matmul(wt.t(), tall.t()), matmul(tall, wt2.t())};
  for (size_t i = 0; i < one.size(); ++i) CHECK(allclose(one[i], two[i], 1e-5, 1e-4));
}

TEST_CASE("a tiny model trains on two threads exactly as on one, without forking", "[parallel]") {
  ThreadsGuard g;
  std::vector<double> losses[2];
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    TinyModel m(16, 2, 6);
    const uint64_t before = parallel_region_count();
    for (int i = 0; i < 3; ++i) losses[threads - 1].push_back(m.step());
    CHECK(parallel_region_count() == before);
  }
  CHECK(losses[0] == losses[1]);  // same seed, same single-threaded kernels: identical bits
}

TEST_CASE("a training step after warm-up takes no tensor memory from the system allocator", "[memory]") {
  TinyModel m(32, 4, 8);
  for (int i = 0; i < 2; ++i) m.step();  // warm-up: optimizer state, cached blocks of every size
  const auto before = allocator::stats();
  for (int i = 0; i < 3; ++i) m.step();
  const auto after = allocator::stats();
  CHECK(after.system_allocs == before.system_allocs);
  CHECK(after.cache_hits > before.cache_hits);  // the steps did allocate tensors, all from the cache
  CHECK(after.bytes_in_use == before.bytes_in_use);  // and gave them all back
}

TEST_CASE("the caching allocator counts its misses and hits", "[memory]") {
  allocator::empty_cache();
  const auto s0 = allocator::stats();
  { Tensor t = empty({1000, 7}); }  // a size class nothing else uses: a miss
  const auto s1 = allocator::stats();
  CHECK(s1.system_allocs == s0.system_allocs + 1);
  CHECK(s1.bytes_cached >= 28000);
  { Tensor t = empty({1000, 7}); }  // the same class again: served from the cache
  const auto s2 = allocator::stats();
  CHECK(s2.system_allocs == s1.system_allocs);
  CHECK(s2.cache_hits == s1.cache_hits + 1);
}
