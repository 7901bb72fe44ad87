#include "optim/lr_scheduler.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "core/ops.h"

namespace shanshui::optim {

LRScheduler::LRScheduler(Optimizer& opt) : opt_(opt) {
  for (auto& g : opt_.param_groups()) {
    // "initial_lr" is kept in the group, as PyTorch does, so a new scheduler on a resumed optimizer keeps the base.
    auto it = g.options.find("initial_lr");
    if (it == g.options.end()) it = g.options.emplace("initial_lr", g.options.at("lr")).first;
    base_lrs_.push_back(it->second);
  }
}

void LRScheduler::apply() {
  last_lr_.clear();
  auto& groups = opt_.param_groups();
  for (size_t i = 0; i < groups.size(); ++i) {
    double lr = lr_at(last_epoch_, i, base_lrs_[i]);
    groups[i].options["lr"] = lr;
    last_lr_.push_back(lr);
  }
}

void LRScheduler::load_state(int64_t last_epoch, const std::vector<double>& base_lrs) {
  SS_CHECK(base_lrs.size() == opt_.param_groups().size(), ValueError, "LRScheduler.load_state: ", base_lrs.size(),
           " base lrs for an optimizer with ", opt_.param_groups().size(), " parameter groups");
  SS_CHECK(last_epoch >= 0, ValueError, "LRScheduler.load_state: last_epoch must be >= 0, got ", last_epoch);
  last_epoch_ = last_epoch;
  base_lrs_ = base_lrs;
  auto& groups = opt_.param_groups();
  for (size_t i = 0; i < groups.size(); ++i) groups[i].options["initial_lr"] = base_lrs_[i];
  apply();
}

void LRScheduler::step() {
  ++last_epoch_;
  apply();
}

LambdaLR::LambdaLR(Optimizer& opt, std::function<double(int64_t)> f) : LRScheduler(opt), f_(std::move(f)) {
  SS_CHECK(f_ != nullptr, ValueError, "LambdaLR: lr_lambda must be callable");
  apply();
}

StepLR::StepLR(Optimizer& opt, int64_t step_size, double gamma) : LRScheduler(opt), step_size_(step_size), gamma_(gamma) {
  SS_CHECK(step_size > 0, ValueError, "StepLR: step_size must be positive, got ", step_size);
  apply();
}
double StepLR::lr_at(int64_t e, size_t, double base) const {
  return base * std::pow(gamma_, double(e / step_size_));
}

ExponentialLR::ExponentialLR(Optimizer& opt, double gamma) : LRScheduler(opt), gamma_(gamma) { apply(); }
double ExponentialLR::lr_at(int64_t e, size_t, double base) const { return base * std::pow(gamma_, double(e)); }

CosineAnnealingLR::CosineAnnealingLR(Optimizer& opt, int64_t T_max, double eta_min)
    : LRScheduler(opt), T_max_(T_max), eta_min_(eta_min) {
  SS_CHECK(T_max > 0, ValueError, "CosineAnnealingLR: T_max must be positive, got ", T_max);
  apply();
}
double CosineAnnealingLR::lr_at(int64_t e, size_t, double base) const {
  return eta_min_ + (base - eta_min_) * (1 + std::cos(M_PI * double(e) / double(T_max_))) / 2;
}

WarmupCosineLR::WarmupCosineLR(Optimizer& opt, int64_t warmup, int64_t total, double eta_min)
    : LRScheduler(opt), warmup_(warmup), total_(total), eta_min_(eta_min) {
  SS_CHECK(warmup >= 0 && total > warmup, ValueError, "WarmupCosineLR: need 0 <= warmup_steps < total_steps, got ",
           warmup, " and ", total);
  apply();
}
double WarmupCosineLR::lr_at(int64_t e, size_t, double base) const {
  if (e < warmup_) return base * double(e) / double(warmup_);
  double progress = std::min(1.0, double(e - warmup_) / double(total_ - warmup_));
  return eta_min_ + (base - eta_min_) * 0.5 * (1 + std::cos(M_PI * progress));
}

InverseSqrtLR::InverseSqrtLR(Optimizer& opt, int64_t d_model, int64_t warmup)
    : LRScheduler(opt), d_model_(d_model), warmup_(warmup) {
  SS_CHECK(d_model > 0 && warmup > 0, ValueError, "InverseSqrtLR: d_model and warmup_steps must be positive, got ",
           d_model, " and ", warmup);
  apply();
}
double InverseSqrtLR::lr_at(int64_t e, size_t, double base) const {
  double s = double(e + 1);
  return base * std::pow(double(d_model_), -0.5) * std::min(std::pow(s, -0.5), s * std::pow(double(warmup_), -1.5));
}

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type, bool error_if_nonfinite) {
  autograd::NoGradGuard ng;
  std::vector<Tensor> grads;
  for (auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return 0.0;
  double total = 0.0;
  if (std::isinf(norm_type)) {
    for (auto& g : grads) total = std::max(total, amax(g.abs()).item_double());
  } else {
    for (auto& g : grads) total += pow(g.abs().to(DType::Float64), norm_type).sum().item_double();
    total = std::pow(total, 1.0 / norm_type);
  }
  SS_CHECK(!(error_if_nonfinite && !std::isfinite(total)), RuntimeError, "clip_grad_norm_: the total norm of order ",
           norm_type, " for gradients from `parameters` is non-finite, so it cannot be clipped");
  double coef = max_norm / (total + 1e-6);
  if (coef < 1.0)
    for (auto& g : grads) g.mul_(coef);
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  autograd::NoGradGuard ng;
  for (auto& p : params) {
    Tensor g = p.grad();
    if (g.defined()) g.clamp_(-clip_value, clip_value);
  }
}

}  // namespace shanshui::optim
