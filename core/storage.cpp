#include "core/storage.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <vector>

namespace shanshui {
namespace allocator {
namespace {

constexpr size_t kAlign = 64;                    // cache line, and enough for AVX-512 loads
constexpr size_t kMaxCached = size_t(2) << 30;   // beyond this, freed blocks go back to the system

// Round up to a size class: multiples of 64 bytes below 4 KiB, then four classes per power of two,
// so reuse is likely while waste stays under 25%.
size_t size_class(size_t n) {
  if (n <= 4096) return ((n + kAlign - 1) / kAlign) * kAlign;
  size_t p = 4096;
  while (p * 2 < n) p *= 2;
  size_t step = p / 4;
  return ((n + step - 1) / step) * step;
}

struct Cache {
  std::mutex mu;
  std::map<size_t, std::vector<void*>> free_blocks;
  Stats stats{};
};

Cache& cache() {
  static Cache* c = new Cache();  // leaked on purpose: tensors may die during static destruction
  return *c;
}

}  // namespace

void* allocate(size_t nbytes) {
  size_t n = size_class(nbytes == 0 ? 1 : nbytes);
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> g(c.mu);
    auto it = c.free_blocks.find(n);
    if (it != c.free_blocks.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.stats.cache_hits++;
      c.stats.bytes_cached -= n;
      c.stats.bytes_in_use += n;
      if (c.stats.bytes_in_use > c.stats.peak_bytes_in_use) c.stats.peak_bytes_in_use = c.stats.bytes_in_use;
      return p;
    }
    c.stats.system_allocs++;
    c.stats.bytes_in_use += n;
    if (c.stats.bytes_in_use > c.stats.peak_bytes_in_use) c.stats.peak_bytes_in_use = c.stats.bytes_in_use;
  }
  void* p = std::aligned_alloc(kAlign, n);
  if (!p) {
    std::lock_guard<std::mutex> g(c.mu);
    c.stats.bytes_in_use -= n;
    throw std::bad_alloc();
  }
  return p;
}

void release(void* p, size_t nbytes) {
  if (!p) return;
  size_t n = size_class(nbytes == 0 ? 1 : nbytes);
  Cache& c = cache();
  std::lock_guard<std::mutex> g(c.mu);
  c.stats.bytes_in_use -= n;
  if (c.stats.bytes_cached + n > kMaxCached) {
    std::free(p);
    return;
  }
  c.free_blocks[n].push_back(p);
  c.stats.bytes_cached += n;
}

Stats stats() {
  std::lock_guard<std::mutex> g(cache().mu);
  return cache().stats;
}

void reset_peak() {
  std::lock_guard<std::mutex> g(cache().mu);
  cache().stats.peak_bytes_in_use = cache().stats.bytes_in_use;
}

void empty_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> g(c.mu);
  for (auto& kv : c.free_blocks)
    for (void* p : kv.second) std::free(p);
  c.free_blocks.clear();
  c.stats.bytes_cached = 0;
}

}  // namespace allocator

Storage::Storage(size_t nbytes) : data_(allocator::allocate(nbytes)), nbytes_(nbytes), owned_(true) {}

Storage::Storage(void* data, size_t nbytes, std::shared_ptr<void> keep_alive)
    : data_(data), nbytes_(nbytes), owned_(false), keep_alive_(std::move(keep_alive)) {}

Storage::~Storage() {
  if (owned_) allocator::release(data_, nbytes_);
}

}  // namespace shanshui
