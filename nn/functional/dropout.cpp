#include "autograd/grad_mode.h"
#include "core/ops/bernoulli_scaled.h"
#include "nn/functional.h"

namespace shanshui::nn::functional {

Tensor dropout(const Tensor& x, double p, bool training) {
  SS_CHECK(p >= 0.0 && p <= 1.0, ValueError, "dropout: probability has to be between 0 and 1, but got ", p);
  if (!training || p == 0.0) return x;
  SS_CHECK(x.is_floating_point(), TypeError, "dropout: expected a floating-point input, got ", dtype_name(x.dtype()));
  Tensor scaled_mask;
  {
    autograd::NoGradGuard ng;
    // p == 1 drops everything (scale would be infinite; the mask is all zeros).
    // One pass for the scaled mask (not a 0/1 mask, then a multiply): same draws, same values.
    scaled_mask = p == 1.0 ? zeros_like(x) : bernoulli_scaled(x.detach(), 1.0 - p, 1.0 / (1.0 - p));
  }
  return x.mul(scaled_mask);
}

}  // namespace shanshui::nn::functional
