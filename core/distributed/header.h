// The metadata every collective exchanges among all ranks before it moves
// data (internal). One all-gather of a fixed 144-byte header per call turns a
// mismatch across ranks (shapes, dtypes, ops, source ranks, different
// collectives, bad arguments on one rank) into an exception on every rank; a
// data collective on mismatched buffers would corrupt memory or hang.
#pragma once
#include <cstdint>
#include <exception>
#include <string>

#include "core/tensor.h"

namespace shanshui::distributed::detail {

enum class Kind : int64_t {
  AllReduce = 1,
  Broadcast,
  AllGather,
  AllGatherIntoTensor,
  Barrier,
  BroadcastCoalesced
};
const char* kind_name(Kind k);

struct Header {
  static constexpr int kDims = 10;  // dims sent as they are; the rest as a hash
  int64_t kind = 0;
  int64_t arg = 0;  // the ReduceOp or the src rank
  int64_t dtype = -1;
  int64_t ndim = 0;
  int64_t numel = 0;
  int64_t dims[kDims] = {};
  int64_t tail_hash = 0;  // dims past kDims (or, for coalesced calls, every tensor's dtype and shape)
  int64_t error = 0;      // this rank's own arguments were invalid
  int64_t reserved = 0;
};

// The header of one tensor argument.
Header make_header(Kind kind, int64_t arg, const Tensor& t);
// FNV-1a over int64 words, for shape lists.
int64_t hash_words(const int64_t* w, size_t n, int64_t seed = 0);

// Exchange headers and throw, on every rank, if any rank's local argument
// check failed (`local_error`, rethrown on its own rank) or the headers
// differ. `what` names the collective in messages ("all_reduce").
void check_across_ranks(const char* what, const Header& mine, std::exception_ptr local_error);

}  // namespace shanshui::distributed::detail
