// Transformer layers and stacks: torch.nn.modules.transformer's forward
// passes (the slow path, which is also what torch runs whenever grad is on).
#include "nn/attention/transformer.h"

#include <cmath>
#include <limits>

#include "core/ops.h"
#include "nn/functional.h"
#include "nn/init.h"

namespace shanshui::nn {

namespace {

TransformerLayerOptions make_options(int64_t d_model, int64_t nhead, int64_t ff, double dropout,
                                     const std::string& act, double eps, bool batch_first, bool norm_first, bool bias,
                                     DType dtype) {
  TransformerLayerOptions o;
  o.d_model = d_model;
  o.nhead = nhead;
  o.dim_feedforward = ff;
  o.dropout = dropout;
  o.activation = act;
  o.layer_norm_eps = eps;
  o.batch_first = batch_first;
  o.norm_first = norm_first;
  o.bias = bias;
  o.dtype = dtype;
  return o;
}

void check_options(const TransformerLayerOptions& o, const char* op) {
  SS_CHECK(o.activation == "relu" || o.activation == "gelu", ValueError, op,
           ": activation should be relu/gelu, not ", o.activation);
  SS_CHECK(o.d_model > 0 && o.nhead > 0 && o.dim_feedforward > 0, ValueError, op,
           ": d_model, nhead and dim_feedforward must be positive, got ", o.d_model, ", ", o.nhead, " and ",
           o.dim_feedforward);
}

Tensor activate(const Tensor& x, const std::string& act) { return act == "gelu" ? gelu(x) : relu(x); }

std::shared_ptr<LayerNorm> layer_norm(const TransformerLayerOptions& o) {
  return std::make_shared<LayerNorm>(Shape{o.d_model}, o.layer_norm_eps, true, o.bias, o.dtype);
}

// torch's _detect_is_causal_mask: an explicit flag wins; unset, a float mask
// equal to generate_square_subsequent_mask(size) counts as causal.
bool detect_is_causal(const Tensor& mask, std::optional<bool> is_causal, int64_t size) {
  if (is_causal) return *is_causal;
  if (!mask.defined() || !mask.is_floating_point() || mask.shape() != Shape{size, size}) return false;
  return equal(mask, generate_square_subsequent_mask(size, mask.dtype()));
}

// The sequence length of a layer input (torch's _get_seq_len).
int64_t seq_len(const Tensor& x, bool batch_first) { return x.dim() == 3 && batch_first ? x.size(1) : x.size(0); }

}  // namespace

Tensor generate_square_subsequent_mask(int64_t sz, DType dtype) {
  SS_CHECK(sz >= 0, ValueError, "generate_square_subsequent_mask: sz must be non-negative, got ", sz);
  return triu(full({sz, sz}, -std::numeric_limits<double>::infinity(), dtype), 1);
}

// ---- encoder layer ----------------------------------------------------------------------------

TransformerEncoderLayer::TransformerEncoderLayer(int64_t d_model, int64_t nhead, int64_t ff, double dropout_p,
                                                 const std::string& act, double eps, bool batch_first,
                                                 bool norm_first, bool bias, DType dtype)
    : TransformerEncoderLayer(make_options(d_model, nhead, ff, dropout_p, act, eps, batch_first, norm_first, bias,
                                           dtype)) {}

TransformerEncoderLayer::TransformerEncoderLayer(const TransformerLayerOptions& o)
    : Module("TransformerEncoderLayer"), options(o) {
  check_options(o, "TransformerEncoderLayer");
  self_attn = register_module("self_attn", std::make_shared<MultiheadAttention>(
                                               o.d_model, o.nhead, o.dropout, o.bias, false, false, std::nullopt,
                                               std::nullopt, o.batch_first, o.dtype));
  linear1 = register_module("linear1", std::make_shared<Linear>(o.d_model, o.dim_feedforward, o.bias, o.dtype));
  dropout = register_module("dropout", std::make_shared<Dropout>(o.dropout));
  linear2 = register_module("linear2", std::make_shared<Linear>(o.dim_feedforward, o.d_model, o.bias, o.dtype));
  norm1 = register_module("norm1", layer_norm(o));
  norm2 = register_module("norm2", layer_norm(o));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(o.dropout));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(o.dropout));
}

Tensor TransformerEncoderLayer::ff_block(const Tensor& x) {
  return (*dropout2)((*linear2)((*dropout)(activate((*linear1)(x), options.activation))));
}

