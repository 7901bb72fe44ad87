// Storage: the flat buffer behind one or more tensor views. Views of the same
// storage share its version counter, which autograd uses to detect an in-place
// change to a tensor saved for backward.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace shanshui {

// Caching allocator: freed blocks are kept in size classes and reused, so a
// training step after warm-up does not call the system allocator for tensor data.
namespace allocator {
void* allocate(size_t nbytes);
void release(void* p, size_t nbytes);
struct Stats {
  uint64_t system_allocs;   // calls that reached the system allocator
  uint64_t cache_hits;
  size_t bytes_in_use;      // rounded bytes handed out and not yet released
  size_t peak_bytes_in_use;
  size_t bytes_cached;      // free blocks held for reuse
};
Stats stats();
void reset_peak();
void empty_cache();  // return every cached block to the system
}  // namespace allocator

class Storage {
 public:
  // Owned buffer from the caching allocator (uninitialised).
  explicit Storage(size_t nbytes);
  // Borrowed buffer (e.g. a NumPy array); `keep_alive` owns it and is dropped with the storage.
  Storage(void* data, size_t nbytes, std::shared_ptr<void> keep_alive);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  uint64_t version() const { return version_.load(std::memory_order_relaxed); }
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }

 private:
  void* data_;
  size_t nbytes_;
  bool owned_;
  std::shared_ptr<void> keep_alive_;
  std::atomic<uint64_t> version_{0};
};

}  // namespace shanshui
