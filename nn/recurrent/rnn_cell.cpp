#include "nn/recurrent/rnn_cell.h"

#include <cmath>

#include "core/ops.h"
#include "nn/init.h"

namespace shanshui::nn {

using functional::RecurrentMode;

RNNCellBase::RNNCellBase(std::string type, RecurrentMode mode, int64_t in, int64_t hidden, bool bias, DType dtype)
    : Module(type), input_size(in), hidden_size(hidden), bias(bias), mode_(mode) {
  SS_CHECK(in >= 0 && hidden > 0, ValueError, type, ": input_size must be non-negative and hidden_size positive, got ",
           in, " and ", hidden);
  SS_CHECK(is_floating(dtype), TypeError, type, ": dtype must be floating point, got ", dtype_name(dtype));
  const int64_t G = functional::gate_count(mode);
  register_parameter("weight_ih", empty({G * hidden, in}, dtype));
  register_parameter("weight_hh", empty({G * hidden, hidden}, dtype));
  register_parameter("bias_ih", bias ? empty({G * hidden}, dtype) : Tensor());
  register_parameter("bias_hh", bias ? empty({G * hidden}, dtype) : Tensor());
  reset_parameters();
}

void RNNCellBase::reset_parameters() {
  const double stdv = 1.0 / std::sqrt(double(hidden_size));
  for (size_t i = 0; i < params_.size(); ++i)
    if (params_.at(i).defined()) init::uniform_(params_.at(i), -stdv, stdv);
}

std::string RNNCellBase::extra_repr() const {
  std::string s = cat_str(input_size, ", ", hidden_size);
  if (!bias) s += ", bias=False";
  return s;
}

std::vector<Tensor> RNNCellBase::step(const Tensor& input, const Tensor& h, const Tensor& c) {
  const std::string& op = type_name();
  SS_CHECK(input.defined() && (input.dim() == 1 || input.dim() == 2), ValueError, op,
           ": expected input to be 1-D or 2-D, got shape ", input.defined() ? input.shape() : Shape{});
  SS_CHECK(input.size(-1) == input_size, ValueError, op, ": input of shape ", input.shape(),
           " has inconsistent input_size: got ", input.size(-1), ", expected ", input_size);
  SS_CHECK(input.dtype() == weight_ih().dtype(), TypeError, op, ": input dtype ", dtype_name(input.dtype()),
           " does not match the parameters' dtype ", dtype_name(weight_ih().dtype()));
  const bool batched = input.dim() == 2;
  const int64_t B = batched ? input.size(0) : 1;
  const Shape want = batched ? Shape{B, hidden_size} : Shape{hidden_size};
  auto state = [&](const Tensor& s, const char* name) {
    if (!s.defined()) return zeros({B, hidden_size}, input.dtype());
    SS_CHECK(s.shape() == want, ValueError, op, ": ", name, " of shape ", s.shape(), " should be ", want,
             " for an input of shape ", input.shape());
    return batched ? s : s.unsqueeze(0);
  };
  Tensor h0 = state(h, "hx"), c0 = mode_ == RecurrentMode::LSTM ? state(c, "cx") : Tensor();
  Tensor x = batched ? input : input.unsqueeze(0);
  Tensor gi = linear(x, weight_ih(), bias_ih()).unsqueeze(0);
  auto res = functional::recurrent_layer(mode_, gi, h0, c0, weight_hh(), bias_hh());
  std::vector<Tensor> r{res[1]};
  if (mode_ == RecurrentMode::LSTM) r.push_back(res[2]);
  if (!batched)
    for (auto& t : r) t = t.squeeze(0);
  return r;
}

static RecurrentMode rnn_mode(const std::string& nl) {
  SS_CHECK(nl == "tanh" || nl == "relu", ValueError, "RNN: unknown nonlinearity '", nl,
           "' (expected 'tanh' or 'relu')");
  return nl == "tanh" ? RecurrentMode::RNN_TANH : RecurrentMode::RNN_RELU;
}

RNNCell::RNNCell(int64_t in, int64_t hidden, bool bias, const std::string& nl, DType dtype)
    : RNNCellBase("RNNCell", rnn_mode(nl), in, hidden, bias, dtype), nonlinearity(nl) {}

Tensor RNNCell::forward(const Tensor& input, const Tensor& hx) { return step(input, hx, Tensor())[0]; }

std::string RNNCell::extra_repr() const {
  std::string s = RNNCellBase::extra_repr();
  if (nonlinearity != "tanh") s += ", nonlinearity=" + nonlinearity;
  return s;
}

GRUCell::GRUCell(int64_t in, int64_t hidden, bool bias, DType dtype)
    : RNNCellBase("GRUCell", RecurrentMode::GRU, in, hidden, bias, dtype) {}

Tensor GRUCell::forward(const Tensor& input, const Tensor& hx) { return step(input, hx, Tensor())[0]; }

LSTMCell::LSTMCell(int64_t in, int64_t hidden, bool bias, DType dtype)
    : RNNCellBase("LSTMCell", RecurrentMode::LSTM, in, hidden, bias, dtype) {}

std::pair<Tensor, Tensor> LSTMCell::forward(const Tensor& input, const std::optional<std::pair<Tensor, Tensor>>& hx) {
  auto r = hx ? step(input, hx->first, hx->second) : step(input, Tensor(), Tensor());
  return {r[0], r[1]};
}

}  // namespace shanshui::nn
