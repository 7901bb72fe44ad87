// distributed: collectives, DistributedDataParallel, DistributedSampler.
//
// CTest runs this file three times: as a plain process (a group of one) and
// under `mpirun -np 2` and `-np 3` (tests/cpp/CMakeLists.txt). Every case is
// written for any world size, and every expected value is computed from the
// ranks' inputs by a formula, not copied from a run.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <set>

#include "core/distributed/distributed.h"
#include "core/ops.h"
#include "nn/nn.h"
#include "nn/parallel/distributed.h"
#include "nn/parallel/distributed_sampler.h"
#include "optim/sgd.h"

using namespace shanshui;
namespace dist = shanshui::distributed;
using dist::ReduceOp;

namespace {
void init() {
  dist::init();
  dist::init();  // idempotent
}
int R() { return dist::rank(); }
int W() { return dist::world_size(); }

// Exactly the same values on every rank (compared bit for bit).
bool same_on_all_ranks(const Tensor& t) {
  std::vector<Tensor> all = dist::all_gather(t.contiguous());
  for (const Tensor& o : all)
    if (!equal(o, all[0])) return false;
  return true;
}
}  // namespace

TEST_CASE("distributed: init, rank and world size follow the launcher") {
  init();
  CHECK(dist::is_initialized());
  const char* env = std::getenv("OMPI_COMM_WORLD_SIZE");
  if (env && dist::is_available()) {
    CHECK(W() == std::atoi(env));
    CHECK(R() == std::atoi(std::getenv("OMPI_COMM_WORLD_RANK")));
  } else {
    CHECK(W() == 1);
    CHECK(R() == 0);
  }
  // Every rank appears once.
  std::vector<Tensor> ranks = dist::all_gather(scalar_tensor(int64_t(R()), DType::Int64));
  REQUIRE(int(ranks.size()) == W());
  for (int r = 0; r < W(); ++r) CHECK(ranks[size_t(r)].item<int64_t>() == r);
  dist::barrier();
}

TEST_CASE("distributed: destroy_process_group and init again") {
  init();
  dist::barrier();
  dist::destroy_process_group();
  CHECK_FALSE(dist::is_initialized());
  CHECK_THROWS_WITH(dist::rank(), Catch::Contains("not initialized"));
  CHECK_THROWS_AS(dist::all_reduce(ones({2})), RuntimeError);
  dist::init();
  CHECK(dist::is_initialized());
  dist::barrier();
}

TEST_CASE("distributed: all_reduce is exact on integer data for every op") {
  init();
  const int64_t w = W(), r = R();
  // rank r holds v_r[i] = (r + 1) * (i - 2) + 7 * r, i = 0..5 (negative values exercise floor division).
  auto value = [](int64_t rr, int64_t i) { return (rr + 1) * (i - 2) + 7 * rr; };
  std::vector<int64_t> mine;
  for (int64_t i = 0; i < 6; ++i) mine.push_back(value(r, i));
  for (ReduceOp op : {ReduceOp::SUM, ReduceOp::MAX, ReduceOp::MIN, ReduceOp::PRODUCT, ReduceOp::MEAN}) {
    Tensor t = from_vector(mine, {2, 3});
    dist::all_reduce(t, op);
    std::vector<double> got = to_vector(t);
    for (int64_t i = 0; i < 6; ++i) {
      int64_t acc = value(0, i);
      for (int64_t rr = 1; rr < w; ++rr) {
        int64_t v = value(rr, i);
        if (op == ReduceOp::SUM || op == ReduceOp::MEAN) acc += v;
        if (op == ReduceOp::MAX) acc = std::max(acc, v);
        if (op == ReduceOp::MIN) acc = std::min(acc, v);
        if (op == ReduceOp::PRODUCT) acc *= v;
      }
      if (op == ReduceOp::MEAN) acc = (acc - ((acc % w) + w) % w) / w;  // floor division
      INFO("op " << dist::reduce_op_name(op) << " element " << i);
      CHECK(int64_t(got[size_t(i)]) == acc);
    }
    CHECK(t.dtype() == DType::Int64);
  }
  // float64 and float32 on integer-valued data: sums are exact.
  for (DType dt : {DType::Float64, DType::Float32}) {
    Tensor t = from_vector(std::vector<double>{double(r), double(10 * r), -1.0}, {3}, dt);
    dist::all_reduce(t);
    std::vector<double> got = to_vector(t);
    CHECK(got[0] == double(w * (w - 1) / 2));
    CHECK(got[1] == double(10 * w * (w - 1) / 2));
    CHECK(got[2] == double(-w));
    CHECK(t.dtype() == dt);
  }
  // MEAN on floats divides the sum.
  Tensor m = full({4}, double(2 * r), DType::Float64);
  dist::all_reduce(m, ReduceOp::MEAN);
  CHECK(to_vector(m)[0] == double(w - 1));
}

