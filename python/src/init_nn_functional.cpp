// shanshui._C.nn.functional (the fused layer ops and the losses) and
// shanshui._C.nn.init (the initialisers). The torch-signature wrappers, with
// the legacy size_average / reduce arguments, are in python/shanshui/nn/functional.py and init.py.
#include "nn/functional.h"
#include "nn/init.h"
#include "nn_bindings.h"

namespace shanshui::python {

namespace {
Tensor opt(const std::optional<Tensor>& t) { return t ? *t : Tensor(); }
}  // namespace

void init_nn_functional(py::module_& m) {
  namespace F = nn::functional;
  py::module_ f = functional_submodule(m);
  f.def("layer_norm", [](const Tensor& x, py::handle shape, std::optional<Tensor> w, std::optional<Tensor> b,
                         double eps) {
    Shape s = PyLong_Check(shape.ptr()) ? Shape{py::cast<int64_t>(shape)} : to_shape(shape, "layer_norm");
    return F::layer_norm(x, s, opt(w), opt(b), eps);
  }, py::arg("input"), py::arg("normalized_shape"), py::arg("weight") = py::none(), py::arg("bias") = py::none(),
        py::arg("eps") = 1e-5, "Layer normalisation over the trailing normalized_shape dims (fused kernel).");
  f.def("dropout", &F::dropout, py::arg("input"), py::arg("p") = 0.5, py::arg("training") = true,
        "Zero elements with probability p and scale the rest by 1/(1-p) when training.");
  f.def("cross_entropy", [](const Tensor& x, const Tensor& y, std::optional<Tensor> w, int64_t ignore_index,
                            const std::string& reduction, double label_smoothing) {
    return F::cross_entropy(x, y, opt(w), ignore_index, reduction, label_smoothing);
  }, py::arg("input"), py::arg("target"), py::arg("weight") = py::none(), py::arg("ignore_index") = -100,
        py::arg("reduction") = "mean", py::arg("label_smoothing") = 0.0,
        "Fused log-softmax + NLL over class indices, or soft cross-entropy over class probabilities.");
  f.def("nll_loss", [](const Tensor& x, const Tensor& y, std::optional<Tensor> w, int64_t ignore_index,
                       const std::string& reduction) { return F::nll_loss(x, y, opt(w), ignore_index, reduction); },
        py::arg("input"), py::arg("target"), py::arg("weight") = py::none(), py::arg("ignore_index") = -100,
        py::arg("reduction") = "mean");
  f.def("mse_loss", &F::mse_loss, py::arg("input"), py::arg("target"), py::arg("reduction") = "mean");
  f.def("l1_loss", &F::l1_loss, py::arg("input"), py::arg("target"), py::arg("reduction") = "mean");
  f.def("binary_cross_entropy_with_logits", [](const Tensor& x, const Tensor& y, std::optional<Tensor> w,
                                               const std::string& reduction, std::optional<Tensor> pos_weight) {
    return F::binary_cross_entropy_with_logits(x, y, opt(w), reduction, opt(pos_weight));
  }, py::arg("input"), py::arg("target"), py::arg("weight") = py::none(), py::arg("reduction") = "mean",
        py::arg("pos_weight") = py::none());

  namespace I = nn::init;
  py::module_ nnm = nn_submodule(m);
  py::module_ init = py::hasattr(nnm, "init") ? nnm.attr("init").cast<py::module_>()
                                              : nnm.def_submodule("init", "Compiled half of shanshui.nn.init.");
  // In place; each returns None here and the Python wrapper returns the tensor object it was given.
  init.def("uniform_", [](Tensor& t, double a, double b) { I::uniform_(t, a, b); }, py::arg("tensor"), py::arg("a"),
           py::arg("b"));
  init.def("normal_", [](Tensor& t, double mean, double std) { I::normal_(t, mean, std); }, py::arg("tensor"),
           py::arg("mean"), py::arg("std"));
  init.def("trunc_normal_", [](Tensor& t, double mean, double std, double a, double b) {
    I::trunc_normal_(t, mean, std, a, b);
  }, py::arg("tensor"), py::arg("mean"), py::arg("std"), py::arg("a"), py::arg("b"));
  init.def("constant_", [](Tensor& t, double v) { I::constant_(t, v); }, py::arg("tensor"), py::arg("val"));
  init.def("xavier_uniform_", [](Tensor& t, double gain) { I::xavier_uniform_(t, gain); }, py::arg("tensor"),
           py::arg("gain"));
  init.def("xavier_normal_", [](Tensor& t, double gain) { I::xavier_normal_(t, gain); }, py::arg("tensor"),
           py::arg("gain"));
  init.def("kaiming_uniform_", [](Tensor& t, double a, const std::string& mode, const std::string& nl) {
    I::kaiming_uniform_(t, a, mode, nl);
  }, py::arg("tensor"), py::arg("a"), py::arg("mode"), py::arg("nonlinearity"));
  init.def("kaiming_normal_", [](Tensor& t, double a, const std::string& mode, const std::string& nl) {
    I::kaiming_normal_(t, a, mode, nl);
  }, py::arg("tensor"), py::arg("a"), py::arg("mode"), py::arg("nonlinearity"));
}

}  // namespace shanshui::python
