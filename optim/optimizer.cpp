#include "optim/optimizer.h"

#include <unordered_set>

#include "autograd/grad_mode.h"
#include "core/ops.h"

namespace shanshui::optim {

Optimizer::Optimizer(std::vector<ParamGroup> groups, Options defaults, std::string name)
    : name_(std::move(name)), defaults_(std::move(defaults)) {
  SS_CHECK(!groups.empty(), ValueError, name_, ": optimizer got an empty parameter list");
  for (auto& g : groups) add_param_group(std::move(g));
}

void Optimizer::add_param_group(ParamGroup group) {
  std::unordered_set<const TensorImpl*> seen;
  for (auto& g : groups_)
    for (auto& p : g.params) seen.insert(p.impl());
  for (size_t i = 0; i < group.params.size(); ++i) {
    const Tensor& p = group.params[i];
    SS_CHECK(p.defined(), ValueError, name_, ": parameter ", i, " is undefined");
    SS_CHECK(p.is_leaf(), ValueError, name_, ": can't optimize a non-leaf Tensor (parameter ", i, ", shape ",
             p.shape(), ")");
    SS_CHECK(p.is_floating_point(), TypeError, name_, ": parameter ", i, " has dtype ", dtype_name(p.dtype()),
             "; only floating-point tensors can be optimized");
    SS_CHECK(seen.insert(p.impl()).second, ValueError, name_,
             ": some parameters appear in more than one parameter group");
  }
  for (auto& [k, v] : defaults_) group.options.emplace(k, v);  // keeps the group's own values
  groups_.push_back(std::move(group));
}

double Optimizer::opt(const Options& o, const char* key) const {
  auto it = o.find(key);
  SS_CHECK(it != o.end(), ValueError, name_, ": parameter group has no option '", key, "'");
  return it->second;
}

void Optimizer::step() {
  autograd::NoGradGuard ng;
  for (auto& g : groups_)
    for (auto& p : g.params) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      SS_CHECK(grad.shape() == p.shape(), ValueError, name_, ": gradient of shape ", grad.shape(),
               " does not match its parameter of shape ", p.shape());
      Tensor gc = grad.dtype() == p.dtype() ? grad.contiguous() : grad.to(p.dtype()).contiguous();
      SS_CHECK(p.is_contiguous(), ValueError, name_, ": parameters must be contiguous (shape ", p.shape(), ")");
      update(p, gc, state_[p.impl()], g.options);
      p.storage()->bump_version();
    }
}

void Optimizer::zero_grad(bool set_to_none) {
  for (auto& g : groups_)
    for (auto& p : g.params) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      if (set_to_none) {
        p.set_grad(Tensor());
      } else {
        autograd::NoGradGuard ng;
        grad.zero_();
      }
    }
}

OptimizerStateDict Optimizer::state_dict() const {
  OptimizerStateDict sd;
  int64_t idx = 0;
  for (auto& g : groups_) {
    sd.param_groups.push_back(g.options);
    std::vector<int64_t> ids;
    for (auto& p : g.params) {
      auto it = state_.find(p.impl());
      if (it != state_.end()) {
        ParamState copy;
        copy.step = it->second.step;
        for (auto& [k, t] : it->second.tensors) copy.tensors[k] = t.detach().clone();
        sd.state[idx] = std::move(copy);
      }
      ids.push_back(idx++);
    }
    sd.group_params.push_back(std::move(ids));
  }
  return sd;
}

void Optimizer::load_state_dict(const OptimizerStateDict& sd) {
  SS_CHECK(sd.param_groups.size() == groups_.size(), ValueError, name_,
           ".load_state_dict: loaded state dict has a different number of parameter groups (",
           sd.param_groups.size(), " vs ", groups_.size(), ")");
  std::vector<Tensor*> flat;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    size_t n = sd.group_params.size() > gi ? sd.group_params[gi].size() : 0;
    SS_CHECK(n == groups_[gi].params.size(), ValueError, name_, ".load_state_dict: group ", gi, " has ", n,
             " parameters in the state dict but ", groups_[gi].params.size(), " in the optimizer");
    for (auto& p : groups_[gi].params) flat.push_back(&p);
  }
  for (auto& [idx, st] : sd.state) {
    SS_CHECK(idx >= 0 && idx < int64_t(flat.size()), ValueError, name_, ".load_state_dict: state for parameter ", idx,
             " but the optimizer has ", flat.size());
    for (auto& [k, t] : st.tensors)
      SS_CHECK(t.shape() == flat[idx]->shape(), ValueError, name_, ".load_state_dict: state '", k, "' of parameter ",
               idx, " has shape ", t.shape(), " but the parameter has shape ", flat[idx]->shape());
  }
  state_.clear();
  for (auto& [idx, st] : sd.state) {
    ParamState copy;
    copy.step = st.step;
    for (auto& [k, t] : st.tensors) copy.tensors[k] = t.detach().to(flat[idx]->dtype(), true);
    state_[flat[idx]->impl()] = std::move(copy);
  }
  for (size_t gi = 0; gi < groups_.size(); ++gi) groups_[gi].options = sd.param_groups[gi];
}

}  // namespace shanshui::optim