TEST_CASE("distributed: all_reduce on bool is logical or / and") {
  init();
  // element 0: true only on rank 0; element 1: true everywhere; element 2: false everywhere.
  auto make = [] {
    return from_vector(std::vector<double>{R() == 0 ? 1.0 : 0.0, 1.0, 0.0}, {3}, DType::Bool);
  };
  Tensor any = make(), all = make(), mx = make();
  dist::all_reduce(any, ReduceOp::SUM);
  dist::all_reduce(all, ReduceOp::MIN);
  dist::all_reduce(mx, ReduceOp::MAX);
  CHECK(to_vector(any) == std::vector<double>{1, 1, 0});
  CHECK(to_vector(mx) == std::vector<double>{1, 1, 0});
  CHECK(to_vector(all) == std::vector<double>{W() == 1 ? 1.0 : 0.0, 1, 0});
  CHECK(any.dtype() == DType::Bool);
  CHECK_THROWS_AS(dist::all_reduce(make(), ReduceOp::MEAN), TypeError);
}

TEST_CASE("distributed: collectives on non-contiguous tensors write through the view") {
  init();
  const int64_t w = W(), r = R();
  Tensor base = full({3, 4}, double(r + 1), DType::Float64);
  Tensor view = base.t();                                  // transposed: not contiguous
  Tensor strided = base.slice(1, 0, std::nullopt, 2);      // every other column
  REQUIRE_FALSE(view.is_contiguous());
  dist::all_reduce(view);
  CHECK(to_vector(base) == std::vector<double>(12, double(w * (w + 1) / 2)));

  Tensor b2 = full({3, 4}, double(r), DType::Float64);
  Tensor cols = b2.slice(1, 0, std::nullopt, 2);
  REQUIRE_FALSE(cols.is_contiguous());
  dist::broadcast(cols, int(w - 1));
  std::vector<double> got = to_vector(b2);
  for (int64_t i = 0; i < 12; ++i) CHECK(got[size_t(i)] == ((i % 4) % 2 == 0 ? double(w - 1) : double(r)));
  (void)strided;

  Tensor out = zeros({4, 2 * w}, DType::Float64).t();  // [2w, 4], not contiguous
  Tensor in = full({2, 4}, double(r), DType::Float64);
  dist::all_gather_into_tensor(out, in);
  std::vector<double> o = to_vector(out);
  for (int64_t k = 0; k < 2 * w * 4; ++k) CHECK(o[size_t(k)] == double(k / 8));
}

TEST_CASE("distributed: broadcast gives every rank the source's tensor") {
  init();
  const int w = W(), r = R();
  for (int src = 0; src < w; ++src) {
    Tensor f = arange(0, 6, 1, DType::Float32).reshape({2, 3}).add(double(100 * r));
    Tensor i = full({5}, int64_t(r * 3), DType::Int64);
    Tensor b = from_vector(std::vector<double>{r == src ? 1.0 : 0.0, r == src ? 0.0 : 1.0}, {2}, DType::Bool);
    dist::broadcast(f, src);
    dist::broadcast(i, src);
    dist::broadcast(b, src);
    CHECK(equal(f, arange(0, 6, 1, DType::Float32).reshape({2, 3}).add(double(100 * src))));
    CHECK(equal(i, full({5}, int64_t(src * 3), DType::Int64)));
    CHECK(to_vector(b) == std::vector<double>{1, 0});
  }
}

