#include "nn/normalization.h"

#include "core/ops.h"
#include "nn/functional.h"
#include "nn/init.h"

namespace shanshui::nn {

LayerNorm::LayerNorm(Shape shape, double eps, bool affine, bool bias, DType dtype)
    : Module("LayerNorm"), normalized_shape(std::move(shape)), eps(eps), elementwise_affine(affine) {
  checked_numel(normalized_shape, "LayerNorm");
  if (affine) {
    register_parameter("weight", empty(normalized_shape, dtype));
    register_parameter("bias", bias ? empty(normalized_shape, dtype) : Tensor());
  }
  reset_parameters();
}

void LayerNorm::reset_parameters() {
  if (!elementwise_affine) return;
  init::ones_(params_["weight"]);
  if (params_["bias"].defined()) init::zeros_(params_["bias"]);
}

Tensor LayerNorm::forward(const Tensor& x) { return functional::layer_norm(x, normalized_shape, weight(), bias(), eps); }

std::string LayerNorm::extra_repr() const {
  std::string s = "(";
  for (size_t i = 0; i < normalized_shape.size(); ++i) s += (i ? ", " : "") + std::to_string(normalized_shape[i]);
  if (normalized_shape.size() == 1) s += ",";
  return s + cat_str("), eps=", eps, ", elementwise_affine=", elementwise_affine ? "True" : "False",
                     ", bias=", bias().defined() ? "True" : "False");
}

}  // namespace shanshui::nn
