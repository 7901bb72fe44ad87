// Internal machinery shared by core/ops/index.cpp (subscripts) and
// core/ops/index_gather.cpp (gather / scatter_add / index_select / index_add /
// embedding). Not part of the public API.
//
// Every indexing op is reduced to one shape: an "indexed side" tensor R whose
// dims split into advanced (index-tensor) dims and the remaining "rest" dims,
// and a "flat side" tensor shaped like the indexing result (B = broadcast shape
// of the index tensors, placed where PyTorch puts it, plus the rest dims).
// Reading R into the flat side is a gather; writing the flat side into R is a
// scatter (assign or accumulate).
#pragma once
#include <vector>

#include "core/tensor.h"

namespace shanshui::index_detail {

// One step of basic (view-producing) indexing, already resolved for a shape.
struct BasicOp {
  enum Kind { Select, Slice, Unsqueeze } kind;
  int64_t dim = 0, start = 0, len = 0, step = 1;
};
using Prog = std::vector<BasicOp>;

// An int64 index tensor applied to dim `dim` of the indexed tensor.
struct Adv {
  int64_t dim;
  Tensor idx;
};
using AdvList = std::vector<Adv>;

// The geometry `prog` produces from `t`, as a view without autograd history.
Tensor raw_view(const Tensor& t, const Prog& prog);

// Shape of R[adv] (B placed at the first advanced dim when they are adjacent, first otherwise).
Shape indexed_shape(const Shape& rshape, const AdvList& adv, const char* op);

// out = R[adv] (a new contiguous tensor). Index values are bounds-checked; negative
// ones wrap when `wrap_negative`. No autograd.
Tensor gather_raw(const Tensor& r, const AdvList& adv, bool wrap_negative, const char* op);

// region[adv] = value (or += alpha * value when accumulate), in place, no autograd. `value`
// must broadcast to indexed_shape(region.shape(), adv); it is converted to region's dtype.
// Distinct region elements must not share memory (checked by the callers that write into user tensors).
void write_region(const Tensor& region, const AdvList& adv, const Tensor& value, bool accumulate, double alpha,
                  bool wrap_negative, const char* op);

// Differentiable out-of-place put: a copy of `base` (zeros of `shape`/`dtype` when
// base is undefined) with out[prog][adv] = value (or += value). Records a backward
// for base and value.
Tensor put(const Tensor& base, const Shape& shape, DType dtype, const Prog& prog, const AdvList& adv,
           const Tensor& value, bool accumulate, const char* op);

// Throw IndexError unless every element of the int64 tensor `idx` lies in [0, size)
// ([-size, size) when allow_negative).
void check_index_range(const Tensor& idx, int64_t size, int64_t dim, bool allow_negative, const char* op);

}  // namespace shanshui::index_detail
