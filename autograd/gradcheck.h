// Finite-difference gradient check (float64 central differences), as torch.autograd.gradcheck.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace shanshui::autograd {

struct GradcheckResult {
  bool ok = true;
  std::string message;  // which input, which element, analytical vs numerical
};

// f maps the inputs to one tensor output. Inputs must be float64; those with
// requires_grad are checked. The output is reduced with a random projection
// (fixed seed) so one backward checks the whole Jacobian-vector product per input element.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, double eps = 1e-6, double atol = 1e-5,
                          double rtol = 1e-3);

}  // namespace shanshui::autograd
