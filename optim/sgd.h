// SGD with momentum, dampening, Nesterov and weight decay (PyTorch's update order).
#pragma once
#include "optim/optimizer.h"

namespace shanshui::optim {

struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
  bool maximize = false;
  Options to_map() const;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, SGDOptions o = {}) : SGD(std::vector<ParamGroup>{{std::move(params), {}}}, o) {}
  SGD(std::vector<ParamGroup> groups, SGDOptions o);

 protected:
  void update(Tensor& p, const Tensor& g, ParamState& st, const Options& o) override;
};

}  // namespace shanshui::optim
