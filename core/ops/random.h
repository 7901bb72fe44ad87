// Seeded random numbers. One manual_seed(s) seeds every generator the library
// uses (creation ops, dropout, init), so the same seed gives the same numbers.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <optional>

#include "core/tensor.h"

namespace shanshui {

// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
// SC 2011; Random123's reference constants). Counter-based: block c under key k
// is a pure function, so element i of a draw depends only on (seed, offset, i)
// and the numbers do not change with the thread count.
namespace philox {
using Block = std::array<uint32_t, 4>;
inline Block philox4x32_10(uint64_t counter, uint64_t key) {
  uint32_t c0 = uint32_t(counter), c1 = uint32_t(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = uint32_t(key), k1 = uint32_t(key >> 32);
  for (int r = 0; r < 10; ++r) {
    uint64_t p0 = uint64_t(0xD2511F53u) * c0, p1 = uint64_t(0xCD9E8D57u) * c2;
    uint32_t n0 = uint32_t(p1 >> 32) ^ c1 ^ k0, n2 = uint32_t(p0 >> 32) ^ c3 ^ k1;
    c0 = n0; c1 = uint32_t(p1); c2 = n2; c3 = uint32_t(p0);
    k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;
  }
  return {c0, c1, c2, c3};
}
// The general form with a full 128-bit counter (for known-answer tests).
Block philox4x32_10(const Block& counter, uint64_t key);
// [0, 1) with 24 (float) or 53 (double) random bits.
inline float to_unit_float(uint32_t x) { return float(x >> 8) * (1.0f / 16777216.0f); }
inline double to_unit_double(uint32_t hi, uint32_t lo) {
  return double(((uint64_t(hi) << 32) | lo) >> 11) * (1.0 / 9007199254740992.0);
}
}  // namespace philox

// The library's one generator. A draw reserves a range of Philox blocks
// (each 4 x 32 random bits) by advancing `offset`; kernels then compute block
// `first + j` independently, in parallel.
class Generator {
 public:
  static constexpr uint64_t kDefaultSeed = 67280421310721ULL;  // PyTorch's default seed
  explicit Generator(uint64_t seed = kDefaultSeed) : seed_(seed), offset_(0) {}
  void manual_seed(uint64_t seed);
  uint64_t initial_seed() const { return seed_.load(std::memory_order_relaxed); }
  struct Draw {
    uint64_t key;    // the seed
    uint64_t first;  // first block counter reserved for this draw
  };
  Draw reserve(uint64_t blocks);
  // (seed, offset) is the whole state: save and restore it to replay draws.
  std::array<uint64_t, 2> get_state() const;
  void set_state(const std::array<uint64_t, 2>& state);

 private:
  std::atomic<uint64_t> seed_;
  std::atomic<uint64_t> offset_;
};

// The global generator that manual_seed seeds (dropout, init and the creation ops draw from it).
Generator& default_generator();

void manual_seed(uint64_t seed);
uint64_t initial_seed();
// The default generator's whole state as an int64 tensor [seed, offset] (torch.get_rng_state
// returns bytes; shanshui has no uint8), and its inverse, which checks the tensor's shape and dtype.
Tensor get_rng_state();
void set_rng_state(const Tensor& state);

Tensor rand(const Shape& shape, DType dtype = DType::Float32);    // U[0, 1)
Tensor randn(const Shape& shape, DType dtype = DType::Float32);   // N(0, 1)
Tensor randint(int64_t low, int64_t high, const Shape& shape, DType dtype = DType::Int64);
Tensor rand_like(const Tensor& t);
Tensor randn_like(const Tensor& t);
Tensor randperm(int64_t n);
// Each element 1 with probability p (elementwise tensor or scalar p).
Tensor bernoulli(const Tensor& p);
Tensor bernoulli(const Tensor& like, double p);
// Draw `num_samples` indices per row of the (1-D or 2-D) non-negative weight tensor.
Tensor multinomial(const Tensor& probs, int64_t num_samples, bool replacement = false);

// In-place fills used by nn.init.
Tensor& uniform_(Tensor& t, double from = 0.0, double to = 1.0);
Tensor& normal_(Tensor& t, double mean = 0.0, double std = 1.0);

}  // namespace shanshui
