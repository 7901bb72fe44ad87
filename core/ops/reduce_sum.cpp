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

Tensor sum_impl(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, DType out_dtype) {
  kernels::ReducePlan p = kernels::plan_reduce(x, dims);
  Tensor out = empty(keepdim ? p.out_shape : squeeze_dims(p.out_shape, dims), out_dtype);
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
