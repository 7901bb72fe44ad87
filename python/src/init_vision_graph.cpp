// Graph ops: torch.scatter_reduce (free function and Tensor method) and, in
// shanshui._C.nn.functional, edge_softmax and the functional GATConv.
#include "bindings.h"
#include "nn/functional.h"

namespace shanshui::python {

namespace {
using T = const Tensor&;
}  // namespace

void init_vision_graph(py::module_& m) {
  TensorClass cls = tensor_class(m);
  def_op(m, cls, "scatter_reduce",
         [](T x, int64_t dim, T index, T src, const std::string& reduce, bool include_self) {
           return scatter_reduce(x, dim, index, src, reduce, include_self);
         },
         "torch.scatter_reduce: reduce src into input at index along dim (\"sum\", \"mean\", \"amax\", \"amin\").",
         py::arg("dim"), py::arg("index"), py::arg("src"), py::arg("reduce"), py::kw_only(),
         py::arg("include_self") = true);
  m.def("segment_softmax", [](T src, T index, int64_t n) { return segment_softmax(src, index, n); },
        "Softmax of src [E, ...] within the groups given by index [E] (num_segments=-1: max(index) + 1).",
        py::arg("src"), py::arg("index"), py::arg("num_segments") = -1);

  py::module_ f = m.def_submodule("nn").def_submodule("functional");
  f.def("edge_softmax", [](T src, T index, std::optional<int64_t> n) {
    return nn::functional::edge_softmax(src, index, n.value_or(-1));
  }, "torch_geometric.utils.softmax(src, index, num_nodes): softmax of edge scores per target node.",
        py::arg("src"), py::arg("index"), py::arg("num_nodes") = py::none());
  f.def("gat_conv", [](T x, T edge_index, T weight, T att_src, T att_dst, std::optional<Tensor> bias, int64_t heads,
                       bool concat, double slope, double dropout, bool training, bool loops,
                       bool return_attention_weights) -> py::object {
    auto r = nn::functional::gat_conv(x, edge_index, weight, att_src, att_dst, bias.value_or(Tensor()), heads, concat,
                                      slope, dropout, training, loops);
    if (!return_attention_weights) return py::cast(r.out);
    return py::make_tuple(r.out, py::make_tuple(r.edge_index, r.alpha));
  }, "GATConv forward with explicit weights (PyG layout: weight [heads*out, in], att_* [1, heads, out]).",
        py::arg("x"), py::arg("edge_index"), py::arg("weight"), py::arg("att_src"), py::arg("att_dst"),
        py::arg("bias") = py::none(), py::arg("heads") = 1, py::arg("concat") = true,
        py::arg("negative_slope") = 0.2, py::arg("dropout") = 0.0, py::arg("training") = false,
        py::arg("add_self_loops") = true, py::arg("return_attention_weights") = false);
}

}  // namespace shanshui::python