Tensor TransformerEncoderLayer::forward(const Tensor& src, const Tensor& src_mask, const Tensor& kpm, bool is_causal) {
  auto sa = [&](const Tensor& x) {
    return (*dropout1)(self_attn->forward(x, x, x, kpm, /*need_weights=*/false, src_mask, true, is_causal).first);
  };
  Tensor x = src;
  if (options.norm_first) {
    x = x + sa((*norm1)(x));
    x = x + ff_block((*norm2)(x));
  } else {
    x = (*norm1)(x + sa(x));
    x = (*norm2)(x + ff_block(x));
  }
  return x;
}

std::shared_ptr<TransformerEncoderLayer> TransformerEncoderLayer::clone_layer() const {
  auto c = std::make_shared<TransformerEncoderLayer>(options);
  c->load_state_dict(state_dict());
  c->train(is_training());
  return c;
}

// ---- decoder layer ----------------------------------------------------------------------------

TransformerDecoderLayer::TransformerDecoderLayer(int64_t d_model, int64_t nhead, int64_t ff, double dropout_p,
                                                 const std::string& act, double eps, bool batch_first,
                                                 bool norm_first, bool bias, DType dtype)
    : TransformerDecoderLayer(make_options(d_model, nhead, ff, dropout_p, act, eps, batch_first, norm_first, bias,
                                           dtype)) {}

TransformerDecoderLayer::TransformerDecoderLayer(const TransformerLayerOptions& o)
    : Module("TransformerDecoderLayer"), options(o) {
  check_options(o, "TransformerDecoderLayer");
  auto mha = [&] {
    return std::make_shared<MultiheadAttention>(o.d_model, o.nhead, o.dropout, o.bias, false, false, std::nullopt,
                                                std::nullopt, o.batch_first, o.dtype);
  };
  self_attn = register_module("self_attn", mha());
  multihead_attn = register_module("multihead_attn", mha());
  linear1 = register_module("linear1", std::make_shared<Linear>(o.d_model, o.dim_feedforward, o.bias, o.dtype));
  dropout = register_module("dropout", std::make_shared<Dropout>(o.dropout));
  linear2 = register_module("linear2", std::make_shared<Linear>(o.dim_feedforward, o.d_model, o.bias, o.dtype));
  norm1 = register_module("norm1", layer_norm(o));
  norm2 = register_module("norm2", layer_norm(o));
  norm3 = register_module("norm3", layer_norm(o));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(o.dropout));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(o.dropout));
  dropout3 = register_module("dropout3", std::make_shared<Dropout>(o.dropout));
}

Tensor TransformerDecoderLayer::ff_block(const Tensor& x) {
  return (*dropout3)((*linear2)((*dropout)(activate((*linear1)(x), options.activation))));
}

Tensor TransformerDecoderLayer::forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask,
                                        const Tensor& memory_mask, const Tensor& tgt_kpm, const Tensor& memory_kpm,
                                        bool tgt_is_causal, bool memory_is_causal) {
  auto sa = [&](const Tensor& x) {
    return (*dropout1)(self_attn->forward(x, x, x, tgt_kpm, false, tgt_mask, true, tgt_is_causal).first);
  };
  auto ca = [&](const Tensor& x) {
    return (*dropout2)(
        multihead_attn->forward(x, memory, memory, memory_kpm, false, memory_mask, true, memory_is_causal).first);
  };
  return sublayers(tgt, sa, ca);
}

std::shared_ptr<TransformerDecoderLayer> TransformerDecoderLayer::clone_layer() const {
  auto c = std::make_shared<TransformerDecoderLayer>(options);
  c->load_state_dict(state_dict());
  c->train(is_training());
  return c;
}

// ---- stacks -------------------------------------------------------------------------------------

TransformerEncoder::TransformerEncoder(const TransformerEncoderLayer& layer, int64_t n, std::shared_ptr<LayerNorm> nrm)
    : Module("TransformerEncoder"), num_layers(n) {
  SS_CHECK(n >= 0, ValueError, "TransformerEncoder: num_layers must be non-negative, got ", n);
  layers = register_module("layers", std::make_shared<ModuleList>());
  for (int64_t i = 0; i < n; ++i) layers->push_back(layer.clone_layer());
  if (nrm) norm = register_module("norm", nrm);
}

