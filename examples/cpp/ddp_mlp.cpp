// Data-parallel training on MPI: an MLP classifies three Gaussian blobs, each
// rank training on its own shard of every epoch (DistributedSampler) while
// DistributedDataParallel averages the gradients, so all ranks take the same
// steps and end with the same weights.
//   mpirun -np 2 build/examples/example_ddp_mlp     (add --allow-run-as-root as root)
//   build/examples/example_ddp_mlp                  (one process: a group of one)
// Exits non-zero unless it learns the blobs and the ranks agree.
#include <shanshui.h>

#include <cmath>
#include <cstdio>

#include "core/distributed/distributed.h"
#include "nn/nn.h"
#include "nn/parallel/distributed.h"
#include "nn/parallel/distributed_sampler.h"
#include "optim/adam.h"

namespace ss = shanshui;
namespace dist = shanshui::distributed;

struct MLP : ss::nn::Module {
  std::shared_ptr<ss::nn::Linear> fc1, fc2;
  MLP() : Module("MLP") {
    fc1 = register_module("fc1", std::make_shared<ss::nn::Linear>(2, 32));
    fc2 = register_module("fc2", std::make_shared<ss::nn::Linear>(32, 3));
  }
  ss::Tensor forward(const ss::Tensor& x) override { return (*fc2)(ss::tanh((*fc1)(x))); }
};

int main() {
  dist::init();
  const int rank = dist::rank(), world = dist::world_size();

  // The same data on every rank (same seed): 3 blobs of 200 points.
  ss::manual_seed(0);
  const int64_t n = 600;
  ss::Tensor labels = ss::remainder(ss::arange(0, n, 1, ss::DType::Int64), ss::full({1}, 3, ss::DType::Int64));
  ss::Tensor angle = labels.to(ss::DType::Float32).mul(2.0944);  // 120 degrees apart
  ss::Tensor centers = ss::stack({ss::cos(angle), ss::sin(angle)}, 1).mul(2.0);
  ss::Tensor points = centers + ss::randn({n, 2}).mul(0.6);

  // Each rank builds its model from a different seed: DDP starts them all from rank 0's weights.
  ss::manual_seed(100 + uint64_t(rank));
  auto model = std::make_shared<ss::nn::DistributedDataParallel>(std::make_shared<MLP>());
  ss::optim::Adam opt(model->parameters(), {.lr = 0.01});
  ss::nn::DistributedSampler sampler(n, std::nullopt, std::nullopt, /*shuffle=*/true, /*seed=*/0);
  const int64_t batch = 32;  // per rank

  for (int epoch = 0; epoch < 10; ++epoch) {
    sampler.set_epoch(epoch);  // a new shuffle, the same on every rank
    std::vector<int64_t> idx = sampler.indices();
    double loss_sum = 0;
    int batches = 0;
    for (size_t start = 0; start < idx.size(); start += size_t(batch)) {
      size_t end = std::min(idx.size(), start + size_t(batch));
      ss::Tensor ix = ss::from_vector(std::vector<int64_t>(idx.begin() + long(start), idx.begin() + long(end)),
                                      {int64_t(end - start)});
      opt.zero_grad();
      ss::Tensor loss = ss::nn::functional::cross_entropy((*model)(ss::index_select(points, 0, ix)),
                                                          ss::index_select(labels, 0, ix));
      loss.backward();  // gradients are averaged across the ranks here
      opt.step();
      loss_sum += loss.item_double();
      ++batches;
    }
    // The mean loss over all ranks, for the log.
    ss::Tensor l = ss::full({1}, loss_sum / batches, ss::DType::Float64);
    dist::all_reduce(l, dist::ReduceOp::MEAN);
    if (rank == 0) std::printf("epoch %2d  loss %.4f  (%d rank%s)\n", epoch, ss::to_vector(l)[0], world,
                               world == 1 ? "" : "s");
  }

  // Accuracy on each rank's shard, summed over ranks.
  ss::NoGradGuard no_grad;
  std::vector<int64_t> idx = ss::nn::DistributedSampler(n, std::nullopt, std::nullopt, false, 0, true).indices();
  ss::Tensor ix = ss::from_vector(idx, {int64_t(idx.size())});
  ss::Tensor pred = ss::argmax((*model)(ss::index_select(points, 0, ix)), 1);
  const int64_t correct = int64_t(ss::to_vector(ss::eq(pred, ss::index_select(labels, 0, ix)).sum())[0]);
  ss::Tensor counts = ss::from_vector(std::vector<int64_t>{correct, int64_t(idx.size())}, {2});
  dist::all_reduce(counts);  // exact on integers
  std::vector<double> c = ss::to_vector(counts);
  const double acc = c[0] / c[1];

  // Every rank must hold the same weights.
  std::vector<ss::Tensor> flat;
  for (const auto& p : model->parameters()) flat.push_back(p.detach().reshape({-1}));
  std::vector<ss::Tensor> all = dist::all_gather(ss::cat(flat, 0));
  bool same = true;
  for (const auto& t : all) same = same && ss::equal(t, all[0]);
  if (rank == 0) std::printf("accuracy %.3f on %d samples; weights identical on all ranks: %s\n", acc,
                             int(c[1]), same ? "yes" : "NO");
  return acc > 0.9 && same ? 0 : 1;
}
