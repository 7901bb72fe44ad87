// Linear (y = x W^T + b, weight [out, in] as PyTorch) and Identity.
#pragma once
#include "nn/module.h"

namespace shanshui::nn {

struct LinearOptions {
  int64_t in_features, out_features;
  bool bias = true;
  DType dtype = DType::Float32;
};

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true, DType dtype = DType::Float32);
  explicit Linear(const LinearOptions& o) : Linear(o.in_features, o.out_features, o.bias, o.dtype) {}
  Tensor forward(const Tensor& x) override;
  void reset_parameters();
  std::string extra_repr() const override;
  // Parameters are read from the registry on each call, so re-assigning one
  // (weight tying from Python, load_state_dict) is always seen.
  // By name, not slot: Python may delete and re-register them in another order.
  Tensor& weight() { return params_["weight"]; }
  Tensor& bias() { return params_["bias"]; }
  int64_t in_features, out_features;
};

class Identity : public Module {
 public:
  Identity() : Module("Identity") {}
  Tensor forward(const Tensor& x) override { return x; }
};

}  // namespace shanshui::nn
