// GradReducer: averages the gradients of a set of parameters across all ranks
// in a few flat buckets (one all_reduce per bucket), the engine of
// DistributedDataParallel in C++ and in Python.
//
// Parameters are grouped, in reverse registration order (the order backward
// produces their gradients) and by dtype, into buckets of about bucket_bytes.
// A post-accumulate-grad hook on every parameter marks it ready after backward
// has written its .grad; once every parameter of the next bucket is ready, the
// bucket's .grad values are packed into its flat buffer, averaged with one
// all_reduce(MEAN) and copied back, so reduction overlaps the rest of backward
// and runs in the same bucket order on every rank. After a backward that
// reached every parameter, all gradients are averaged when backward returns.
//
// As torch's DDP, what is averaged is .grad itself: gradients accumulated
// locally under set_require_sync(false) (torch's no_sync) are included in the
// next synchronised backward. A backward that leaves some parameters without a
// gradient (unused in the loss) leaves their buckets pending: call sync() after
// it, which averages every pending bucket (a parameter without a local
// gradient contributes zeros and receives the average, so ranks stay equal).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace shanshui::nn {

class GradReducer {
 public:
  // `params`: the tensors to keep in sync (leaves that require grad; others
  // are skipped, duplicates counted once). `names` (optional, same length)
  // are used in error messages.
  explicit GradReducer(const std::vector<Tensor>& params, int64_t bucket_bytes = int64_t(25) << 20,
                       const std::vector<std::string>& names = {});
  ~GradReducer();
  GradReducer(const GradReducer&) = delete;
  GradReducer& operator=(const GradReducer&) = delete;

  // Average every bucket not yet averaged since the last complete reduction.
  // A no-op when the gradients are already averaged.
  void sync();
  // With false, hooks only note that gradients changed (torch's no_sync).
  void set_require_sync(bool on);
  bool require_sync() const;

  size_t num_buckets() const;
  // For each bucket, the positions (in the parameter list given) of its tensors.
  std::vector<std::vector<size_t>> bucket_indices() const;
  // all_reduce calls made so far (one per bucket per synchronised backward).
  int64_t num_reductions() const;

  struct State;

 private:
  std::shared_ptr<State> st_;
};

}  // namespace shanshui::nn