TEST_CASE("distributed: all_gather returns what each rank sent") {
  init();
  const int w = W(), r = R();
  auto sent = [](int rr, DType dt) {
    return arange(0, 6, 1, DType::Float64).reshape({3, 2}).mul(double(rr + 1)).add(double(rr)).to(dt);
  };
  for (DType dt : {DType::Float32, DType::Float64, DType::Int64}) {
    std::vector<Tensor> got = dist::all_gather(sent(r, dt));
    REQUIRE(int(got.size()) == w);
    for (int rr = 0; rr < w; ++rr) {
      CHECK(got[size_t(rr)].dtype() == dt);
      CHECK(equal(got[size_t(rr)], sent(rr, dt)));
    }
    // torch's form: into a list of preallocated tensors, and into an empty list.
    std::vector<Tensor> list;
    for (int rr = 0; rr < w; ++rr) list.push_back(zeros({3, 2}, dt));
    Tensor first = list[0];
    dist::all_gather(list, sent(r, dt));
    CHECK(list[0].is_same(first));  // written in place
    for (int rr = 0; rr < w; ++rr) CHECK(equal(list[size_t(rr)], sent(rr, dt)));
    std::vector<Tensor> fresh;
    dist::all_gather(fresh, sent(r, dt));
    REQUIRE(int(fresh.size()) == w);
    for (int rr = 0; rr < w; ++rr) CHECK(equal(fresh[size_t(rr)], sent(rr, dt)));
    // Concatenated and stacked outputs.
    Tensor cat = empty({3 * w, 2}, dt), stk = empty({w, 3, 2}, dt);
    dist::all_gather_into_tensor(cat, sent(r, dt));
    dist::all_gather_into_tensor(stk, sent(r, dt));
    for (int rr = 0; rr < w; ++rr) {
      CHECK(equal(cat.narrow(0, 3 * rr, 3), sent(rr, dt)));
      CHECK(equal(stk.select(0, rr), sent(rr, dt)));
    }
  }
  // bool and 0-d tensors.
  std::vector<Tensor> bools = dist::all_gather(scalar_tensor(r % 2 == 1, DType::Bool));
  for (int rr = 0; rr < w; ++rr) CHECK(bools[size_t(rr)].item<bool>() == (rr % 2 == 1));
}

TEST_CASE("distributed: mismatched shapes or dtypes across ranks raise on every rank") {
  init();
  const int w = W(), r = R();
  if (w == 1) {
    // Nothing can mismatch in a group of one, but bad arguments still raise.
    CHECK_THROWS_AS(dist::broadcast(ones({2}), 1), ValueError);
    CHECK_THROWS_AS(dist::all_gather_into_tensor(empty({3}), ones({2})), ValueError);
    CHECK_THROWS_AS(dist::all_gather_into_tensor(empty({2}, DType::Float64), ones({2})), TypeError);
    CHECK_THROWS_AS(dist::all_reduce(Tensor()), ValueError);
    std::vector<Tensor> wrong{zeros({3})};
    CHECK_THROWS_AS(dist::all_gather(wrong, ones({2})), ValueError);
    return;
  }
  // Rank 0 passes [2, 3], the others [3]: every rank raises, naming the shapes.
  Tensor t = r == 0 ? ones({2, 3}) : ones({3});
  CHECK_THROWS_AS(dist::all_reduce(t), ValueError);
  CHECK_THROWS_WITH(dist::all_reduce(t), Catch::Contains("rank 0: float32 [2, 3]") && Catch::Contains("rank 1: float32 [3]"));
  CHECK_THROWS_AS(dist::broadcast(t, 0), ValueError);
  CHECK_THROWS_AS(dist::all_gather(t), ValueError);
  // Same shape, different dtypes.
  Tensor d = r == 1 ? ones({4}, DType::Float64) : ones({4});
  CHECK_THROWS_WITH(dist::all_reduce(d), Catch::Contains("float64 [4]") && Catch::Contains("differ across ranks"));
  // Different ops or source ranks.
  CHECK_THROWS_AS(dist::all_reduce(ones({2}), r == 0 ? ReduceOp::SUM : ReduceOp::MAX), ValueError);
  CHECK_THROWS_AS(dist::broadcast(ones({2}), r == 0 ? 0 : 1), ValueError);
  // A bad argument on one rank: its own error there, a pointer to it elsewhere.
  if (r == 0) {
    CHECK_THROWS_AS(dist::broadcast(ones({2}), w), ValueError);
  } else {
    CHECK_THROWS_WITH(dist::broadcast(ones({2}), w == 1 ? 0 : 0), Catch::Contains("rank 0 raised"));
  }
  // Different collectives.
  if (r == 0) {
    CHECK_THROWS_WITH(dist::barrier(), Catch::Contains("different collectives"));
  } else {
    CHECK_THROWS_WITH(dist::all_reduce(ones({1})), Catch::Contains("different collectives"));
  }
  // The group is still usable afterwards.
  Tensor ok = full({2}, 1.0, DType::Float64);
  dist::all_reduce(ok);
  CHECK(to_vector(ok)[0] == double(w));
}

