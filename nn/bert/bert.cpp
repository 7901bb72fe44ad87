// BERT's forward passes, as transformers.models.bert.modeling_bert (eager
// path). Inputs are checked here, before any lookup, so a bad id or a too-long
// sequence is reported in BERT's terms rather than as an index error deep in
// an embedding.
#include "nn/bert/bert.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "core/ops.h"
#include "nn/functional/attention.h"
#include "nn/init.h"

namespace shanshui::nn {

void BertConfig::validate(const char* op) const {
  SS_CHECK(vocab_size > 0 && hidden_size > 0 && num_attention_heads > 0 && intermediate_size > 0 &&
               max_position_embeddings > 0 && type_vocab_size > 0 && num_hidden_layers >= 0,
           ValueError, op, ": vocab_size, hidden_size, num_attention_heads, intermediate_size, "
           "max_position_embeddings and type_vocab_size must be positive and num_hidden_layers non-negative, got ",
           vocab_size, ", ", hidden_size, ", ", num_attention_heads, ", ", intermediate_size, ", ",
           max_position_embeddings, ", ", type_vocab_size, " and ", num_hidden_layers);
  SS_CHECK(hidden_size % num_attention_heads == 0, ValueError, op, ": the hidden size (", hidden_size,
           ") is not a multiple of the number of attention heads (", num_attention_heads, ")");
  SS_CHECK(hidden_dropout_prob >= 0 && hidden_dropout_prob <= 1 && attention_probs_dropout_prob >= 0 &&
               attention_probs_dropout_prob <= 1,
           ValueError, op, ": dropout probabilities must be in [0, 1], got hidden_dropout_prob=", hidden_dropout_prob,
           " and attention_probs_dropout_prob=", attention_probs_dropout_prob);
  SS_CHECK(pad_token_id >= 0 && pad_token_id < vocab_size, ValueError, op, ": pad_token_id (", pad_token_id,
           ") must be in [0, vocab_size=", vocab_size, ")");
  SS_CHECK(layer_norm_eps > 0 && initializer_range >= 0, ValueError, op,
           ": layer_norm_eps must be positive and initializer_range non-negative, got ", layer_norm_eps, " and ",
           initializer_range);
  SS_CHECK(dtype == DType::Float32 || dtype == DType::Float64, TypeError, op,
           ": dtype must be float32 or float64, got ", dtype_name(dtype));
  static const char* acts[] = {"gelu", "relu", "tanh", "silu", "swish", "gelu_new", "gelu_pytorch_tanh"};
  bool known = false;
  for (const char* a : acts) known = known || hidden_act == a;
  SS_CHECK(known, ValueError, op, ": hidden_act '", hidden_act,
           "' is not supported (gelu, relu, tanh, silu, swish, gelu_new, gelu_pytorch_tanh)");
}

Tensor bert_activation(const Tensor& x, const std::string& name) {
  if (name == "gelu") return gelu(x);
  if (name == "relu") return relu(x);
  if (name == "tanh") return tanh(x);
  if (name == "silu" || name == "swish") return x * sigmoid(x);
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return gelu(x, "tanh");
  throw ValueError(cat_str("BERT: unknown hidden_act '", name, "'"));
}

namespace {

std::shared_ptr<LayerNorm> bert_layer_norm(const BertConfig& c) {
  return std::make_shared<LayerNorm>(Shape{c.hidden_size}, c.layer_norm_eps, true, true, c.dtype);
}

// min and max of an int64 tensor (it is small: ids), for range checks.
std::pair<int64_t, int64_t> id_range(const Tensor& t) {
  return {min(t).item<int64_t>(), max(t).item<int64_t>()};
}

void check_ids(const Tensor& t, const char* op, const char* name, int64_t limit, const char* limit_name) {
  SS_CHECK(t.dtype() == DType::Int64, TypeError, op, ": ", name, " must be int64, got ", dtype_name(t.dtype()));
  if (t.numel() == 0) return;
  auto [lo, hi] = id_range(t);
  SS_CHECK(lo >= 0 && hi < limit, IndexError, op, ": ", name, " of shape ", t.shape(), " holds ids in [", lo, ", ",
           hi, "], outside [0, ", limit_name, "=", limit, ")");
}

}  // namespace

// ---- embeddings ---------------------------------------------------------------------------------

BertEmbeddings::BertEmbeddings(const BertConfig& c) : Module("BertEmbeddings"), config(c) {
  c.validate("BertEmbeddings");
  word_embeddings = register_module(
      "word_embeddings", std::make_shared<Embedding>(c.vocab_size, c.hidden_size, c.pad_token_id, c.dtype));
  position_embeddings = register_module(
      "position_embeddings", std::make_shared<Embedding>(c.max_position_embeddings, c.hidden_size, std::nullopt, c.dtype));
  token_type_embeddings = register_module(
      "token_type_embeddings", std::make_shared<Embedding>(c.type_vocab_size, c.hidden_size, std::nullopt, c.dtype));
  LayerNorm = register_module("LayerNorm", bert_layer_norm(c));
  dropout = register_module("dropout", std::make_shared<Dropout>(c.hidden_dropout_prob));
}

Tensor BertEmbeddings::forward(const Tensor& ids, const Tensor& token_type_ids) {
  const char* op = "BertEmbeddings";
  SS_CHECK(ids.defined() && ids.dim() == 2, ValueError, op, ": input_ids must be [batch, seq_len], got shape ",
           ids.defined() ? ids.shape() : Shape{});
  const int64_t T = ids.size(1);
  SS_CHECK(T <= config.max_position_embeddings, ValueError, op, ": input_ids of shape ", ids.shape(),
           " is longer than max_position_embeddings (", T, " > ", config.max_position_embeddings, ")");
  check_ids(ids, op, "input_ids", config.vocab_size, "vocab_size");
  Tensor x = word_embeddings->forward(ids);
  // Absolute positions 0..T-1, broadcast over the batch.
  x = x + position_embeddings->forward(arange(T, DType::Int64));
  if (token_type_ids.defined()) {
    SS_CHECK(token_type_ids.shape() == ids.shape(), ValueError, op, ": token_type_ids of shape ",
             token_type_ids.shape(), " does not match input_ids of shape ", ids.shape());
    check_ids(token_type_ids, op, "token_type_ids", config.type_vocab_size, "type_vocab_size");
    x = x + token_type_embeddings->forward(token_type_ids);
  } else {
    // HF's default: every token in segment 0.
    x = x + token_type_embeddings->weight().select(0, 0);
  }
  return dropout->forward(LayerNorm->forward(x));
}

// ---- one encoder layer ------------------------------------------------------------------------

BertSelfAttention::BertSelfAttention(const BertConfig& c)
    : Module("BertSelfAttention"),
      num_attention_heads(c.num_attention_heads),
      attention_head_size(c.hidden_size / c.num_attention_heads) {
  c.validate("BertSelfAttention");
  query = register_module("query", std::make_shared<Linear>(c.hidden_size, c.hidden_size, true, c.dtype));
  key = register_module("key", std::make_shared<Linear>(c.hidden_size, c.hidden_size, true, c.dtype));
  value = register_module("value", std::make_shared<Linear>(c.hidden_size, c.hidden_size, true, c.dtype));
  dropout = register_module("dropout", std::make_shared<Dropout>(c.attention_probs_dropout_prob));
}

Tensor BertSelfAttention::forward(const Tensor& h, const Tensor& mask) {
  const int64_t B = h.size(0), T = h.size(1), H = num_attention_heads, d = attention_head_size;
  // [B, T, H*d] -> [B, H, T, d] views; SDPA reads them without a copy.
  auto heads = [&](Linear& proj) { return proj.forward(h).view({B, T, H, d}).transpose(1, 2); };
  Tensor q = heads(*query), k = heads(*key), v = heads(*value);
  const double p = is_training() ? dropout->p : 0.0;
  Tensor ctx = functional::scaled_dot_product_attention(q, k, v, mask, p);
  return ctx.transpose(1, 2).reshape({B, T, H * d});
}

BertResidualOutput::BertResidualOutput(const char* type_name, int64_t in, const BertConfig& c) : Module(type_name) {
  dense = register_module("dense", std::make_shared<Linear>(in, c.hidden_size, true, c.dtype));
  LayerNorm = register_module("LayerNorm", bert_layer_norm(c));
  dropout = register_module("dropout", std::make_shared<Dropout>(c.hidden_dropout_prob));
}

Tensor BertResidualOutput::forward(const Tensor& h, const Tensor& residual) {
  return LayerNorm->forward(dropout->forward(dense->forward(h)) + residual);
}

BertAttention::BertAttention(const BertConfig& c) : Module("BertAttention") {
  self = register_module("self", std::make_shared<BertSelfAttention>(c));
  output = register_module("output", std::make_shared<BertResidualOutput>("BertSelfOutput", c.hidden_size, c));
}

Tensor BertAttention::forward(const Tensor& h, const Tensor& mask) { return output->forward(self->forward(h, mask), h); }

BertIntermediate::BertIntermediate(const BertConfig& c) : Module("BertIntermediate"), hidden_act(c.hidden_act) {
  dense = register_module("dense", std::make_shared<Linear>(c.hidden_size, c.intermediate_size, true, c.dtype));
}

BertLayer::BertLayer(const BertConfig& c) : Module("BertLayer") {
  attention = register_module("attention", std::make_shared<BertAttention>(c));
  intermediate = register_module("intermediate", std::make_shared<BertIntermediate>(c));
  output = register_module("output", std::make_shared<BertResidualOutput>("BertOutput", c.intermediate_size, c));
}

Tensor BertLayer::forward(const Tensor& h, const Tensor& mask) {
  Tensor a = attention->forward(h, mask);
  return output->forward(intermediate->forward(a), a);
}

BertEncoder::BertEncoder(const BertConfig& c) : Module("BertEncoder") {
  layer = register_module("layer", std::make_shared<ModuleList>());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layer->push_back(std::make_shared<BertLayer>(c));
}

Tensor BertEncoder::forward(const Tensor& h, const Tensor& mask) {
  Tensor x = h;
  for (size_t i = 0; i < layer->size(); ++i)
    x = std::static_pointer_cast<BertLayer>((*layer)[int64_t(i)])->forward(x, mask);
  return x;
}

BertPooler::BertPooler(const BertConfig& c) : Module("BertPooler") {
  dense = register_module("dense", std::make_shared<Linear>(c.hidden_size, c.hidden_size, true, c.dtype));
}

Tensor BertPooler::forward(const Tensor& h) { return tanh(dense->forward(h.select(1, 0))); }

// ---- BertModel ----------------------------------------------------------------------------------

BertModel::BertModel(const BertConfig& c, bool add_pooling_layer) : Module("BertModel"), config(c) {
  c.validate("BertModel");
  embeddings = register_module("embeddings", std::make_shared<BertEmbeddings>(c));
  encoder = register_module("encoder", std::make_shared<BertEncoder>(c));
  if (add_pooling_layer) pooler = register_module("pooler", std::make_shared<BertPooler>(c));
  init_weights();
}

void BertModel::init_weights() {
  autograd::NoGradGuard ng;
  for (auto& [name, m] : named_modules()) {
    if (auto* lin = dynamic_cast<Linear*>(m.get())) {
      init::normal_(lin->weight(), 0.0, config.initializer_range);
      if (lin->bias().defined()) init::zeros_(lin->bias());
    } else if (auto* emb = dynamic_cast<Embedding*>(m.get())) {
      init::normal_(emb->weight(), 0.0, config.initializer_range);
      if (emb->padding_idx) emb->weight().select(0, *emb->padding_idx).zero_();
    } else if (auto* ln = dynamic_cast<nn::LayerNorm*>(m.get())) {
      Tensor w = ln->weight(), b = ln->bias();
      init::ones_(w);
      init::zeros_(b);
    }
  }
}

std::pair<Tensor, Tensor> BertModel::forward(const Tensor& ids, const Tensor& attention_mask,
                                             const Tensor& token_type_ids) {
  Tensor h = embeddings->forward(ids, token_type_ids);
  Tensor mask;
  if (attention_mask.defined()) {
    const int64_t B = ids.size(0), T = ids.size(1);
    // HF's get_extended_attention_mask: [B, T] masks keys; [B, T, T] masks (query, key) pairs.
    SS_CHECK(attention_mask.shape() == (Shape{B, T}) || attention_mask.shape() == (Shape{B, T, T}), ValueError,
             "BertModel: attention_mask of shape ", attention_mask.shape(), " does not fit input_ids of shape ",
             ids.shape(), " (expected [", B, ", ", T, "] or [", B, ", ", T, ", ", T, "])");
    Tensor keep = attention_mask.dtype() == DType::Bool ? attention_mask : ne(attention_mask, 0);
    mask = attention_mask.dim() == 2 ? keep.view({B, 1, 1, T}) : keep.unsqueeze(1);
  }
  Tensor seq = encoder->forward(h, mask);
  Tensor pooled = pooler ? pooler->forward(seq) : Tensor();
  return {seq, pooled};
}

// ---- masked-LM head -------------------------------------------------------------------------------

BertPredictionHeadTransform::BertPredictionHeadTransform(const BertConfig& c)
    : Module("BertPredictionHeadTransform"), hidden_act(c.hidden_act) {
  dense = register_module("dense", std::make_shared<Linear>(c.hidden_size, c.hidden_size, true, c.dtype));
  LayerNorm = register_module("LayerNorm", bert_layer_norm(c));
}

Tensor BertPredictionHeadTransform::forward(const Tensor& h) {
  return LayerNorm->forward(bert_activation(dense->forward(h), hidden_act));
}

BertLMPredictionHead::BertLMPredictionHead(const BertConfig& c, const Tensor& word_embedding_weight)
    : Module("BertLMPredictionHead") {
  register_parameter("bias", zeros({c.vocab_size}, c.dtype));
  transform = register_module("transform", std::make_shared<BertPredictionHeadTransform>(c));
  decoder = register_module("decoder", std::make_shared<Linear>(c.hidden_size, c.vocab_size, true, c.dtype));
  // Tie: the decoder holds the very tensors (not copies), so training one trains the other.
  decoder->weight() = word_embedding_weight;
  decoder->bias() = bias();
}

Tensor BertLMPredictionHead::forward(const Tensor& h) { return decoder->forward(transform->forward(h)); }

BertOnlyMLMHead::BertOnlyMLMHead(const BertConfig& c, const Tensor& w) : Module("BertOnlyMLMHead") {
  predictions = register_module("predictions", std::make_shared<BertLMPredictionHead>(c, w));
}

BertForMaskedLM::BertForMaskedLM(const BertConfig& c) : Module("BertForMaskedLM"), config(c) {
  c.validate("BertForMaskedLM");
  bert = register_module("bert", std::make_shared<BertModel>(c, /*add_pooling_layer=*/false));
  cls = register_module("cls", std::make_shared<BertOnlyMLMHead>(c, bert->embeddings->word_embeddings->weight()));
  // The head's own Linear / LayerNorm get BERT's init too (the decoder weight is the embedding).
  autograd::NoGradGuard ng;
  auto& t = *cls->predictions->transform;
  init::normal_(t.dense->weight(), 0.0, c.initializer_range);
  init::zeros_(t.dense->bias());
  tie_weights();
}

void BertForMaskedLM::tie_weights() {
  auto& p = *cls->predictions;
  p.decoder->weight() = bert->embeddings->word_embeddings->weight();
  p.decoder->bias() = p.bias();
}

Tensor BertForMaskedLM::forward(const Tensor& ids, const Tensor& attention_mask, const Tensor& token_type_ids) {
  return cls->forward(bert->forward(ids, attention_mask, token_type_ids).first);
}

}  // namespace shanshui::nn
