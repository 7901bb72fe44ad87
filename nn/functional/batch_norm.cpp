// Batch norm over every dim but channels (dim 1), composed from differentiable
// ops (the batch statistics are part of the graph in training, so their
// gradient is PyTorch's); running statistics are updated in place outside it.
#include "autograd/grad_mode.h"
#include "nn/functional/vision.h"

namespace shanshui::nn::functional {

Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, std::optional<double> momentum, double eps,
                  int64_t num_batches_tracked) {
  const char* op = "batch_norm";
  SS_CHECK(input.defined() && input.dim() >= 2, ValueError, op, ": expected an input with at least 2 dims [N, C, ...], got shape ",
           input.defined() ? input.shape() : Shape{});
  SS_CHECK(input.is_floating_point(), TypeError, op, ": expected a floating-point input, got ",
           dtype_name(input.dtype()));
  const int64_t C = input.size(1);
  for (auto [t, name] : {std::pair{&running_mean, "running_mean"}, {&running_var, "running_var"},
                         {&weight, "weight"}, {&bias, "bias"}})
    if (t->defined())
      SS_CHECK(t->dim() == 1 && t->size(0) == C, ValueError, op, ": ", name, " of shape ", t->shape(),
               " does not match the ", C, " channels of input shape ", input.shape());
  SS_CHECK(training || (running_mean.defined() && running_var.defined()), ValueError, op,
           ": running_mean and running_var are needed in eval mode");
  Dims red{0};
  Shape bshape(size_t(input.dim()), 1);
  bshape[1] = C;
  for (int64_t d = 2; d < input.dim(); ++d) red.push_back(d);
  const int64_t count = input.numel() / std::max<int64_t>(C, 1);
  Tensor mu, var;
  if (training) {
    SS_CHECK(count > 1, ValueError, op, ": expected more than 1 value per channel when training, got input of shape ",
             input.shape());
    mu = mean(input, red, true);
    Tensor c = sub(input, mu);
    var = mean(mul(c, c), red, true);  // biased, for normalising
    if (running_mean.defined()) {
      autograd::NoGradGuard ng;
      const double m = momentum ? *momentum : 1.0 / double(num_batches_tracked + 1);
      Tensor rm = running_mean, rv = running_var;
      rm.mul_(1.0 - m).add_(mu.detach().reshape({C}).to(rm.dtype()), m);
      Tensor unbiased = var.detach().reshape({C}).mul(double(count) / double(count - 1));
      rv.mul_(1.0 - m).add_(unbiased.to(rv.dtype()), m);
    }
  } else {
    mu = running_mean.reshape(bshape);
    var = running_var.reshape(bshape);
  }
  Tensor y = mul(sub(input, mu), rsqrt(add(var, eps)));
  if (weight.defined()) y = mul(y, weight.reshape(bshape));
  if (bias.defined()) y = add(y, bias.reshape(bshape));
  return y;
}

}  // namespace shanshui::nn::functional
