// Fits y = 2x + 1 by gradient descent and checks the answer; exits non-zero on
// failure so the CMake consumer checks in .ci/run catch a broken package.
#include <shanshui.h>

#include <cmath>
#include <cstdio>

int main() {
  namespace ss = shanshui;
  ss::manual_seed(0);
  ss::Tensor x = ss::linspace(-1.0, 1.0, 32).reshape({32, 1});
  ss::Tensor y = x * 2.0 + 1.0;
  ss::Tensor w = ss::zeros({1, 1}).requires_grad_();
  ss::Tensor b = ss::zeros({1}).requires_grad_();
  for (int step = 0; step < 200; ++step) {
    ss::Tensor loss = ss::mean(ss::pow(ss::matmul(x, w) + b - y, 2.0));
    loss.backward();
    ss::NoGradGuard no_grad;
    w.sub_(w.grad() * 0.5);
    b.sub_(b.grad() * 0.5);
    w.grad().zero_();
    b.grad().zero_();
  }
  double wv = w.item_double(), bv = b.item_double();
  std::printf("consumer: w = %.4f, b = %.4f (want 2, 1)\n", wv, bv);
  return (std::fabs(wv - 2.0) < 1e-3 && std::fabs(bv - 1.0) < 1e-3) ? 0 : 1;
}
