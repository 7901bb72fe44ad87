// Strided iteration over N operands that share one (broadcast) shape. Each
// operand brings its own strides (0 along broadcast dims). Dims are coalesced
// so a contiguous tensor becomes one flat run, and the body is called once per
// innermost run with the run length and the per-operand inner strides, which
// lets the compiler vectorise the common stride-1 case.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/parallel.h"
#include "core/shape.h"

namespace shanshui::kernels {

using std::size_t;

template <size_t N>
struct LoopPlan {
  Shape shape;                      // coalesced
  std::array<Shape, N> strides;     // coalesced, per operand
};

// Merge adjacent dims that are contiguous with each other for every operand, and drop size-1 dims.
template <size_t N>
LoopPlan<N> plan_loop(const Shape& shape, const std::array<Shape, N>& strides) {
  LoopPlan<N> p;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (!p.shape.empty()) {
      bool merge = true;
      for (size_t k = 0; k < N; ++k)
        if (p.strides[k].back() != strides[k][d] * shape[d]) merge = false;
      if (merge) {
        p.shape.back() *= shape[d];
        for (size_t k = 0; k < N; ++k) p.strides[k].back() = strides[k][d];
        continue;
      }
    }
    p.shape.push_back(shape[d]);
    for (size_t k = 0; k < N; ++k) p.strides[k].push_back(strides[k][d]);
  }
  if (p.shape.empty()) {  // scalar or all-ones shape: one run of length 1
    p.shape.push_back(1);
    for (size_t k = 0; k < N; ++k) p.strides[k].push_back(0);
  }
  return p;
}

// body(const std::array<int64_t, N>& offsets, int64_t len, const std::array<int64_t, N>& inner_strides)
// Offsets are in elements relative to each operand's base pointer.
template <size_t N, class Body>
void for_each_run(const Shape& shape, const std::array<Shape, N>& strides, int64_t cost_per_elem, Body&& body) {
  int64_t total = numel_of(shape);
  if (total == 0) return;
  LoopPlan<N> p = plan_loop<N>(shape, strides);
  const int64_t nd = static_cast<int64_t>(p.shape.size());
  const int64_t inner = p.shape[nd - 1];
  std::array<int64_t, N> inner_st;
  for (size_t k = 0; k < N; ++k) inner_st[k] = p.strides[k][nd - 1];
  const int64_t outer = total / inner;
  parallel_for(outer, inner * cost_per_elem, [&](int64_t begin, int64_t end) {
    // Decompose `begin` into a multi-index once, then step it like an odometer.
    std::vector<int64_t> idx(nd > 1 ? nd - 1 : 1, 0);
    std::array<int64_t, N> off{};
    int64_t r = begin;
    for (int64_t d = nd - 2; d >= 0; --d) {
      idx[d] = r % p.shape[d];
      r /= p.shape[d];
      for (size_t k = 0; k < N; ++k) off[k] += idx[d] * p.strides[k][d];
    }
    for (int64_t o = begin; o < end; ++o) {
      body(off, inner, inner_st);
      for (int64_t d = nd - 2; d >= 0; --d) {
        if (++idx[d] < p.shape[d]) {
          for (size_t k = 0; k < N; ++k) off[k] += p.strides[k][d];
          break;
        }
        idx[d] = 0;
        for (size_t k = 0; k < N; ++k) off[k] -= (p.shape[d] - 1) * p.strides[k][d];
      }
    }
  });
}

// Strides of a tensor with `shape`/`strides` seen through broadcasting to `out_shape`.
inline Shape broadcast_strides(const Shape& shape, const Shape& strides, const Shape& out_shape) {
  Shape r(out_shape.size(), 0);
  size_t lead = out_shape.size() - shape.size();
  for (size_t i = 0; i < shape.size(); ++i) r[lead + i] = shape[i] == 1 ? 0 : strides[i];
  return r;
}

}  // namespace shanshui::kernels
