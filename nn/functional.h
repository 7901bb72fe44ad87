// nn.functional: the stateless forms of the layers and losses. The fused
// kernels (layer_norm, dropout, cross_entropy) live in nn/functional/*.cpp.
#pragma once
#include <optional>
#include <string>

#include "core/ops.h"
#include "nn/functional/attention.h"

namespace shanshui::nn::functional {

// ---- normalisation and regularisation ---------------------------------------
// Normalises over the trailing dims given by normalized_shape; saves mean and rstd for backward.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);
// Zeroes elements with probability p and scales the rest by 1/(1-p) when training.
Tensor dropout(const Tensor& x, double p = 0.5, bool training = true);

// ---- activations (same as the core ops, under torch.nn.functional names) ------
using shanshui::elu;
using shanshui::gelu;
using shanshui::leaky_relu;
using shanshui::linear;
using shanshui::log_softmax;
using shanshui::relu;
using shanshui::sigmoid;
using shanshui::softmax;
using shanshui::tanh;
using shanshui::embedding;
using shanshui::one_hot;

// ---- losses --------------------------------------------------------------------
// reduction: "mean", "sum" or "none".
// target: class indices (int64, [N] or [N, d...]) or class probabilities (same shape as input).
Tensor cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight = Tensor(),
                     int64_t ignore_index = -100, const std::string& reduction = "mean",
                     double label_smoothing = 0.0);
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const Tensor& weight = Tensor(),
                int64_t ignore_index = -100, const std::string& reduction = "mean");
Tensor mse_loss(const Tensor& input, const Tensor& target, const std::string& reduction = "mean");
Tensor l1_loss(const Tensor& input, const Tensor& target, const std::string& reduction = "mean");
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight = Tensor(),
                                        const std::string& reduction = "mean", const Tensor& pos_weight = Tensor());

}  // namespace shanshui::nn::functional

namespace shanshui::nn {
namespace F = functional;
}

// Graph attention, convolution, pooling and batch norm (nn/functional/*.h).
#include "nn/functional/graph.h"
#include "nn/functional/vision.h"
