// sum and mean. Float32 sums accumulate in double so long reductions agree
// with PyTorch's pairwise summation to float32 precision.
#include <algorithm>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "core/dispatch.h"
#include "core/kernels/reduce.h"
#include "core/ops.h"

namespace shanshui {

using autograd::needs_grad;
using autograd::record;
using autograd::tensor_list;

namespace {

Shape squeeze_dims(const Shape& keep_shape, const std::vector<int64_t>& dims) {
  Shape s;
  for (int64_t d = 0; d < int64_t(keep_shape.size()); ++d)
    if (std::find(dims.begin(), dims.end(), d) == dims.end()) s.push_back(keep_shape[d]);
  return s;
}

// Gradient of a reduction with keepdim=false: put the reduced dims back, then broadcast.
Tensor expand_back(const Tensor& g, const Shape& keep_shape, const Shape& in_shape) {
  return g.reshape(keep_shape).expand(in_shape);
}

// Rows of a contiguous [rows, cols] input summed into cols outputs (a bias
// gradient: g.sum(0)). The generic path walks each column with a stride of
// cols, one dependent add at a time; here a strip of columns is accumulated
// row by row, which vectorises and reads memory in order. Each output still
// adds its values in the same order, so the result is bit-identical.
template <class T, class O, class Acc>
void sum_leading_rows(const T* x, O* out, int64_t rows, int64_t cols) {
  constexpr int64_t kStrip = 256;
  const int64_t strips = (cols + kStrip - 1) / kStrip;
  parallel_for(strips, rows * kStrip, [&](int64_t s0, int64_t s1) {
    Acc acc[kStrip];
    for (int64_t s = s0; s < s1; ++s) {
      const int64_t c0 = s * kStrip, w = std::min(kStrip, cols - c0);
      std::fill(acc, acc + w, Acc(0));
      for (int64_t r = 0; r < rows; ++r) {
        const T* row = x + r * cols + c0;
        for (int64_t j = 0; j < w; ++j) acc[j] += static_cast<Acc>(row[j]);
      }
      for (int64_t j = 0; j < w; ++j) out[c0 + j] = static_cast<O>(acc[j]);
    }
  });
}

// True when dims are exactly the leading dims 0..k-1 (k < x.dim()) of a contiguous x.
bool reduces_leading_dims(const Tensor& x, const std::vector<int64_t>& dims) {
  if (dims.empty() || int64_t(dims.size()) >= x.dim() || !x.is_contiguous()) return false;
  std::vector<int64_t> d = dims;
  std::sort(d.begin(), d.end());
  for (size_t i = 0; i < d.size(); ++i)
    if (d[i] != int64_t(i)) return false;
  return true;
}

Tensor sum_impl(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, DType out_dtype) {
  kernels::ReducePlan p = kernels::plan_reduce(x, dims);
  Tensor out = empty(keepdim ? p.out_shape : squeeze_dims(p.out_shape, dims), out_dtype);
  if (x.is_floating_point() && out_dtype == x.dtype() && reduces_leading_dims(x, dims) && x.numel() > 0) {
    const int64_t cols = numel_of(p.kept_shape), rows = x.numel() / cols;
    SS_DISPATCH_FLOAT(x.dtype(), "sum", [&](auto tag) {
      using T = decltype(tag);
      sum_leading_rows<T, T, double>(static_cast<const T*>(x.raw_data()), static_cast<T*>(out.raw_data()), rows,
                                     cols);
    });
    return out;
  }
  SS_DISPATCH_ALL(x.dtype(), "sum", [&](auto tag) {
    using T = decltype(tag);
    SS_DISPATCH_ALL(out_dtype, "sum", [&](auto otag) {
      using O = decltype(otag);
      using Acc = std::conditional_t<std::is_floating_point_v<O>, double, int64_t>;
      O* o = static_cast<O*>(out.raw_data());
      kernels::reduce_each<T>(x, p, 1, [&](int64_t i, const T* first) {
        Acc acc = 0;
        kernels::for_each_reduced(first, p, [&](T v) { acc += static_cast<Acc>(v); });
        o[i] = static_cast<O>(acc);
      });
    });
  });
  return out;
}

}  // namespace

Tensor sum(const Tensor& x, const Dims& dims, bool keepdim, std::optional<DType> dtype) {
  std::vector<int64_t> d = wrap_dims(dims, x.dim(), "sum");
  // Integer and bool inputs sum to int64, as PyTorch.
  DType out_dtype = dtype ? *dtype : (x.is_floating_point() ? x.dtype() : DType::Int64);
  Tensor out = sum_impl(x, d, keepdim, out_dtype);
  if (needs_grad(x)) {
    Shape in = x.shape(), keep = kernels::plan_reduce(x, d).out_shape;
    record("SumBackward", {x}, out, [in, keep](const Tensor& g) { return tensor_list{expand_back(g, keep, in)}; });
  }
  return out;
}

Tensor mean(const Tensor& x, const Dims& dims, bool keepdim) {
  SS_CHECK(x.is_floating_point(), TypeError, "mean: could not infer output dtype. Input dtype must be floating "
           "point, got ", dtype_name(x.dtype()));
  std::vector<int64_t> d = wrap_dims(dims, x.dim(), "mean");
  int64_t count = 1;
  for (auto i : d) count *= x.size(i);
  Tensor out = sum_impl(x, d, keepdim, x.dtype());
  {
    // count == 0 gives nan, as PyTorch.
    NoGradGuard ng;
    out = div(out, scalar_tensor(double(count), out.dtype()));
  }
  if (needs_grad(x)) {
    Shape in = x.shape(), keep = kernels::plan_reduce(x, d).out_shape;
    double n = double(count);
    record("MeanBackward", {x}, out, [in, keep, n](const Tensor& g) {
      return tensor_list{expand_back(g.div(scalar_tensor(n, g.dtype())), keep, in)};
    });
  }
  return out;
}

}  // namespace shanshui
