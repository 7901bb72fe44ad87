// One-step recurrent cells with PyTorch's names, parameters and gate order:
// RNNCell (tanh | relu), GRUCell (r, z, n), LSTMCell (i, f, g, o). Parameters
// weight_ih [G*H, in], weight_hh [G*H, H], bias_ih, bias_hh [G*H], initialised
// U(-1/sqrt(H), 1/sqrt(H)). Inputs [B, in] or unbatched [in]; the state
// defaults to zeros. Each step runs the fused recurrence of recurrence.h with T = 1.
#pragma once
#include <optional>
#include <string>
#include <utility>

#include "nn/module.h"
#include "nn/recurrent/recurrence.h"

namespace shanshui::nn {

class RNNCellBase : public Module {
 public:
  RNNCellBase(std::string type, functional::RecurrentMode mode, int64_t input_size, int64_t hidden_size, bool bias,
              DType dtype);
  void reset_parameters();
  std::string extra_repr() const override;
  Tensor& weight_ih() { return params_.at(0); }
  Tensor& weight_hh() { return params_.at(1); }
  Tensor& bias_ih() { return params_.at(2); }
  Tensor& bias_hh() { return params_.at(3); }
  int64_t input_size, hidden_size;
  bool bias;

 protected:
  // Validates shapes, runs one step; returns {h'} or {h', c'} in the input's batching.
  std::vector<Tensor> step(const Tensor& input, const Tensor& h, const Tensor& c);
  functional::RecurrentMode mode_;
};

class RNNCell : public RNNCellBase {
 public:
  // nonlinearity: "tanh" or "relu".
  RNNCell(int64_t input_size, int64_t hidden_size, bool bias = true, const std::string& nonlinearity = "tanh",
          DType dtype = DType::Float32);
  Tensor forward(const Tensor& input) override { return forward(input, Tensor()); }
  Tensor forward(const Tensor& input, const Tensor& hx);
  using Module::operator();
  Tensor operator()(const Tensor& input, const Tensor& hx) { return forward(input, hx); }
  std::string extra_repr() const override;
  std::string nonlinearity;
};

class GRUCell : public RNNCellBase {
 public:
  GRUCell(int64_t input_size, int64_t hidden_size, bool bias = true, DType dtype = DType::Float32);
  Tensor forward(const Tensor& input) override { return forward(input, Tensor()); }
  Tensor forward(const Tensor& input, const Tensor& hx);
  using Module::operator();
  Tensor operator()(const Tensor& input, const Tensor& hx) { return forward(input, hx); }
};

class LSTMCell : public RNNCellBase {
 public:
  LSTMCell(int64_t input_size, int64_t hidden_size, bool bias = true, DType dtype = DType::Float32);
  // Single-tensor forward (Sequential): h' only.
  Tensor forward(const Tensor& input) override { return forward(input, std::nullopt).first; }
  // (h', c'); hx = (h, c), both or neither.
  std::pair<Tensor, Tensor> forward(const Tensor& input, const std::optional<std::pair<Tensor, Tensor>>& hx);
};

}  // namespace shanshui::nn
