#include "nn/seq2seq.h"

#include "autograd/grad_mode.h"
#include "core/ops.h"
#include "nn/functional.h"

namespace shanshui::nn {

Seq2Seq::Seq2Seq(const Seq2SeqOptions& o) : Module("Seq2Seq"), options(o) {
  SS_CHECK(o.src_vocab > 0 && o.tgt_vocab > 0, ValueError, "Seq2Seq: src_vocab and tgt_vocab must be positive, got ",
           o.src_vocab, " and ", o.tgt_vocab);
  SS_CHECK(o.embed_dim > 0 && o.hidden_size > 0 && o.attention_dim > 0, ValueError,
           "Seq2Seq: embed_dim, hidden_size and attention_dim must be positive, got ", o.embed_dim, ", ", o.hidden_size,
           ", ", o.attention_dim);
  SS_CHECK(o.dropout >= 0.0 && o.dropout < 1.0, ValueError, "Seq2Seq: dropout must be in [0, 1), got ", o.dropout);
  for (int64_t idx : {o.bos_idx, o.eos_idx})
    SS_CHECK(idx >= 0 && idx < o.tgt_vocab, ValueError, "Seq2Seq: bos_idx and eos_idx must be target tokens (< ",
             o.tgt_vocab, "), got ", idx);
  auto pad = [&](int64_t vocab) {
    return o.pad_idx >= 0 && o.pad_idx < vocab ? std::optional<int64_t>(o.pad_idx) : std::nullopt;
  };
  const int64_t D = o.bidirectional ? 2 : 1, ctx = D * o.hidden_size;
  src_embed = register_module("src_embed", std::make_shared<Embedding>(o.src_vocab, o.embed_dim, pad(o.src_vocab), o.dtype));
  encoder = register_module("encoder", std::make_shared<GRU>(o.embed_dim, o.hidden_size, o.num_layers, true, true,
                                                             o.num_layers > 1 ? o.dropout : 0.0, o.bidirectional,
                                                             o.dtype));
  bridge = register_module("bridge", std::make_shared<Linear>(ctx, o.hidden_size, true, o.dtype));
  tgt_embed = register_module("tgt_embed", std::make_shared<Embedding>(o.tgt_vocab, o.embed_dim, pad(o.tgt_vocab), o.dtype));
  if (o.attention)
    attention = register_module("attention",
                                std::make_shared<AdditiveAttention>(ctx, o.hidden_size, o.attention_dim, true, o.dtype));
  decoder = register_module("decoder", std::make_shared<GRUCell>(o.embed_dim + ctx, o.hidden_size, true, o.dtype));
  out = register_module("out", std::make_shared<Linear>(o.hidden_size + ctx + o.embed_dim, o.tgt_vocab, true, o.dtype));
}

void Seq2Seq::Memory::reorder(const Tensor& index) {
  SS_CHECK(index.defined() && index.dtype() == DType::Int64 && index.dim() == 1, ValueError,
           "Seq2Seq.Memory.reorder: index must be a 1-D int64 tensor of batch rows");
  for (Tensor* t : {&annotations, &projected_keys, &summary, &mask, &state})
    if (t->defined()) *t = index_select(*t, 0, index);
}

Tensor Seq2Seq::drop(const Tensor& x) { return functional::dropout(x, options.dropout, is_training()); }

void Seq2Seq::check_tokens(const Tensor& t, const char* name, int64_t vocab) const {
  SS_CHECK(t.defined() && t.dtype() == DType::Int64, TypeError, "Seq2Seq: ", name, " must be int64 token ids, got ",
           t.defined() ? dtype_name(t.dtype()) : "None");
  if (t.numel() > 0)
    SS_CHECK(amin(t).item<int64_t>() >= 0 && amax(t).item<int64_t>() < vocab, IndexError, "Seq2Seq: ", name,
             " holds token ids outside [0, ", vocab, ")");
}

Seq2Seq::Memory Seq2Seq::encode(const Tensor& src, const Tensor& mask_in) {
  check_tokens(src, "src", options.src_vocab);
  SS_CHECK(src.dim() == 2 && src.size(1) > 0, ValueError, "Seq2Seq: src must be [B, S] with S > 0, got shape ",
           src.shape());
  Memory m;
  if (mask_in.defined()) {
    SS_CHECK(mask_in.dtype() == DType::Bool && mask_in.shape() == src.shape(), ValueError,
             "Seq2Seq: key_padding_mask must be bool of the source's shape ", src.shape(), ", got ",
             dtype_name(mask_in.dtype()), " ", mask_in.shape());
    m.mask = mask_in;
  } else if (options.pad_idx >= 0) {
    Tensor pm = eq(src, Scalar(options.pad_idx));
    if (any(pm).item<bool>()) m.mask = pm;
  }
  auto [h, hn] = encoder->forward(drop((*src_embed)(src)), Tensor());
  m.annotations = h;
  // The last layer's final states, forward then backward: [B, D*H].
  const int64_t D = encoder->num_directions(), L = options.num_layers;
  std::vector<Tensor> last;
  for (int64_t d = 0; d < D; ++d) last.push_back(hn.select(0, (L - 1) * D + d));
  m.summary = D == 2 ? cat(last, 1) : last[0];
  m.state = tanh((*bridge)(m.summary));
  if (attention) m.projected_keys = attention->project_keys(h);
  return m;
}

Seq2Seq::Step Seq2Seq::decode_step(const Memory& mem, const Tensor& y_prev, const Tensor& s_prev) {
  check_tokens(y_prev, "y_prev", options.tgt_vocab);
  Tensor emb = drop((*tgt_embed)(y_prev));
  Step st;
  Tensor c;
  if (attention) {
    auto [ctx, w] = attention->attend(s_prev, mem.projected_keys, mem.annotations, mem.mask);
    c = ctx;
    st.weights = w;
  } else {
    c = mem.summary;
  }
  st.state = decoder->forward(cat({emb, c}, 1), s_prev);
  st.logits = (*out)(drop(cat({st.state, c, emb}, 1)));
  return st;
}

std::pair<Tensor, Tensor> Seq2Seq::forward(const Tensor& src, const Tensor& tgt_in, const Tensor& mask) {
  check_tokens(tgt_in, "tgt_in", options.tgt_vocab);
  SS_CHECK(tgt_in.dim() == 2 && tgt_in.size(0) == src.size(0) && tgt_in.size(1) > 0, ValueError,
           "Seq2Seq: tgt_in must be [B, T] with the source's batch size, got ", tgt_in.shape(), " for src ",
           src.shape());
  Memory mem = encode(src, mask);
  const int64_t T = tgt_in.size(1);
  Tensor emb = drop((*tgt_embed)(tgt_in));  // [B, T, E], all steps at once
  Tensor s = mem.state;
  std::vector<Tensor> states, ctxs, weights;
  for (int64_t t = 0; t < T; ++t) {
    Tensor e = emb.select(1, t), c;
    if (attention) {
      auto [ctx, w] = attention->attend(s, mem.projected_keys, mem.annotations, mem.mask);
      c = ctx;
      weights.push_back(w);
    } else {
      c = mem.summary;
    }
    s = decoder->forward(cat({e, c}, 1), s);
    states.push_back(s);
    ctxs.push_back(c);
  }
  // The output projection of all steps in one GEMM.
  Tensor feats = cat({stack(states, 1), stack(ctxs, 1), emb}, 2);
  Tensor logits = (*out)(drop(feats));
  return {logits, attention ? stack(weights, 1) : Tensor()};
}

std::pair<Tensor, Tensor> Seq2Seq::greedy_decode(const Tensor& src, int64_t max_len, const Tensor& mask) {
  SS_CHECK(max_len > 0, ValueError, "Seq2Seq: max_len must be positive, got ", max_len);
  NoGradGuard ng;
  Memory mem = encode(src, mask);
  const int64_t B = src.size(0);
  Tensor y = full({B}, Scalar(options.bos_idx), DType::Int64), s = mem.state;
  Tensor done = zeros({B}, DType::Bool);
  const int64_t fill = options.pad_idx >= 0 && options.pad_idx < options.tgt_vocab ? options.pad_idx : options.eos_idx;
  std::vector<Tensor> tokens, weights;
  for (int64_t t = 0; t < max_len; ++t) {
    Step st = decode_step(mem, y, s);
    s = st.state;
    Tensor next = argmax(st.logits, 1);
    next = where(done, full({B}, Scalar(fill), DType::Int64), next);
    tokens.push_back(next);
    if (attention) weights.push_back(st.weights);
    done = logical_or(done, eq(next, Scalar(options.eos_idx)));
    y = next;
    if (all(done).item<bool>()) break;
  }
  return {stack(tokens, 1), attention ? stack(weights, 1) : Tensor()};
}

std::string Seq2Seq::extra_repr() const {
  return cat_str("attention=", options.attention ? "True" : "False");
}

}  // namespace shanshui::nn
