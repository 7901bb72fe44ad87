// Multi-layer recurrent networks with PyTorch's constructor arguments, parameter
// names (weight_ih_l{k}[_reverse], weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}),
// layouts and outputs: RNN / GRU give (output, h_n), LSTM gives
// (output, (h_n, c_n)). Input [T, B, in] ([B, T, in] with batch_first) or
// unbatched [T, in]; states [L*D, B, H] (or [L*D, H] unbatched), zeros when
// not given. Per layer and direction the input projection of all timesteps is
// one GEMM; the recurrence runs in the fused op of recurrence.h. Dropout
// applies to the outputs of every layer but the last, in training mode.
#pragma once
#include <optional>
#include <string>
#include <utility>

#include "nn/module.h"
#include "nn/recurrent/recurrence.h"

namespace shanshui::nn {

struct RNNOptions {
  int64_t input_size, hidden_size;
  int64_t num_layers = 1;
  std::string nonlinearity = "tanh";  // RNN only
  bool bias = true;
  bool batch_first = false;
  double dropout = 0.0;
  bool bidirectional = false;
  DType dtype = DType::Float32;
};

class RNNBase : public Module {
 public:
  RNNBase(std::string type, functional::RecurrentMode mode, const RNNOptions& o);
  void reset_parameters();
  std::string extra_repr() const override;
  // The parameters of layer `layer`, direction `dir` (0 forward, 1 reverse).
  Tensor& weight_ih(int64_t layer, int64_t dir = 0) { return params_.at(slot(layer, dir) + 0); }
  Tensor& weight_hh(int64_t layer, int64_t dir = 0) { return params_.at(slot(layer, dir) + 1); }
  Tensor bias_ih(int64_t layer, int64_t dir = 0) { return options.bias ? params_.at(slot(layer, dir) + 2) : Tensor(); }
  Tensor bias_hh(int64_t layer, int64_t dir = 0) { return options.bias ? params_.at(slot(layer, dir) + 3) : Tensor(); }
  int64_t num_directions() const { return options.bidirectional ? 2 : 1; }
  RNNOptions options;

 protected:
  // Returns {output, h_n} (+ c_n for LSTM), shaped like the input's batching.
  std::vector<Tensor> run(const Tensor& input, const Tensor& h0, const Tensor& c0);
  functional::RecurrentMode mode_;

 private:
  size_t slot(int64_t layer, int64_t dir) const {
    return size_t((layer * num_directions() + dir) * (options.bias ? 4 : 2));
  }
};

class RNN : public RNNBase {
 public:
  explicit RNN(const RNNOptions& o);
  RNN(int64_t input_size, int64_t hidden_size, int64_t num_layers = 1, const std::string& nonlinearity = "tanh",
      bool bias = true, bool batch_first = false, double dropout = 0.0, bool bidirectional = false,
      DType dtype = DType::Float32);
  Tensor forward(const Tensor& input) override { return forward(input, Tensor()).first; }
  std::pair<Tensor, Tensor> forward(const Tensor& input, const Tensor& hx);
};

class GRU : public RNNBase {
 public:
  explicit GRU(const RNNOptions& o);
  GRU(int64_t input_size, int64_t hidden_size, int64_t num_layers = 1, bool bias = true, bool batch_first = false,
      double dropout = 0.0, bool bidirectional = false, DType dtype = DType::Float32);
  Tensor forward(const Tensor& input) override { return forward(input, Tensor()).first; }
  std::pair<Tensor, Tensor> forward(const Tensor& input, const Tensor& hx);
};

class LSTM : public RNNBase {
 public:
  explicit LSTM(const RNNOptions& o);
  LSTM(int64_t input_size, int64_t hidden_size, int64_t num_layers = 1, bool bias = true, bool batch_first = false,
       double dropout = 0.0, bool bidirectional = false, DType dtype = DType::Float32);
  Tensor forward(const Tensor& input) override { return forward(input, std::nullopt).first; }
  // (output, (h_n, c_n)); hx = (h_0, c_0).
  std::pair<Tensor, std::pair<Tensor, Tensor>> forward(const Tensor& input,
                                                       const std::optional<std::pair<Tensor, Tensor>>& hx);
};

}  // namespace shanshui::nn
