// Scatter reductions (torch.scatter_reduce) and the segment softmax used by
// graph attention (torch_geometric.utils.softmax): the sparse building blocks
// that keep message passing at O(E) memory instead of a dense N x N matrix.
#pragma once
#include <string>

#include "core/tensor.h"

namespace shanshui {

// torch.scatter_reduce: out = input; out[... index[p] ...] (op)= src[p] along dim.
// reduce: "sum", "mean", "amax" or "amin". include_self=false ignores input's value
// at every position that receives at least one src element. Differentiable in
// input and src with PyTorch's gradients (ties of amax / amin share the gradient evenly).
Tensor scatter_reduce(const Tensor& input, int64_t dim, const Tensor& index, const Tensor& src,
                      const std::string& reduce, bool include_self = true);

// Softmax of src [E, ...] over the groups given by index [E] (values in [0, num_segments)),
// separately for every trailing position: out[e] = exp(src[e] - max_g) / sum_{e' in g} exp(src[e'] - max_g)
// with g = index[e]. The group max keeps it stable. num_segments < 0 infers max(index) + 1.
// Fused forward and backward (saves only its output). Same as torch_geometric.utils.softmax(src, index).
Tensor segment_softmax(const Tensor& src, const Tensor& index, int64_t num_segments = -1);

}  // namespace shanshui
