// Graph attention from the sparse primitives: index_select gathers node rows
// per edge, segment_softmax normalises per target node, index_add sums the
// weighted messages back into nodes. Each is differentiable on its own, so
// GATConv needs no hand-written backward.
#include "nn/functional/graph.h"

#include "nn/functional.h"

namespace shanshui::nn::functional {

Tensor edge_softmax(const Tensor& src, const Tensor& index, int64_t num_nodes) {
  return segment_softmax(src, index, num_nodes);
}

void check_edge_index(const Tensor& ei, int64_t n, const char* op) {
  SS_CHECK(ei.defined(), ValueError, op, ": edge_index is undefined");
  SS_CHECK(ei.dtype() == DType::Int64, TypeError, op, ": edge_index must have dtype int64, got ",
           dtype_name(ei.dtype()));
  SS_CHECK(ei.dim() == 2 && ei.size(0) == 2, ValueError, op, ": edge_index must have shape [2, E], got ", ei.shape());
  Tensor c = ei.contiguous();
  const int64_t* p = c.data_ptr<int64_t>();
  for (int64_t k = 0; k < c.numel(); ++k)
    SS_CHECK(p[k] >= 0 && p[k] < n, IndexError, op, ": edge_index contains node index ", p[k], " (edge ",
             k % c.size(1), ", row ", k / c.size(1), ") out of range for ", n, " nodes; indices must lie in [0, ",
             n, ")");
}

Tensor add_remaining_self_loops_pyg(const Tensor& ei, int64_t n) {
  Tensor c = ei.contiguous();
  const int64_t E = c.size(1);
  const int64_t* p = c.data_ptr<int64_t>();
  std::vector<int64_t> src, dst;
  src.reserve(size_t(E + n));
  dst.reserve(size_t(E + n));
  for (int64_t e = 0; e < E; ++e)
    if (p[e] != p[E + e]) {
      src.push_back(p[e]);
      dst.push_back(p[E + e]);
    }
  for (int64_t i = 0; i < n; ++i) {
    src.push_back(i);
    dst.push_back(i);
  }
  src.insert(src.end(), dst.begin(), dst.end());
  return from_vector(src, {2, int64_t(dst.size())});
}

GATConvResult gat_conv(const Tensor& x, const Tensor& edge_index, const Tensor& W, const Tensor& att_src,
                       const Tensor& att_dst, const Tensor& bias, int64_t heads, bool concat, double negative_slope,
                       double dropout_p, bool training, bool add_self_loops) {
  const char* op = "gat_conv";
  SS_CHECK(x.defined() && x.dim() == 2, ValueError, op, ": x must be 2-D [num_nodes, in_channels], got shape ",
           x.defined() ? x.shape() : Shape{});
  SS_CHECK(x.is_floating_point(), TypeError, op, ": x must be floating point, got ", dtype_name(x.dtype()));
  SS_CHECK(heads >= 1, ValueError, op, ": heads must be positive, got ", heads);
  SS_CHECK(W.defined() && W.dim() == 2 && W.size(1) == x.size(1) && W.size(0) % heads == 0, ValueError, op,
           ": lin weight of shape ", W.defined() ? W.shape() : Shape{}, " does not fit x of shape ", x.shape(),
           " and ", heads, " heads (expected [heads * out_channels, ", x.size(1), "])");
  const int64_t N = x.size(0), C = W.size(0) / heads;
  SS_CHECK(att_src.defined() && att_src.shape() == (Shape{1, heads, C}) && att_dst.defined() &&
               att_dst.shape() == (Shape{1, heads, C}),
           ValueError, op, ": att_src and att_dst must have shape [1, ", heads, ", ", C, "], got ",
           att_src.defined() ? att_src.shape() : Shape{}, " and ", att_dst.defined() ? att_dst.shape() : Shape{});
  if (bias.defined())
    SS_CHECK(bias.dim() == 1 && bias.size(0) == (concat ? heads * C : C), ValueError, op, ": bias of shape ",
             bias.shape(), " does not match the output width ", concat ? heads * C : C);
  SS_CHECK(dropout_p >= 0.0 && dropout_p <= 1.0, ValueError, op, ": dropout must be in [0, 1], got ", dropout_p);
  check_edge_index(edge_index, N, op);
  Tensor ei = add_self_loops ? add_remaining_self_loops_pyg(edge_index, N) : edge_index.contiguous();
  Tensor src = ei.select(0, 0).contiguous(), dst = ei.select(0, 1).contiguous();

  Tensor h = linear(x, W).view({N, heads, C});
  Tensor a_src = sum(mul(h, att_src), {-1});  // [N, H]
  Tensor a_dst = sum(mul(h, att_dst), {-1});
  Tensor e = add(index_select(a_src, 0, src), index_select(a_dst, 0, dst));  // [E, H]
  e = leaky_relu(e, negative_slope);
  Tensor alpha = segment_softmax(e, dst, N);
  if (dropout_p > 0.0 && training) alpha = functional::dropout(alpha, dropout_p, true);
  Tensor msg = mul(index_select(h, 0, src), alpha.unsqueeze(-1));  // [E, H, C]
  Tensor out = index_add(zeros({N, heads, C}, x.dtype()), 0, dst, msg);
  out = concat ? out.reshape({N, heads * C}) : mean(out, {1});
  if (bias.defined()) out = add(out, bias);
  return {out, ei, alpha};
}

}  // namespace shanshui::nn::functional
