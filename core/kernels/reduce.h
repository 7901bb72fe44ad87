// Reduction driver shared by sum, mean, prod, amax, ...: splits the input's
// dims into kept and reduced, and calls a per-output reducer.
#pragma once
#include <array>
#include <vector>

#include "core/kernels/loops.h"
#include "core/tensor.h"

namespace shanshui::kernels {

struct ReducePlan {
  Shape out_shape;       // keepdim=true shape (reduced dims are 1)
  Shape kept_shape;      // sizes of kept dims, in order
  Shape kept_strides;    // input strides of kept dims
  Shape red_shape;       // sizes of reduced dims
  Shape red_strides;     // input strides of reduced dims
  int64_t red_numel = 1;
};

ReducePlan plan_reduce(const Tensor& x, const std::vector<int64_t>& wrapped_dims);

// For each output element (in row-major order of the kept dims) call
// reducer(out_index, input_pointer_to_first, run) where `run` enumerates the
// reduced elements' offsets. The reducer walks the reduced elements itself via
// for_each_reduced. Parallel over outputs.
template <class T, class Reducer>
void reduce_each(const Tensor& x, const ReducePlan& p, int64_t cost, Reducer&& reducer) {
  const T* base = static_cast<const T*>(x.raw_data());
  int64_t n_out = numel_of(p.kept_shape);
  int64_t nk = int64_t(p.kept_shape.size());
  parallel_for(n_out, p.red_numel * cost, [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      int64_t off = 0, r = o;
      for (int64_t d = nk - 1; d >= 0; --d) {
        off += (r % p.kept_shape[d]) * p.kept_strides[d];
        r /= p.kept_shape[d];
      }
      reducer(o, base + off);
    }
  });
}

// Visit the reduced elements under one output: f(value) in row-major order.
template <class T, class F>
void for_each_reduced(const T* first, const ReducePlan& p, F&& f) {
  const int64_t nr = int64_t(p.red_shape.size());
  if (nr == 0) {
    f(*first);
    return;
  }
  const int64_t inner = p.red_shape[nr - 1], ist = p.red_strides[nr - 1];
  const int64_t outer = p.red_numel / (inner == 0 ? 1 : inner);
  if (inner == 0) return;
  if (nr == 1) {  // the common single-dim case, without the odometer's heap-allocated index
    if (ist == 1) {
      for (int64_t i = 0; i < inner; ++i) f(first[i]);
    } else {
      for (int64_t i = 0; i < inner; ++i) f(first[i * ist]);
    }
    return;
  }
  std::vector<int64_t> idx(nr, 0);
  int64_t off = 0;
  for (int64_t o = 0; o < outer; ++o) {
    const T* q = first + off;
    if (ist == 1) {
      for (int64_t i = 0; i < inner; ++i) f(q[i]);
    } else {
      for (int64_t i = 0; i < inner; ++i) f(q[i * ist]);
    }
    for (int64_t d = nr - 2; d >= 0; --d) {
      if (++idx[d] < p.red_shape[d]) {
        off += p.red_strides[d];
        break;
      }
      idx[d] = 0;
      off -= (p.red_shape[d] - 1) * p.red_strides[d];
    }
  }
}

// Lines along `dim` (scans and row-wise ops: cumsum, softmax). For every line,
// f(offsets) gets each operand's element offset of the line's first element;
// operand k steps by strides[k][dim] along the line. Parallel over lines.
// `shape` must have at least one dim (callers view 0-d tensors as [1]).
template <size_t N, class F>
void for_each_line(const Shape& shape, int64_t dim, const std::array<Shape, N>& strides, int64_t cost_per_line,
                   F&& f) {
  Shape osz;
  std::array<Shape, N> ost;
  for (int64_t d = 0; d < int64_t(shape.size()); ++d) {
    if (d == dim) continue;
    osz.push_back(shape[d]);
    for (size_t k = 0; k < N; ++k) ost[k].push_back(strides[k][d]);
  }
  const int64_t n_lines = numel_of(osz), nd = int64_t(osz.size());
  if (n_lines == 0) return;
  parallel_for(n_lines, cost_per_line, [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      std::array<int64_t, N> off{};
      int64_t r = o;
      for (int64_t d = nd - 1; d >= 0; --d) {
        const int64_t i = r % osz[d];
        r /= osz[d];
        for (size_t k = 0; k < N; ++k) off[k] += i * ost[k][d];
      }
      f(off);
    }
  });
}

}  // namespace shanshui::kernels
