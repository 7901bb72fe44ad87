// Convolution, patches, pooling and batch norm in functional form, with
// torch.nn.functional's names, argument orders and defaults. Sizes are
// (height, width) pairs; a single int means the same for both.
#pragma once
#include <array>
#include <optional>

#include "core/ops.h"

namespace shanshui::nn::functional {

using Size2 = std::array<int64_t, 2>;
inline Size2 pair(int64_t v) { return {v, v}; }

// im2col: input [N, C, H, W] (or [C, H, W]) -> [N, C * kh * kw, L] with L the number
// of kernel positions; rows ordered (c, ki, kj) as torch. Backward is fold.
Tensor unfold(const Tensor& input, Size2 kernel_size, Size2 dilation = {1, 1}, Size2 padding = {0, 0},
              Size2 stride = {1, 1});
// col2im: sums [N, C * kh * kw, L] blocks back into [N, C, output_size]. Backward is unfold.
Tensor fold(const Tensor& input, Size2 output_size, Size2 kernel_size, Size2 dilation = {1, 1},
            Size2 padding = {0, 0}, Size2 stride = {1, 1});

// input [N, C, H, W] (or [C, H, W]), weight [O, C / groups, kh, kw], bias [O]:
// unfold + one batched GEMM per group.
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(), Size2 stride = {1, 1},
              Size2 padding = {0, 0}, Size2 dilation = {1, 1}, int64_t groups = 1);

// stride empty = kernel_size (torch's default). Indices are flat h * W + w per plane, as torch.
std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& input, Size2 kernel_size,
                                                  std::optional<Size2> stride = std::nullopt,
                                                  Size2 padding = {0, 0}, Size2 dilation = {1, 1},
                                                  bool ceil_mode = false);
Tensor max_pool2d(const Tensor& input, Size2 kernel_size, std::optional<Size2> stride = std::nullopt,
                  Size2 padding = {0, 0}, Size2 dilation = {1, 1}, bool ceil_mode = false);
Tensor avg_pool2d(const Tensor& input, Size2 kernel_size, std::optional<Size2> stride = std::nullopt,
                  Size2 padding = {0, 0}, bool ceil_mode = false, bool count_include_pad = true,
                  std::optional<int64_t> divisor_override = std::nullopt);
Tensor adaptive_avg_pool2d(const Tensor& input, Size2 output_size);

// Normalises over every dim but 1 (channels). training: batch statistics, and the
// running ones (if defined) are updated in place with momentum (nullopt: cumulative
// average, as torch's momentum=None) using the unbiased variance; otherwise the running ones are used.
Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight = Tensor(), const Tensor& bias = Tensor(), bool training = false,
                  std::optional<double> momentum = 0.1, double eps = 1e-5, int64_t num_batches_tracked = 0);

}  // namespace shanshui::nn::functional
