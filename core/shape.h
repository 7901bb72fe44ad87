// Shapes, strides and the arithmetic on them (broadcasting, dim wrapping).
#pragma once
#include <cstdint>
#include <vector>

namespace shanshui {

using Shape = std::vector<int64_t>;

// Product of sizes; throws ValueError naming `op` on negative sizes or int64 overflow.
int64_t checked_numel(const Shape& shape, const char* op);
inline int64_t numel_of(const Shape& s) {
  int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}
Shape contiguous_strides(const Shape& shape);
// NumPy broadcasting of two shapes; throws ValueError naming `op`.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Wrap a possibly negative dim into [0, ndim); IndexError naming `op` otherwise.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);
// Sorted, de-duplicated wrapped dims; empty `dims` means all dims.
std::vector<int64_t> wrap_dims(const std::vector<int64_t>& dims, int64_t ndim, const char* op);

}  // namespace shanshui
