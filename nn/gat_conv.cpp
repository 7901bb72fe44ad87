#include "nn/gat_conv.h"

#include <cmath>

#include "nn/init.h"

namespace shanshui::nn {

GATConv::GATConv(int64_t in, int64_t out, int64_t h, bool cat, double slope, double drop, bool loops, bool bias,
                 DType dtype)
    : Module("GATConv"), in_channels(in), out_channels(out), heads(h), concat(cat), negative_slope(slope),
      dropout(drop), add_self_loops(loops) {
  SS_CHECK(in > 0 && out > 0 && h > 0, ValueError, "GATConv: in_channels, out_channels and heads must be positive, got ",
           in, ", ", out, " and ", h);
  SS_CHECK(drop >= 0.0 && drop <= 1.0, ValueError, "GATConv: dropout must be in [0, 1], got ", drop);
  // PyG registers lin first, then its own parameters; state_dict lists own parameters first either way.
  lin = register_module("lin", std::make_shared<Linear>(in, h * out, false, dtype));
  register_parameter("att_src", empty({1, h, out}, dtype));
  register_parameter("att_dst", empty({1, h, out}, dtype));
  register_parameter("bias", bias ? empty({cat ? h * out : out}, dtype) : Tensor());
  reset_parameters();
}

void GATConv::reset_parameters() {
  // PyG's glorot: U(-a, a), a = sqrt(6 / (size(-2) + size(-1))); for lin.weight that is
  // xavier_uniform_, for att [1, heads, out] it uses heads + out (not torch's fan rule).
  init::xavier_uniform_(lin->weight());
  for (Tensor* t : {&att_src(), &att_dst()}) {
    double a = std::sqrt(6.0 / double(t->size(-2) + t->size(-1)));
    init::uniform_(*t, -a, a);
  }
  if (bias().defined()) init::zeros_(bias());
}

functional::GATConvResult GATConv::forward_with_attention(const Tensor& x, const Tensor& edge_index) {
  SS_CHECK(x.defined() && x.dim() == 2 && x.size(1) == in_channels, ValueError, "GATConv: expected x of shape [N, ",
           in_channels, "], got ", x.defined() ? x.shape() : Shape{});
  return functional::gat_conv(x, edge_index, lin->weight(), att_src(), att_dst(), bias(), heads, concat,
                              negative_slope, dropout, is_training(), add_self_loops);
}

Tensor GATConv::forward(const Tensor& x, const Tensor& edge_index) {
  return forward_with_attention(x, edge_index).out;
}

std::string GATConv::extra_repr() const {
  return cat_str(in_channels, ", ", out_channels, ", heads=", heads);
}

}  // namespace shanshui::nn
