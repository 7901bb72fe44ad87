#include "nn/init.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "core/ops.h"

namespace shanshui::nn::init {

double calculate_gain(const std::string& nl, double param) {
  if (nl == "linear" || nl == "conv1d" || nl == "conv2d" || nl == "conv3d" || nl == "sigmoid" || nl == "identity")
    return 1.0;
  if (nl == "tanh") return 5.0 / 3.0;
  if (nl == "relu") return std::sqrt(2.0);
  if (nl == "leaky_relu") return std::sqrt(2.0 / (1.0 + param * param));
  if (nl == "selu") return 3.0 / 4.0;
  throw ValueError(cat_str("calculate_gain: unsupported nonlinearity '", nl, "'"));
}

std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& t) {
  SS_CHECK(t.dim() >= 2, ValueError, "init: fan in and fan out can not be computed for a tensor with fewer than 2 "
           "dimensions (shape ", t.shape(), ")");
  int64_t receptive = 1;
  for (int64_t d = 2; d < t.dim(); ++d) receptive *= t.size(d);
  return {t.size(1) * receptive, t.size(0) * receptive};
}

// Initialisers write into parameters (leaves that require grad): no history, as torch.no_grad().
Tensor& uniform_(Tensor& t, double a, double b) {
  autograd::NoGradGuard ng;
  return shanshui::uniform_(t, a, b);
}

Tensor& normal_(Tensor& t, double mean, double std) {
  autograd::NoGradGuard ng;
  return shanshui::normal_(t, mean, std);
}

Tensor& trunc_normal_(Tensor& t, double mean, double std, double a, double b) {
  SS_CHECK(a < b, ValueError, "trunc_normal_: expected a < b, got a=", a, ", b=", b);
  autograd::NoGradGuard ng;
  // Redraw the samples that fall outside [a, b] until none do (rejection
  // sampling gives exactly the truncated distribution).
  Tensor fresh = randn(t.shape(), t.dtype()).mul(std).add(mean);
  for (int round = 0; round < 1000; ++round) {
    Tensor outside = logical_or(lt(fresh, a), gt(fresh, b));
    if (!any(outside).item<bool>()) break;
    fresh = where(outside, randn(t.shape(), t.dtype()).mul(std).add(mean), fresh);
  }
  t.copy_(clamp(fresh, a, b));
  return t;
}

Tensor& constant_(Tensor& t, double value) {
  autograd::NoGradGuard ng;
  return t.fill_(value);
}
Tensor& zeros_(Tensor& t) { return constant_(t, 0.0); }
Tensor& ones_(Tensor& t) { return constant_(t, 1.0); }

Tensor& xavier_uniform_(Tensor& t, double gain) {
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  double std = gain * std::sqrt(2.0 / double(fan_in + fan_out));
  double bound = std::sqrt(3.0) * std;
  return init::uniform_(t, -bound, bound);
}

Tensor& xavier_normal_(Tensor& t, double gain) {
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  return init::normal_(t, 0.0, gain * std::sqrt(2.0 / double(fan_in + fan_out)));
}

namespace {
double kaiming_std(const Tensor& t, double a, const std::string& mode, const std::string& nonlinearity) {
  SS_CHECK(mode == "fan_in" || mode == "fan_out", ValueError, "kaiming init: mode must be 'fan_in' or 'fan_out', got '",
           mode, "'");
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  int64_t fan = mode == "fan_in" ? fan_in : fan_out;
  SS_CHECK(fan > 0, ValueError, "kaiming init: initializing a zero-element tensor of shape ", t.shape());
  return calculate_gain(nonlinearity, a) / std::sqrt(double(fan));
}
}  // namespace

Tensor& kaiming_uniform_(Tensor& t, double a, const std::string& mode, const std::string& nonlinearity) {
  if (t.numel() == 0) return t;  // PyTorch warns and does nothing
  double bound = std::sqrt(3.0) * kaiming_std(t, a, mode, nonlinearity);
  return init::uniform_(t, -bound, bound);
}

Tensor& kaiming_normal_(Tensor& t, double a, const std::string& mode, const std::string& nonlinearity) {
  if (t.numel() == 0) return t;
  return init::normal_(t, 0.0, kaiming_std(t, a, mode, nonlinearity));
}

}  // namespace shanshui::nn::init
