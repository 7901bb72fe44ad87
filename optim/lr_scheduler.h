// Learning-rate schedules. Each sets every group's "lr" from the group's
// initial lr and the epoch counter (closed forms), like PyTorch's schedulers;
// the constructor applies epoch 0, and step() advances by one.
#pragma once
#include <functional>
#include <vector>

#include "optim/optimizer.h"

namespace shanshui::optim {

class LRScheduler {
 public:
  explicit LRScheduler(Optimizer& opt);
  virtual ~LRScheduler() = default;
  void step();
  int64_t last_epoch() const { return last_epoch_; }
  std::vector<double> get_last_lr() const { return last_lr_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  // Resume: restore the epoch counter and base lrs (from a checkpoint) and set the groups' lr.
  void load_state(int64_t last_epoch, const std::vector<double>& base_lrs);

 protected:
  // The lr of group `g` at `epoch` given its base lr.
  virtual double lr_at(int64_t epoch, size_t g, double base_lr) const = 0;
  void apply();  // call at the end of the derived constructor (epoch 0)
  Optimizer& opt_;
  std::vector<double> base_lrs_, last_lr_;
  int64_t last_epoch_ = 0;
};

class LambdaLR : public LRScheduler {
 public:
  LambdaLR(Optimizer& opt, std::function<double(int64_t)> lr_lambda);
 protected:
  double lr_at(int64_t e, size_t, double base) const override { return base * f_(e); }
  std::function<double(int64_t)> f_;
};

class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& opt, int64_t step_size, double gamma = 0.1);
 protected:
  double lr_at(int64_t e, size_t, double base) const override;
  int64_t step_size_;
  double gamma_;
};

class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& opt, double gamma);
 protected:
  double lr_at(int64_t e, size_t, double base) const override;
  double gamma_;
};

class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& opt, int64_t T_max, double eta_min = 0.0);
 protected:
  double lr_at(int64_t e, size_t, double base) const override;
  int64_t T_max_;
  double eta_min_;
};

// Linear warmup from 0 to the base lr over warmup_steps, then cosine decay to
// eta_min at total_steps (lr(e) = base * e / warmup for e < warmup).
class WarmupCosineLR : public LRScheduler {
 public:
  WarmupCosineLR(Optimizer& opt, int64_t warmup_steps, int64_t total_steps, double eta_min = 0.0);
 protected:
  double lr_at(int64_t e, size_t, double base) const override;
  int64_t warmup_, total_;
  double eta_min_;
};

// "Attention is all you need": lr = base * d_model^-0.5 * min(s^-0.5, s * warmup^-1.5)
// with s = epoch + 1 (set the optimizer's lr to 1 to get the paper's values).
class InverseSqrtLR : public LRScheduler {
 public:
  InverseSqrtLR(Optimizer& opt, int64_t d_model, int64_t warmup_steps = 4000);
 protected:
  double lr_at(int64_t e, size_t, double base) const override;
  int64_t d_model_, warmup_;
};

// ---- gradient clipping ------------------------------------------------------
// Scales the gradients so their total norm is at most max_norm; returns the total norm
// (norm_type may be INFINITY). error_if_nonfinite throws on a nan/inf total norm.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace shanshui::optim
