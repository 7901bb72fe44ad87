// Factory functions (PyTorch names and defaults; the default dtype is float32).
#pragma once
#include <optional>
#include <vector>

#include "core/tensor.h"

namespace shanshui {

Tensor zeros(const Shape& shape, DType dtype = DType::Float32);
Tensor ones(const Shape& shape, DType dtype = DType::Float32);
Tensor full(const Shape& shape, Scalar value, std::optional<DType> dtype = std::nullopt);
Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, Scalar value);
// A 0-d tensor holding `value`.
Tensor scalar_tensor(Scalar value, DType dtype);
// arange(start, end, step): int64 when all three are integers, float32 otherwise.
Tensor arange(Scalar end, std::optional<DType> dtype = std::nullopt);
Tensor arange(Scalar start, Scalar end, Scalar step = 1, std::optional<DType> dtype = std::nullopt);
Tensor linspace(double start, double end, int64_t steps, DType dtype = DType::Float32);
Tensor eye(int64_t n, std::optional<int64_t> m = std::nullopt, DType dtype = DType::Float32);
// Copy values from a flat vector into a new tensor of `shape` and `dtype`.
Tensor from_vector(const std::vector<double>& values, const Shape& shape, DType dtype = DType::Float32);
Tensor from_vector(const std::vector<float>& values, const Shape& shape);
Tensor from_vector(const std::vector<int64_t>& values, const Shape& shape);
// All elements as doubles in row-major order (for tests and printing).
std::vector<double> to_vector(const Tensor& t);

}  // namespace shanshui
