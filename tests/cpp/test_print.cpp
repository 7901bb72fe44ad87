// Tensor printing: the expected strings are PyTorch 2.13's repr of the same
// tensors (generated with torch, with "torch." spelled "shanshui." and grad_fn
// names without PyTorch's trailing 0).
#include <catch2/catch.hpp>

#include <cmath>
#include <sstream>

#include "core/ops.h"
#include "core/print.h"

using namespace shanshui;

namespace {
Tensor sevenths() {  // torch.arange(2000.).reshape(10, 10, 20) / 7
  std::vector<float> v(2000);
  for (int i = 0; i < 2000; ++i) v[size_t(i)] = float(i) / 7.0f;
  return from_vector(v, {10, 10, 20});
}
Tensor sines(int n) {  // [sin(i) * 2 for i in range(n)], float64
  std::vector<double> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[size_t(i)] = std::sin(double(i)) * 2;
  return from_vector(v, {n}, DType::Float64);
}
Tensor halves(int n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[size_t(i)] = float(i) * 0.5f;
  return from_vector(v, {n});
}
Tensor bools(int n) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[size_t(i)] = i % 3 == 0;
  return from_vector(v, {n}, DType::Bool);
}
Tensor leaf_5x6(DType dt) {
  std::vector<double> v(30);
  for (int i = 0; i < 30; ++i) v[size_t(i)] = i;
  Tensor t = from_vector(v, {5, 6}, dt);
  t.requires_grad_();
  return t;
}
struct Case {
  const char* name;
  Tensor t;
  const char* expected;
};
}  // namespace

