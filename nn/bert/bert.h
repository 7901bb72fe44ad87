// BERT (Devlin et al. 2019) as Hugging Face transformers' BertModel and
// BertForMaskedLM: the same submodule names and layouts (embeddings.{word,
// position,token_type}_embeddings, embeddings.LayerNorm, encoder.layer.<i>.
// attention.self.{query,key,value}, attention.output.{dense,LayerNorm},
// intermediate.dense, output.{dense,LayerNorm}, pooler.dense; cls.predictions.
// {bias,transform.dense,transform.LayerNorm,decoder}), so an HF state_dict
// loads one-to-one. Post-LN encoder; attention runs through
// functional::scaled_dot_product_attention.
//
// The MLM decoder's weight IS the word-embedding tensor and its bias IS
// cls.predictions.bias (as HF ties them): state_dict lists both names, as HF
// and torch do, while parameters() lists each tensor once.
#pragma once
#include <memory>
#include <string>
#include <utility>

#include "nn/container.h"
#include "nn/dropout.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/normalization.h"

namespace shanshui::nn {

// HF BertConfig's fields and defaults (bert-base-uncased's sizes).
struct BertConfig {
  int64_t vocab_size = 30522, hidden_size = 768, num_hidden_layers = 12, num_attention_heads = 12,
          intermediate_size = 3072;
  // "gelu" (exact, erf), "relu", "tanh", "silu"/"swish", "gelu_new"/"gelu_pytorch_tanh" (tanh approximation).
  std::string hidden_act = "gelu";
  double hidden_dropout_prob = 0.1, attention_probs_dropout_prob = 0.1;
  int64_t max_position_embeddings = 512, type_vocab_size = 2;
  double initializer_range = 0.02, layer_norm_eps = 1e-12;
  int64_t pad_token_id = 0;
  DType dtype = DType::Float32;
  // Throws ValueError naming `op` and the offending fields (e.g. hidden_size % num_attention_heads != 0).
  void validate(const char* op) const;
};

// HF's ACT2FN for the names above.
Tensor bert_activation(const Tensor& x, const std::string& name);

class BertEmbeddings : public Module {
 public:
  explicit BertEmbeddings(const BertConfig& c);
  // input_ids [B, T] int64; token_type_ids [B, T] or undefined (all segment 0).
  Tensor forward(const Tensor& input_ids, const Tensor& token_type_ids);
  Tensor forward(const Tensor& input_ids) override { return forward(input_ids, Tensor()); }
  std::shared_ptr<Embedding> word_embeddings, position_embeddings, token_type_embeddings;
  std::shared_ptr<nn::LayerNorm> LayerNorm;
  std::shared_ptr<Dropout> dropout;
  BertConfig config;
};

class BertSelfAttention : public Module {
 public:
  explicit BertSelfAttention(const BertConfig& c);
  // mask: bool, broadcastable to [B, heads, T, T], true = attend (or undefined).
  Tensor forward(const Tensor& hidden, const Tensor& mask);
  using Module::forward;
  std::shared_ptr<Linear> query, key, value;
  std::shared_ptr<Dropout> dropout;  // its p is the attention-probability dropout, applied inside SDPA
  int64_t num_attention_heads, attention_head_size;
};

// LayerNorm(dropout(dense(h)) + residual): BertSelfOutput and BertOutput.
class BertResidualOutput : public Module {
 public:
  BertResidualOutput(const char* type_name, int64_t in, const BertConfig& c);
  Tensor forward(const Tensor& h, const Tensor& residual);
  using Module::forward;
  std::shared_ptr<Linear> dense;
  std::shared_ptr<nn::LayerNorm> LayerNorm;
  std::shared_ptr<Dropout> dropout;
};

class BertAttention : public Module {
 public:
  explicit BertAttention(const BertConfig& c);
  Tensor forward(const Tensor& hidden, const Tensor& mask);
  using Module::forward;
  std::shared_ptr<BertSelfAttention> self;
  std::shared_ptr<BertResidualOutput> output;
};

class BertIntermediate : public Module {
 public:
  explicit BertIntermediate(const BertConfig& c);
  Tensor forward(const Tensor& h) override { return bert_activation(dense->forward(h), hidden_act); }
  std::shared_ptr<Linear> dense;
  std::string hidden_act;
};

class BertLayer : public Module {
 public:
  explicit BertLayer(const BertConfig& c);
  Tensor forward(const Tensor& hidden, const Tensor& mask);
  using Module::forward;
  std::shared_ptr<BertAttention> attention;
  std::shared_ptr<BertIntermediate> intermediate;
  std::shared_ptr<BertResidualOutput> output;
};

class BertEncoder : public Module {
 public:
  explicit BertEncoder(const BertConfig& c);
  Tensor forward(const Tensor& hidden, const Tensor& mask);
  using Module::forward;
  std::shared_ptr<ModuleList> layer;
};

// tanh(dense(first token)).
class BertPooler : public Module {
 public:
  explicit BertPooler(const BertConfig& c);
  Tensor forward(const Tensor& hidden) override;
  std::shared_ptr<Linear> dense;
};

class BertModel : public Module {
 public:
  explicit BertModel(const BertConfig& c = BertConfig(), bool add_pooling_layer = true);
  // input_ids [B, T] int64; attention_mask [B, T] (or [B, T, T]) with 1 = attend, 0 = padding
  // (any dtype; nonzero counts as 1), undefined = attend everywhere; token_type_ids [B, T].
  // Returns (sequence_output [B, T, H], pooled_output [B, H], undefined without a pooler).
  std::pair<Tensor, Tensor> forward(const Tensor& input_ids, const Tensor& attention_mask,
                                    const Tensor& token_type_ids = Tensor());
  Tensor forward(const Tensor& input_ids) override { return forward(input_ids, Tensor()).first; }
  // HF's _init_weights: N(0, initializer_range) for Linear and Embedding weights, zero
  // biases and padding row, LayerNorm ones / zeros.
  void init_weights();
  std::shared_ptr<BertEmbeddings> embeddings;
  std::shared_ptr<BertEncoder> encoder;
  std::shared_ptr<BertPooler> pooler;  // null without a pooling layer
  BertConfig config;
};

class BertPredictionHeadTransform : public Module {
 public:
  explicit BertPredictionHeadTransform(const BertConfig& c);
  Tensor forward(const Tensor& h) override;
  std::shared_ptr<Linear> dense;
  std::shared_ptr<nn::LayerNorm> LayerNorm;
  std::string hidden_act;
};

// transform, then decoder (tied weight [vocab, H], bias = this module's `bias` [vocab]).
class BertLMPredictionHead : public Module {
 public:
  BertLMPredictionHead(const BertConfig& c, const Tensor& word_embedding_weight);
  Tensor forward(const Tensor& h) override;
  Tensor& bias() { return params_["bias"]; }
  std::shared_ptr<BertPredictionHeadTransform> transform;
  std::shared_ptr<Linear> decoder;
};

class BertOnlyMLMHead : public Module {
 public:
  BertOnlyMLMHead(const BertConfig& c, const Tensor& word_embedding_weight);
  Tensor forward(const Tensor& h) override { return predictions->forward(h); }
  std::shared_ptr<BertLMPredictionHead> predictions;
};

class BertForMaskedLM : public Module {
 public:
  explicit BertForMaskedLM(const BertConfig& c = BertConfig());
  // Prediction scores [B, T, vocab_size]; arguments as BertModel::forward.
  Tensor forward(const Tensor& input_ids, const Tensor& attention_mask, const Tensor& token_type_ids = Tensor());
  Tensor forward(const Tensor& input_ids) override { return forward(input_ids, Tensor()); }
  // Re-ties the decoder weight to the word embedding (after either was replaced).
  void tie_weights();
  std::shared_ptr<BertModel> bert;
  std::shared_ptr<BertOnlyMLMHead> cls;
  BertConfig config;
};

}  // namespace shanshui::nn
