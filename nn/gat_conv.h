// GATConv (Velickovic et al. 2018) with torch_geometric.nn.GATConv's parameters:
// lin.weight [heads * out, in] (no bias), att_src / att_dst [1, heads, out],
// bias [heads * out] (concat) or [out]; glorot init, zero bias. So a PyG
// state_dict loads one-to-one.
#pragma once
#include "nn/functional/graph.h"
#include "nn/linear.h"
#include "nn/module.h"

namespace shanshui::nn {

class GATConv : public Module {
 public:
  GATConv(int64_t in_channels, int64_t out_channels, int64_t heads = 1, bool concat = true,
          double negative_slope = 0.2, double dropout = 0.0, bool add_self_loops = true, bool bias = true,
          DType dtype = DType::Float32);
  // x [N, in], edge_index int64 [2, E] (messages flow edge_index[0] -> edge_index[1]).
  Tensor forward(const Tensor& x, const Tensor& edge_index);
  // Also returns the edges used (self loops appended) and alpha [E', heads], as
  // PyG's return_attention_weights=True.
  functional::GATConvResult forward_with_attention(const Tensor& x, const Tensor& edge_index);
  void reset_parameters();
  std::string extra_repr() const override;

  Tensor& att_src() { return params_["att_src"]; }
  Tensor& att_dst() { return params_["att_dst"]; }
  Tensor& bias() { return params_["bias"]; }
  std::shared_ptr<Linear> lin;
  int64_t in_channels, out_channels, heads;
  bool concat;
  double negative_slope, dropout;
  bool add_self_loops;
};

}  // namespace shanshui::nn
