// DistributedSampler: the indices of one rank's shard of a dataset, with
// torch.utils.data.DistributedSampler's semantics.
//
// Each epoch the indices 0..dataset_len-1 are shuffled (when shuffle) by a
// permutation seeded with seed + epoch, identical on every rank, then either
// padded by repeating indices from the front until the count divides evenly
// by num_replicas (drop_last false) or cut to a multiple of it (drop_last
// true); rank r takes positions r, r + num_replicas, r + 2 * num_replicas, ...
// So every rank gets size() indices, the shards are disjoint but for the
// padding, and together they cover the dataset. Call set_epoch(e) at the start
// of each epoch for a new shuffle.
//
// The permutation is a Fisher-Yates shuffle driven by std::mt19937_64 (whose
// output the C++ standard fixes), so it is the same on every machine and in
// C++ and Python; it is not torch's sequence of numbers.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

namespace shanshui::nn {

class DistributedSampler {
 public:
  // num_replicas and rank default to distributed::world_size() and rank().
  explicit DistributedSampler(int64_t dataset_len, std::optional<int64_t> num_replicas = std::nullopt,
                              std::optional<int64_t> rank = std::nullopt, bool shuffle = true, uint64_t seed = 0,
                              bool drop_last = false);

  void set_epoch(int64_t epoch) { epoch_ = epoch; }
  int64_t epoch() const { return epoch_; }

  // This rank's indices for the current epoch (size() of them).
  std::vector<int64_t> indices() const;
  int64_t size() const { return num_samples_; }         // torch's num_samples / len(sampler)
  int64_t total_size() const { return total_size_; }    // num_samples * num_replicas

  int64_t dataset_len() const { return dataset_len_; }
  int64_t num_replicas() const { return num_replicas_; }
  int64_t rank() const { return rank_; }
  bool shuffle() const { return shuffle_; }
  uint64_t seed() const { return seed_; }
  bool drop_last() const { return drop_last_; }

 private:
  int64_t dataset_len_, num_replicas_, rank_;
  bool shuffle_;
  uint64_t seed_;
  bool drop_last_;
  int64_t epoch_ = 0;
  int64_t num_samples_, total_size_;
};

// The permutation of 0..n-1 used by DistributedSampler for `seed` (exposed for tests).
std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed);

}  // namespace shanshui::nn
