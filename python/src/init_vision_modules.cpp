// The vision and graph modules under torch / timm / PyG names: Conv2d,
// BatchNorm2d, PatchEmbedding, NonLocalBlock2d, ViT (and its Block), GATConv.
// Called from init_vision_graph (after init_nn has bound nn.Module).
#include "nn/nn.h"
#include "nn_bindings.h"

namespace shanshui::python {

namespace {
using nn::functional::Size2;

DType dtype_arg(py::handle dtype) { return dtype.is_none() ? DType::Float32 : py::cast<DType>(dtype); }

Size2 pair_arg(py::handle obj, const char* op, const char* what) {
  if (py::isinstance<py::int_>(obj)) {
    int64_t v = py::cast<int64_t>(obj);
    return {v, v};
  }
  if ((py::isinstance<py::tuple>(obj) || py::isinstance<py::list>(obj)) && py::len(obj) == 2) {
    auto seq = py::cast<py::sequence>(obj);
    return {py::cast<int64_t>(seq[0]), py::cast<int64_t>(seq[1])};
  }
  throw TypeError(cat_str(op, ": ", what, " must be an int or a pair of ints, got ", type_name(obj)));
}
}  // namespace

void init_vision_modules(py::module_& m) {
  using namespace nn;
  using O = py::object;
  bind_unary_module<Conv2d>(m, "Conv2d", "2-D convolution, weight [out, in / groups, kh, kw] (torch.nn.Conv2d).")
      .def(py::init([](int64_t in, int64_t out, O k, O s, O p, O d, int64_t g, bool bias, O padding_mode, O device,
                       O dtype) {
             if (!padding_mode.is_none() && py::str(padding_mode).cast<std::string>() != "zeros")
               throw ValueError("Conv2d: only padding_mode='zeros' is supported");
             if (!device.is_none() && py::str(device).cast<std::string>() != "cpu")
               throw RuntimeError("Conv2d: shanshui runs on the CPU only");
             return std::make_shared<Conv2d>(in, out, pair_arg(k, "Conv2d", "kernel_size"),
                                             pair_arg(s, "Conv2d", "stride"), pair_arg(p, "Conv2d", "padding"),
                                             pair_arg(d, "Conv2d", "dilation"), g, bias, dtype_arg(dtype));
           }),
           py::arg("in_channels"), py::arg("out_channels"), py::arg("kernel_size"), py::arg("stride") = 1,
           py::arg("padding") = 0, py::arg("dilation") = 1, py::arg("groups") = 1, py::arg("bias") = true,
           py::arg("padding_mode") = "zeros", py::arg("device") = py::none(), py::arg("dtype") = py::none())
      .def_readonly("in_channels", &Conv2d::in_channels)
      .def_readonly("out_channels", &Conv2d::out_channels)
      .def_property_readonly("kernel_size", [](Conv2d& c) { return py::make_tuple(c.kernel_size[0], c.kernel_size[1]); })
      .def_property_readonly("stride", [](Conv2d& c) { return py::make_tuple(c.stride[0], c.stride[1]); })
      .def_property_readonly("padding", [](Conv2d& c) { return py::make_tuple(c.padding[0], c.padding[1]); })
      .def_property_readonly("dilation", [](Conv2d& c) { return py::make_tuple(c.dilation[0], c.dilation[1]); })
      .def_readonly("groups", &Conv2d::groups)
      .def("reset_parameters", &Conv2d::reset_parameters);

  bind_unary_module<BatchNorm2d>(m, "BatchNorm2d",
                                 "Batch norm over [N, C, H, W] with running statistics (torch.nn.BatchNorm2d).")
      .def(py::init([](int64_t n, double eps, std::optional<double> momentum, bool affine, bool track, O device,
                       O dtype) {
             return std::make_shared<BatchNorm2d>(n, eps, momentum, affine, track, dtype_arg(dtype));
           }),
           py::arg("num_features"), py::arg("eps") = 1e-5, py::arg("momentum") = 0.1, py::arg("affine") = true,
           py::arg("track_running_stats") = true, py::arg("device") = py::none(), py::arg("dtype") = py::none())
      .def_readonly("num_features", &BatchNorm2d::num_features)
      .def_readwrite("eps", &BatchNorm2d::eps)
      .def_readwrite("momentum", &BatchNorm2d::momentum)
      .def_readonly("affine", &BatchNorm2d::affine)
      .def_readonly("track_running_stats", &BatchNorm2d::track_running_stats)
      .def("reset_running_stats", &BatchNorm2d::reset_running_stats)
      .def("reset_parameters", &BatchNorm2d::reset_parameters);

  bind_unary_module<PatchEmbedding>(m, "PatchEmbedding",
                                    "[B, C, H, W] -> [B, N, D] tokens by a strided Conv2d `proj` (timm's PatchEmbed).")
      .def(py::init([](int64_t img, int64_t patch, int64_t in_chans, int64_t dim, O dtype) {
             return std::make_shared<PatchEmbedding>(img, patch, in_chans, dim, dtype_arg(dtype));
           }),
           py::arg("img_size"), py::arg("patch_size"), py::arg("in_chans") = 3, py::arg("embed_dim") = 768,
           py::arg("dtype") = py::none())
      .def_readonly("num_patches", &PatchEmbedding::num_patches)
      .def_readonly("patch_size", &PatchEmbedding::patch_size)
      .def_readonly("img_size", &PatchEmbedding::img_size);

  bind_module<NonLocalBlock2d>(m, "NonLocalBlock2d",
                               "Non-local block (Wang et al. 2018): z = W_z y + x, W_z zero-initialised.")
      .def(py::init([](int64_t in, std::optional<int64_t> inter, std::string mode, O dtype) {
             return std::make_shared<NonLocalBlock2d>(in, inter, mode, dtype_arg(dtype));
           }),
           py::arg("in_channels"), py::arg("inter_channels") = py::none(), py::arg("mode") = "embedded_gaussian",
           py::arg("dtype") = py::none())
      .def("forward", [](NonLocalBlock2d& self, const Tensor& x, bool ret) -> py::object {
        auto [z, a] = self.forward_with_attention(x);
        if (ret) return py::make_tuple(z, a);
        return py::cast(z);
      }, py::arg("input"), py::arg("return_attention") = false)
      .def_readonly("in_channels", &NonLocalBlock2d::in_channels)
      .def_readonly("inter_channels", &NonLocalBlock2d::inter_channels)
      .def_readonly("mode", &NonLocalBlock2d::mode);

  bind_module<ViT>(m, "ViT", "Vision Transformer (pre-LN, CLS token, learned positions) with timm's parameter names.")
      .def(py::init([](int64_t img, int64_t patch, int64_t in_chans, int64_t classes, int64_t dim, int64_t depth,
                       int64_t heads, double mlp_ratio, double dropout, O dtype) {
             return std::make_shared<ViT>(img, patch, in_chans, classes, dim, depth, heads, mlp_ratio, dropout,
                                          dtype_arg(dtype));
           }),
           py::arg("img_size") = 224, py::arg("patch_size") = 16, py::arg("in_chans") = 3,
           py::arg("num_classes") = 1000, py::arg("embed_dim") = 768, py::arg("depth") = 12,
           py::arg("num_heads") = 12, py::arg("mlp_ratio") = 4.0, py::arg("dropout") = 0.0,
           py::arg("dtype") = py::none())
      .def("forward", [](ViT& self, const Tensor& x, bool ret) -> py::object {
        auto out = self.forward_with_attention(x, ret);
        if (!ret) return py::cast(out.logits);
        return py::make_tuple(out.logits, py::cast(out.attentions));
      }, "Logits [B, num_classes]; with return_attention=True also the list of per-block attention maps "
         "[B, heads, N + 1, N + 1].", py::arg("input"), py::arg("return_attention") = false)
      .def("forward_features", &ViT::forward_features, py::arg("input"))
      .def_readonly("num_classes", &ViT::num_classes)
      .def_readonly("embed_dim", &ViT::embed_dim)
      .def_readonly("depth", &ViT::depth)
      .def_readonly("num_heads", &ViT::num_heads);

  bind_module<GATConv>(m, "GATConv", "Graph attention layer with torch_geometric.nn.GATConv's parameters.")
      .def(py::init([](int64_t in, int64_t out, int64_t heads, bool concat, double slope, double dropout, bool loops,
                       bool bias, O dtype) {
             return std::make_shared<GATConv>(in, out, heads, concat, slope, dropout, loops, bias, dtype_arg(dtype));
           }),
           py::arg("in_channels"), py::arg("out_channels"), py::arg("heads") = 1, py::arg("concat") = true,
           py::arg("negative_slope") = 0.2, py::arg("dropout") = 0.0, py::arg("add_self_loops") = true,
           py::arg("bias") = true, py::arg("dtype") = py::none())
      .def("forward", [](GATConv& self, const Tensor& x, const Tensor& edge_index, O ret) -> py::object {
        auto r = self.forward_with_attention(x, edge_index);
        if (ret.is_none() || !py::cast<bool>(ret)) return py::cast(r.out);
        return py::make_tuple(r.out, py::make_tuple(r.edge_index, r.alpha));
      }, "out [N, heads * out] (or [N, out]); with return_attention_weights=True also (edge_index, alpha [E, heads]).",
           py::arg("x"), py::arg("edge_index"), py::arg("return_attention_weights") = py::none())
      .def_readonly("in_channels", &GATConv::in_channels)
      .def_readonly("out_channels", &GATConv::out_channels)
      .def_readonly("heads", &GATConv::heads)
      .def_readonly("concat", &GATConv::concat)
      .def_readonly("negative_slope", &GATConv::negative_slope)
      .def_readwrite("dropout", &GATConv::dropout)
      .def_readonly("add_self_loops", &GATConv::add_self_loops)
      .def("reset_parameters", &GATConv::reset_parameters);
}

}  // namespace shanshui::python
