// RMSprop (optionally centered, with momentum), PyTorch's update order.
#pragma once
#include "optim/optimizer.h"

namespace shanshui::optim {

struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;
  bool maximize = false;
  Options to_map() const;
};

class RMSprop : public Optimizer {
 public:
  RMSprop(std::vector<Tensor> params, RMSpropOptions o = {})
      : RMSprop(std::vector<ParamGroup>{{std::move(params), {}}}, o) {}
  RMSprop(std::vector<ParamGroup> groups, RMSpropOptions o);

 protected:
  void update(Tensor& p, const Tensor& g, ParamState& st, const Options& o) override;
};

}  // namespace shanshui::optim