TEST_CASE("to_string matches PyTorch's repr", "[print]") {
  std::vector<Case> cases = {
  {"2x2 float32", from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2}), R"(tensor([[1., 2.],
        [3., 4.]]))"},
  {"2x2 float64", from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2}, DType::Float64), R"(tensor([[1., 2.],
        [3., 4.]], dtype=shanshui.float64))"},
  {"fractions", from_vector(std::vector<double>{0.5, -1.25, 3.14159, 10}, {4}), R"(tensor([ 0.5000, -1.2500,  3.1416, 10.0000]))"},
  {"int64", from_vector(std::vector<int64_t>{123456789012, -5, 0}, {3}), R"(tensor([123456789012,           -5,            0]))"},
  {"bool", from_vector(std::vector<double>{1, 0, 1}, {3}, DType::Bool), R"(tensor([ True, False,  True]))"},
  {"0-d float", scalar_tensor(0.5, DType::Float32), R"(tensor(0.5000))"},
  {"0-d int", scalar_tensor(3, DType::Int64), R"(tensor(3))"},
  {"0-d bool", scalar_tensor(true, DType::Bool), R"(tensor(True))"},
  {"0-d float64 integer", scalar_tensor(2.0, DType::Float64), R"(tensor(2., dtype=shanshui.float64))"},
  {"empty 2x0 int", zeros({2, 0}, DType::Int64), R"(tensor([], size=(2, 0), dtype=shanshui.int64))"},
  {"empty float64", zeros({0}, DType::Float64), R"(tensor([], dtype=shanshui.float64))"},
  {"empty float32", zeros({0}), R"(tensor([]))"},
  {"empty bool 3-d", zeros({1, 0, 2}, DType::Bool), R"(tensor([], size=(1, 0, 2), dtype=shanshui.bool))"},
  {"tiny: scientific", from_vector(std::vector<float>{1e-5f, 1.0f}, {2}), R"(tensor([1.0000e-05, 1.0000e+00]))"},
  {"huge ints: scientific", from_vector(std::vector<float>{1e10f, 1.0f}, {2}), R"(tensor([1.0000e+10, 1.0000e+00]))"},
  {"wide range: scientific", from_vector(std::vector<double>{1e-4, 1.5}, {2}), R"(tensor([1.0000e-04, 1.5000e+00]))"},
  {"zeros not counted in width", from_vector(std::vector<float>{0, 100}, {2}), R"(tensor([  0., 100.]))"},
  {"nan inf only", from_vector(std::vector<float>{NAN, INFINITY, -INFINITY}, {3}), R"(tensor([nan, inf, -inf]))"},
  {"nan with fraction", from_vector(std::vector<float>{NAN, 1.5f}, {2}), R"(tensor([   nan, 1.5000]))"},
  {"negative zero", from_vector(std::vector<float>{-0.0f, 1.0f}, {2}), R"(tensor([-0., 1.]))"},
  {"all zeros", zeros({2, 3}), R"(tensor([[0., 0., 0.],
        [0., 0., 0.]]))"},
  {"transposed view", from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3}).t(), R"(tensor([[1., 4.],
        [2., 5.],
        [3., 6.]]))"},
  {"3-d", from_vector(std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 2}), R"(tensor([[[1, 2],
         [3, 4]],

        [[5, 6],
         [7, 8]]]))"},
  {"summarised 1-d int", arange(2000), R"(tensor([   0,    1,    2,  ..., 1997, 1998, 1999]))"},
  {"summarised 2-d int", arange(2000).reshape({2, 1000}), R"(tensor([[   0,    1,    2,  ...,  997,  998,  999],
        [1000, 1001, 1002,  ..., 1997, 1998, 1999]]))"},
  {"summarised 3-d float", sevenths(), R"(tensor([[[0.0000e+00, 1.4286e-01, 2.8571e-01,  ..., 2.4286e+00,
          2.5714e+00, 2.7143e+00],
         [2.8571e+00, 3.0000e+00, 3.1429e+00,  ..., 5.2857e+00,
          5.4286e+00, 5.5714e+00],
         [5.7143e+00, 5.8571e+00, 6.0000e+00,  ..., 8.1429e+00,
          8.2857e+00, 8.4286e+00],
         ...,
         [2.0000e+01, 2.0143e+01, 2.0286e+01,  ..., 2.2429e+01,
          2.2571e+01, 2.2714e+01],
         [2.2857e+01, 2.3000e+01, 2.3143e+01,  ..., 2.5286e+01,
          2.5429e+01, 2.5571e+01],
         [2.5714e+01, 2.5857e+01, 2.6000e+01,  ..., 2.8143e+01,
          2.8286e+01, 2.8429e+01]],

        [[2.8571e+01, 2.8714e+01, 2.8857e+01,  ..., 3.1000e+01,
          3.1143e+01, 3.1286e+01],
         [3.1429e+01, 3.1571e+01, 3.1714e+01,  ..., 3.3857e+01,
          3.4000e+01, 3.4143e+01],
         [3.4286e+01, 3.4429e+01, 3.4571e+01,  ..., 3.6714e+01,
          3.6857e+01, 3.7000e+01],
         ...,
         [4.8571e+01, 4.8714e+01, 4.8857e+01,  ..., 5.1000e+01,
          5.1143e+01, 5.1286e+01],
         [5.1429e+01, 5.1571e+01, 5.1714e+01,  ..., 5.3857e+01,
          5.4000e+01, 5.4143e+01],
         [5.4286e+01, 5.4429e+01, 5.4571e+01,  ..., 5.6714e+01,
          5.6857e+01, 5.7000e+01]],

        [[5.7143e+01, 5.7286e+01, 5.7429e+01,  ..., 5.9571e+01,
          5.9714e+01, 5.9857e+01],
         [6.0000e+01, 6.0143e+01, 6.0286e+01,  ..., 6.2429e+01,
          6.2571e+01, 6.2714e+01],
         [6.2857e+01, 6.3000e+01, 6.3143e+01,  ..., 6.5286e+01,
          6.5429e+01, 6.5571e+01],
         ...,
         [7.7143e+01, 7.7286e+01, 7.7429e+01,  ..., 7.9571e+01,
          7.9714e+01, 7.9857e+01],
         [8.0000e+01, 8.0143e+01, 8.0286e+01,  ..., 8.2429e+01,
          8.2571e+01, 8.2714e+01],
         [8.2857e+01, 8.3000e+01, 8.3143e+01,  ..., 8.5286e+01,
          8.5429e+01, 8.5571e+01]],

        ...,

        [[2.0000e+02, 2.0014e+02, 2.0029e+02,  ..., 2.0243e+02,
          2.0257e+02, 2.0271e+02],
         [2.0286e+02, 2.0300e+02, 2.0314e+02,  ..., 2.0529e+02,
          2.0543e+02, 2.0557e+02],
         [2.0571e+02, 2.0586e+02, 2.0600e+02,  ..., 2.0814e+02,
          2.0829e+02, 2.0843e+02],
         ...,
         [2.2000e+02, 2.2014e+02, 2.2029e+02,  ..., 2.2243e+02,
          2.2257e+02, 2.2271e+02],
         [2.2286e+02, 2.2300e+02, 2.2314e+02,  ..., 2.2529e+02,
          2.2543e+02, 2.2557e+02],
         [2.2571e+02, 2.2586e+02, 2.2600e+02,  ..., 2.2814e+02,
          2.2829e+02, 2.2843e+02]],

        [[2.2857e+02, 2.2871e+02, 2.2886e+02,  ..., 2.3100e+02,
          2.3114e+02, 2.3129e+02],
         [2.3143e+02, 2.3157e+02, 2.3171e+02,  ..., 2.3386e+02,
          2.3400e+02, 2.3414e+02],
         [2.3429e+02, 2.3443e+02, 2.3457e+02,  ..., 2.3671e+02,
          2.3686e+02, 2.3700e+02],
         ...,
         [2.4857e+02, 2.4871e+02, 2.4886e+02,  ..., 2.5100e+02,
          2.5114e+02, 2.5129e+02],
         [2.5143e+02, 2.5157e+02, 2.5171e+02,  ..., 2.5386e+02,
          2.5400e+02, 2.5414e+02],
         [2.5429e+02, 2.5443e+02, 2.5457e+02,  ..., 2.5671e+02,
          2.5686e+02, 2.5700e+02]],

        [[2.5714e+02, 2.5729e+02, 2.5743e+02,  ..., 2.5957e+02,
          2.5971e+02, 2.5986e+02],
         [2.6000e+02, 2.6014e+02, 2.6029e+02,  ..., 2.6243e+02,
          2.6257e+02, 2.6271e+02],
         [2.6286e+02, 2.6300e+02, 2.6314e+02,  ..., 2.6529e+02,
          2.6543e+02, 2.6557e+02],
         ...,
         [2.7714e+02, 2.7729e+02, 2.7743e+02,  ..., 2.7957e+02,
          2.7971e+02, 2.7986e+02],
         [2.8000e+02, 2.8014e+02, 2.8029e+02,  ..., 2.8243e+02,
          2.8257e+02, 2.8271e+02],
         [2.8286e+02, 2.8300e+02, 2.8314e+02,  ..., 2.8529e+02,
          2.8543e+02, 2.8557e+02]]]))"},
  {"line wrapping float64", sines(40), R"(tensor([ 0.0000,  1.6829,  1.8186,  0.2822, -1.5136, -1.9178, -0.5588,  1.3140,
         1.9787,  0.8242, -1.0880, -2.0000, -1.0731,  0.8403,  1.9812,  1.3006,
        -0.5758, -1.9228, -1.5020,  0.2998,  1.8259,  1.6733, -0.0177, -1.6924,
        -1.8112, -0.2647,  1.5251,  1.9128,  0.5418, -1.3273, -1.9761, -0.8081,
         1.1029,  1.9998,  1.0582, -0.8564, -1.9836, -1.2871,  0.5927,  1.9276],
       dtype=shanshui.float64))"},
  {"1001 halves", halves(1001), R"(tensor([  0.0000,   0.5000,   1.0000,  ..., 499.0000, 499.5000, 500.0000]))"},
  {"bool summarised", bools(2000), R"(tensor([ True, False, False,  ..., False,  True, False]))"},
  {"requires_grad", leaf_5x6(DType::Float32), R"(tensor([[ 0.,  1.,  2.,  3.,  4.,  5.],
        [ 6.,  7.,  8.,  9., 10., 11.],
        [12., 13., 14., 15., 16., 17.],
        [18., 19., 20., 21., 22., 23.],
        [24., 25., 26., 27., 28., 29.]], requires_grad=True))"},
  {"grad_fn and dtype wrap", leaf_5x6(DType::Float64).mul(full({}, 2.0, DType::Float64)), R"(tensor([[ 0.,  2.,  4.,  6.,  8., 10.],
        [12., 14., 16., 18., 20., 22.],
        [24., 26., 28., 30., 32., 34.],
        [36., 38., 40., 42., 44., 46.],
        [48., 50., 52., 54., 56., 58.]], dtype=shanshui.float64,
       grad_fn=<MulBackward>))"},
  {"grad_fn short", leaf_5x6(DType::Float32).narrow(0, 0, 1).mul(full({}, 2.0)), R"(tensor([[ 0.,  2.,  4.,  6.,  8., 10.]], grad_fn=<MulBackward>))"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    REQUIRE(c.t.to_string() == std::string(c.expected));
  }
}

TEST_CASE("operator<< prints the repr", "[print]") {
  Tensor t = from_vector(std::vector<int64_t>{1, 2}, {2});
  std::ostringstream os;
  os << t;
  REQUIRE(os.str() == "tensor([1, 2])");
  REQUIRE(Tensor().to_string() == "tensor(undefined)");
}

TEST_CASE("print options change precision and threshold", "[print]") {
  PrintOptions saved = print_options();
  print_options().precision = 2;
  REQUIRE(from_vector(std::vector<double>{0.5, 1.25}, {2}).to_string() == "tensor([0.50, 1.25])");
  print_options().threshold = 5;  // torch.set_printoptions(threshold=5)
  print_options().edgeitems = 1;
  REQUIRE(arange(10).to_string() == "tensor([0,  ..., 9])");
  print_options() = saved;
  REQUIRE(arange(10).to_string() == "tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])");
}