namespace {
// A small MLP with a buffer (used in forward), in float64.
struct Net : nn::Module {
  std::shared_ptr<nn::Linear> fc1, fc2, fc3;
  Net() : Module("Net") {
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(5, 16, true, DType::Float64));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(16, 16, true, DType::Float64));
    fc3 = register_module("fc3", std::make_shared<nn::Linear>(16, 3, true, DType::Float64));
    register_buffer("scale", full({1}, 0.5, DType::Float64));
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = tanh((*fc1)(x)).mul(buffer("scale"));
    return (*fc3)(tanh((*fc2)(h)));
  }
};

std::shared_ptr<Net> make_net(uint64_t seed) {
  manual_seed(seed);
  return std::make_shared<Net>();
}

Tensor flat_params(nn::Module& m) {
  std::vector<Tensor> ps;
  for (const Tensor& p : m.parameters()) ps.push_back(p.detach().reshape({-1}));
  return cat(ps, 0);
}

// Full batch of N samples, the same on every rank.
constexpr int64_t kN = 12;  // divisible by 1, 2 and 3
Tensor batch_x() { manual_seed(1234); return randn({kN, 5}, DType::Float64); }
Tensor batch_y() { manual_seed(4321); return randn({kN, 3}, DType::Float64); }
}  // namespace

TEST_CASE("DistributedDataParallel: ranks on shards match one process on the full batch") {
  init();
  const int w = W(), r = R();
  for (double cap_mb : {25.0, 0.0005}) {  // one bucket, and many (~500-byte) buckets
    INFO("bucket_cap_mb " << cap_mb);
    Tensor x = batch_x(), y = batch_y();
    // The reference: one process, the full batch.
    auto ref = make_net(7);
    optim::SGD ref_opt(ref->parameters(), {.lr = 0.1, .momentum = 0.9});
    // The data-parallel model starts from different weights on every rank but
    // rank 0, which has the reference's: construction must broadcast them.
    auto local = make_net(r == 0 ? 7 : 100 + uint64_t(r));
    local->buffer("scale").fill_(r == 0 ? 0.5 : 3.0);
    auto ddp = std::make_shared<nn::DistributedDataParallel>(local, nn::DistributedDataParallelOptions{cap_mb});
    CHECK(equal(flat_params(*ddp), flat_params(*ref)));
    CHECK(to_vector(local->buffer("scale"))[0] == 0.5);
    if (cap_mb < 1) CHECK(ddp->reducer().num_buckets() > 2);
    optim::SGD opt(ddp->parameters(), {.lr = 0.1, .momentum = 0.9});

    const int64_t shard = kN / w;
    Tensor xs = x.narrow(0, r * shard, shard), ys = y.narrow(0, r * shard, shard);
    for (int step = 0; step < 20; ++step) {
      ref_opt.zero_grad();
      nn::functional::mse_loss((*ref)(x), y).backward();
      ref_opt.step();
      opt.zero_grad();
      nn::functional::mse_loss((*ddp)(xs), ys).backward();
      opt.step();
    }
    CHECK(ddp->reducer().num_reductions() == 20 * int64_t(ddp->reducer().num_buckets()));
    Tensor got = flat_params(*ddp), want = flat_params(*ref);
    CHECK(max(abs(got.sub(want))).item<double>() < 1e-6);
    CHECK_FALSE(equal(want, flat_params(*make_net(7))));  // training moved the weights
    CHECK(same_on_all_ranks(got));
  }
}

