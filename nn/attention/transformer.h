// The Transformer of "Attention is all you need", as torch.nn: encoder and
// decoder layers, their stacks and the full encoder-decoder, with torch's
// arguments, defaults and submodule names (self_attn, linear1, dropout,
// linear2, norm1, norm2, dropout1, dropout2, and multihead_attn, norm3,
// dropout3 in the decoder; layers.<i>; encoder.norm / decoder.norm), so torch
// state_dicts load one-to-one. norm_first=false is the paper's post-LN
// (x = norm(x + sublayer(x))), true is pre-LN (x = x + sublayer(norm(x))).
//
// Masks follow MultiheadAttention's conventions (bool True = not allowed /
// padding, or float added). Inputs are [L, N, d] ([N, L, d] with batch_first)
// or unbatched [L, d]. The stacks copy the given layer num_layers times (same
// initial weights in every layer, as torch's deepcopy).
//
// Incremental decoding with a key/value cache (inference, one target position
// or a few at a time):
//
//   Tensor memory = model.encoder->forward(src, Tensor(), src_pad);
//   nn::TransformerDecoderCache cache = model.decoder->init_cache(memory, src_pad);
//   for (...) {                                   // y: the new positions, embedded,
//     Tensor h = model.decoder->forward_step(y, cache);   // [N, t, d] (batch_first)
//     ...                                         // h: their outputs, as forward() gives them
//   }
//
// init_cache projects the memory's cross-attention keys and values once per
// layer; forward_step runs the new positions through every layer, appending
// their self-attention keys and values to the cache, and each position sees
// itself, the positions before it and the memory (the causal forward's view).
// The outputs equal forward(tgt, memory, causal mask, memory_key_padding_mask)
// at those positions. Positional encodings must be added by the caller at
// positions cache.length .. cache.length + t - 1 (PositionalEncoding::forward(x, offset)).
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nn/attention/multihead_attention.h"
#include "nn/container.h"
#include "nn/dropout.h"
#include "nn/linear.h"
#include "nn/normalization.h"

namespace shanshui::nn {

struct TransformerLayerOptions {
  int64_t d_model = 512, nhead = 8, dim_feedforward = 2048;
  double dropout = 0.1;
  std::string activation = "relu";  // "relu" or "gelu"
  double layer_norm_eps = 1e-5;
  bool batch_first = false, norm_first = false, bias = true;
  DType dtype = DType::Float32;
};

// A float [sz, sz] mask with -inf above the diagonal and 0 elsewhere (torch's
// Transformer.generate_square_subsequent_mask).
Tensor generate_square_subsequent_mask(int64_t sz, DType dtype = DType::Float32);

class TransformerEncoderLayer : public Module {
 public:
  TransformerEncoderLayer(int64_t d_model, int64_t nhead, int64_t dim_feedforward = 2048, double dropout = 0.1,
                          const std::string& activation = "relu", double layer_norm_eps = 1e-5,
                          bool batch_first = false, bool norm_first = false, bool bias = true,
                          DType dtype = DType::Float32);
  explicit TransformerEncoderLayer(const TransformerLayerOptions& o);
  Tensor forward(const Tensor& src, const Tensor& src_mask, const Tensor& src_key_padding_mask = Tensor(),
                 bool is_causal = false);
  Tensor forward(const Tensor& src) override { return forward(src, Tensor()); }
  // A new layer with the same options and a copy of the weights.
  std::shared_ptr<TransformerEncoderLayer> clone_layer() const;

  TransformerLayerOptions options;
  std::shared_ptr<MultiheadAttention> self_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<Dropout> dropout, dropout1, dropout2;
  std::shared_ptr<LayerNorm> norm1, norm2;

 private:
  Tensor ff_block(const Tensor& x);
};

// The state of incremental decoding through a TransformerDecoder.
struct TransformerDecoderCache {
  std::vector<KeyValueCache> self_attn;   // per layer: keys / values of the target positions so far
  std::vector<KeyValueCache> cross_attn;  // per layer: keys / values of the memory, projected once
  Tensor memory_key_padding_mask;         // [N, S] as given to init_cache (bool True = padding), or undefined
  int64_t length = 0;                     // target positions decoded so far
  int64_t batch_size = 0;
  bool batch_first = false;
  // With need_weights (set by init_cache), forward_step stores each layer's
  // cross-attention weights of the latest positions here, averaged over heads: [N, t, S].
  bool need_weights = false;
  std::vector<Tensor> cross_attn_weights;
  // Keep batch rows `index` (int64 [N'], any rows, repeats allowed) in that
  // order: new row i is old row index[i]. Beam search grows, follows and prunes its hypotheses with it.
  void reorder(const Tensor& index);
};

class TransformerDecoderLayer : public Module {
 public:
  TransformerDecoderLayer(int64_t d_model, int64_t nhead, int64_t dim_feedforward = 2048, double dropout = 0.1,
                          const std::string& activation = "relu", double layer_norm_eps = 1e-5,
                          bool batch_first = false, bool norm_first = false, bool bias = true,
                          DType dtype = DType::Float32);
  explicit TransformerDecoderLayer(const TransformerLayerOptions& o);
  Tensor forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = Tensor(),
                 const Tensor& memory_mask = Tensor(), const Tensor& tgt_key_padding_mask = Tensor(),
                 const Tensor& memory_key_padding_mask = Tensor(), bool tgt_is_causal = false,
                 bool memory_is_causal = false);
  using Module::forward;
  // Incremental decoding of the new positions tgt (3-D, t >= 1): appends to
  // self_cache, attends to memory_cache (see TransformerDecoder::forward_step).
  // cross_attn_weights, when given, receives the head-averaged cross-attention weights [N, t, S].
  Tensor forward_step(const Tensor& tgt, KeyValueCache& self_cache, const KeyValueCache& memory_cache,
                      const Tensor& memory_key_padding_mask = Tensor(), Tensor* cross_attn_weights = nullptr);
  std::shared_ptr<TransformerDecoderLayer> clone_layer() const;

