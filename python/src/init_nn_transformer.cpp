// The attention modules under torch.nn's names and constructor signatures:
// MultiheadAttention, TransformerEncoderLayer / DecoderLayer, TransformerEncoder
// / Decoder, Transformer (with the static generate_square_subsequent_mask), and
// the positional encodings PositionalEncoding and LearnedPositionalEmbedding.
#include <type_traits>

#include "nn/nn.h"
#include "nn_bindings.h"

namespace shanshui::python {

namespace {

using OptT = std::optional<Tensor>;
Tensor opt(const OptT& t) { return t ? *t : Tensor(); }

DType factory_dtype(py::handle device, py::handle dtype, const char* op) {
  if (!device.is_none()) {
    std::string d = py::str(device);
    SS_CHECK(d == "cpu" || d.rfind("cpu:", 0) == 0, RuntimeError, op, ": shanshui runs on the CPU only (got device '",
             d, "')");
  }
  return dtype.is_none() ? DType::Float32 : py::cast<DType>(dtype);
}

// activation: "relu" / "gelu" or the functions of that name (F.relu, F.gelu), as torch accepts both.
std::string activation_arg(py::handle a, const char* op) {
  if (py::isinstance<py::str>(a)) return py::cast<std::string>(a);
  if (py::hasattr(a, "__name__")) {
    std::string n = py::cast<std::string>(a.attr("__name__"));
    if (n == "relu" || n == "gelu") return n;
  }
  throw ValueError(cat_str(op, ": activation should be \"relu\", \"gelu\", F.relu or F.gelu, got ",
                           std::string(py::str(a))));
}

}  // namespace

void init_nn_transformer(py::module_& m) {
  using namespace nn;
  auto none = py::none();

  bind_module<MultiheadAttention>(m, "MultiheadAttention",
                                  "Multi-head attention with torch's parameters (in_proj_weight [3E, E], out_proj, ...) "
                                  "and mask conventions (bool True = masked). Returns (output, weights or None).")
      .def(py::init([](int64_t e, int64_t h, double dropout, bool bias, bool add_bias_kv, bool add_zero_attn,
                       std::optional<int64_t> kdim, std::optional<int64_t> vdim, bool batch_first, py::object device,
                       py::object dtype) {
             return std::make_shared<MultiheadAttention>(e, h, dropout, bias, add_bias_kv, add_zero_attn, kdim, vdim,
                                                         batch_first,
                                                         factory_dtype(device, dtype, "MultiheadAttention"));
           }),
           py::arg("embed_dim"), py::arg("num_heads"), py::arg("dropout") = 0.0, py::arg("bias") = true,
           py::arg("add_bias_kv") = false, py::arg("add_zero_attn") = false, py::arg("kdim") = none,
           py::arg("vdim") = none, py::arg("batch_first") = false, py::arg("device") = none, py::arg("dtype") = none)
      .def("forward",
           [](MultiheadAttention& self, const Tensor& q, const Tensor& k, const Tensor& v, const OptT& kpm,
              bool need_weights, const OptT& attn_mask, bool average, bool is_causal) {
             auto [o, w] = self.forward(q, k, v, opt(kpm), need_weights, opt(attn_mask), average, is_causal);
             return py::make_tuple(o, w);
           },
           py::arg("query"), py::arg("key"), py::arg("value"), py::arg("key_padding_mask") = none,
           py::arg("need_weights") = true, py::arg("attn_mask") = none, py::arg("average_attn_weights") = true,
           py::arg("is_causal") = false)
      .def("_reset_parameters", &MultiheadAttention::reset_parameters)
      .def_readonly("embed_dim", &MultiheadAttention::embed_dim)
      .def_readonly("kdim", &MultiheadAttention::kdim)
      .def_readonly("vdim", &MultiheadAttention::vdim)
      .def_readonly("num_heads", &MultiheadAttention::num_heads)
      .def_readonly("head_dim", &MultiheadAttention::head_dim)
      .def_readwrite("dropout", &MultiheadAttention::dropout)
      .def_readonly("batch_first", &MultiheadAttention::batch_first)
      .def_readonly("add_zero_attn", &MultiheadAttention::add_zero_attn)
      .def_property_readonly("_qkv_same_embed_dim", &MultiheadAttention::qkv_same_embed_dim);

  auto layer_init = [](auto tag) {
    using L = typename decltype(tag)::type;
    return py::init([](int64_t d, int64_t h, int64_t ff, double dropout, py::object act, double eps, bool bf,
                       bool nf, bool bias, py::object device, py::object dtype) {
      return std::make_shared<L>(d, h, ff, dropout, activation_arg(act, "TransformerLayer"), eps, bf, nf, bias,
                                 factory_dtype(device, dtype, "TransformerLayer"));
    });
  };
  bind_module<TransformerEncoderLayer>(m, "TransformerEncoderLayer",
                                       "Self-attention and feed-forward blocks, post-LN or pre-LN (norm_first).")
      .def(layer_init(std::type_identity<TransformerEncoderLayer>{}), py::arg("d_model"), py::arg("nhead"),
           py::arg("dim_feedforward") = 2048, py::arg("dropout") = 0.1, py::arg("activation") = "relu",
           py::arg("layer_norm_eps") = 1e-5, py::arg("batch_first") = false, py::arg("norm_first") = false,
           py::arg("bias") = true, py::arg("device") = none, py::arg("dtype") = none)
      .def("forward",
           [](TransformerEncoderLayer& self, const Tensor& src, const OptT& mask, const OptT& kpm, bool causal) {
             return self.forward(src, opt(mask), opt(kpm), causal);
           },
           py::arg("src"), py::arg("src_mask") = none, py::arg("src_key_padding_mask") = none,
           py::arg("is_causal") = false)
      .def_property_readonly("norm_first", [](const TransformerEncoderLayer& l) { return l.options.norm_first; })
      .def_property_readonly("batch_first", [](const TransformerEncoderLayer& l) { return l.options.batch_first; });

  bind_module<TransformerDecoderLayer>(m, "TransformerDecoderLayer",
                                       "Self-attention, cross-attention over memory and feed-forward blocks.")
      .def(layer_init(std::type_identity<TransformerDecoderLayer>{}), py::arg("d_model"), py::arg("nhead"),
           py::arg("dim_feedforward") = 2048, py::arg("dropout") = 0.1, py::arg("activation") = "relu",
           py::arg("layer_norm_eps") = 1e-5, py::arg("batch_first") = false, py::arg("norm_first") = false,
           py::arg("bias") = true, py::arg("device") = none, py::arg("dtype") = none)
      .def("forward",
           [](TransformerDecoderLayer& self, const Tensor& tgt, const Tensor& memory, const OptT& tm, const OptT& mm,
              const OptT& tk, const OptT& mk, bool tc, bool mc) {
             return self.forward(tgt, memory, opt(tm), opt(mm), opt(tk), opt(mk), tc, mc);
           },
           py::arg("tgt"), py::arg("memory"), py::arg("tgt_mask") = none, py::arg("memory_mask") = none,
           py::arg("tgt_key_padding_mask") = none, py::arg("memory_key_padding_mask") = none,
           py::arg("tgt_is_causal") = false, py::arg("memory_is_causal") = false)
      .def_property_readonly("norm_first", [](const TransformerDecoderLayer& l) { return l.options.norm_first; });

  // enable_nested_tensor and mask_check are accepted for torch compatibility (no nested tensors here).
  bind_module<TransformerEncoder>(m, "TransformerEncoder", "num_layers copies of an encoder layer, then an optional norm.")
      .def(py::init([](const TransformerEncoderLayer& layer, int64_t n, std::shared_ptr<LayerNorm> norm, bool, bool) {
             return std::make_shared<TransformerEncoder>(layer, n, norm);
           }),
           py::arg("encoder_layer"), py::arg("num_layers"), py::arg("norm") = none,
           py::arg("enable_nested_tensor") = true, py::arg("mask_check") = true)
      .def("forward",
           [](TransformerEncoder& self, const Tensor& src, const OptT& mask, const OptT& kpm,
              std::optional<bool> causal) { return self.forward(src, opt(mask), opt(kpm), causal); },
           py::arg("src"), py::arg("mask") = none, py::arg("src_key_padding_mask") = none,
           py::arg("is_causal") = none)
      .def_readonly("num_layers", &TransformerEncoder::num_layers);

  bind_module<TransformerDecoder>(m, "TransformerDecoder", "num_layers copies of a decoder layer, then an optional norm.")
      .def(py::init([](const TransformerDecoderLayer& layer, int64_t n, std::shared_ptr<LayerNorm> norm) {
             return std::make_shared<TransformerDecoder>(layer, n, norm);
           }),
           py::arg("decoder_layer"), py::arg("num_layers"), py::arg("norm") = none)
      .def("forward",
           [](TransformerDecoder& self, const Tensor& tgt, const Tensor& memory, const OptT& tm, const OptT& mm,
              const OptT& tk, const OptT& mk, std::optional<bool> tc, bool mc) {
             return self.forward(tgt, memory, opt(tm), opt(mm), opt(tk), opt(mk), tc, mc);
           },
           py::arg("tgt"), py::arg("memory"), py::arg("tgt_mask") = none, py::arg("memory_mask") = none,
           py::arg("tgt_key_padding_mask") = none, py::arg("memory_key_padding_mask") = none,
           py::arg("tgt_is_causal") = none, py::arg("memory_is_causal") = false)
      .def_readonly("num_layers", &TransformerDecoder::num_layers);

  bind_module<Transformer>(m, "Transformer", "The encoder-decoder Transformer (torch.nn.Transformer).")
      .def(py::init([](int64_t d, int64_t h, int64_t ne, int64_t nd, int64_t ff, double dropout, py::object act,
                       py::object custom_encoder, py::object custom_decoder, double eps, bool bf, bool nf, bool bias,
                       py::object device, py::object dtype) {
             SS_CHECK(custom_encoder.is_none() && custom_decoder.is_none(), ValueError,
                      "Transformer: custom_encoder / custom_decoder are not supported; build the model from "
                      "TransformerEncoder and TransformerDecoder instead");
             return std::make_shared<Transformer>(d, h, ne, nd, ff, dropout, activation_arg(act, "Transformer"), eps,
                                                  bf, nf, bias, factory_dtype(device, dtype, "Transformer"));
           }),
           py::arg("d_model") = 512, py::arg("nhead") = 8, py::arg("num_encoder_layers") = 6,
           py::arg("num_decoder_layers") = 6, py::arg("dim_feedforward") = 2048, py::arg("dropout") = 0.1,
           py::arg("activation") = "relu", py::arg("custom_encoder") = none, py::arg("custom_decoder") = none,
           py::arg("layer_norm_eps") = 1e-5, py::arg("batch_first") = false, py::arg("norm_first") = false,
           py::arg("bias") = true, py::arg("device") = none, py::arg("dtype") = none)
      .def("forward",
           [](Transformer& self, const Tensor& src, const Tensor& tgt, const OptT& sm, const OptT& tm, const OptT& mm,
              const OptT& sk, const OptT& tk, const OptT& mk, std::optional<bool> sc, std::optional<bool> tc,
              bool mc) {
             return self.forward(src, tgt, opt(sm), opt(tm), opt(mm), opt(sk), opt(tk), opt(mk), sc, tc, mc);
           },
           py::arg("src"), py::arg("tgt"), py::arg("src_mask") = none, py::arg("tgt_mask") = none,
           py::arg("memory_mask") = none, py::arg("src_key_padding_mask") = none,
           py::arg("tgt_key_padding_mask") = none, py::arg("memory_key_padding_mask") = none,
           py::arg("src_is_causal") = none, py::arg("tgt_is_causal") = none, py::arg("memory_is_causal") = false)
      .def_static("generate_square_subsequent_mask",
                  [](int64_t sz, py::object device, py::object dtype) {
                    return generate_square_subsequent_mask(sz, factory_dtype(device, dtype,
                                                                             "generate_square_subsequent_mask"));
                  },
                  "A float [sz, sz] mask: -inf above the diagonal, 0 elsewhere.", py::arg("sz"),
                  py::arg("device") = none, py::arg("dtype") = none)
      .def_readonly("d_model", &Transformer::d_model)
      .def_readonly("nhead", &Transformer::nhead)
      .def_readonly("batch_first", &Transformer::batch_first);

  bind_unary_module<PositionalEncoding>(m, "PositionalEncoding",
                                        "x + the sinusoids of 'Attention is all you need', then dropout; the table is "
                                        "a non-persistent buffer 'pe' [max_len, d_model].")
      .def(py::init([](int64_t d, double dropout, int64_t max_len, bool bf, py::object dtype) {
             return std::make_shared<PositionalEncoding>(d, dropout, max_len, bf,
                                                         factory_dtype(py::none(), dtype, "PositionalEncoding"));
           }),
           py::arg("d_model"), py::arg("dropout") = 0.1, py::arg("max_len") = 5000, py::arg("batch_first") = false,
           py::arg("dtype") = none)
      .def_readonly("d_model", &PositionalEncoding::d_model)
      .def_readonly("max_len", &PositionalEncoding::max_len);

  bind_unary_module<LearnedPositionalEmbedding>(m, "LearnedPositionalEmbedding",
                                                "x + a learned table 'weight' [max_len, d_model], then dropout.")
      .def(py::init([](int64_t max_len, int64_t d, double dropout, bool bf, py::object dtype) {
             return std::make_shared<LearnedPositionalEmbedding>(
                 max_len, d, dropout, bf, factory_dtype(py::none(), dtype, "LearnedPositionalEmbedding"));
           }),
           py::arg("max_len"), py::arg("d_model"), py::arg("dropout") = 0.0, py::arg("batch_first") = false,
           py::arg("dtype") = none)
      .def_readonly("d_model", &LearnedPositionalEmbedding::d_model)
      .def_readonly("max_len", &LearnedPositionalEmbedding::max_len);

  functional_submodule(m).def(
      "sinusoidal_positional_encoding",
      [](int64_t max_len, int64_t d, py::object dtype) {
        return sinusoidal_positional_encoding(max_len, d, factory_dtype(py::none(), dtype, "sinusoidal_positional_encoding"));
      },
      "The [max_len, d_model] table PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(...).",
      py::arg("max_len"), py::arg("d_model"), py::arg("dtype") = py::none());
}

}  // namespace shanshui::python
