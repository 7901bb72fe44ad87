#include "nn/parallel/distributed_sampler.h"

#include <numeric>
#include <random>

#include "core/distributed/distributed.h"
#include "core/error.h"

namespace shanshui::nn {

std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> p(size_t(std::max<int64_t>(n, 0)));
  std::iota(p.begin(), p.end(), int64_t(0));
  std::mt19937_64 gen(seed);
  // Fisher-Yates with an unbiased bounded draw by rejection; std's
  // uniform_int_distribution is not specified exactly, so it is not used.
  for (int64_t i = n - 1; i > 0; --i) {
    const uint64_t bound = uint64_t(i) + 1;
    const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t x;
    do x = gen();
    while (x >= limit);
    std::swap(p[size_t(i)], p[size_t(x % bound)]);
  }
  return p;
}

DistributedSampler::DistributedSampler(int64_t dataset_len, std::optional<int64_t> num_replicas,
                                       std::optional<int64_t> rank, bool shuffle, uint64_t seed, bool drop_last)
    : dataset_len_(dataset_len), shuffle_(shuffle), seed_(seed), drop_last_(drop_last) {
  SS_CHECK(dataset_len >= 0, ValueError, "DistributedSampler: dataset length must be non-negative, got ", dataset_len);
  num_replicas_ = num_replicas ? *num_replicas : distributed::world_size();
  rank_ = rank ? *rank : distributed::rank();
  SS_CHECK(num_replicas_ > 0, ValueError, "DistributedSampler: num_replicas must be positive, got ", num_replicas_);
  SS_CHECK(rank_ >= 0 && rank_ < num_replicas_, ValueError, "DistributedSampler: invalid rank ", rank_,
           ", rank should be in the interval [0, ", num_replicas_ - 1, "]");
  // As torch: drop_last cuts to the largest multiple of num_replicas; otherwise round up.
  if (drop_last_ && dataset_len_ % num_replicas_ != 0) {
    num_samples_ = dataset_len_ / num_replicas_;
  } else {
    num_samples_ = (dataset_len_ + num_replicas_ - 1) / num_replicas_;
  }
  total_size_ = num_samples_ * num_replicas_;
}

std::vector<int64_t> DistributedSampler::indices() const {
  std::vector<int64_t> all;
  if (shuffle_) {
    all = seeded_permutation(dataset_len_, seed_ + uint64_t(epoch_));
  } else {
    all.resize(size_t(dataset_len_));
    std::iota(all.begin(), all.end(), int64_t(0));
  }
  if (int64_t(all.size()) < total_size_) {
    // Pad with indices from the front, repeated as often as needed (the dataset may be smaller than the padding).
    const size_t n = all.size();
    while (int64_t(all.size()) < total_size_) all.push_back(all[(all.size() - n) % n]);
  } else {
    all.resize(size_t(total_size_));
  }
  std::vector<int64_t> mine;
  mine.reserve(size_t(num_samples_));
  for (int64_t i = rank_; i < total_size_; i += num_replicas_) mine.push_back(all[size_t(i)]);
  return mine;
}

}  // namespace shanshui::nn
