// shanshui.nn recurrent layers, additive / Luong attention, the recurrent
// Seq2Seq and the hard-attention functionals, under PyTorch's names and
// signatures (nn.RNN, nn.GRU, nn.LSTM, nn.RNNCell, nn.GRUCell, nn.LSTMCell,
// nn.functional.gumbel_softmax) and clear names for the rest
// (nn.AdditiveAttention, nn.LuongAttention, nn.Seq2Seq, nn.functional.hard_attention).
#include <optional>

#include "nn/additive_attention.h"
#include "nn/hard_attention.h"
#include "nn/recurrent/rnn.h"
#include "nn/recurrent/rnn_cell.h"
#include "nn/seq2seq.h"
#include "nn_bindings.h"

namespace shanshui::python {

namespace {
using OptDType = std::optional<DType>;

DType dtype_or_default(const OptDType& d, const py::object& device, const char* op) {
  if (!device.is_none()) {
    std::string s = py::str(device);
    SS_CHECK(s.rfind("cpu", 0) == 0, RuntimeError, op, ": shanshui runs on the CPU only (got device '", s, "')");
  }
  return d.value_or(DType::Float32);
}

// hx for an LSTM: None or a (h, c) tuple.
std::optional<std::pair<Tensor, Tensor>> lstm_state(const py::object& hx, const char* op) {
  if (hx.is_none()) return std::nullopt;
  SS_CHECK(py::isinstance<py::tuple>(hx) || py::isinstance<py::list>(hx), TypeError, op,
           ": hx must be a tuple (h_0, c_0), got ", type_name(hx));
  py::sequence s = hx.cast<py::sequence>();
  SS_CHECK(s.size() == 2, ValueError, op, ": hx must be a tuple (h_0, c_0) of two tensors, got ", s.size(),
           " elements");
  return std::make_pair(s[0].cast<Tensor>(), s[1].cast<Tensor>());
}

Tensor opt(const std::optional<Tensor>& t) { return t ? *t : Tensor(); }

template <class M>
void rnn_fields(ModuleClass<M>& c) {
  c.def_property_readonly("input_size", [](M& s) { return s.options.input_size; })
      .def_property_readonly("hidden_size", [](M& s) { return s.options.hidden_size; })
      .def_property_readonly("num_layers", [](M& s) { return s.options.num_layers; })
      .def_property_readonly("bias", [](M& s) { return s.options.bias; })
      .def_property_readonly("batch_first", [](M& s) { return s.options.batch_first; })
      .def_property_readonly("dropout", [](M& s) { return s.options.dropout; })
      .def_property_readonly("bidirectional", [](M& s) { return s.options.bidirectional; })
      .def_property_readonly("proj_size", [](M&) { return 0; })
      .def("flatten_parameters", [](M&) {}, "A no-op kept for PyTorch code: the weights are always used in place.");
}

template <class M>
void cell_fields(ModuleClass<M>& c) {
  c.def_readonly("input_size", &M::input_size).def_readonly("hidden_size", &M::hidden_size).def_readonly("bias", &M::bias);
}
}  // namespace

void init_rnn(py::module_& m) {
  using namespace nn;
  // ---- cells ---------------------------------------------------------------------------
  auto rnn_cell = bind_module<RNNCell>(m, "RNNCell", "torch.nn.RNNCell: h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu).");
  rnn_cell
      .def(py::init([](int64_t in, int64_t hidden, bool bias, const std::string& nl, const py::object& device,
                       OptDType dtype) {
             return std::make_shared<RNNCell>(in, hidden, bias, nl, dtype_or_default(dtype, device, "RNNCell"));
           }),
           py::arg("input_size"), py::arg("hidden_size"), py::arg("bias") = true, py::arg("nonlinearity") = "tanh",
           py::arg("device") = py::none(), py::arg("dtype") = py::none())
      .def("forward", [](RNNCell& s, const Tensor& x, std::optional<Tensor> hx) { return s.forward(x, opt(hx)); },
           py::arg("input"), py::arg("hx") = py::none())
      .def_readonly("nonlinearity", &RNNCell::nonlinearity);
  cell_fields(rnn_cell);

  auto gru_cell = bind_module<GRUCell>(m, "GRUCell", "torch.nn.GRUCell (gates r, z, n).");
  gru_cell
      .def(py::init([](int64_t in, int64_t hidden, bool bias, const py::object& device, OptDType dtype) {
             return std::make_shared<GRUCell>(in, hidden, bias, dtype_or_default(dtype, device, "GRUCell"));
           }),
           py::arg("input_size"), py::arg("hidden_size"), py::arg("bias") = true, py::arg("device") = py::none(),
           py::arg("dtype") = py::none())
      .def("forward", [](GRUCell& s, const Tensor& x, std::optional<Tensor> hx) { return s.forward(x, opt(hx)); },
           py::arg("input"), py::arg("hx") = py::none());
  cell_fields(gru_cell);

  auto lstm_cell = bind_module<LSTMCell>(m, "LSTMCell", "torch.nn.LSTMCell (gates i, f, g, o); returns (h', c').");
  lstm_cell
      .def(py::init([](int64_t in, int64_t hidden, bool bias, const py::object& device, OptDType dtype) {
             return std::make_shared<LSTMCell>(in, hidden, bias, dtype_or_default(dtype, device, "LSTMCell"));
           }),
           py::arg("input_size"), py::arg("hidden_size"), py::arg("bias") = true, py::arg("device") = py::none(),
           py::arg("dtype") = py::none())
      .def("forward", [](LSTMCell& s, const Tensor& x, const py::object& hx) {
             auto r = s.forward(x, lstm_state(hx, "LSTMCell"));
             return py::make_tuple(r.first, r.second);
           }, py::arg("input"), py::arg("hx") = py::none());
  cell_fields(lstm_cell);

  // ---- multi-layer networks ------------------------------------------------------------------
  auto rnn = bind_module<RNN>(m, "RNN", "torch.nn.RNN: forward(input, hx=None) -> (output, h_n).");
  rnn.def(py::init([](int64_t in, int64_t hidden, int64_t layers, const std::string& nl, bool bias, bool bf,
                      double dropout, bool bidir, const py::object& device, OptDType dtype) {
            return std::make_shared<RNN>(in, hidden, layers, nl, bias, bf, dropout, bidir,
                                         dtype_or_default(dtype, device, "RNN"));
          }),
          py::arg("input_size"), py::arg("hidden_size"), py::arg("num_layers") = 1, py::arg("nonlinearity") = "tanh",
          py::arg("bias") = true, py::arg("batch_first") = false, py::arg("dropout") = 0.0,
          py::arg("bidirectional") = false, py::arg("device") = py::none(), py::arg("dtype") = py::none())
      .def("forward", [](RNN& s, const Tensor& x, std::optional<Tensor> hx) {
             auto r = s.forward(x, opt(hx));
             return py::make_tuple(r.first, r.second);
           }, py::arg("input"), py::arg("hx") = py::none())
      .def_property_readonly("nonlinearity", [](RNN& s) { return s.options.nonlinearity; });
  rnn_fields(rnn);

  auto gru = bind_module<GRU>(m, "GRU", "torch.nn.GRU: forward(input, hx=None) -> (output, h_n).");
  gru.def(py::init([](int64_t in, int64_t hidden, int64_t layers, bool bias, bool bf, double dropout, bool bidir,
                      const py::object& device, OptDType dtype) {
            return std::make_shared<GRU>(in, hidden, layers, bias, bf, dropout, bidir,
                                         dtype_or_default(dtype, device, "GRU"));
          }),
          py::arg("input_size"), py::arg("hidden_size"), py::arg("num_layers") = 1, py::arg("bias") = true,
          py::arg("batch_first") = false, py::arg("dropout") = 0.0, py::arg("bidirectional") = false,
          py::arg("device") = py::none(), py::arg("dtype") = py::none())
      .def("forward", [](GRU& s, const Tensor& x, std::optional<Tensor> hx) {
             auto r = s.forward(x, opt(hx));
             return py::make_tuple(r.first, r.second);
           }, py::arg("input"), py::arg("hx") = py::none());
  rnn_fields(gru);

  auto lstm = bind_module<LSTM>(m, "LSTM", "torch.nn.LSTM: forward(input, hx=None) -> (output, (h_n, c_n)).");
  lstm.def(py::init([](int64_t in, int64_t hidden, int64_t layers, bool bias, bool bf, double dropout, bool bidir,
                       int64_t proj_size, const py::object& device, OptDType dtype) {
             SS_CHECK(proj_size == 0, ValueError, "LSTM: proj_size is not supported (got ", proj_size, ")");
             return std::make_shared<LSTM>(in, hidden, layers, bias, bf, dropout, bidir,
                                           dtype_or_default(dtype, device, "LSTM"));
           }),
           py::arg("input_size"), py::arg("hidden_size"), py::arg("num_layers") = 1, py::arg("bias") = true,
           py::arg("batch_first") = false, py::arg("dropout") = 0.0, py::arg("bidirectional") = false,
           py::arg("proj_size") = 0, py::arg("device") = py::none(), py::arg("dtype") = py::none())
      .def("forward", [](LSTM& s, const Tensor& x, const py::object& hx) {
             auto r = s.forward(x, lstm_state(hx, "LSTM"));
             return py::make_tuple(r.first, py::make_tuple(r.second.first, r.second.second));
           }, py::arg("input"), py::arg("hx") = py::none());
  rnn_fields(lstm);

  // ---- attention for recurrent encoder-decoders ---------------------------------------------
  bind_module<AdditiveAttention>(m, "AdditiveAttention",
                                 "Bahdanau attention: score(h_i, s) = v^T tanh(W_h h_i + W_s s); forward(query, keys, "
                                 "values=None, key_padding_mask=None) -> (context, weights). key_padding_mask: bool "
                                 "[B, S], True = padding (ignored).")
      .def(py::init([](int64_t kd, int64_t qd, int64_t a, bool bias, OptDType dtype) {
             return std::make_shared<AdditiveAttention>(kd, qd, a, bias, dtype.value_or(DType::Float32));
           }),
           py::arg("key_dim"), py::arg("query_dim"), py::arg("hidden_dim"), py::arg("bias") = true,
           py::arg("dtype") = py::none())
      .def("forward", [](AdditiveAttention& s, const Tensor& q, const Tensor& k, std::optional<Tensor> v,
                         std::optional<Tensor> mask) {
             auto r = s.forward(q, k, opt(v), opt(mask));
             return py::make_tuple(r.first, r.second);
           }, py::arg("query"), py::arg("keys"), py::arg("values") = py::none(), py::arg("key_padding_mask") = py::none())
      .def("project_keys", &AdditiveAttention::project_keys, py::arg("keys"),
           "W_h h_i for all keys [B, S, hidden_dim]: computed once per source sequence.")
      .def("attend", [](AdditiveAttention& s, const Tensor& q, const Tensor& pk, const Tensor& v,
                        std::optional<Tensor> mask) {
             auto r = s.attend(q, pk, v, opt(mask));
             return py::make_tuple(r.first, r.second);
           }, py::arg("query"), py::arg("projected_keys"), py::arg("values"), py::arg("key_padding_mask") = py::none())
      .def_readonly("key_dim", &AdditiveAttention::key_dim)
      .def_readonly("query_dim", &AdditiveAttention::query_dim)
      .def_readonly("hidden_dim", &AdditiveAttention::hidden_dim);

  bind_module<LuongAttention>(m, "LuongAttention",
                              "Luong attention: score 'dot' s^T h_i or 'general' s^T W h_i; forward(query, keys, "
                              "values=None, key_padding_mask=None) -> (context, weights).")
      .def(py::init([](int64_t kd, int64_t qd, const std::string& score, OptDType dtype) {
             return std::make_shared<LuongAttention>(kd, qd, score, dtype.value_or(DType::Float32));
           }),
           py::arg("key_dim"), py::arg("query_dim"), py::arg("score") = "general", py::arg("dtype") = py::none())
      .def("forward", [](LuongAttention& s, const Tensor& q, const Tensor& k, std::optional<Tensor> v,
                         std::optional<Tensor> mask) {
             auto r = s.forward(q, k, opt(v), opt(mask));
             return py::make_tuple(r.first, r.second);
           }, py::arg("query"), py::arg("keys"), py::arg("values") = py::none(), py::arg("key_padding_mask") = py::none())
      .def_readonly("key_dim", &LuongAttention::key_dim)
      .def_readonly("query_dim", &LuongAttention::query_dim)
      .def_readonly("score", &LuongAttention::score);

  // ---- the recurrent encoder-decoder ----------------------------------------------------------
  auto s2s = bind_module<Seq2Seq>(
      m, "Seq2Seq",
      "Recurrent encoder-decoder: (bi)GRU encoder, GRU decoder s_t = f([E y_{t-1}; c_t], s_{t-1}) with the context "
      "c_t fed in at every step (additive attention, or the encoder's final state with attention=False). "
      "forward(src, tgt_in, src_key_padding_mask=None) -> (logits [B, T, V], attention weights [B, T, S] or None); "
      "greedy_decode(src, max_len) -> (tokens, weights).");
  py::class_<Seq2Seq::Memory>(s2s, "Memory", "The encoded source: annotations, projected keys, summary, mask, state.")
      .def_readonly("annotations", &Seq2Seq::Memory::annotations)
      .def_readonly("projected_keys", &Seq2Seq::Memory::projected_keys)
      .def_readonly("summary", &Seq2Seq::Memory::summary)
      .def_readonly("mask", &Seq2Seq::Memory::mask)
      .def_readonly("state", &Seq2Seq::Memory::state);
  s2s.def(py::init([](int64_t sv, int64_t tv, int64_t e, int64_t h, int64_t a, bool attn, bool bidir, int64_t layers,
                      double dropout, int64_t pad, int64_t bos, int64_t eos, OptDType dtype) {
            Seq2SeqOptions o{sv, tv};
            o.embed_dim = e;
            o.hidden_size = h;
            o.attention_dim = a;
            o.attention = attn;
            o.bidirectional = bidir;
            o.num_layers = layers;
            o.dropout = dropout;
            o.pad_idx = pad;
            o.bos_idx = bos;
            o.eos_idx = eos;
            o.dtype = dtype.value_or(DType::Float32);
            return std::make_shared<Seq2Seq>(o);
          }),
          py::arg("src_vocab"), py::arg("tgt_vocab"), py::arg("embed_dim") = 64, py::arg("hidden_size") = 64,
          py::arg("attention_dim") = 64, py::arg("attention") = true, py::arg("bidirectional") = true,
          py::arg("num_layers") = 1, py::arg("dropout") = 0.0, py::arg("pad_idx") = 0, py::arg("bos_idx") = 1,
          py::arg("eos_idx") = 2, py::arg("dtype") = py::none())
      .def("forward", [](Seq2Seq& s, const Tensor& src, const Tensor& tgt, std::optional<Tensor> mask) {
             auto r = s.forward(src, tgt, opt(mask));
             return py::make_tuple(r.first, r.second);
           }, py::arg("src"), py::arg("tgt_in"), py::arg("src_key_padding_mask") = py::none())
      .def("greedy_decode", [](Seq2Seq& s, const Tensor& src, int64_t max_len, std::optional<Tensor> mask) {
             auto r = s.greedy_decode(src, max_len, opt(mask));
             return py::make_tuple(r.first, r.second);
           }, py::arg("src"), py::arg("max_len"), py::arg("src_key_padding_mask") = py::none())
      .def("encode", [](Seq2Seq& s, const Tensor& src, std::optional<Tensor> mask) { return s.encode(src, opt(mask)); },
           py::arg("src"), py::arg("src_key_padding_mask") = py::none(),
           "Encode the source once (for custom decoding loops with decode_step).")
      .def("decode_step", [](Seq2Seq& s, const Seq2Seq::Memory& mem, const Tensor& y, const Tensor& st) {
             auto r = s.decode_step(mem, y, st);
             return py::make_tuple(r.logits, r.state, r.weights);
           }, py::arg("memory"), py::arg("y_prev"), py::arg("state"),
           "One decoder step: (logits [B, V], new state [B, H], attention weights [B, S] or None).")
      .def_property_readonly("attention_enabled", [](Seq2Seq& s) { return s.options.attention; })
      .def_property_readonly("pad_idx", [](Seq2Seq& s) { return s.options.pad_idx; })
      .def_property_readonly("bos_idx", [](Seq2Seq& s) { return s.options.bos_idx; })
      .def_property_readonly("eos_idx", [](Seq2Seq& s) { return s.options.eos_idx; });

  // ---- functionals ---------------------------------------------------------------------------------
  py::module_ f = functional_submodule(m);
  f.def("gumbel_softmax", [](const Tensor& logits, double tau, bool hard, double /*eps*/, int64_t dim) {
          return functional::gumbel_softmax(logits, tau, hard, dim);
        }, py::arg("logits"), py::arg("tau") = 1.0, py::arg("hard") = false, py::arg("eps") = 1e-10,
        py::arg("dim") = -1,
        "torch.nn.functional.gumbel_softmax (eps is unused, as in PyTorch); seeded by shanshui.manual_seed.");
  f.def("hard_attention", [](const Tensor& w, int64_t dim, bool st) {
          auto r = functional::hard_attention(w, dim, st);
          return py::make_tuple(r.first, r.second);
        }, py::arg("attn_weights"), py::arg("dim") = -1, py::arg("straight_through") = false,
        "Sample one key per query from the attention distribution: (indices, one-hot weights).");
}

}  // namespace shanshui::python
