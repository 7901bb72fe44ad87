#include "core/distributed/header.h"

#include <vector>

#include "core/distributed/backend.h"

namespace shanshui::distributed::detail {

static_assert(sizeof(Header) == 18 * sizeof(int64_t), "Header is exchanged as raw bytes");

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::AllReduce: return "all_reduce";
    case Kind::Broadcast: return "broadcast";
    case Kind::AllGather: return "all_gather";
    case Kind::AllGatherIntoTensor: return "all_gather_into_tensor";
    case Kind::Barrier: return "barrier";
    case Kind::BroadcastCoalesced: return "broadcast_coalesced";
  }
  return "?";
}

int64_t hash_words(const int64_t* w, size_t n, int64_t seed) {
  uint64_t h = 1469598103934665603ull ^ uint64_t(seed);
  for (size_t i = 0; i < n; ++i) {
    uint64_t x = uint64_t(w[i]);
    for (int b = 0; b < 8; ++b) {
      h ^= (x >> (8 * b)) & 0xff;
      h *= 1099511628211ull;
    }
  }
  return int64_t(h);
}

Header make_header(Kind kind, int64_t arg, const Tensor& t) {
  Header h;
  h.kind = int64_t(kind);
  h.arg = arg;
  if (!t.defined()) return h;
  h.dtype = int64_t(t.dtype());
  h.ndim = t.dim();
  h.numel = t.numel();
  for (int64_t d = 0; d < t.dim() && d < Header::kDims; ++d) h.dims[d] = t.size(d);
  if (t.dim() > Header::kDims) h.tail_hash = hash_words(t.shape().data() + Header::kDims, size_t(t.dim() - Header::kDims));
  return h;
}

namespace {
std::string describe(const Header& h) {
  if (h.dtype < 0) return "no tensor";
  std::string s = cat_str(dtype_name(DType(h.dtype)), " [");
  for (int64_t d = 0; d < h.ndim; ++d) {
    if (d) s += ", ";
    if (d == Header::kDims) {
      s += "...";
      break;
    }
    s += std::to_string(h.dims[d]);
  }
  return s + "]";
}

std::string describe_arg(Kind k, int64_t arg) {
  if (k == Kind::AllReduce) return reduce_op_name(ReduceOp(arg));
  return cat_str("src=", arg);
}

// "rank 0: float32 [2, 3]; rank 1: float32 [4]"
template <class F>
std::string per_rank(const std::vector<Header>& all, F&& show) {
  std::string s;
  for (size_t r = 0; r < all.size(); ++r) s += cat_str(r ? "; " : "", "rank ", r, ": ", show(all[r]));
  return s;
}
}  // namespace

void check_across_ranks(const char* what, const Header& mine, std::exception_ptr local_error) {
  const int size = world_size();
  if (size == 1) {
    if (local_error) std::rethrow_exception(local_error);
    return;
  }
  Header h = mine;
  h.error = local_error ? 1 : 0;
  std::vector<Header> all(static_cast<size_t>(size));
  backend::all_gather(&h, all.data(), int64_t(sizeof(Header)));

  for (int r = 0; r < size; ++r) {
    if (!all[size_t(r)].error) continue;
    if (local_error) std::rethrow_exception(local_error);
    throw RuntimeError(cat_str("distributed.", what, ": rank ", r,
                               " raised an error on its arguments (see that rank's message); no data was exchanged"));
  }
  const Header& h0 = all[0];
  bool same_kind = true, same_arg = true, same_tensor = true;
  for (const Header& o : all) {
    same_kind &= o.kind == h0.kind;
    same_arg &= o.arg == h0.arg;
    bool same = o.dtype == h0.dtype && o.ndim == h0.ndim && o.numel == h0.numel && o.tail_hash == h0.tail_hash;
    for (int d = 0; d < Header::kDims; ++d) same &= o.dims[d] == h0.dims[d];
    same_tensor &= same;
  }
  SS_CHECK(same_kind, RuntimeError, "distributed.", what, ": ranks called different collectives (",
           per_rank(all, [](const Header& o) { return std::string(kind_name(Kind(o.kind))); }),
           "); every rank must make the same collective calls in the same order");
  const Kind kind = Kind(h0.kind);
  SS_CHECK(same_arg, ValueError, "distributed.", what, ": ranks passed different arguments (",
           per_rank(all, [&](const Header& o) { return describe_arg(kind, o.arg); }), ")");
  if (kind == Kind::BroadcastCoalesced) {
    SS_CHECK(same_tensor, ValueError, "distributed.", what, ": the tensors differ across ranks (",
             per_rank(all, [](const Header& o) { return cat_str(o.dims[0], " tensors, ", o.numel, " elements"); }),
             "); every rank must pass tensors of the same shapes and dtypes in the same order");
    return;
  }
  SS_CHECK(same_tensor, ValueError, "distributed.", what, ": tensors differ across ranks (", per_rank(all, describe),
           "); every rank must pass a tensor of the same shape and dtype");
}

}  // namespace shanshui::distributed::detail
