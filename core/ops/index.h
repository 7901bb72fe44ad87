// Indexing: Python-style subscripts and the gather/scatter family.
#pragma once
#include <optional>
#include <variant>
#include <vector>

#include "core/tensor.h"

namespace shanshui {

struct Slice {
  std::optional<int64_t> start, stop;
  int64_t step = 1;
};
struct Ellipsis {};
struct NewAxis {};  // None

// One entry of x[...]: an integer, a slice, None, ..., or an index tensor (int64 or bool).
struct TensorIndex {
  std::variant<int64_t, Slice, NewAxis, Ellipsis, Tensor> v;
  TensorIndex(int64_t i) : v(i) {}
  TensorIndex(int i) : v(int64_t(i)) {}
  TensorIndex(Slice s) : v(s) {}
  TensorIndex(NewAxis n) : v(n) {}
  TensorIndex(Ellipsis e) : v(e) {}
  TensorIndex(Tensor t) : v(std::move(t)) {}
};

Tensor index(const Tensor& x, const std::vector<TensorIndex>& idx);
// x[idx] = value (value broadcast to the indexed shape); records autograd history on x.
Tensor& index_put_(Tensor& x, const std::vector<TensorIndex>& idx, const Tensor& value);

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& source, Scalar alpha = 1);
// weight [num_embeddings, dim], indices int64 of any shape -> [..., dim].
Tensor embedding(const Tensor& weight, const Tensor& indices, std::optional<int64_t> padding_idx = std::nullopt);
Tensor one_hot(const Tensor& indices, int64_t num_classes = -1);
// Positions of true / nonzero elements, [n, ndim] int64.
Tensor nonzero(const Tensor& x);

}  // namespace shanshui
