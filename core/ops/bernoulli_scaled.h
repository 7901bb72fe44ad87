// bernoulli(like, p) * value in one pass, from the same draws as bernoulli(like, p):
// dropout's scaled keep-mask without a separate multiply (core/ops/random.cpp).
#pragma once
#include "core/tensor.h"

namespace shanshui {

Tensor bernoulli_scaled(const Tensor& like, double p, double value);

}  // namespace shanshui
