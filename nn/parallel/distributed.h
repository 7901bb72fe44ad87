// DistributedDataParallel: data-parallel training across MPI ranks, as torch's
// nn.parallel.DistributedDataParallel.
//
//   distributed::init();
//   auto model = std::make_shared<MyNet>();
//   auto ddp = std::make_shared<nn::DistributedDataParallel>(model);
//   optim::SGD opt(ddp->parameters(), {.lr = 0.1});
//   for (...) {                       // each rank on its own shard of the data
//     opt.zero_grad();
//     loss_fn((*ddp)(x), y).backward();  // gradients are averaged across ranks here
//     opt.step();                         // so every rank takes the same step
//   }
//
// At construction rank 0's parameters and buffers are broadcast to every rank.
// During backward the gradients are averaged across ranks by a GradReducer
// (flat buckets of ~bucket_cap_mb, one all_reduce each). Otherwise it is the
// wrapped module: forward delegates to it (after broadcasting rank 0's buffers
// when broadcast_buffers), module() returns it, and its parameters and
// state_dict keys carry the "module." prefix, as torch's. Gradient averaging
// hangs off the parameters, not forward, so a module with a forward of several
// inputs can be called through module() directly.
#pragma once
#include <memory>

#include "nn/module.h"
#include "nn/parallel/reducer.h"

namespace shanshui::nn {

struct DistributedDataParallelOptions {
  double bucket_cap_mb = 25.0;
  // Broadcast rank 0's buffers (running statistics) before each forward.
  bool broadcast_buffers = true;
};

class DistributedDataParallel : public Module {
 public:
  explicit DistributedDataParallel(ModulePtr module, DistributedDataParallelOptions options = {});

  Tensor forward(const Tensor& input) override;

  const ModulePtr& module() const { return module_; }
  template <class M>
  std::shared_ptr<M> module_as() const {
    return std::dynamic_pointer_cast<M>(module_);
  }

  // Average the gradients not yet averaged (needed only after a backward that
  // left some parameters without a gradient; see GradReducer).
  void sync_gradients() { reducer_->sync(); }

  // torch's require_backward_grad_sync / no_sync(): with false, backward
  // accumulates gradients locally; the next synchronised backward averages them.
  void set_require_backward_grad_sync(bool on) { reducer_->set_require_sync(on); }
  bool require_backward_grad_sync() const { return reducer_->require_sync(); }
  class NoSyncGuard {
   public:
    explicit NoSyncGuard(DistributedDataParallel& d) : d_(d), prev_(d.require_backward_grad_sync()) {
      d_.set_require_backward_grad_sync(false);
    }
    ~NoSyncGuard() { d_.set_require_backward_grad_sync(prev_); }
    NoSyncGuard(const NoSyncGuard&) = delete;
    NoSyncGuard& operator=(const NoSyncGuard&) = delete;

   private:
    DistributedDataParallel& d_;
    bool prev_;
  };

  GradReducer& reducer() { return *reducer_; }
  const DistributedDataParallelOptions& options() const { return options_; }

 private:
  ModulePtr module_;
  DistributedDataParallelOptions options_;
  std::unique_ptr<GradReducer> reducer_;
};

}  // namespace shanshui::nn
