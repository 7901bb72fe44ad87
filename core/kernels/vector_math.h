// Vector float math on GCC/Clang vector extensions (no intrinsics, any target):
// exp, sigmoid, tanh and the normal CDF for float32 kernels, within a few ulp of
// double-precision results (tests/cpp/test_vector_math.cpp sweeps float bit
// patterns). Used by core/ops/elementwise_unary.cpp.
#pragma once
#include <cstdint>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"  // wide vector types by value: all internal, inlined
#endif

namespace shanshui::kernels {

// Written branch-free, since GCC will not if-convert FP selects under the default
// -ftrapping-math, so scalar versions of these would not vectorise.
namespace vm {
// 16 lanes where the target has AVX-512 (one zmm register per op: twice the work
// of the 8-lane ymm form for the same instruction count), else 8.
#if defined(__AVX512F__)
constexpr int kLanes = 16;
#else
constexpr int kLanes = 8;
#endif
using vfloat = float __attribute__((vector_size(4 * kLanes)));
using vint = int32_t __attribute__((vector_size(4 * kLanes)));
using vuint = uint32_t __attribute__((vector_size(4 * kLanes)));

inline vfloat splat(float v) { return v - vfloat{}; }  // v - 0 is v for every v, -0 and NaN included
inline vfloat abs(vfloat x) { return (vfloat)((vint)x & 0x7fffffff); }
inline vfloat copysign(vfloat mag, vfloat sgn) {
  return (vfloat)(((vint)mag & 0x7fffffff) | ((vint)sgn & static_cast<int32_t>(0x80000000u)));
}

// exp(x + xl) for a small correction xl: Cody-Waite reduction x = n ln2 + r,
// cephes' degree-5 minimax polynomial for e^r, and 2^n applied as two factors
// so results in the subnormal range and near FLT_MAX are still right.
inline vfloat exp(vfloat x, vfloat xl = vfloat{}) {
  x = x < -104.0f ? splat(-104.0f) : x;  // NaN lanes compare false and pass through
  x = x > 89.0f ? splat(89.0f) : x;
  const float kMagic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  vfloat t = (x + xl) * 1.44269504088896341f + kMagic;
  vint n = (vint)t - (vint)splat(kMagic);
  vfloat nf = t - kMagic;
  vfloat r = x - nf * 0.693359375f;  // exact: the constant has 9 significant bits
  r = r - nf * -2.12194440e-4f + xl;
  vfloat z = r * r;
  vfloat p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * z + r + 1.0f;
  vint n1 = n >> 1, n2 = n - n1;
  // Build 2^n1, 2^n2 from the exponent bits (unsigned: NaN lanes carry junk in n, no UB).
  vuint e1 = ((vuint)n1 + 127u) << 23, e2 = ((vuint)n2 + 127u) << 23;
  return p * (vfloat)e1 * (vfloat)e2;
}

// 1/(1+e^-|x|), mirrored for x < 0, so no cancellation on either side.
inline vfloat sigmoid(vfloat x) {
  vfloat e = vm::exp(-vm::abs(x));
  vfloat s = 1.0f / (1.0f + e);
  return x >= 0.0f ? s : e * s;
}

// cephes' odd polynomial for |x| < 0.625, else 1 - 2/(e^{2|x|} + 1).
inline vfloat tanh(vfloat x) {
  vfloat a = vm::abs(x);
  vfloat z = x * x;
  vfloat p = splat(-5.70498872745e-3f);
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  vfloat small = a + a * z * p;
  vfloat big = 1.0f - 2.0f / (vm::exp(2.0f * a) + 1.0f);
  return vm::copysign(a < 0.625f ? small : big, x);
}

// exp(-a^2/2 + extra) for a >= 0, with a^2/2 kept as hi + lo: the exponent reaches
// ~-110 and must keep its low bits. Split a = ah + al with 12 significant bits each,
// so ah^2 and 2 ah al are exact products (no FMA needed, and FP contraction cannot
// change the result).
inline vfloat exp_neg_half_square(vfloat a, vfloat extra) {
  vfloat ah = (vfloat)((vint)a & static_cast<int32_t>(0xfffff000u));
  vfloat al = a - ah;
  vfloat sq_hi = ah * ah, sq_lo = (ah + ah) * al + al * al;
  return vm::exp(-0.5f * sq_hi, extra - 0.5f * sq_lo);
}

// Standard normal CDF Phi(x) = erfc(-x/sqrt2)/2 via Numerical Recipes' erfcc
// (fractional error < 1.2e-7), so the lower tail keeps its relative accuracy.
inline vfloat normal_cdf(vfloat x) {
  vfloat a = vm::abs(x);
  a = a > 14.85f ? splat(14.85f) : a;  // Phi underflows float beyond this anyway
  vfloat t = 1.0f / (1.0f + 0.35355339059327376f * a);  // 1/(1 + z/2), z = a/sqrt2
  vfloat q = splat(0.17087277f);
  q = q * t - 0.82215223f;
  q = q * t + 1.48851587f;
  q = q * t - 1.13520398f;
  q = q * t + 0.27886807f;
  q = q * t - 0.18628806f;
  q = q * t + 0.09678418f;
  q = q * t + 0.37409196f;
  q = q * t + 1.00002368f;
  q = q * t - 1.26551223f;
  vfloat half = 0.5f * t * exp_neg_half_square(a, q);
  return x < 0.0f ? half : 1.0f - half;
}

constexpr float kInvSqrt2Pi = 0.398942280401432678f;
constexpr double kInvSqrt2PiD = 0.398942280401432678;
constexpr double kSqrt2OverPi = 0.797884560802865355;  // gelu "tanh": sqrt(2/pi)
constexpr double kKappa = 0.044715;
}  // namespace vm

}  // namespace shanshui::kernels
