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
//
// The work is split across threads by whole runs, and a long run is cut into
// pieces first: a contiguous tensor coalesces to a single run, which would
// otherwise always stay on one thread. A run whose first operand (the output)
// has inner stride 0 is never cut: its writes all land on one element, or on
// places only the body knows (scatter_add), and must stay on one thread, in order.
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
  // Pieces per run: enough that every thread gets about four pieces' worth of work, each
  // piece a multiple of 64 elements (whole cache lines for stride-1 float operands).
  int64_t pieces = 1, piece = inner;
  if (inner_st[0] != 0 && should_parallelize(total, cost_per_elem)) {
    const int64_t want = 4 * int64_t(get_num_threads());
    if (outer < want && inner >= 2 * 1024) {
      pieces = (want + outer - 1) / outer;
      piece = ((inner + pieces - 1) / pieces + 63) / 64 * 64;
      pieces = (inner + piece - 1) / piece;
    }
  }
  parallel_for(outer * pieces, piece * cost_per_elem, [&](int64_t begin, int64_t end) {
    // Decompose the first run into a multi-index once, then step it like an odometer.
    std::vector<int64_t> idx(nd > 1 ? nd - 1 : 1, 0);
    std::array<int64_t, N> off{};
    int64_t r = begin / pieces;
    for (int64_t d = nd - 2; d >= 0; --d) {
      idx[d] = r % p.shape[d];
      r /= p.shape[d];
      for (size_t k = 0; k < N; ++k) off[k] += idx[d] * p.strides[k][d];
    }
    for (int64_t item = begin; item < end; ++item) {
      const int64_t c = item % pieces;
      if (pieces == 1) {
        body(off, inner, inner_st);
      } else {
        std::array<int64_t, N> piece_off = off;
        for (size_t k = 0; k < N; ++k) piece_off[k] += c * piece * inner_st[k];
        body(piece_off, c + 1 < pieces ? piece : inner - c * piece, inner_st);
        if (c + 1 < pieces) continue;  // the next item is the next piece of the same run
      }
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
