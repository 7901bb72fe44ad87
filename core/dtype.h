// Element types and PyTorch's type-promotion rules.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace shanshui {

// Ordered by promotion category: bool < integer < floating.
enum class DType : uint8_t { Bool, Int64, Float32, Float64 };

size_t itemsize(DType t);
const char* dtype_name(DType t);   // "float32", ... (PyTorch spelling)
bool is_floating(DType t);
// promote_types as torch.promote_types: the smallest type both fit in.
DType promote_types(DType a, DType b);
// The floating type an op on integer input computes in (torch.get_default_dtype()).
inline DType default_float() { return DType::Float32; }
inline DType to_floating(DType t) { return is_floating(t) ? t : default_float(); }

// Compile-time map from C++ type to DType.
template <class T> struct dtype_of;
template <> struct dtype_of<bool> { static constexpr DType value = DType::Bool; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::Int64; };
template <> struct dtype_of<float> { static constexpr DType value = DType::Float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::Float64; };

}  // namespace shanshui
