// Incremental decoding and search, in shanshui._C.nn (re-exported by
// shanshui.nn, whose decoding.py wraps the searches for models with
// encode / decode_step): KeyValueCache and MultiheadAttention.forward_cached,
// TransformerDecoderCache with TransformerDecoder.init_cache / forward_step,
// PositionalEncoding.forward(input, offset), Seq2Seq.Memory.reorder, and
// greedy / beam search over Python callables. Runs after init_nn_attention
// and init_rnn, whose classes it extends.
#include <pybind11/functional.h>

#include "nn/nn.h"
#include "nn_bindings.h"

namespace shanshui::python {

namespace {
using OptT = std::optional<Tensor>;
Tensor opt(const OptT& t) { return t ? *t : Tensor(); }
py::object or_none(const Tensor& t) { return t.defined() ? py::cast(t) : py::none(); }

template <class M>
ModuleClass<M> existing(py::module_& nn, const char* name) {
  return py::reinterpret_borrow<ModuleClass<M>>(nn.attr(name));
}
}  // namespace

void init_nn_decoding(py::module_& m) {
  using namespace nn;
  py::module_ nnm = nn_submodule(m);
  auto none = py::none();

  py::class_<KeyValueCache>(nnm, "KeyValueCache",
                            "Projected keys and values of one attention layer, [N, num_heads, S, head_dim] each "
                            "(None while empty), for MultiheadAttention.forward_cached.")
      .def(py::init<>())
      .def_property("key", [](const KeyValueCache& c) { return or_none(c.key); },
                    [](KeyValueCache& c, const OptT& t) { c.key = opt(t); })
      .def_property("value", [](const KeyValueCache& c) { return or_none(c.value); },
                    [](KeyValueCache& c, const OptT& t) { c.value = opt(t); })
      .def("__len__", &KeyValueCache::size)
      .def("reorder", &KeyValueCache::reorder, py::arg("index"),
           "Keep batch rows index (int64 [N']) in that order, in place.");

  existing<MultiheadAttention>(nnm, "MultiheadAttention")
      .def("project_key_value", &MultiheadAttention::project_key_value, py::arg("key"), py::arg("value"),
           "key / value ([S, N, .], [N, S, .] with batch_first) projected and split into heads: a KeyValueCache "
           "of a fixed memory, computed once.")
      .def("forward_cached",
           [](MultiheadAttention& self, const Tensor& q, KeyValueCache& cache, bool append, const OptT& kpm,
              bool need_weights, bool average) {
             auto [o, w] = self.forward_cached(q, cache, append, opt(kpm), need_weights, average);
             return py::make_tuple(o, or_none(w));
           },
           py::arg("query"), py::arg("cache"), py::arg("append"), py::arg("key_padding_mask") = none,
           py::arg("need_weights") = false, py::arg("average_attn_weights") = true,
           "Attention of the new query positions to a KeyValueCache. append=True (self-attention): their own keys "
           "and values are appended to the cache first, and each new position sees the cached ones and the new ones "
           "up to itself. append=False (cross-attention): the cache is read as is. Returns (output, weights or None).");

  py::class_<TransformerDecoderCache>(nnm, "TransformerDecoderCache",
                                      "The key/value cache of incremental decoding through a TransformerDecoder "
                                      "(made by TransformerDecoder.init_cache, advanced by forward_step).")
      .def_readonly("length", &TransformerDecoderCache::length, "Target positions decoded so far.")
      .def_readonly("batch_size", &TransformerDecoderCache::batch_size)
      .def_readonly("batch_first", &TransformerDecoderCache::batch_first)
      .def_readonly("need_weights", &TransformerDecoderCache::need_weights)
      .def_readonly("self_attn", &TransformerDecoderCache::self_attn, "Per layer: the target positions' KeyValueCache.")
      .def_readonly("cross_attn", &TransformerDecoderCache::cross_attn, "Per layer: the memory's KeyValueCache.")
      .def_property_readonly("memory_key_padding_mask",
                             [](const TransformerDecoderCache& c) { return or_none(c.memory_key_padding_mask); })
      .def_property_readonly("cross_attn_weights",
                             [](const TransformerDecoderCache& c) {
                               py::list l;
                               for (const Tensor& w : c.cross_attn_weights) l.append(or_none(w));
                               return l;
                             },
                             "With need_weights: per layer, the head-averaged cross-attention weights [N, t, S] of "
                             "the latest forward_step.")
      .def("reorder", &TransformerDecoderCache::reorder, py::arg("index"),
           "Keep batch rows index (int64 [N'], repeats allowed) in that order, in place (beam search).")
      .def("__repr__", [](const TransformerDecoderCache& c) {
        return cat_str("TransformerDecoderCache(layers=", c.self_attn.size(), ", batch_size=", c.batch_size,
                       ", length=", c.length, ")");
      });

  existing<TransformerDecoder>(nnm, "TransformerDecoder")
      .def("init_cache",
           [](const TransformerDecoder& self, const Tensor& memory, const OptT& kpm, bool need_weights) {
             return self.init_cache(memory, opt(kpm), need_weights);
           },
           py::arg("memory"), py::arg("memory_key_padding_mask") = none, py::arg("need_weights") = false,
           "Start incremental decoding: project the memory's cross-attention keys and values once per layer.")
      .def("forward_step", &TransformerDecoder::forward_step, py::arg("tgt"), py::arg("cache"),
           "Decode the next t >= 1 target positions tgt ([t, N, d], [N, t, d] with batch_first; embedded, with "
           "positional encodings at cache.length onwards) through the cache, which advances by t. Returns their "
           "outputs, equal to forward(tgt_so_far, memory, causal mask)'s at those positions.");

  for (const char* name : {"PositionalEncoding", "LearnedPositionalEmbedding"}) {
    py::object cls = nnm.attr(name);
    auto add = [&](auto tag) {
      using M = typename decltype(tag)::type;
      py::reinterpret_borrow<ModuleClass<M>>(cls).def(
          "forward", [](M& self, const Tensor& x, int64_t offset) { return self.forward(x, offset); },
          py::arg("input"), py::arg("offset") = 0,
          "input + the rows offset .. offset + L - 1 of the table (offset: where incremental decoding is).");
    };
    if (std::string(name) == "PositionalEncoding") add(std::type_identity<PositionalEncoding>{});
    else add(std::type_identity<LearnedPositionalEmbedding>{});
  }

  py::reinterpret_borrow<py::class_<Seq2Seq::Memory>>(nnm.attr("Seq2Seq").attr("Memory"))
      .def("reorder", &Seq2Seq::Memory::reorder, py::arg("index"),
           "Keep batch rows index (int64 [B']) of every field, in place (beam search).");

  // ---- searches ----
  py::enum_<EarlyStopping>(nnm, "_EarlyStopping")
      .value("heuristic", EarlyStopping::Heuristic)
      .value("immediate", EarlyStopping::Immediate)
      .value("never", EarlyStopping::Never);
  py::class_<SearchResult>(nnm, "SearchResult",
                           "sequences (int64; greedy [B, L], beam [B, R, L], best first; EOS included, then "
                           "pad_idx), scores (float64 [B] / [B, R], sum of log-probabilities / "
                           "length ** length_penalty) and lengths (int64, generated tokens, EOS included).")
      .def_readonly("sequences", &SearchResult::sequences)
      .def_readonly("scores", &SearchResult::scores)
      .def_readonly("lengths", &SearchResult::lengths)
      .def("__iter__", [](const SearchResult& r) {
        return py::iter(py::make_tuple(r.sequences, r.scores, r.lengths));
      })
      .def("__repr__", [](const SearchResult& r) {
        return cat_str("SearchResult(sequences=", r.sequences.to_string(), ", scores=", r.scores.to_string(),
                       ", lengths=", r.lengths.to_string(), ")");
      });
  auto options = [](int64_t max_len, int64_t bos, int64_t eos, int64_t pad, double lp) {
    SearchOptions o;
    o.max_len = max_len;
    o.bos_idx = bos;
    o.eos_idx = eos;
    o.pad_idx = pad;
    o.length_penalty = lp;
    return o;
  };
  nnm.def("_greedy_search",
          [options](const DecodeStepFn& step, int64_t batch_size, int64_t max_len, int64_t bos, int64_t eos,
                    int64_t pad, double lp) { return greedy_search(step, batch_size, options(max_len, bos, eos, pad, lp)); },
          py::arg("step"), py::arg("batch_size"), py::arg("max_len"), py::arg("bos_idx"), py::arg("eos_idx"),
          py::arg("pad_idx"), py::arg("length_penalty"),
          "Greedy search over step(tokens [N]) -> logits [N, V] (see shanshui.nn.greedy_search).");
  nnm.def("_beam_search",
          [options](const DecodeStepFn& step, const ReorderStateFn& reorder, int64_t batch_size, int64_t beam_size,
                    int64_t max_len, int64_t bos, int64_t eos, int64_t pad, double lp, int64_t num_return,
                    EarlyStopping es) {
            SearchOptions o = options(max_len, bos, eos, pad, lp);
            o.beam_size = beam_size;
            o.num_return_sequences = num_return;
            o.early_stopping = es;
            return beam_search(step, reorder, batch_size, o);
          },
          py::arg("step"), py::arg("reorder"), py::arg("batch_size"), py::arg("beam_size"), py::arg("max_len"),
          py::arg("bos_idx"), py::arg("eos_idx"), py::arg("pad_idx"), py::arg("length_penalty"),
          py::arg("num_return_sequences"), py::arg("early_stopping"),
          "Beam search over step(tokens) -> logits and reorder(index) (see shanshui.nn.beam_search).");
  nnm.def("sequence_score", &sequence_score, py::arg("sum_log_prob"), py::arg("length"), py::arg("length_penalty"),
          "sum_log_prob / length ** length_penalty: how the searches score a hypothesis.");
}

}  // namespace shanshui::python
