#include "core/kernels/reduce.h"

#include <algorithm>

namespace shanshui::kernels {

ReducePlan plan_reduce(const Tensor& x, const std::vector<int64_t>& dims) {
  ReducePlan p;
  p.out_shape = x.shape();
  for (int64_t d = 0; d < x.dim(); ++d) {
    bool reduced = std::find(dims.begin(), dims.end(), d) != dims.end();
    if (reduced) {
      p.out_shape[d] = 1;
      p.red_shape.push_back(x.size(d));
      p.red_strides.push_back(x.stride(d));
      p.red_numel *= x.size(d);
    } else {
      p.kept_shape.push_back(x.size(d));
      p.kept_strides.push_back(x.stride(d));
    }
  }
  return p;
}

}  // namespace shanshui::kernels
