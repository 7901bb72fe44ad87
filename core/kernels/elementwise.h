// Building blocks for elementwise kernels: map a lambda over one, two or three
// broadcast operands into a new contiguous tensor. Inputs must already have
// the element types the lambda expects (callers convert with .to()).
#pragma once
#include "core/kernels/loops.h"
#include "core/tensor.h"

namespace shanshui::kernels {

// Per-element cost hint for the grain size: transcendental functions cost ~10x a plain add.
constexpr int64_t kCheap = 1;
constexpr int64_t kTranscendental = 8;

template <class To, class Ti, class F>
Tensor map_unary(const Tensor& x, DType out_dtype, F f, int64_t cost = kCheap) {
  Tensor out = empty(x.shape(), out_dtype);
  To* o = static_cast<To*>(out.raw_data());
  const Ti* xp = static_cast<const Ti*>(x.raw_data());
  for_each_run<2>(x.shape(), {out.strides(), x.strides()}, cost,
                  [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
                    To* op = o + off[0];
                    const Ti* ip = xp + off[1];
                    if (st[1] == 1) {
                      for (int64_t i = 0; i < n; ++i) op[i] = f(ip[i]);
                    } else {
                      for (int64_t i = 0; i < n; ++i) op[i] = f(ip[i * st[1]]);
                    }
                  });
  return out;
}

template <class To, class Ta, class Tb, class F>
Tensor map_binary(const Tensor& a, const Tensor& b, DType out_dtype, F f, const char* op,
                  int64_t cost = kCheap) {
  Shape shape = a.shape() == b.shape() ? a.shape() : broadcast_shapes(a.shape(), b.shape(), op);
  Tensor out = empty(shape, out_dtype);
  To* o = static_cast<To*>(out.raw_data());
  const Ta* ap = static_cast<const Ta*>(a.raw_data());
  const Tb* bp = static_cast<const Tb*>(b.raw_data());
  for_each_run<3>(shape,
                  {out.strides(), broadcast_strides(a.shape(), a.strides(), shape),
                   broadcast_strides(b.shape(), b.strides(), shape)},
                  cost, [&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
                    To* op = o + off[0];
                    const Ta* x = ap + off[1];
                    const Tb* y = bp + off[2];
                    if (st[1] == 1 && st[2] == 1) {
                      for (int64_t i = 0; i < n; ++i) op[i] = f(x[i], y[i]);
                    } else if (st[1] == 1 && st[2] == 0) {
                      const Tb yv = *y;
                      for (int64_t i = 0; i < n; ++i) op[i] = f(x[i], yv);
                    } else if (st[1] == 0 && st[2] == 1) {
                      const Ta xv = *x;
                      for (int64_t i = 0; i < n; ++i) op[i] = f(xv, y[i]);
                    } else {
                      for (int64_t i = 0; i < n; ++i) op[i] = f(x[i * st[1]], y[i * st[2]]);
                    }
                  });
  return out;
}

template <class To, class Ta, class Tb, class Tc, class F>
Tensor map_ternary(const Tensor& a, const Tensor& b, const Tensor& c, DType out_dtype, F f, const char* op,
                   int64_t cost = kCheap) {
  Shape shape = broadcast_shapes(broadcast_shapes(a.shape(), b.shape(), op), c.shape(), op);
  Tensor out = empty(shape, out_dtype);
  To* o = static_cast<To*>(out.raw_data());
  const Ta* ap = static_cast<const Ta*>(a.raw_data());
  const Tb* bp = static_cast<const Tb*>(b.raw_data());
  const Tc* cp = static_cast<const Tc*>(c.raw_data());
  for_each_run<4>(shape,
                  {out.strides(), broadcast_strides(a.shape(), a.strides(), shape),
                   broadcast_strides(b.shape(), b.strides(), shape), broadcast_strides(c.shape(), c.strides(), shape)},
                  cost, [&](const std::array<int64_t, 4>& off, int64_t n, const std::array<int64_t, 4>& st) {
                    for (int64_t i = 0; i < n; ++i)
                      o[off[0] + i] = f(ap[off[1] + i * st[1]], bp[off[2] + i * st[2]], cp[off[3] + i * st[3]]);
                  });
  return out;
}

}  // namespace shanshui::kernels
