// Incremental decoding through the Transformer decoder with a key/value cache
// (see transformer.h). Each layer step is TransformerDecoderLayer::forward's
// block order (post-LN or pre-LN) with the two attentions reading the cache.
#include "core/ops.h"
#include "nn/attention/transformer.h"

namespace shanshui::nn {

void TransformerDecoderCache::reorder(const Tensor& index) {
  SS_CHECK(index.defined() && index.dtype() == DType::Int64 && index.dim() == 1, ValueError,
           "TransformerDecoderCache.reorder: index must be a 1-D int64 tensor of batch rows, got ",
           index.defined() ? dtype_name(index.dtype()) : "None", " ", index.defined() ? index.shape() : Shape{});
  if (index.numel() > 0)
    SS_CHECK(amin(index).item<int64_t>() >= 0 && amax(index).item<int64_t>() < batch_size, IndexError,
             "TransformerDecoderCache.reorder: index holds rows outside [0, ", batch_size, ")");
  for (auto* caches : {&self_attn, &cross_attn})
    for (KeyValueCache& c : *caches) c.reorder(index);
  if (memory_key_padding_mask.defined()) memory_key_padding_mask = index_select(memory_key_padding_mask, 0, index);
  for (Tensor& w : cross_attn_weights)
    if (w.defined()) w = index_select(w, 0, index);
  batch_size = index.size(0);
}

Tensor TransformerDecoderLayer::forward_step(const Tensor& tgt, KeyValueCache& self_cache,
                                             const KeyValueCache& memory_cache, const Tensor& memory_kpm,
                                             Tensor* cross_attn_weights) {
  KeyValueCache mem = memory_cache;  // two handles; forward_cached does not modify it with append=false
  const bool want = cross_attn_weights != nullptr;
  auto sa = [&](const Tensor& x) { return (*dropout1)(self_attn->forward_cached(x, self_cache, true).first); };
  auto ca = [&](const Tensor& x) {
    auto [out, w] = multihead_attn->forward_cached(x, mem, false, memory_kpm, want);
    if (want) *cross_attn_weights = w;
    return (*dropout2)(out);
  };
  return sublayers(tgt, sa, ca);
}

TransformerDecoderCache TransformerDecoder::init_cache(const Tensor& memory, const Tensor& memory_kpm,
                                                       bool need_weights) const {
  const char* op = "TransformerDecoder.init_cache";
  TransformerDecoderCache c;
  if (layers->size() > 0) c.batch_first = std::static_pointer_cast<TransformerDecoderLayer>((*layers)[0])->options.batch_first;
  SS_CHECK(memory.defined() && memory.dim() == 3, ValueError, op, ": expected a batched 3-D memory (",
           c.batch_first ? "[N, S, d]" : "[S, N, d]", "), got shape ", memory.defined() ? memory.shape() : Shape{});
  c.batch_size = memory.size(c.batch_first ? 0 : 1);
  const int64_t S = memory.size(c.batch_first ? 1 : 0);
  if (memory_kpm.defined()) {
    SS_CHECK(memory_kpm.shape() == (Shape{c.batch_size, S}), ValueError, op,
             ": expected memory_key_padding_mask of shape ", Shape{c.batch_size, S}, " for memory of shape ",
             memory.shape(), ", got ", memory_kpm.shape());
    SS_CHECK(memory_kpm.dtype() == DType::Bool || memory_kpm.is_floating_point(), TypeError, op,
             ": memory_key_padding_mask must be bool or floating, got ", dtype_name(memory_kpm.dtype()));
  }
  c.memory_key_padding_mask = memory_kpm;
  c.need_weights = need_weights;
  for (size_t i = 0; i < layers->size(); ++i) {
    auto layer = std::static_pointer_cast<TransformerDecoderLayer>((*layers)[int64_t(i)]);
    SS_CHECK(memory.size(2) == layer->options.d_model, ValueError, op, ": expected memory with ",
             layer->options.d_model, " features, got shape ", memory.shape());
    c.cross_attn.push_back(layer->multihead_attn->project_key_value(memory, memory));
    c.self_attn.emplace_back();
  }
  c.cross_attn_weights.resize(need_weights ? layers->size() : 0);
  return c;
}

Tensor TransformerDecoder::forward_step(const Tensor& tgt, TransformerDecoderCache& cache) {
  const char* op = "TransformerDecoder.forward_step";
  SS_CHECK(cache.self_attn.size() == layers->size() && cache.cross_attn.size() == layers->size(), ValueError, op,
           ": the cache has ", cache.self_attn.size(), " layers but the decoder ", layers->size(),
           " (make it with this decoder's init_cache)");
  SS_CHECK(tgt.defined() && tgt.dim() == 3, ValueError, op, ": expected batched 3-D tgt (",
           cache.batch_first ? "[N, t, d]" : "[t, N, d]", "), got shape ", tgt.defined() ? tgt.shape() : Shape{});
  const int64_t N = tgt.size(cache.batch_first ? 0 : 1), t = tgt.size(cache.batch_first ? 1 : 0);
  SS_CHECK(N == cache.batch_size && t >= 1, ValueError, op, ": tgt of shape ", tgt.shape(), " must hold t >= 1 new ",
           "positions for the cache's batch of ", cache.batch_size);
  Tensor x = tgt;
  for (size_t i = 0; i < layers->size(); ++i)
    x = std::static_pointer_cast<TransformerDecoderLayer>((*layers)[int64_t(i)])
            ->forward_step(x, cache.self_attn[i], cache.cross_attn[i], cache.memory_key_padding_mask,
                           cache.need_weights ? &cache.cross_attn_weights[i] : nullptr);
  cache.length += t;
  return norm ? (*norm)(x) : x;
}

}  // namespace shanshui::nn
