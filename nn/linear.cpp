#include "nn/linear.h"

#include <cmath>

#include "core/ops.h"
#include "nn/init.h"

namespace shanshui::nn {

Linear::Linear(int64_t in, int64_t out, bool bias, DType dtype) : Module("Linear"), in_features(in), out_features(out) {
  SS_CHECK(in >= 0 && out >= 0, ValueError, "Linear: in_features and out_features must be non-negative, got ", in,
           " and ", out);
  SS_CHECK(is_floating(dtype), TypeError, "Linear: dtype must be floating point, got ", dtype_name(dtype));
  register_parameter("weight", empty({out, in}, dtype));
  register_parameter("bias", bias ? empty({out}, dtype) : Tensor());
  reset_parameters();
}

void Linear::reset_parameters() {
  // PyTorch's default: kaiming_uniform_(a=sqrt(5)) for the weight, which is
  // U(-1/sqrt(in), 1/sqrt(in)), and the same bound for the bias.
  init::kaiming_uniform_(weight(), std::sqrt(5.0));
  if (bias().defined()) {
    double bound = in_features > 0 ? 1.0 / std::sqrt(double(in_features)) : 0.0;
    init::uniform_(bias(), -bound, bound);
  }
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight(), bias()); }

std::string Linear::extra_repr() const {
  return cat_str("in_features=", in_features, ", out_features=", out_features,
                 ", bias=", params_.contains("bias") && params_["bias"].defined() ? "True" : "False");
}

}  // namespace shanshui::nn
