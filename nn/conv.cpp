#include "nn/conv.h"

#include <cmath>

#include "nn/init.h"

namespace shanshui::nn {

namespace F = functional;

Conv2d::Conv2d(int64_t in, int64_t out, F::Size2 k, F::Size2 s, F::Size2 p, F::Size2 d, int64_t g, bool bias,
               DType dtype)
    : Module("Conv2d"), in_channels(in), out_channels(out), kernel_size(k), stride(s), padding(p), dilation(d),
      groups(g) {
  SS_CHECK(g > 0, ValueError, "Conv2d: groups must be a positive integer, got ", g);
  SS_CHECK(in > 0 && out > 0 && in % g == 0 && out % g == 0, ValueError,
           "Conv2d: in_channels (", in, ") and out_channels (", out, ") must be positive and divisible by groups (", g, ")");
  SS_CHECK(k[0] > 0 && k[1] > 0, ValueError, "Conv2d: kernel_size must be positive, got (", k[0], ", ", k[1], ")");
  SS_CHECK(s[0] > 0 && s[1] > 0, ValueError, "Conv2d: stride must be positive, got (", s[0], ", ", s[1], ")");
  SS_CHECK(p[0] >= 0 && p[1] >= 0, ValueError, "Conv2d: padding must be non-negative, got (", p[0], ", ", p[1], ")");
  SS_CHECK(d[0] > 0 && d[1] > 0, ValueError, "Conv2d: dilation must be positive, got (", d[0], ", ", d[1], ")");
  register_parameter("weight", empty({out, in / g, k[0], k[1]}, dtype));
  register_parameter("bias", bias ? empty({out}, dtype) : Tensor());
  reset_parameters();
}

void Conv2d::reset_parameters() {
  init::kaiming_uniform_(weight(), std::sqrt(5.0));
  if (bias().defined()) {
    const double fan_in = double(weight().size(1) * kernel_size[0] * kernel_size[1]);
    const double bound = 1.0 / std::sqrt(fan_in);
    init::uniform_(bias(), -bound, bound);
  }
}

Tensor Conv2d::forward(const Tensor& x) {
  return F::conv2d(x, weight(), bias(), stride, padding, dilation, groups);
}

std::string Conv2d::extra_repr() const {
  std::string r = cat_str(in_channels, ", ", out_channels, ", kernel_size=(", kernel_size[0], ", ", kernel_size[1],
                          "), stride=(", stride[0], ", ", stride[1], ")");
  if (padding != F::Size2{0, 0}) r += cat_str(", padding=(", padding[0], ", ", padding[1], ")");
  if (dilation != F::Size2{1, 1}) r += cat_str(", dilation=(", dilation[0], ", ", dilation[1], ")");
  if (groups != 1) r += cat_str(", groups=", groups);
  if (!params_.at(1).defined()) r += ", bias=False";
  return r;
}

BatchNorm2d::BatchNorm2d(int64_t n, double e, std::optional<double> m, bool aff, bool track, DType dtype)
    : Module("BatchNorm2d"), num_features(n), eps(e), momentum(m), affine(aff), track_running_stats(track) {
  SS_CHECK(n > 0, ValueError, "BatchNorm2d: num_features must be positive, got ", n);
  register_parameter("weight", aff ? empty({n}, dtype) : Tensor());
  register_parameter("bias", aff ? empty({n}, dtype) : Tensor());
  register_buffer("running_mean", track ? zeros({n}, dtype) : Tensor());
  register_buffer("running_var", track ? ones({n}, dtype) : Tensor());
  register_buffer("num_batches_tracked", track ? zeros({}, DType::Int64) : Tensor());
  reset_parameters();
}

void BatchNorm2d::reset_running_stats() {
  if (!track_running_stats) return;
  buffer("running_mean").zero_();
  buffer("running_var").fill_(1);
  buffer("num_batches_tracked").zero_();
}

void BatchNorm2d::reset_parameters() {
  reset_running_stats();
  if (affine) {
    init::ones_(parameter("weight"));
    init::zeros_(parameter("bias"));
  }
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  SS_CHECK(x.defined() && x.dim() == 4, ValueError, "BatchNorm2d: expected 4D input (got ", x.defined() ? x.dim() : 0,
           "D input of shape ", x.defined() ? x.shape() : Shape{}, ")");
  SS_CHECK(x.size(1) == num_features, ValueError, "BatchNorm2d: expected ", num_features,
           " channels, got input of shape ", x.shape());
  const bool use_batch = is_training() || !track_running_stats;
  int64_t tracked = 0;
  if (is_training() && track_running_stats) {
    Tensor& nbt = buffer("num_batches_tracked");
    tracked = int64_t(nbt.item_double());
    nbt.add_(1);
  }
  Tensor rm = track_running_stats && (is_training() || !use_batch) ? buffer("running_mean") : Tensor();
  Tensor rv = track_running_stats && (is_training() || !use_batch) ? buffer("running_var") : Tensor();
  return F::batch_norm(x, rm, rv, parameter("weight"), parameter("bias"), use_batch, momentum, eps, tracked);
}

std::string BatchNorm2d::extra_repr() const {
  return cat_str(num_features, ", eps=", eps, ", momentum=", momentum ? cat_str(*momentum) : std::string("None"),
                 ", affine=", affine ? "True" : "False", ", track_running_stats=",
                 track_running_stats ? "True" : "False");
}

}  // namespace shanshui::nn
