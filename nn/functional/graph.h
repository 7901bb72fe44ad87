// Graph attention in functional form: edge softmax, self loops and the
// GATConv computation of PyTorch Geometric, all on edge_index [2, E]
// (row 0 = source j, row 1 = target i); memory O(E x heads), never N x N.
#pragma once
#include <tuple>

#include "core/ops.h"

namespace shanshui::nn::functional {

// Softmax of edge scores src [E, ...] over the incoming edges of each target node
// (index = edge_index[1]); torch_geometric.utils.softmax(src, index, num_nodes=num_nodes).
Tensor edge_softmax(const Tensor& src, const Tensor& index, int64_t num_nodes = -1);

// Checks edge_index is int64 [2, E] with values in [0, num_nodes); `op` names the caller in errors.
void check_edge_index(const Tensor& edge_index, int64_t num_nodes, const char* op);
// torch_geometric.utils.remove_self_loops then add_self_loops: the non-loop edges in their
// order, followed by the loops (i, i) for i = 0..num_nodes-1.
Tensor add_remaining_self_loops_pyg(const Tensor& edge_index, int64_t num_nodes);

struct GATConvResult {
  Tensor out;         // [N, heads * out] (concat) or [N, out]
  Tensor edge_index;  // the edges used, self loops included when added
  Tensor alpha;       // [E', heads] attention coefficients (after dropout, as PyG)
};

// The GATConv forward of torch_geometric 2.7 (lin without bias, att_src / att_dst
// [1, heads, out], bias [heads * out] or [out], optional):
//   h = x W^T; e_ji = leaky_relu(<h_j, a_src> + <h_i, a_dst>); alpha = softmax over i's
//   incoming edges; out_i = sum_j alpha_ji h_j; concat or mean over heads; + bias.
GATConvResult gat_conv(const Tensor& x, const Tensor& edge_index, const Tensor& lin_weight, const Tensor& att_src,
                       const Tensor& att_dst, const Tensor& bias, int64_t heads, bool concat = true,
                       double negative_slope = 0.2, double dropout = 0.0, bool training = false,
                       bool add_self_loops = true);

}  // namespace shanshui::nn::functional
