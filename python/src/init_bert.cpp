// BERT under Hugging Face's names: shanshui.nn.BertModel, shanshui.nn.BertForMaskedLM
// and shanshui.nn.functional.mask_tokens. The constructors take BertConfig's
// fields as keyword arguments, or a `config` object (transformers.BertConfig,
// or a dict) whose fields are read first and then overridden by the keywords.
#include <optional>
#include <string>
#include <vector>
#include <type_traits>

#include "nn/bert/bert.h"
#include "nn/bert/mask_tokens.h"
#include "nn/functional.h"
#include "nn_bindings.h"

namespace shanshui::python {

namespace {

using OptT = std::optional<Tensor>;
Tensor opt(const OptT& t) { return t ? *t : Tensor(); }

// Reads `name` from config (attribute or dict key) into `field`, when present.
template <class T>
void read_field(const py::object& config, const char* name, T& field) {
  if (config.is_none()) return;
  if (py::isinstance<py::dict>(config)) {
    py::dict d = config;
    if (d.contains(name)) field = py::cast<T>(d[name]);
  } else if (py::hasattr(config, name)) {
    py::object v = config.attr(name);
    if (!v.is_none()) field = py::cast<T>(v);
  }
}

nn::BertConfig make_config(const py::object& config, const py::kwargs& kw, const char* op) {
  nn::BertConfig c;
  auto fields = [&](const py::object& src) {
    read_field(src, "vocab_size", c.vocab_size);
    read_field(src, "hidden_size", c.hidden_size);
    read_field(src, "num_hidden_layers", c.num_hidden_layers);
    read_field(src, "num_attention_heads", c.num_attention_heads);
    read_field(src, "intermediate_size", c.intermediate_size);
    read_field(src, "hidden_act", c.hidden_act);
    read_field(src, "hidden_dropout_prob", c.hidden_dropout_prob);
    read_field(src, "attention_probs_dropout_prob", c.attention_probs_dropout_prob);
    read_field(src, "max_position_embeddings", c.max_position_embeddings);
    read_field(src, "type_vocab_size", c.type_vocab_size);
    read_field(src, "initializer_range", c.initializer_range);
    read_field(src, "layer_norm_eps", c.layer_norm_eps);
    read_field(src, "pad_token_id", c.pad_token_id);
  };
  fields(config);
  static const char* known[] = {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                                "intermediate_size", "hidden_act", "hidden_dropout_prob",
                                "attention_probs_dropout_prob", "max_position_embeddings", "type_vocab_size",
                                "initializer_range", "layer_norm_eps", "pad_token_id", "dtype"};
  for (auto item : kw) {
    std::string k = py::cast<std::string>(item.first);
    bool ok = false;
    for (const char* n : known) ok = ok || k == n;
    SS_CHECK(ok, TypeError, op, ": unexpected keyword argument '", k, "'");
  }
  fields(kw);
  if (kw.contains("dtype") && !py::object(kw["dtype"]).is_none()) c.dtype = py::cast<DType>(kw["dtype"]);
  c.validate(op);
  return c;
}

// The config as a namespace, so `model.config.vocab_size` reads as in transformers.
py::object config_object(const nn::BertConfig& c) {
  py::dict d;
  d["vocab_size"] = c.vocab_size;
  d["hidden_size"] = c.hidden_size;
  d["num_hidden_layers"] = c.num_hidden_layers;
  d["num_attention_heads"] = c.num_attention_heads;
  d["intermediate_size"] = c.intermediate_size;
  d["hidden_act"] = c.hidden_act;
  d["hidden_dropout_prob"] = c.hidden_dropout_prob;
  d["attention_probs_dropout_prob"] = c.attention_probs_dropout_prob;
  d["max_position_embeddings"] = c.max_position_embeddings;
  d["type_vocab_size"] = c.type_vocab_size;
  d["initializer_range"] = c.initializer_range;
  d["layer_norm_eps"] = c.layer_norm_eps;
  d["pad_token_id"] = c.pad_token_id;
  d["dtype"] = c.dtype;
  return py::module_::import("types").attr("SimpleNamespace")(**d);
}

// A namedtuple type: unpacks and indexes as a tuple, and reads like transformers' outputs
// (out.last_hidden_state, out.pooler_output; out.loss, out.logits).
py::object output_type(const char* name, std::vector<std::string> fields) {
  // Not a function-local static: that py::object would be released after the interpreter is gone.
  py::object namedtuple = py::module_::import("collections").attr("namedtuple");
  py::object t = namedtuple(name, py::cast(fields));
  t.attr("__module__") = "shanshui.nn";
  return t;
}

}  // namespace

void init_bert(py::module_& m) {
  using namespace nn;
  auto none = py::none();
  py::object base_out = output_type("BaseModelOutputWithPooling", {"last_hidden_state", "pooler_output"});
  py::object mlm_out = output_type("MaskedLMOutput", {"loss", "logits"});

  bind_module<BertModel>(m, "BertModel",
                         "BERT encoder as transformers.BertModel: embeddings (word + position + token type, "
                         "LayerNorm, dropout), post-LN encoder, pooler (tanh(dense(first token))). Keyword "
                         "arguments are BertConfig's fields. forward returns (sequence_output, pooled_output).")
      .def(py::init([](py::object config, bool add_pooling_layer, py::kwargs kw) {
             return std::make_shared<BertModel>(make_config(config, kw, "BertModel"), add_pooling_layer);
           }),
           py::arg("config") = none, py::arg("add_pooling_layer") = true)
      .def("forward",
           [base_out](BertModel& self, const Tensor& ids, const OptT& mask, const OptT& tt) {
             auto [seq, pooled] = self.forward(ids, opt(mask), opt(tt));
             return base_out(seq, pooled.defined() ? py::cast(pooled) : py::none());
           },
           "input_ids [B, T] int64; attention_mask [B, T] (1 = attend, 0 = padding) or [B, T, T]; "
           "token_type_ids [B, T] (default 0). Returns (last_hidden_state, pooler_output), a namedtuple.",
           py::arg("input_ids"), py::arg("attention_mask") = none, py::arg("token_type_ids") = none)
      .def("init_weights", &BertModel::init_weights, "transformers' init: N(0, initializer_range), zero biases.")
      .def("get_input_embeddings", [](BertModel& self) { return self.embeddings->word_embeddings; })
      .def_property_readonly("config", [](const BertModel& self) { return config_object(self.config); });

  bind_module<BertForMaskedLM>(m, "BertForMaskedLM",
                               "BertModel without pooler ('bert') and the masked-LM head ('cls'): transform (dense, "
                               "activation, LayerNorm) and a decoder whose weight is the word embedding and whose "
                               "bias is cls.predictions.bias. forward returns the prediction scores [B, T, vocab], "
                               "or (loss, logits) (a namedtuple) when labels are given (-100 = ignored).")
      .def(py::init([](py::object config, py::kwargs kw) {
             return std::make_shared<BertForMaskedLM>(make_config(config, kw, "BertForMaskedLM"));
           }),
           py::arg("config") = none)
      .def("forward",
           [mlm_out](BertForMaskedLM& self, const Tensor& ids, const OptT& mask, const OptT& tt,
                     const OptT& labels) -> py::object {
             Tensor logits = self.forward(ids, opt(mask), opt(tt));
             if (!labels) return py::cast(logits);
             SS_CHECK(labels->shape() == ids.shape(), ValueError, "BertForMaskedLM: labels of shape ",
                      labels->shape(), " do not match input_ids of shape ", ids.shape());
             Tensor loss = functional::cross_entropy(logits.reshape({-1, self.config.vocab_size}),
                                                     labels->reshape({-1}));
             return mlm_out(loss, logits);
           },
           py::arg("input_ids"), py::arg("attention_mask") = none, py::arg("token_type_ids") = none,
           py::arg("labels") = none)
      .def("tie_weights", &BertForMaskedLM::tie_weights,
           "Makes the decoder use the word embedding (and cls.predictions.bias) again after either was replaced.")
      .def("get_input_embeddings", [](BertForMaskedLM& self) { return self.bert->embeddings->word_embeddings; })
      .def("get_output_embeddings", [](BertForMaskedLM& self) { return self.cls->predictions->decoder; })
      .def_property_readonly("config", [](const BertForMaskedLM& self) { return config_object(self.config); });

  // The parts, so that model.bert.encoder.layer[0], model.cls, ... can be called on their own
  // (and print under their own names). The encoder parts take the attention mask as
  // scaled_dot_product_attention does: bool, broadcastable to [B, heads, T, T], True = attend.
  bind_module<BertEmbeddings>(m, "BertEmbeddings", "word + position + token type embeddings, LayerNorm, dropout.")
      .def("forward", [](BertEmbeddings& self, const Tensor& ids, const OptT& tt) { return self.forward(ids, opt(tt)); },
           py::arg("input_ids"), py::arg("token_type_ids") = none);
  auto bind_masked = [&](auto tag, const char* name) {
    using M = typename decltype(tag)::type;
    bind_module<M>(m, name, "A part of BertModel's encoder; attention_mask is bool, True = attend.")
        .def("forward", [](M& self, const Tensor& h, const OptT& mask) { return self.forward(h, opt(mask)); },
             py::arg("hidden_states"), py::arg("attention_mask") = py::none());
  };
  bind_masked(std::type_identity<BertSelfAttention>{}, "BertSelfAttention");
  bind_masked(std::type_identity<BertAttention>{}, "BertAttention");
  bind_masked(std::type_identity<BertLayer>{}, "BertLayer");
  bind_masked(std::type_identity<BertEncoder>{}, "BertEncoder");
  bind_module<BertResidualOutput>(m, "BertResidualOutput",
                                  "LayerNorm(dropout(dense(hidden_states)) + input_tensor): HF's BertSelfOutput / BertOutput.")
      .def("forward", [](BertResidualOutput& self, const Tensor& h, const Tensor& r) { return self.forward(h, r); },
           py::arg("hidden_states"), py::arg("input_tensor"));
  bind_unary_module<BertIntermediate>(m, "BertIntermediate", "activation(dense(hidden_states)).");
  bind_unary_module<BertPooler>(m, "BertPooler", "tanh(dense(hidden_states[:, 0])).");
  bind_unary_module<BertPredictionHeadTransform>(m, "BertPredictionHeadTransform", "LayerNorm(activation(dense(h))).");
  bind_unary_module<BertLMPredictionHead>(m, "BertLMPredictionHead", "decoder(transform(h)), decoder tied.");
  bind_unary_module<BertOnlyMLMHead>(m, "BertOnlyMLMHead", "predictions(h): the masked-LM scores.");

  functional_submodule(m).def(
      "mask_tokens",
      [](const Tensor& ids, int64_t mask_token_id, int64_t vocab_size, double p, const OptT& special, double mask_p,
         double random_p) {
        auto [inputs, labels] = functional::mask_tokens(ids, mask_token_id, vocab_size, p, opt(special), mask_p,
                                                        random_p);
        return py::make_tuple(inputs, labels);
      },
      "BERT's masking (transformers' DataCollatorForLanguageModeling.torch_mask_tokens): select each non-special "
      "token with probability mlm_probability; of those, mask_replace_prob become mask_token_id, "
      "random_replace_prob a random id in [0, vocab_size), the rest stay. Returns (inputs, labels), labels -100 "
      "where not selected. Draws from the generator seeded by manual_seed.",
      py::arg("input_ids"), py::arg("mask_token_id"), py::arg("vocab_size"), py::arg("mlm_probability") = 0.15,
      py::arg("special_tokens_mask") = none, py::arg("mask_replace_prob") = 0.8, py::arg("random_replace_prob") = 0.1);
}

}  // namespace shanshui::python
