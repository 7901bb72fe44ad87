// Branch-free float exp / sigmoid / tanh that the compiler vectorises (the
// scalar libm calls in the gate loops cost more than the hidden GEMM). exp is
// Cephes' expf (range reduction by ln 2, degree-6 polynomial, ~1 ulp); tanh
// is Cephes' tanhf (odd polynomial for |x| < 0.625, 1 - 2 / (e^{2|x|} + 1)
// beyond). Double precision keeps libm (the float64 gradchecks want it exact).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace shanshui::nn::fast {

inline float exp(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  float fx = std::floor(x * 1.44269504088896341f + 0.5f);
  float r = x - fx * 0.693359375f + fx * 2.12194440e-4f;
  float z = r * r;
  float y = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r + 4.1665795894e-2f) * r +
             1.6666665459e-1f) * r + 5.0000001201e-1f;
  y = y * z + r + 1.0f;
  int32_t bits = (int32_t(fx) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return y * scale;
}
inline double exp(double x) { return std::exp(x); }

inline float sigmoid(float x) { return 1.0f / (1.0f + fast::exp(-x)); }
inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

inline float tanh(float x) {
  float a = std::fabs(x);
  float z = x * x;
  float small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z + 1.33314422036e-1f) * z -
                 3.33332819422e-1f) * z * x + x;
  float big = 1.0f - 2.0f / (fast::exp(2.0f * a) + 1.0f);
  big = x < 0.0f ? -big : big;
  return a < 0.625f ? small : big;
}
inline double tanh(double x) { return std::tanh(x); }

}  // namespace shanshui::nn::fast
