// broadcast_coalesced: many tensors in a few flat buffers. A plan header (tensor
// count, total elements, a hash of every dtype and shape) is checked across
// ranks first, so ranks holding different models raise instead of pairing up
// buckets of different sizes (or leaving one rank waiting for a bucket).
#include <vector>

#include "autograd/grad_mode.h"
#include "core/distributed/backend.h"
#include "core/distributed/header.h"
#include "core/ops.h"

namespace shanshui::distributed {

void broadcast_coalesced(const std::vector<Tensor>& tensors, int src, int64_t bucket_bytes) {
  using detail::Header;
  using detail::Kind;
  backend::require_initialized("broadcast_coalesced");
  std::exception_ptr err;
  Header h;
  h.kind = int64_t(Kind::BroadcastCoalesced);
  h.arg = src;
  h.dtype = 0;
  h.dims[0] = int64_t(tensors.size());
  try {
    SS_CHECK(src >= 0 && src < world_size(), ValueError, "distributed.broadcast_coalesced: src ", src,
             " is not a rank of the group (world size ", world_size(), ")");
    SS_CHECK(bucket_bytes > 0, ValueError, "distributed.broadcast_coalesced: bucket_bytes must be positive, got ",
             bucket_bytes);
    for (size_t i = 0; i < tensors.size(); ++i) {
      const Tensor& t = tensors[i];
      SS_CHECK(t.defined(), ValueError, "distributed.broadcast_coalesced: tensor ", i, " is undefined");
      h.numel += t.numel();
      std::vector<int64_t> words{int64_t(t.dtype()), t.dim()};
      words.insert(words.end(), t.shape().begin(), t.shape().end());
      h.tail_hash = detail::hash_words(words.data(), words.size(), h.tail_hash);
    }
  } catch (...) {
    err = std::current_exception();
  }
  detail::check_across_ranks("broadcast_coalesced", h, err);
  if (world_size() == 1) return;

  NoGradGuard no_grad;
  // Buckets: runs of tensors of one dtype, in order, each at most bucket_bytes
  // (a tensor larger than that is a bucket of its own).
  const bool is_src = rank() == src;
  size_t i = 0;
  while (i < tensors.size()) {
    const DType dt = tensors[i].dtype();
    const int64_t item = int64_t(itemsize(dt));
    size_t j = i;
    int64_t n = 0;
    while (j < tensors.size() && tensors[j].dtype() == dt &&
           (j == i || (n + tensors[j].numel()) * item <= bucket_bytes))
      n += tensors[j++].numel();
    Tensor flat = empty({n}, dt);
    if (is_src) {
      int64_t off = 0;
      for (size_t k = i; k < j; ++k) {
        const Tensor& t = tensors[k];
        flat.narrow(0, off, t.numel()).view(t.shape()).copy_(t);
        off += t.numel();
      }
    }
    backend::broadcast(flat.raw_data(), n * item, src);
    if (!is_src) {
      int64_t off = 0;
      for (size_t k = i; k < j; ++k) {
        Tensor t = tensors[k];
        t.copy_(flat.narrow(0, off, t.numel()).view(t.shape()));
        off += t.numel();
      }
    }
    i = j;
  }
}

}  // namespace shanshui::distributed
