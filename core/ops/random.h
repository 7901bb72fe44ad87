// Seeded random numbers. One manual_seed(s) seeds every generator the library
// uses (creation ops, dropout, init), so the same seed gives the same numbers.
#pragma once
#include <cstdint>
#include <optional>

#include "core/tensor.h"

namespace shanshui {

void manual_seed(uint64_t seed);
uint64_t initial_seed();

Tensor rand(const Shape& shape, DType dtype = DType::Float32);    // U[0, 1)
Tensor randn(const Shape& shape, DType dtype = DType::Float32);   // N(0, 1)
Tensor randint(int64_t low, int64_t high, const Shape& shape, DType dtype = DType::Int64);
Tensor rand_like(const Tensor& t);
Tensor randn_like(const Tensor& t);
Tensor randperm(int64_t n);
// Each element 1 with probability p (elementwise tensor or scalar p).
Tensor bernoulli(const Tensor& p);
Tensor bernoulli(const Tensor& like, double p);
// Draw `num_samples` indices per row of the (1-D or 2-D) non-negative weight tensor.
Tensor multinomial(const Tensor& probs, int64_t num_samples, bool replacement = false);

// In-place fills used by nn.init.
Tensor& uniform_(Tensor& t, double from = 0.0, double to = 1.0);
Tensor& normal_(Tensor& t, double mean = 0.0, double std = 1.0);

}  // namespace shanshui
