// Adam and AdamW (decoupled weight decay), with amsgrad; one fused pass per parameter.
#pragma once
#include "optim/optimizer.h"

namespace shanshui::optim {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool amsgrad = false;
  bool maximize = false;
  Options to_map() const;
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, AdamOptions o = {}) : Adam(std::vector<ParamGroup>{{std::move(params), {}}}, o) {}
  Adam(std::vector<ParamGroup> groups, AdamOptions o, bool decoupled = false, const char* name = "Adam");

 protected:
  void update(Tensor& p, const Tensor& g, ParamState& st, const Options& o) override;
  bool decoupled_;
};

// AdamW: weight decay applied to the parameter directly (p *= 1 - lr * wd), default 1e-2.
struct AdamWOptions : AdamOptions {
  AdamWOptions() { weight_decay = 1e-2; }
};

class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, AdamWOptions o = {})
      : AdamW(std::vector<ParamGroup>{{std::move(params), {}}}, o) {}
  AdamW(std::vector<ParamGroup> groups, AdamWOptions o) : Adam(std::move(groups), o, true, "AdamW") {}
};

}  // namespace shanshui::optim
