// Dropout: active in training mode only.
#pragma once
#include "nn/functional.h"
#include "nn/module.h"

namespace shanshui::nn {

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5) : Module("Dropout"), p(p) {
    SS_CHECK(p >= 0.0 && p <= 1.0, ValueError, "Dropout: probability has to be between 0 and 1, but got ", p);
  }
  Tensor forward(const Tensor& x) override { return functional::dropout(x, p, is_training()); }
  std::string extra_repr() const override { return cat_str("p=", p, ", inplace=", inplace ? "True" : "False"); }
  double p;
  bool inplace = false;  // PyTorch's flag, shown in repr; the result is computed out of place either way
};

}  // namespace shanshui::nn
