// Conv2d and BatchNorm2d with PyTorch's parameters, buffers and init.
#pragma once
#include "nn/functional/vision.h"
#include "nn/module.h"

namespace shanshui::nn {

// weight [out, in / groups, kh, kw], bias [out]; kaiming_uniform(a = sqrt(5)) as torch.
class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, functional::Size2 kernel_size, functional::Size2 stride = {1, 1},
         functional::Size2 padding = {0, 0}, functional::Size2 dilation = {1, 1}, int64_t groups = 1,
         bool bias = true, DType dtype = DType::Float32);
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride = 1, int64_t padding = 0,
         int64_t dilation = 1, int64_t groups = 1, bool bias = true, DType dtype = DType::Float32)
      : Conv2d(in_channels, out_channels, functional::pair(kernel_size), functional::pair(stride),
               functional::pair(padding), functional::pair(dilation), groups, bias, dtype) {}
  Tensor forward(const Tensor& x) override;
  void reset_parameters();
  std::string extra_repr() const override;
  Tensor& weight() { return params_["weight"]; }
  Tensor& bias() { return params_["bias"]; }
  int64_t in_channels, out_channels;
  functional::Size2 kernel_size, stride, padding, dilation;
  int64_t groups;
};

// Buffers running_mean (0), running_var (1), num_batches_tracked (int64 0), as torch.
class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t num_features, double eps = 1e-5, std::optional<double> momentum = 0.1,
                       bool affine = true, bool track_running_stats = true, DType dtype = DType::Float32);
  Tensor forward(const Tensor& x) override;
  void reset_running_stats();
  void reset_parameters();
  std::string extra_repr() const override;
  int64_t num_features;
  double eps;
  std::optional<double> momentum;
  bool affine, track_running_stats;
};

}  // namespace shanshui::nn