Tensor TransformerEncoder::forward(const Tensor& src, const Tensor& mask, const Tensor& kpm,
                                   std::optional<bool> is_causal) {
  bool batch_first = false;
  if (layers->size() > 0) batch_first = std::static_pointer_cast<TransformerEncoderLayer>((*layers)[0])->options.batch_first;
  const bool causal = detect_is_causal(mask, is_causal, seq_len(src, batch_first));
  Tensor x = src;
  for (size_t i = 0; i < layers->size(); ++i)
    x = std::static_pointer_cast<TransformerEncoderLayer>((*layers)[int64_t(i)])->forward(x, mask, kpm, causal);
  return norm ? (*norm)(x) : x;
}

TransformerDecoder::TransformerDecoder(const TransformerDecoderLayer& layer, int64_t n, std::shared_ptr<LayerNorm> nrm)
    : Module("TransformerDecoder"), num_layers(n) {
  SS_CHECK(n >= 0, ValueError, "TransformerDecoder: num_layers must be non-negative, got ", n);
  layers = register_module("layers", std::make_shared<ModuleList>());
  for (int64_t i = 0; i < n; ++i) layers->push_back(layer.clone_layer());
  if (nrm) norm = register_module("norm", nrm);
}

Tensor TransformerDecoder::forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask,
                                   const Tensor& memory_mask, const Tensor& tgt_kpm, const Tensor& memory_kpm,
                                   std::optional<bool> tgt_is_causal, bool memory_is_causal) {
  bool batch_first = false;
  if (layers->size() > 0) batch_first = std::static_pointer_cast<TransformerDecoderLayer>((*layers)[0])->options.batch_first;
  const bool causal = detect_is_causal(tgt_mask, tgt_is_causal, seq_len(tgt, batch_first));
  Tensor x = tgt;
  for (size_t i = 0; i < layers->size(); ++i)
    x = std::static_pointer_cast<TransformerDecoderLayer>((*layers)[int64_t(i)])
            ->forward(x, memory, tgt_mask, memory_mask, tgt_kpm, memory_kpm, causal, memory_is_causal);
  return norm ? (*norm)(x) : x;
}

// ---- the full model ------------------------------------------------------------------------------

Transformer::Transformer(int64_t d_model, int64_t nhead, int64_t n_enc, int64_t n_dec, int64_t ff, double dropout,
                         const std::string& act, double eps, bool batch_first, bool norm_first, bool bias, DType dtype)
    : Module("Transformer"), d_model(d_model), nhead(nhead), batch_first(batch_first) {
  TransformerLayerOptions o = make_options(d_model, nhead, ff, dropout, act, eps, batch_first, norm_first, bias, dtype);
  encoder = register_module("encoder", std::make_shared<TransformerEncoder>(TransformerEncoderLayer(o), n_enc,
                                                                            layer_norm(o)));
  decoder = register_module("decoder", std::make_shared<TransformerDecoder>(TransformerDecoderLayer(o), n_dec,
                                                                            layer_norm(o)));
  // torch's _reset_parameters: xavier_uniform_ on every matrix.
  for (Tensor& p : parameters())
    if (p.dim() > 1) init::xavier_uniform_(p);
}

Tensor Transformer::forward(const Tensor& src, const Tensor& tgt, const Tensor& src_mask, const Tensor& tgt_mask,
                            const Tensor& memory_mask, const Tensor& src_kpm, const Tensor& tgt_kpm,
                            const Tensor& memory_kpm, std::optional<bool> src_is_causal,
                            std::optional<bool> tgt_is_causal, bool memory_is_causal) {
  const bool batched = src.dim() == 3;
  if (batched) {
    SS_CHECK(tgt.dim() == 3 && src.size(batch_first ? 0 : 1) == tgt.size(batch_first ? 0 : 1), RuntimeError,
             "Transformer: the batch number of src and tgt must be equal (src shape ", src.shape(), ", tgt shape ",
             tgt.shape(), ", batch_first=", batch_first ? "True" : "False", ")");
  }
  SS_CHECK(src.size(-1) == d_model && tgt.size(-1) == d_model, RuntimeError,
           "Transformer: the feature number of src and tgt must be equal to d_model (", d_model, "), got shapes ",
           src.shape(), " and ", tgt.shape());
  Tensor memory = encoder->forward(src, src_mask, src_kpm, src_is_causal);
  return decoder->forward(tgt, memory, tgt_mask, memory_mask, tgt_kpm, memory_kpm, tgt_is_causal, memory_is_causal);
}

}  // namespace shanshui::nn
