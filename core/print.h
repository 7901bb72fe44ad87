// Printing tensors the way PyTorch's repr does (torch/_tensor_str.py):
//   tensor([[1., 2.],
//           [3., 4.]], dtype=shanshui.float64, requires_grad=True)
// Tensor::to_string() returns the same text.
#pragma once
#include <ostream>
#include <string>

#include "core/tensor.h"

namespace shanshui {

// PyTorch's print options (torch.set_printoptions defaults).
struct PrintOptions {
  int precision = 4;    // digits after the point
  int64_t threshold = 1000;  // summarise tensors with more elements than this
  int64_t edgeitems = 3;     // items shown at each end of a summarised dim
  int64_t linewidth = 80;
};
PrintOptions& print_options();

std::ostream& operator<<(std::ostream& os, const Tensor& t);

}  // namespace shanshui