TEST_CASE("DistributedDataParallel behaves as the wrapped module") {
  init();
  auto net = make_net(3);
  auto ddp = std::make_shared<nn::DistributedDataParallel>(net);
  CHECK(ddp->module() == net);
  CHECK(ddp->module_as<Net>() == net);
  auto sd = ddp->state_dict();
  auto inner = net->state_dict();
  REQUIRE(sd.size() == inner.size());
  for (size_t i = 0; i < sd.size(); ++i) {
    CHECK(sd[i].first == "module." + inner[i].first);
    CHECK(sd[i].second.is_same(inner[i].second) == false);  // detached handles...
    CHECK(equal(sd[i].second, inner[i].second));             // ...of the same values
  }
  CHECK(ddp->named_parameters()[0].first == "module.fc1.weight");
  Tensor x = batch_x();
  CHECK(equal((*ddp)(x), (*net)(x)));
  ddp->eval();
  CHECK_FALSE(net->is_training());
  ddp->load_state_dict(sd);  // keys with the prefix load back
  CHECK_THROWS_AS(nn::DistributedDataParallel(nullptr), ValueError);
}

TEST_CASE("DistributedDataParallel: no_sync accumulates locally, the next backward averages the sum") {
  init();
  const int w = W(), r = R();
  Tensor x = batch_x(), y = batch_y();
  // Reference: gradient of the full-batch losses of two micro-batches (halves of the batch).
  auto ref = make_net(5);
  Tensor x1 = x.narrow(0, 0, kN / 2), x2 = x.narrow(0, kN / 2, kN / 2);
  Tensor y1 = y.narrow(0, 0, kN / 2), y2 = y.narrow(0, kN / 2, kN / 2);
  nn::functional::mse_loss((*ref)(x1), y1).backward();
  nn::functional::mse_loss((*ref)(x2), y2).backward();

  auto ddp = std::make_shared<nn::DistributedDataParallel>(make_net(5));
  const int64_t s = kN / 2 / w;
  if ((kN / 2) % w == 0) {
    {
      nn::DistributedDataParallel::NoSyncGuard guard(*ddp);
      nn::functional::mse_loss((*ddp)(x1.narrow(0, r * s, s)), y1.narrow(0, r * s, s)).backward();
    }
    int64_t before = ddp->reducer().num_reductions();
    CHECK(before == 0);
    nn::functional::mse_loss((*ddp)(x2.narrow(0, r * s, s)), y2.narrow(0, r * s, s)).backward();
    CHECK(ddp->reducer().num_reductions() == int64_t(ddp->reducer().num_buckets()));
    auto gp = ddp->parameters(), rp = ref->parameters();
    for (size_t i = 0; i < gp.size(); ++i) CHECK(max(abs(gp[i].grad().sub(rp[i].grad()))).item<double>() < 1e-12);
  }
}

namespace {
struct WithUnused : nn::Module {
  std::shared_ptr<nn::Linear> used, unused;
  WithUnused() : Module("WithUnused") {
    used = register_module("used", std::make_shared<nn::Linear>(3, 2, true, DType::Float64));
    unused = register_module("unused", std::make_shared<nn::Linear>(3, 2, true, DType::Float64));
  }
  Tensor forward(const Tensor& x) override { return (*used)(x); }
};
}  // namespace

TEST_CASE("DistributedDataParallel: parameters without a gradient need sync_gradients") {
  init();
  const int r = R(), w = W();
  manual_seed(11);
  auto ddp = std::make_shared<nn::DistributedDataParallel>(std::make_shared<WithUnused>());
  Tensor x = full({1, 3}, double(r + 1), DType::Float64);
  ddp->forward(x).sum().backward();
  ddp->sync_gradients();
  // d(sum(W x + b))/dW = x on each rank, averaged; the unused layer gets zeros.
  auto m = ddp->module_as<WithUnused>();
  CHECK(to_vector(m->used->weight().grad())[0] == Approx(double(w + 1) / 2));
  CHECK(to_vector(m->unused->weight().grad()) == std::vector<double>(6, 0.0));
  // Forgetting it: the next backward reports the parameters that got no gradient.
  ddp->forward(x).sum().backward();
  CHECK_THROWS_WITH(ddp->forward(x).sum().backward(), Catch::Contains("'unused.weight'"));
}

