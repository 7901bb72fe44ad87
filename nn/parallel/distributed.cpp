#include "nn/parallel/distributed.h"

#include "core/distributed/distributed.h"

namespace shanshui::nn {

namespace {
std::vector<Tensor> tensors_of(const NamedTensors& named) {
  std::vector<Tensor> out;
  for (const auto& [n, t] : named) out.push_back(t);
  return out;
}
}  // namespace

DistributedDataParallel::DistributedDataParallel(ModulePtr module, DistributedDataParallelOptions options)
    : Module("DistributedDataParallel"), module_(std::move(module)), options_(options) {
  SS_CHECK(module_ != nullptr, ValueError, "DistributedDataParallel: module is null");
  SS_CHECK(options.bucket_cap_mb > 0, ValueError, "DistributedDataParallel: bucket_cap_mb must be positive, got ",
           options.bucket_cap_mb);
  SS_CHECK(distributed::is_initialized(), RuntimeError,
           "DistributedDataParallel: the process group is not initialized; call shanshui::distributed::init() first");
  register_module("module", module_);
  const int64_t bucket_bytes = std::max<int64_t>(1, int64_t(options.bucket_cap_mb * 1024 * 1024));

  // Every rank starts from rank 0's weights. The coalesced broadcast checks
  // first that all ranks hold the same shapes, so different models raise here.
  NamedTensors state = module_->named_parameters();
  for (auto& b : module_->named_buffers()) state.push_back(b);
  distributed::broadcast_coalesced(tensors_of(state), 0, bucket_bytes);

  NamedTensors named = module_->named_parameters();
  std::vector<std::string> names;
  for (const auto& [n, t] : named) names.push_back("'" + n + "'");
  reducer_ = std::make_unique<GradReducer>(tensors_of(named), bucket_bytes, names);
}

Tensor DistributedDataParallel::forward(const Tensor& input) {
  if (options_.broadcast_buffers && distributed::world_size() > 1) {
    std::vector<Tensor> buffers = module_->buffers();
    if (!buffers.empty())
      distributed::broadcast_coalesced(buffers, 0, std::max<int64_t>(1, int64_t(options_.bucket_cap_mb * 1024 * 1024)));
  }
  return (*module_)(input);
}

}  // namespace shanshui::nn
