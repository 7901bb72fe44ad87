// Run a generic lambda with the C++ type that matches a runtime DType:
//   SS_DISPATCH_FLOAT(t.dtype(), "exp", [&](auto tag) { using T = decltype(tag); ... });
#pragma once
#include <cstdint>

#include "core/dtype.h"
#include "core/error.h"

namespace shanshui::detail {

template <class F>
decltype(auto) dispatch_all(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    case DType::Int64: return f(int64_t{});
    case DType::Bool: return f(bool{});
  }
  throw TypeError(cat_str(op, ": unsupported dtype"));
}

template <class F>
decltype(auto) dispatch_float(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    default: break;
  }
  throw TypeError(cat_str(op, ": expected a floating-point tensor (float32 or float64), got ", dtype_name(t)));
}

// Arithmetic types: everything but bool.
template <class F>
decltype(auto) dispatch_numeric(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    case DType::Int64: return f(int64_t{});
    default: break;
  }
  throw TypeError(cat_str(op, ": not supported for dtype ", dtype_name(t)));
}

}  // namespace shanshui::detail

#define SS_DISPATCH_ALL(dt, op, ...) ::shanshui::detail::dispatch_all(dt, op, __VA_ARGS__)
#define SS_DISPATCH_FLOAT(dt, op, ...) ::shanshui::detail::dispatch_float(dt, op, __VA_ARGS__)
#define SS_DISPATCH_NUMERIC(dt, op, ...) ::shanshui::detail::dispatch_numeric(dt, op, __VA_ARGS__)
