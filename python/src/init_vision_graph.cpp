// Graph ops: torch.scatter_reduce (free function and Tensor method) and, in
// shanshui._C.nn.functional, edge_softmax and the functional GATConv.
#include "bindings.h"
#include "nn/functional.h"

namespace shanshui::python {

namespace {
using T = const Tensor&;
using nn::functional::Size2;

// torch's _pair: an int means (v, v); a tuple or list gives two ints.
Size2 to_pair(py::handle obj, const char* op, const char* what) {
  if (py::isinstance<py::int_>(obj)) {
    int64_t v = py::cast<int64_t>(obj);
    return {v, v};
  }
  if (py::isinstance<py::tuple>(obj) || py::isinstance<py::list>(obj)) {
    auto seq = py::cast<py::sequence>(obj);
    if (py::len(seq) == 2) return {py::cast<int64_t>(seq[0]), py::cast<int64_t>(seq[1])};
    if (py::len(seq) == 1) return {py::cast<int64_t>(seq[0]), py::cast<int64_t>(seq[0])};
  }
  throw TypeError(cat_str(op, ": ", what, " must be an int or a pair of ints, got ", type_name(obj)));
}
std::optional<Size2> opt_pair(py::handle obj, const char* op, const char* what) {
  if (obj.is_none()) return std::nullopt;
  // torch treats an empty stride list as "default" too
  if ((py::isinstance<py::tuple>(obj) || py::isinstance<py::list>(obj)) && py::len(obj) == 0) return std::nullopt;
  return to_pair(obj, op, what);
}
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

  namespace F = nn::functional;
  using O = py::object;
  f.def("unfold", [](T x, O k, O d, O p, O s) {
    return F::unfold(x, to_pair(k, "unfold", "kernel_size"), to_pair(d, "unfold", "dilation"),
                     to_pair(p, "unfold", "padding"), to_pair(s, "unfold", "stride"));
  }, "torch.nn.functional.unfold (im2col): [N, C, H, W] -> [N, C*kh*kw, L].", py::arg("input"), py::arg("kernel_size"),
        py::arg("dilation") = 1, py::arg("padding") = 0, py::arg("stride") = 1);
  f.def("fold", [](T x, O os, O k, O d, O p, O s) {
    return F::fold(x, to_pair(os, "fold", "output_size"), to_pair(k, "fold", "kernel_size"),
                   to_pair(d, "fold", "dilation"), to_pair(p, "fold", "padding"), to_pair(s, "fold", "stride"));
  }, "torch.nn.functional.fold (col2im): sums [N, C*kh*kw, L] blocks into [N, C, *output_size].", py::arg("input"),
        py::arg("output_size"), py::arg("kernel_size"), py::arg("dilation") = 1, py::arg("padding") = 0,
        py::arg("stride") = 1);
  f.def("conv2d", [](T x, T w, std::optional<Tensor> b, O s, O p, O d, int64_t g) {
    if (py::isinstance<py::str>(p)) {
      std::string mode = py::cast<std::string>(p);
      if (mode != "valid") throw ValueError(cat_str("conv2d: padding '", mode, "' is not supported (use 'valid' or ints)"));
      p = py::int_(0);
    }
    return F::conv2d(x, w, b.value_or(Tensor()), to_pair(s, "conv2d", "stride"), to_pair(p, "conv2d", "padding"),
                     to_pair(d, "conv2d", "dilation"), g);
  }, "torch.nn.functional.conv2d via im2col + GEMM.", py::arg("input"), py::arg("weight"), py::arg("bias") = py::none(),
        py::arg("stride") = 1, py::arg("padding") = 0, py::arg("dilation") = 1, py::arg("groups") = 1);
  f.def("max_pool2d", [](T x, O k, O s, O p, O d, bool ceil, bool ret) -> py::object {
    auto r = F::max_pool2d_with_indices(x, to_pair(k, "max_pool2d", "kernel_size"), opt_pair(s, "max_pool2d", "stride"),
                                        to_pair(p, "max_pool2d", "padding"), to_pair(d, "max_pool2d", "dilation"), ceil);
    if (ret) return py::make_tuple(r.first, r.second);
    return py::cast(r.first);
  }, "torch.nn.functional.max_pool2d (return_indices gives torch's flat per-plane indices).", py::arg("input"),
        py::arg("kernel_size"), py::arg("stride") = py::none(), py::arg("padding") = 0, py::arg("dilation") = 1,
        py::arg("ceil_mode") = false, py::arg("return_indices") = false);
  f.def("avg_pool2d", [](T x, O k, O s, O p, bool ceil, bool cip, std::optional<int64_t> div) {
    return F::avg_pool2d(x, to_pair(k, "avg_pool2d", "kernel_size"), opt_pair(s, "avg_pool2d", "stride"),
                         to_pair(p, "avg_pool2d", "padding"), ceil, cip, div);
  }, "torch.nn.functional.avg_pool2d.", py::arg("input"), py::arg("kernel_size"), py::arg("stride") = py::none(),
        py::arg("padding") = 0, py::arg("ceil_mode") = false, py::arg("count_include_pad") = true,
        py::arg("divisor_override") = py::none());
  f.def("adaptive_avg_pool2d", [](T x, O os) {
    return F::adaptive_avg_pool2d(x, to_pair(os, "adaptive_avg_pool2d", "output_size"));
  }, "torch.nn.functional.adaptive_avg_pool2d.", py::arg("input"), py::arg("output_size"));
  f.def("batch_norm", [](T x, std::optional<Tensor> rm, std::optional<Tensor> rv, std::optional<Tensor> w,
                         std::optional<Tensor> b, bool training, std::optional<double> momentum, double eps) {
    return F::batch_norm(x, rm.value_or(Tensor()), rv.value_or(Tensor()), w.value_or(Tensor()), b.value_or(Tensor()),
                         training, momentum, eps);
  }, "torch.nn.functional.batch_norm (running stats updated in place when training).", py::arg("input"),
        py::arg("running_mean"), py::arg("running_var"), py::arg("weight") = py::none(), py::arg("bias") = py::none(),
        py::arg("training") = false, py::arg("momentum") = 0.1, py::arg("eps") = 1e-5);
}

}  // namespace shanshui::python
