// A two-layer perceptron learns XOR with plain tensors, autograd and a
// hand-written SGD step: the smallest end-to-end training loop in C++.
//   ./example_mlp            (from the build directory: build/examples/example_mlp)
#include <shanshui.h>

#include <cstdio>

namespace ss = shanshui;

int main() {
  ss::manual_seed(0);
  // The four XOR points and their labels.
  ss::Tensor x = ss::from_vector(std::vector<double>{0, 0, 0, 1, 1, 0, 1, 1}, {4, 2});
  ss::Tensor y = ss::from_vector(std::vector<double>{0, 1, 1, 0}, {4, 1});

  // 2 -> 8 -> 1, tanh hidden layer, sigmoid output.
  ss::Tensor w1 = ss::randn({2, 8}).requires_grad_();
  ss::Tensor b1 = ss::zeros({8}).requires_grad_();
  ss::Tensor w2 = (ss::randn({8, 1}) * 0.5).requires_grad_();
  ss::Tensor b2 = ss::zeros({1}).requires_grad_();
  std::vector<ss::Tensor> params{w1, b1, w2, b2};

  const double lr = 0.5;
  ss::Tensor p;
  for (int step = 1; step <= 2000; ++step) {
    p = ss::sigmoid(ss::matmul(ss::tanh(ss::matmul(x, w1) + b1), w2) + b2);
    // Binary cross-entropy: -mean(y log p + (1 - y) log(1 - p)).
    ss::Tensor loss = -ss::mean(y * ss::log(p) + (1.0 - y) * ss::log(1.0 - p));
    loss.backward();
    {
      ss::NoGradGuard no_grad;  // the update itself must not be recorded
      for (auto& t : params) {
        t.sub_(t.grad() * lr);
        t.grad().zero_();
      }
    }
    if (step % 400 == 0) std::printf("step %4d  loss %.5f\n", step, loss.item_double());
  }

  std::vector<double> pv = ss::to_vector(p);
  int correct = 0;
  for (int i = 0; i < 4; ++i) {
    int want = (i == 1 || i == 2) ? 1 : 0;
    correct += int(pv[i] > 0.5) == want;
    std::printf("xor(%d, %d) = %.3f\n", i / 2, i % 2, pv[i]);
  }
  std::printf("accuracy %d/4\n", correct);
  return correct == 4 ? 0 : 1;
}
