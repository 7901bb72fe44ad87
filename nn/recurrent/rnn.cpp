#include "nn/recurrent/rnn.h"

#include <cmath>

#include "core/ops.h"
#include "nn/functional.h"
#include "nn/init.h"

namespace shanshui::nn {

using functional::RecurrentMode;

RNNBase::RNNBase(std::string type, RecurrentMode mode, const RNNOptions& o) : Module(type), options(o), mode_(mode) {
  SS_CHECK(o.input_size >= 0, ValueError, type, ": input_size must be non-negative, got ", o.input_size);
  SS_CHECK(o.hidden_size > 0, ValueError, type, ": hidden_size must be greater than zero, got ", o.hidden_size);
  SS_CHECK(o.num_layers > 0, ValueError, type, ": num_layers must be greater than zero, got ", o.num_layers);
  SS_CHECK(o.dropout >= 0.0 && o.dropout <= 1.0, ValueError, type,
           ": dropout should be a number in range [0, 1] representing the probability of an element being zeroed, got ",
           o.dropout);
  SS_CHECK(is_floating(o.dtype), TypeError, type, ": dtype must be floating point, got ", dtype_name(o.dtype));
  const int64_t G = functional::gate_count(mode), H = o.hidden_size, D = num_directions();
  // PyTorch's registration order: per layer, per direction: w_ih, w_hh, b_ih, b_hh.
  for (int64_t l = 0; l < o.num_layers; ++l) {
    const int64_t in = l == 0 ? o.input_size : H * D;
    for (int64_t d = 0; d < D; ++d) {
      std::string sfx = "_l" + std::to_string(l) + (d == 1 ? "_reverse" : "");
      register_parameter("weight_ih" + sfx, empty({G * H, in}, o.dtype));
      register_parameter("weight_hh" + sfx, empty({G * H, H}, o.dtype));
      if (o.bias) {
        register_parameter("bias_ih" + sfx, empty({G * H}, o.dtype));
        register_parameter("bias_hh" + sfx, empty({G * H}, o.dtype));
      }
    }
  }
  reset_parameters();
}

void RNNBase::reset_parameters() {
  const double stdv = 1.0 / std::sqrt(double(options.hidden_size));
  for (size_t i = 0; i < params_.size(); ++i) init::uniform_(params_.at(i), -stdv, stdv);
}

std::string RNNBase::extra_repr() const {
  const RNNOptions& o = options;
  std::string s = cat_str(o.input_size, ", ", o.hidden_size);
  if (o.num_layers != 1) s += cat_str(", num_layers=", o.num_layers);
  if (mode_ == RecurrentMode::RNN_RELU) s += ", nonlinearity='relu'";
  if (!o.bias) s += ", bias=False";
  if (o.batch_first) s += ", batch_first=True";
  if (o.dropout != 0.0) s += cat_str(", dropout=", o.dropout);
  if (o.bidirectional) s += ", bidirectional=True";
  return s;
}

std::vector<Tensor> RNNBase::run(const Tensor& input, const Tensor& h0_in, const Tensor& c0_in) {
  const std::string& op = type_name();
  const RNNOptions& o = options;
  const bool lstm = mode_ == RecurrentMode::LSTM;
  SS_CHECK(input.defined() && (input.dim() == 2 || input.dim() == 3), ValueError, op,
           ": expected input to be 2-D (unbatched) or 3-D (batched), got shape ",
           input.defined() ? input.shape() : Shape{});
  SS_CHECK(input.size(-1) == o.input_size, ValueError, op, ": input.size(-1) must be equal to input_size. Expected ",
           o.input_size, ", got ", input.size(-1), " (input of shape ", input.shape(), ")");
  const DType dt = params_.at(0).dtype();
  SS_CHECK(input.dtype() == dt, TypeError, op, ": input dtype ", dtype_name(input.dtype()),
           " does not match the parameters' dtype ", dtype_name(dt));
  const bool batched = input.dim() == 3;
  Tensor x = !batched ? input.unsqueeze(1) : o.batch_first ? input.transpose(0, 1) : input;
  const int64_t T = x.size(0), B = x.size(1), H = o.hidden_size, D = num_directions(), L = o.num_layers;
  SS_CHECK(T > 0, ValueError, op, ": expected sequence length to be larger than 0, got input of shape ",
           input.shape());
  const Shape want = batched ? Shape{L * D, B, H} : Shape{L * D, H};
  auto state = [&](const Tensor& s, const char* name) {
    if (!s.defined()) return zeros({L * D, B, H}, dt);
    SS_CHECK(batched || s.dim() == 2, ValueError, op, ": for unbatched 2-D input, ", name,
             " should also be 2-D but got ", s.dim(), "-D tensor of shape ", s.shape());
    SS_CHECK(!batched || s.dim() == 3, ValueError, op, ": for batched 3-D input, ", name,
             " should also be 3-D but got ", s.dim(), "-D tensor of shape ", s.shape());
    SS_CHECK(s.shape() == want, ValueError, op, ": expected ", name, " of size ", want, ", got ", s.shape());
    SS_CHECK(s.dtype() == dt, TypeError, op, ": ", name, " dtype ", dtype_name(s.dtype()),
             " does not match the parameters' dtype ", dtype_name(dt));
    return batched ? s : s.unsqueeze(1);
  };
  Tensor h0 = state(h0_in, "hx"), c0 = lstm ? state(c0_in, "cx") : Tensor();
  const int64_t G = functional::gate_count(mode_);
  std::vector<Tensor> hn, cn;
  for (int64_t l = 0; l < L; ++l) {
    const int64_t in = x.size(2);
    Tensor flat = x.reshape({T * B, in});
    std::vector<Tensor> outs;
    for (int64_t d = 0; d < D; ++d) {
      const int64_t k = l * D + d;
      // All timesteps' input projections in one GEMM.
      Tensor gi = linear(flat, weight_ih(l, d), bias_ih(l, d)).view({T, B, G * H});
      auto r = functional::recurrent_layer(mode_, gi, h0.select(0, k), lstm ? c0.select(0, k) : Tensor(),
                                           weight_hh(l, d), bias_hh(l, d), d == 1);
      outs.push_back(r[0]);
      hn.push_back(r[1]);
      if (lstm) cn.push_back(r[2]);
    }
    x = D == 2 ? cat(outs, 2) : outs[0];
    if (o.dropout > 0.0 && is_training() && l + 1 < L) x = functional::dropout(x, o.dropout, true);
  }
  Tensor output = !batched ? x.squeeze(1) : o.batch_first ? x.transpose(0, 1) : x;
  std::vector<Tensor> res{output, stack(hn, 0)};
  if (lstm) res.push_back(stack(cn, 0));
  if (!batched) res[1] = res[1].squeeze(1);
  if (!batched && lstm) res[2] = res[2].squeeze(1);
  return res;
}

static RNNOptions with(RNNOptions o, const std::string& nl) {
  o.nonlinearity = nl;
  return o;
}

static RecurrentMode rnn_mode(const std::string& nl) {
  SS_CHECK(nl == "tanh" || nl == "relu", ValueError, "RNN: unknown nonlinearity '", nl,
           "' (expected 'tanh' or 'relu')");
  return nl == "tanh" ? RecurrentMode::RNN_TANH : RecurrentMode::RNN_RELU;
}

RNN::RNN(const RNNOptions& o) : RNNBase("RNN", rnn_mode(o.nonlinearity), o) {}
RNN::RNN(int64_t in, int64_t hidden, int64_t layers, const std::string& nl, bool bias, bool bf, double dropout,
         bool bidir, DType dtype)
    : RNN(with(RNNOptions{in, hidden, layers, "tanh", bias, bf, dropout, bidir, dtype}, nl)) {}

std::pair<Tensor, Tensor> RNN::forward(const Tensor& input, const Tensor& hx) {
  auto r = run(input, hx, Tensor());
  return {r[0], r[1]};
}

GRU::GRU(const RNNOptions& o) : RNNBase("GRU", RecurrentMode::GRU, o) {}
GRU::GRU(int64_t in, int64_t hidden, int64_t layers, bool bias, bool bf, double dropout, bool bidir, DType dtype)
    : GRU(RNNOptions{in, hidden, layers, "tanh", bias, bf, dropout, bidir, dtype}) {}

std::pair<Tensor, Tensor> GRU::forward(const Tensor& input, const Tensor& hx) {
  auto r = run(input, hx, Tensor());
  return {r[0], r[1]};
}

LSTM::LSTM(const RNNOptions& o) : RNNBase("LSTM", RecurrentMode::LSTM, o) {}
LSTM::LSTM(int64_t in, int64_t hidden, int64_t layers, bool bias, bool bf, double dropout, bool bidir, DType dtype)
    : LSTM(RNNOptions{in, hidden, layers, "tanh", bias, bf, dropout, bidir, dtype}) {}

std::pair<Tensor, std::pair<Tensor, Tensor>> LSTM::forward(const Tensor& input,
                                                           const std::optional<std::pair<Tensor, Tensor>>& hx) {
  auto r = hx ? run(input, hx->first, hx->second) : run(input, Tensor(), Tensor());
  return {r[0], {r[1], r[2]}};
}

}  // namespace shanshui::nn
