// LayerNorm over the trailing normalized_shape dims (fused kernel in nn/functional/layer_norm.cpp).
#pragma once
#include "nn/module.h"

namespace shanshui::nn {

class LayerNorm : public Module {
 public:
  LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true, bool bias = true,
            DType dtype = DType::Float32);
  explicit LayerNorm(int64_t d, double eps = 1e-5) : LayerNorm(Shape{d}, eps) {}
  Tensor forward(const Tensor& x) override;
  void reset_parameters();
  std::string extra_repr() const override;
  Tensor weight() const { return params_.contains("weight") ? params_["weight"] : Tensor(); }
  Tensor bias() const { return params_.contains("bias") ? params_["bias"] : Tensor(); }
  Shape normalized_shape;
  double eps;
  bool elementwise_affine;
};

}  // namespace shanshui::nn
