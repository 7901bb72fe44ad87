// conv2d as im2col + GEMM: unfold the input into [N, C*kh*kw, L] columns and
// multiply by the weight matrix, one batched GEMM per group. The gradients come
// from unfold's backward (fold) and matmul's, so no separate conv backward.
#include "nn/functional/vision.h"

namespace shanshui::nn::functional {

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, Size2 stride, Size2 padding,
              Size2 dilation, int64_t groups) {
  const char* op = "conv2d";
  SS_CHECK(input.defined() && weight.defined(), ValueError, op, ": input or weight is undefined");
  SS_CHECK(input.dim() == 3 || input.dim() == 4, ValueError, op,
           ": expected a 3-D [C, H, W] or 4-D [N, C, H, W] input, got shape ", input.shape());
  SS_CHECK(weight.dim() == 4, ValueError, op, ": expected a 4-D weight [out, in / groups, kh, kw], got shape ",
           weight.shape());
  SS_CHECK(groups > 0, ValueError, op, ": groups must be positive, got ", groups);
  SS_CHECK(input.dtype() == weight.dtype(), TypeError, op, ": input (", dtype_name(input.dtype()), ") and weight (",
           dtype_name(weight.dtype()), ") must have the same dtype");
  Tensor x = input.dim() == 3 ? input.unsqueeze(0) : input;
  const int64_t N = x.size(0), C = x.size(1), O = weight.size(0);
  SS_CHECK(C % groups == 0 && O % groups == 0 && weight.size(1) * groups == C, ValueError, op, ": weight of shape ",
           weight.shape(), " with groups=", groups, " expects input with ", weight.size(1) * groups,
           " channels (and out channels divisible by groups), got input of shape ", input.shape());
  if (bias.defined())
    SS_CHECK(bias.dim() == 1 && bias.size(0) == O, ValueError, op, ": bias of shape ", bias.shape(),
             " does not match the weight's ", O, " output channels");
  const int64_t kh = weight.size(2), kw = weight.size(3);
  Tensor cols = unfold(x, {kh, kw}, dilation, padding, stride);  // [N, C*kh*kw, L]; checks the sizes
  const int64_t L = cols.size(2), OH = (x.size(2) + 2 * padding[0] - dilation[0] * (kh - 1) - 1) / stride[0] + 1;
  const int64_t OW = L / OH;
  Tensor out;
  if (groups == 1) {
    out = matmul(weight.reshape({O, C * kh * kw}), cols);  // [N, O, L]
  } else {
    const int64_t G = groups, Kg = C / G * kh * kw;
    out = matmul(weight.reshape({G, O / G, Kg}), cols.reshape({N, G, Kg, L})).reshape({N, O, L});
  }
  out = out.reshape({N, O, OH, OW});
  if (bias.defined()) out = add(out, bias.reshape({1, O, 1, 1}));
  return input.dim() == 3 ? out.squeeze(0) : out;
}

}  // namespace shanshui::nn::functional
