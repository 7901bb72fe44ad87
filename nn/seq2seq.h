// A recurrent encoder-decoder for sequence-to-sequence learning (Bahdanau,
// Cho & Bengio 2015; Cho et al. 2014 for the no-attention variant).
//
// Encoder: token embedding and a (bi)GRU (batch_first) over the source,
// giving the annotations h_i [B, S, D*H]. Decoder: s_0 = tanh(W_b [h_fwd_S; h_bwd_1])
// (the encoder's final states of its last layer), then per step t
//   c_t = attention(s_{t-1}, h)                   (attention: AdditiveAttention)
//   c_t = [h_fwd_S; h_bwd_1]                      (no attention: the final state only)
//   s_t = GRUCell([E y_{t-1}; c_t], s_{t-1})      (the context fed in at every step)
//   logits_t = W_o [s_t; c_t; E y_{t-1}]
// Training uses teacher forcing (forward(src, tgt_in) with tgt_in = BOS + the
// target shifted right); inference is greedy_decode. Both return the per-step
// attention weights [B, T, S] for heatmaps (undefined without attention).
// Padding positions of the source (key_padding_mask, True = pad; by default
// src == pad_idx) get no attention; the encoder itself still reads them, so
// put padding at the end.
#pragma once
#include <memory>
#include <utility>

#include "nn/additive_attention.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/module.h"
#include "nn/recurrent/rnn.h"
#include "nn/recurrent/rnn_cell.h"

namespace shanshui::nn {

struct Seq2SeqOptions {
  int64_t src_vocab, tgt_vocab;
  int64_t embed_dim = 64;
  int64_t hidden_size = 64;     // encoder hidden per direction, and the decoder's state size
  int64_t attention_dim = 64;   // hidden size of the additive score's tanh layer
  bool attention = true;        // false: the context is the encoder's final state (simple RNN encoder-decoder)
  bool bidirectional = true;    // encoder
  int64_t num_layers = 1;       // encoder layers
  double dropout = 0.0;         // on embeddings and before the output projection (and between encoder layers)
  int64_t pad_idx = 0, bos_idx = 1, eos_idx = 2;
  DType dtype = DType::Float32;
};

class Seq2Seq : public Module {
 public:
  explicit Seq2Seq(const Seq2SeqOptions& o);

  struct Memory {
    Tensor annotations;     // h [B, S, D*H]
    Tensor projected_keys;  // W_h h [B, S, A] (attention only)
    Tensor summary;         // [h_fwd_S; h_bwd_1] [B, D*H]
    Tensor mask;            // key padding mask [B, S] or undefined
    Tensor state;           // s_0 [B, H]
    // Keep batch rows `index` (int64 [B']) of every field, in that order (beam search).
    void reorder(const Tensor& index);
  };
  // src: int64 [B, S]; key_padding_mask: bool [B, S] (True = pad) or undefined (then src == pad_idx).
  Memory encode(const Tensor& src, const Tensor& key_padding_mask = Tensor());
  struct Step {
    Tensor logits;   // [B, tgt_vocab]
    Tensor state;    // s_t [B, H]
    Tensor weights;  // [B, S] (undefined without attention)
  };
  // One decoder step from the previous tokens y_prev int64 [B] and state s_prev [B, H].
  Step decode_step(const Memory& mem, const Tensor& y_prev, const Tensor& s_prev);
  // Teacher forcing: tgt_in int64 [B, T] (BOS then the target shifted right).
  // Returns (logits [B, T, tgt_vocab], attention weights [B, T, S] or undefined).
  std::pair<Tensor, Tensor> forward(const Tensor& src, const Tensor& tgt_in, const Tensor& key_padding_mask = Tensor());
  // Greedy decoding for max_len steps from BOS (stops early once every row has
  // produced EOS; after its EOS a row emits pad_idx). Returns (tokens int64
  // [B, L], attention weights [B, L, S] or undefined), L <= max_len. Runs without grad.
  std::pair<Tensor, Tensor> greedy_decode(const Tensor& src, int64_t max_len,
                                          const Tensor& key_padding_mask = Tensor());
  std::string extra_repr() const override;

  Seq2SeqOptions options;
  std::shared_ptr<Embedding> src_embed, tgt_embed;
  std::shared_ptr<GRU> encoder;
  std::shared_ptr<Linear> bridge, out;
  std::shared_ptr<AdditiveAttention> attention;  // null without attention
  std::shared_ptr<GRUCell> decoder;

 private:
  Tensor drop(const Tensor& x);
  void check_tokens(const Tensor& t, const char* name, int64_t vocab) const;
};

}  // namespace shanshui::nn
