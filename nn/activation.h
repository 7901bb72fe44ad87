// Activation modules: thin wrappers over the elementwise ops, with PyTorch's defaults.
#pragma once
#include <optional>
#include <string>

#include "core/ops.h"
#include "nn/module.h"

namespace shanshui::nn {

class ReLU : public Module {
 public:
  ReLU() : Module("ReLU") {}
  Tensor forward(const Tensor& x) override { return relu(x); }
  std::string extra_repr() const override { return inplace ? "inplace=True" : ""; }
  bool inplace = false;  // PyTorch's flag, shown in repr; the result is computed out of place either way
};

class GELU : public Module {
 public:
  explicit GELU(std::string approximate = "none") : Module("GELU"), approximate(std::move(approximate)) {
    SS_CHECK(this->approximate == "none" || this->approximate == "tanh", ValueError,
             "GELU: approximate must be 'none' or 'tanh', got '", this->approximate, "'");
  }
  Tensor forward(const Tensor& x) override { return gelu(x, approximate); }
  std::string extra_repr() const override { return "approximate='" + approximate + "'"; }
  std::string approximate;
};

class ELU : public Module {
 public:
  explicit ELU(double alpha = 1.0) : Module("ELU"), alpha(alpha) {}
  Tensor forward(const Tensor& x) override { return elu(x, alpha); }
  std::string extra_repr() const override { return cat_str("alpha=", alpha, inplace ? ", inplace=True" : ""); }
  double alpha;
  bool inplace = false;  // as ReLU::inplace
};

class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : Module("LeakyReLU"), negative_slope(negative_slope) {}
  Tensor forward(const Tensor& x) override { return leaky_relu(x, negative_slope); }
  std::string extra_repr() const override {
    return cat_str("negative_slope=", negative_slope, inplace ? ", inplace=True" : "");
  }
  double negative_slope;
  bool inplace = false;  // as ReLU::inplace
};

class Tanh : public Module {
 public:
  Tanh() : Module("Tanh") {}
  Tensor forward(const Tensor& x) override { return tanh(x); }
};

class Sigmoid : public Module {
 public:
  Sigmoid() : Module("Sigmoid") {}
  Tensor forward(const Tensor& x) override { return sigmoid(x); }
};

class Softmax : public Module {
 public:
  // dim unset: PyTorch's legacy implicit choice (0 for 0-, 1- and 3-d inputs, else 1).
  explicit Softmax(std::optional<int64_t> dim = std::nullopt) : Module("Softmax"), dim(dim) {}
  Tensor forward(const Tensor& x) override {
    return softmax(x, dim ? *dim : (x.dim() == 0 || x.dim() == 1 || x.dim() == 3 ? 0 : 1));
  }
  std::string extra_repr() const override { return dim ? cat_str("dim=", *dim) : std::string("dim=None"); }
  std::optional<int64_t> dim;
};

}  // namespace shanshui::nn
