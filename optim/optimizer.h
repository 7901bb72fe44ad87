// Optimizer base: parameter groups with their own options (a name -> number
// map, like PyTorch's param_group dicts, so schedulers can set "lr"), state
// created per parameter on first use, zero_grad, and state_dict round trips.
#pragma once
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/tensor.h"

namespace shanshui::optim {

using Options = std::map<std::string, double>;

struct ParamGroup {
  std::vector<Tensor> params;
  Options options;
};

// Per-parameter state: a step count and named tensors (exp_avg, momentum_buffer, ...).
struct ParamState {
  int64_t step = 0;
  std::map<std::string, Tensor> tensors;
};

// The optimizer's state in PyTorch's layout: parameters are numbered in group order.
struct OptimizerStateDict {
  std::map<int64_t, ParamState> state;
  std::vector<Options> param_groups;            // options of each group
  std::vector<std::vector<int64_t>> group_params;  // parameter numbers of each group
};

class Optimizer {
 public:
  Optimizer(std::vector<ParamGroup> groups, Options defaults, std::string name);
  virtual ~Optimizer() = default;

  // One update of every parameter that has a gradient (runs under no-grad).
  void step();
  void zero_grad(bool set_to_none = true);
  void add_param_group(ParamGroup group);
  std::vector<ParamGroup>& param_groups() { return groups_; }
  const Options& defaults() const { return defaults_; }
  ParamState& state(const Tensor& p) { return state_[p.impl()]; }
  bool has_state(const Tensor& p) const { return state_.count(p.impl()) != 0; }
  // The state of p, or nullptr before its first step (the live buffers, not copies).
  const ParamState* find_state(const Tensor& p) const {
    auto it = state_.find(p.impl());
    return it == state_.end() ? nullptr : &it->second;
  }
  void clear_state() { state_.clear(); }
  const std::string& name() const { return name_; }

  OptimizerStateDict state_dict() const;
  void load_state_dict(const OptimizerStateDict& sd);

 protected:
  // Update one parameter with gradient g (contiguous, same dtype) using its group's options.
  virtual void update(Tensor& param, const Tensor& grad, ParamState& st, const Options& o) = 0;
  double opt(const Options& o, const char* key) const;

  std::string name_;
  std::vector<ParamGroup> groups_;
  Options defaults_;
  std::unordered_map<const TensorImpl*, ParamState> state_;
};

}  // namespace shanshui::optim