  TransformerLayerOptions options;
  std::shared_ptr<MultiheadAttention> self_attn, multihead_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<Dropout> dropout, dropout1, dropout2, dropout3;
  std::shared_ptr<LayerNorm> norm1, norm2, norm3;

 private:
  Tensor ff_block(const Tensor& x);
  // The three residual sublayers around self-attention `sa` and cross-attention
  // `ca`, post-LN or pre-LN: shared by forward and forward_step.
  template <class SelfAttn, class CrossAttn>
  Tensor sublayers(Tensor x, SelfAttn sa, CrossAttn ca) {
    if (options.norm_first) {
      x = x + sa((*norm1)(x));
      x = x + ca((*norm2)(x));
      return x + ff_block((*norm3)(x));
    }
    x = (*norm1)(x + sa(x));
    x = (*norm2)(x + ca(x));
    return (*norm3)(x + ff_block(x));
  }
};

class TransformerEncoder : public Module {
 public:
  TransformerEncoder(const TransformerEncoderLayer& encoder_layer, int64_t num_layers,
                     std::shared_ptr<LayerNorm> norm = nullptr);
  // is_causal: unset detects whether mask is the causal mask, as torch.
  Tensor forward(const Tensor& src, const Tensor& mask, const Tensor& src_key_padding_mask = Tensor(),
                 std::optional<bool> is_causal = std::nullopt);
  Tensor forward(const Tensor& src) override { return forward(src, Tensor()); }
  std::shared_ptr<ModuleList> layers;
  std::shared_ptr<LayerNorm> norm;
  int64_t num_layers;
};

class TransformerDecoder : public Module {
 public:
  TransformerDecoder(const TransformerDecoderLayer& decoder_layer, int64_t num_layers,
                     std::shared_ptr<LayerNorm> norm = nullptr);
  Tensor forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = Tensor(),
                 const Tensor& memory_mask = Tensor(), const Tensor& tgt_key_padding_mask = Tensor(),
                 const Tensor& memory_key_padding_mask = Tensor(), std::optional<bool> tgt_is_causal = std::nullopt,
                 bool memory_is_causal = false);
  using Module::forward;
  // memory [S, N, d] ([N, S, d] with batch_first); memory_key_padding_mask [N, S]
  // (bool True = padding, or float added). need_weights: keep the cross-attention weights of every step.
  TransformerDecoderCache init_cache(const Tensor& memory, const Tensor& memory_key_padding_mask = Tensor(),
                                     bool need_weights = false) const;
  // tgt: the next t >= 1 target positions, embedded, [t, N, d] ([N, t, d] with
  // batch_first); returns their outputs (after the final norm) and advances the cache by t.
  Tensor forward_step(const Tensor& tgt, TransformerDecoderCache& cache);
  std::shared_ptr<ModuleList> layers;
  std::shared_ptr<LayerNorm> norm;
  int64_t num_layers;
};

class Transformer : public Module {
 public:
  Transformer(int64_t d_model = 512, int64_t nhead = 8, int64_t num_encoder_layers = 6,
              int64_t num_decoder_layers = 6, int64_t dim_feedforward = 2048, double dropout = 0.1,
              const std::string& activation = "relu", double layer_norm_eps = 1e-5, bool batch_first = false,
              bool norm_first = false, bool bias = true, DType dtype = DType::Float32);
  Tensor forward(const Tensor& src, const Tensor& tgt, const Tensor& src_mask = Tensor(),
                 const Tensor& tgt_mask = Tensor(), const Tensor& memory_mask = Tensor(),
                 const Tensor& src_key_padding_mask = Tensor(), const Tensor& tgt_key_padding_mask = Tensor(),
                 const Tensor& memory_key_padding_mask = Tensor(), std::optional<bool> src_is_causal = std::nullopt,
                 std::optional<bool> tgt_is_causal = std::nullopt, bool memory_is_causal = false);
  using Module::forward;
  static Tensor generate_square_subsequent_mask(int64_t sz, DType dtype = DType::Float32) {
    return nn::generate_square_subsequent_mask(sz, dtype);
  }
  std::shared_ptr<TransformerEncoder> encoder;
  std::shared_ptr<TransformerDecoder> decoder;
  int64_t d_model, nhead;
  bool batch_first;
};

}  // namespace shanshui::nn
