#include "nn/parallel/reducer.h"

#include <map>
#include <unordered_set>

#include "autograd/grad_mode.h"
#include "core/distributed/distributed.h"
#include "core/ops.h"

namespace shanshui::nn {

struct GradReducer::State {
  struct Bucket {
    DType dtype;
    std::vector<size_t> members;   // indices into State::params
    std::vector<int64_t> offsets;  // of each member in `flat`
    int64_t numel = 0;
    int pending = 0;               // members not yet ready in this round
    Tensor flat;                   // allocated on first use, then reused
  };

  std::vector<Tensor> params;
  std::vector<std::string> names;
  std::vector<size_t> input_pos;  // position of params[i] in the list the user gave
  std::vector<unsigned> handles;
  std::vector<size_t> bucket_of;
  std::vector<char> ready;
  std::vector<Bucket> buckets;
  size_t next = 0;           // the next bucket to reduce (buckets go in order)
  bool require_sync = true;
  bool synced = false;       // .grad holds averaged values and nothing changed since
  int64_t reductions = 0;

  void reset_round() {
    std::fill(ready.begin(), ready.end(), 0);
    for (Bucket& b : buckets) b.pending = int(b.members.size());
    next = 0;
  }

  void mark_ready(size_t i) {
    synced = false;
    if (!require_sync) return;
    if (ready[i]) {
      std::string unused;
      for (size_t j = 0; j < params.size(); ++j)
        if (!ready[j]) unused += cat_str(unused.empty() ? "" : ", ", names[j]);
      throw RuntimeError(cat_str(
          "DistributedDataParallel: parameter ", names[i], " received a second gradient before the gradients of the "
          "previous backward were averaged, because these parameters got no gradient in it: ", unused,
          ". When some parameters take no part in the loss, call sync_gradients() after each backward."));
    }
    ready[i] = 1;
    if (--buckets[bucket_of[i]].pending == 0) flush();
  }

  // Reduce the ready buckets at the front, in order (the same order on every rank).
  void flush() {
    while (next < buckets.size() && buckets[next].pending == 0) reduce(next++);
    if (next == buckets.size()) {
      reset_round();
      synced = true;
    }
  }

  void sync_all() {
    if (synced) return;
    while (next < buckets.size()) reduce(next++);
    reset_round();
    synced = true;
  }

  void reduce(size_t bi) {
    ++reductions;
    NoGradGuard no_grad;
    Bucket& b = buckets[bi];
    if (distributed::world_size() == 1) {
      // The mean of one; only a missing gradient becomes zeros, as with more ranks.
      for (size_t m : b.members)
        if (!params[m].grad().defined()) Tensor(params[m]).set_grad(zeros_like(params[m]));
      return;
    }
    if (!b.flat.defined()) b.flat = empty({b.numel}, b.dtype);
    auto slice = [&](size_t k) {
      const Tensor& p = params[b.members[k]];
      return b.flat.narrow(0, b.offsets[k], p.numel()).view(p.shape());
    };
    for (size_t k = 0; k < b.members.size(); ++k) {
      Tensor g = params[b.members[k]].grad();
      if (g.defined()) {
        slice(k).copy_(g);
      } else {
        slice(k).zero_();
      }
    }
    distributed::all_reduce(b.flat, distributed::ReduceOp::MEAN);
    for (size_t k = 0; k < b.members.size(); ++k) {
      Tensor p = params[b.members[k]];
      Tensor g = p.grad();
      if (g.defined()) {
        g.copy_(slice(k));
      } else {
        p.set_grad(slice(k).clone());
      }
    }
  }
};

GradReducer::GradReducer(const std::vector<Tensor>& params, int64_t bucket_bytes,
                         const std::vector<std::string>& names)
    : st_(std::make_shared<State>()) {
  SS_CHECK(bucket_bytes > 0, ValueError, "GradReducer: bucket size must be positive, got ", bucket_bytes, " bytes");
  SS_CHECK(names.empty() || names.size() == params.size(), ValueError, "GradReducer: got ", params.size(),
           " parameters but ", names.size(), " names");
  distributed::world_size();  // throws unless the process group is initialised
  State& s = *st_;
  std::unordered_set<const TensorImpl*> seen;
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i];
    if (!p.defined() || !p.is_leaf() || !p.requires_grad() || !seen.insert(p.impl()).second) continue;
    s.params.push_back(p);
    s.names.push_back(names.empty() ? cat_str("#", i, " (shape ", shape_str(p.shape()), ")") : names[i]);
    s.input_pos.push_back(i);
  }

  // Reverse order (gradients of the last layers arrive first); one open bucket
  // per dtype, closed once it reaches bucket_bytes.
  std::map<DType, State::Bucket> open;
  auto close = [&](DType dt) {
    s.buckets.push_back(std::move(open[dt]));
    open.erase(dt);
  };
  s.bucket_of.resize(s.params.size());
  for (size_t r = s.params.size(); r-- > 0;) {
    const Tensor& p = s.params[r];
    auto [it, fresh] = open.try_emplace(p.dtype());
    State::Bucket& b = it->second;
    if (fresh) b.dtype = p.dtype();
    b.members.push_back(r);
    b.offsets.push_back(b.numel);
    b.numel += p.numel();
    if (b.numel * int64_t(itemsize(b.dtype)) >= bucket_bytes) close(p.dtype());
  }
  while (!open.empty()) close(open.begin()->first);
  for (size_t bi = 0; bi < s.buckets.size(); ++bi)
    for (size_t m : s.buckets[bi].members) s.bucket_of[m] = bi;
  s.ready.assign(s.params.size(), 0);
  s.reset_round();

  std::weak_ptr<State> weak = st_;
  for (size_t i = 0; i < s.params.size(); ++i)
    s.handles.push_back(Tensor(s.params[i]).register_post_accumulate_grad_hook([weak, i](const Tensor&) {
      if (auto st = weak.lock()) st->mark_ready(i);
    }));
}

GradReducer::~GradReducer() {
  for (size_t i = 0; i < st_->params.size(); ++i) Tensor(st_->params[i]).remove_post_accumulate_grad_hook(st_->handles[i]);
}

void GradReducer::sync() { st_->sync_all(); }
void GradReducer::set_require_sync(bool on) { st_->require_sync = on; }
bool GradReducer::require_sync() const { return st_->require_sync; }
size_t GradReducer::num_buckets() const { return st_->buckets.size(); }
int64_t GradReducer::num_reductions() const { return st_->reductions; }

std::vector<std::vector<size_t>> GradReducer::bucket_indices() const {
  std::vector<std::vector<size_t>> out;
  for (const auto& b : st_->buckets) {
    out.emplace_back();
    for (size_t m : b.members) out.back().push_back(st_->input_pos[m]);
  }
  return out;
}

}  // namespace shanshui::nn
