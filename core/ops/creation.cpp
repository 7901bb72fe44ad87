// Factory functions.
#include <cmath>
#include <cstring>

#include "core/dispatch.h"
#include "core/ops.h"

namespace shanshui {

Tensor zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  std::memset(t.raw_data(), 0, size_t(t.numel()) * t.element_size());
  return t;
}

Tensor ones(const Shape& shape, DType dtype) { return full(shape, 1, dtype); }

Tensor full(const Shape& shape, Scalar value, std::optional<DType> dtype) {
  DType d = dtype ? *dtype : (value.kind == DType::Float64 ? default_float() : value.kind);
  Tensor t = empty(shape, d);
  SS_DISPATCH_ALL(d, "full", [&](auto tag) {
    using T = decltype(tag);
    T v = static_cast<T>(value.v);
    T* p = static_cast<T*>(t.raw_data());
    for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = v;
  });
  return t;
}

Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.dtype()); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype()); }
Tensor ones_like(const Tensor& t) { return full(t.shape(), 1, t.dtype()); }
Tensor full_like(const Tensor& t, Scalar value) { return full(t.shape(), value, t.dtype()); }
Tensor scalar_tensor(Scalar value, DType dtype) { return full({}, value, dtype); }

Tensor arange(Scalar end, std::optional<DType> dtype) { return arange(0, end, 1, dtype); }

Tensor arange(Scalar start, Scalar end, Scalar step, std::optional<DType> dtype) {
  SS_CHECK(step.v != 0, ValueError, "arange: step must be nonzero");
  SS_CHECK((end.v - start.v) / step.v >= 0 || end.v == start.v, ValueError, "arange: upper bound (", end.v,
           ") and lower bound (", start.v, ") inconsistent with step sign (", step.v, ")");
  bool all_int = start.kind != DType::Float64 && end.kind != DType::Float64 && step.kind != DType::Float64;
  DType d = dtype ? *dtype : (all_int ? DType::Int64 : default_float());
  int64_t n = static_cast<int64_t>(std::ceil((end.v - start.v) / step.v));
  if (n < 0) n = 0;
  Tensor t = empty({n}, d);
  SS_DISPATCH_NUMERIC(d, "arange", [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(t.raw_data());
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(start.v + double(i) * step.v);
  });
  return t;
}

Tensor linspace(double start, double end, int64_t steps, DType dtype) {
  SS_CHECK(steps >= 0, ValueError, "linspace: number of steps must be non-negative, got ", steps);
  Tensor t = empty({steps}, dtype);
  SS_DISPATCH_NUMERIC(dtype, "linspace", [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(t.raw_data());
    if (steps == 1) {
      p[0] = static_cast<T>(start);
      return;
    }
    double step = (end - start) / double(steps - 1);
    // Fill from both ends, as PyTorch does, so the last value is exactly `end`
    // (integer dtypes truncate the same double values).
    int64_t half = steps / 2;
    for (int64_t i = 0; i < steps; ++i)
      p[i] = static_cast<T>(i < half ? start + step * double(i) : end - step * double(steps - 1 - i));
  });
  return t;
}

Tensor eye(int64_t n, std::optional<int64_t> m, DType dtype) {
  int64_t cols = m ? *m : n;
  SS_CHECK(n >= 0 && cols >= 0, ValueError, "eye: sizes must be non-negative, got n=", n, ", m=", cols);
  Tensor t = zeros({n, cols}, dtype);
  SS_DISPATCH_ALL(dtype, "eye", [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(t.raw_data());
    for (int64_t i = 0; i < std::min(n, cols); ++i) p[i * cols + i] = T(1);
  });
  return t;
}

Tensor from_vector(const std::vector<double>& values, const Shape& shape, DType dtype) {
  int64_t n = checked_numel(shape, "tensor");
  SS_CHECK(n == int64_t(values.size()), ValueError, "tensor: ", values.size(), " values do not fill shape ", shape);
  Tensor t = empty(shape, dtype);
  SS_DISPATCH_ALL(dtype, "tensor", [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(t.raw_data());
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(values[i]);
  });
  return t;
}

Tensor from_vector(const std::vector<float>& values, const Shape& shape) {
  int64_t n = checked_numel(shape, "tensor");
  SS_CHECK(n == int64_t(values.size()), ValueError, "tensor: ", values.size(), " values do not fill shape ", shape);
  Tensor t = empty(shape, DType::Float32);
  std::copy(values.begin(), values.end(), static_cast<float*>(t.raw_data()));
  return t;
}

Tensor from_vector(const std::vector<int64_t>& values, const Shape& shape) {
  int64_t n = checked_numel(shape, "tensor");
  SS_CHECK(n == int64_t(values.size()), ValueError, "tensor: ", values.size(), " values do not fill shape ", shape);
  Tensor t = empty(shape, DType::Int64);
  std::copy(values.begin(), values.end(), static_cast<int64_t*>(t.raw_data()));
  return t;
}

std::vector<double> to_vector(const Tensor& t) {
  Tensor c = t.contiguous();
  std::vector<double> r(size_t(c.numel()));
  SS_DISPATCH_ALL(c.dtype(), "to_vector", [&](auto tag) {
    using T = decltype(tag);
    const T* p = static_cast<const T*>(c.raw_data());
    for (size_t i = 0; i < r.size(); ++i) r[i] = static_cast<double>(p[i]);
  });
  return r;
}

}  // namespace shanshui
