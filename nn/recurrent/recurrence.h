// The recurrence of one layer and one direction of an RNN / GRU / LSTM over a
// whole sequence, as a single autograd op. The caller computes the input
// projections of all timesteps with ONE GEMM (x [T*B, in] @ W_ih^T + b_ih);
// this op then runs, per step, only the hidden GEMM h_{t-1} @ W_hh^T and the
// fused gate nonlinearities, and its backward is back-propagation through time
// in one pass (per step one GEMM for dh_{t-1}; dW_hh and db_hh as one GEMM and
// one reduction over all steps at the end). First-order gradients only.
//
// Gate layouts are PyTorch's: GRU rows [r; z; n] with
// n = tanh(W_in x + b_in + r * (W_hn h + b_hn)); LSTM rows [i; f; g; o].
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"

namespace shanshui::nn::functional {

enum class RecurrentMode { RNN_TANH, RNN_RELU, GRU, LSTM };

// Gate blocks per hidden unit: 1 (RNN), 3 (GRU), 4 (LSTM).
int64_t gate_count(RecurrentMode mode);
const char* mode_name(RecurrentMode mode);  // "RNN_TANH", "RNN_RELU", "GRU", "LSTM"

// gi: [T, B, G*H] input projections (bias b_ih included); h0 [B, H]; c0 [B, H]
// (LSTM only, undefined otherwise); w_hh [G*H, H]; b_hh [G*H] or undefined.
// reverse: process t = T-1 .. 0 (the backward direction of a bidirectional
// layer); outputs stay in time order.
// Returns {output [T, B, H], h_n [B, H]} and, for LSTM, c_n [B, H] third.
std::vector<Tensor> recurrent_layer(RecurrentMode mode, const Tensor& gi, const Tensor& h0, const Tensor& c0,
                                    const Tensor& w_hh, const Tensor& b_hh, bool reverse = false);

}  // namespace shanshui::nn::functional