TEST_CASE("post-accumulate-grad hooks see the updated .grad") {
  Tensor p = ones({3}, DType::Float64).requires_grad_();
  std::vector<double> seen;
  unsigned h = p.register_post_accumulate_grad_hook([&](const Tensor& t) {
    CHECK(t.is_same(p));
    seen.push_back(to_vector(t.grad())[0]);
  });
  p.mul(2.0).sum().backward();
  p.mul(3.0).sum().backward();
  CHECK(seen == std::vector<double>{2.0, 5.0});  // after each accumulation
  p.remove_post_accumulate_grad_hook(h);
  p.sum().backward();
  CHECK(seen.size() == 2);
  CHECK_THROWS_AS(p.mul(2.0).register_post_accumulate_grad_hook([](const Tensor&) {}), RuntimeError);
}

TEST_CASE("DistributedSampler shards as torch's: padding, stride by rank, drop_last") {
  // 10 samples on 3 replicas: 4 each, padded with the first 2 of the order.
  for (bool shuffle : {false, true}) {
    std::vector<int64_t> order = shuffle ? nn::seeded_permutation(10, 0) : std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    order.push_back(order[0]);
    order.push_back(order[1]);
    for (int64_t rk = 0; rk < 3; ++rk) {
      nn::DistributedSampler s(10, 3, rk, shuffle);
      CHECK(s.size() == 4);
      CHECK(s.total_size() == 12);
      std::vector<int64_t> want;
      for (int64_t i = rk; i < 12; i += 3) want.push_back(order[size_t(i)]);
      CHECK(s.indices() == want);
    }
  }
  CHECK(nn::DistributedSampler(10, 3, 1, false).indices() == std::vector<int64_t>{1, 4, 7, 0});
  // drop_last: 3 each, 9 distinct indices.
  std::set<int64_t> seen;
  for (int64_t rk = 0; rk < 3; ++rk) {
    nn::DistributedSampler s(10, 3, rk, true, 5, true);
    CHECK(s.size() == 3);
    for (int64_t i : s.indices()) seen.insert(i);
  }
  CHECK(seen.size() == 9);
  // Fewer samples than replicas: the padding repeats the order.
  CHECK(nn::DistributedSampler(2, 5, 4, false).indices() == std::vector<int64_t>{0});
  CHECK(nn::DistributedSampler(2, 5, 3, false).indices() == std::vector<int64_t>{1});
  CHECK(nn::DistributedSampler(0, 2, 1).indices().empty());
  CHECK(nn::DistributedSampler(2, 5, 1, false, 0, true).size() == 0);
  // Deterministic per (seed, epoch); a new epoch reshuffles.
  nn::DistributedSampler a(100, 2, 0, true, 42), b(100, 2, 0, true, 42);
  CHECK(a.indices() == b.indices());
  auto e0 = a.indices();
  a.set_epoch(1);
  CHECK(a.indices() != e0);
  b.set_epoch(1);
  CHECK(a.indices() == b.indices());
  // A permutation is a permutation.
  auto p = nn::seeded_permutation(1000, 9);
  CHECK(std::set<int64_t>(p.begin(), p.end()).size() == 1000);
  CHECK_THROWS_AS(nn::DistributedSampler(10, 2, 2), ValueError);
  CHECK_THROWS_AS(nn::DistributedSampler(10, 0, 0), ValueError);
  CHECK_THROWS_AS(nn::DistributedSampler(-1, 2, 0), ValueError);
}

TEST_CASE("DistributedSampler defaults to this process's rank and world size, identical order on every rank") {
  init();
  nn::DistributedSampler s(23, std::nullopt, std::nullopt, true, 3);
  s.set_epoch(2);
  CHECK(s.num_replicas() == W());
  CHECK(s.rank() == R());
  std::vector<int64_t> mine = s.indices();
  Tensor t = from_vector(mine, {int64_t(mine.size())});
  std::vector<Tensor> all = dist::all_gather(t);
  // Interleaving the ranks' shards gives back the padded permutation.
  std::vector<int64_t> order = nn::seeded_permutation(23, 5);
  std::vector<int64_t> merged;
  for (int64_t i = 0; i < s.size(); ++i)
    for (int rr = 0; rr < W(); ++rr) merged.push_back(int64_t(to_vector(all[size_t(rr)])[size_t(i)]));
  for (size_t i = 0; i < merged.size(); ++i) CHECK(merged[i] == order[i % 23]);
}
