// The C++ layers under torch.nn's names and constructor signatures: Linear,
// Identity, Embedding, LayerNorm, Dropout, the activations and the containers
// (whose Python protocols are added in python/shanshui/nn/modules/container.py).
#include "nn/nn.h"
#include "nn_bindings.h"

namespace shanshui::python {

namespace {

// device=None / "cpu"; dtype=None means the default float32.
DType factory_dtype(py::handle device, py::handle dtype, const char* op) {
  if (!device.is_none()) {
    std::string d = py::str(device);
    SS_CHECK(d == "cpu" || d.rfind("cpu:", 0) == 0, RuntimeError, op, ": shanshui runs on the CPU only (got device '",
             d, "')");
  }
  return dtype.is_none() ? DType::Float32 : py::cast<DType>(dtype);
}

Shape normalized_shape_arg(py::handle s) {
  if (PyLong_Check(s.ptr())) return Shape{py::cast<int64_t>(s)};
  return to_shape(s, "LayerNorm");
}

}  // namespace

void init_nn_layers(py::module_& m) {
  using namespace nn;
  bind_unary_module<Linear>(m, "Linear", "y = x W^T + b with weight [out_features, in_features] (torch.nn.Linear).")
      .def(py::init([](int64_t in, int64_t out, bool bias, py::object device, py::object dtype) {
             return std::make_shared<Linear>(in, out, bias, factory_dtype(device, dtype, "Linear"));
           }),
           py::arg("in_features"), py::arg("out_features"), py::arg("bias") = true, py::arg("device") = py::none(),
           py::arg("dtype") = py::none())
      .def_readonly("in_features", &Linear::in_features)
      .def_readonly("out_features", &Linear::out_features)
      .def("reset_parameters", &Linear::reset_parameters);

  bind_unary_module<Identity>(m, "Identity", "Returns its input (torch.nn.Identity; arguments are ignored).")
      .def(py::init([](py::args, py::kwargs) { return std::make_shared<Identity>(); }));

  bind_unary_module<Embedding>(m, "Embedding", "A lookup table [num_embeddings, embedding_dim] (torch.nn.Embedding).")
      .def(py::init([](int64_t n, int64_t d, std::optional<int64_t> padding_idx, std::optional<Tensor> weight,
                       bool freeze, py::object device, py::object dtype) {
             auto e = std::make_shared<Embedding>(n, d, padding_idx, factory_dtype(device, dtype, "Embedding"));
             if (weight) {
               SS_CHECK(weight->shape() == Shape({n, d}), ValueError, "Embedding: _weight of shape ", weight->shape(),
                        " does not match [num_embeddings, embedding_dim] = ", Shape({n, d}));
               // As PyTorch, the given tensor itself becomes the parameter (sharing its memory).
               Tensor w = weight->detach();
               if (!freeze) w.requires_grad_(true);
               e->register_parameter("weight", w, false);
             }
             return e;
           }),
           py::arg("num_embeddings"), py::arg("embedding_dim"), py::arg("padding_idx") = py::none(),
           py::arg("_weight") = py::none(), py::arg("_freeze") = false, py::arg("device") = py::none(),
           py::arg("dtype") = py::none())
      .def_readonly("num_embeddings", &Embedding::num_embeddings)
      .def_readonly("embedding_dim", &Embedding::embedding_dim)
      .def_readonly("padding_idx", &Embedding::padding_idx)
      .def("reset_parameters", &Embedding::reset_parameters);

  bind_unary_module<LayerNorm>(m, "LayerNorm", "Normalises over the trailing normalized_shape dims (torch.nn.LayerNorm).")
      .def(py::init([](py::handle shape, double eps, bool affine, bool bias, py::object device, py::object dtype) {
             return std::make_shared<LayerNorm>(normalized_shape_arg(shape), eps, affine, bias,
                                                factory_dtype(device, dtype, "LayerNorm"));
           }),
           py::arg("normalized_shape"), py::arg("eps") = 1e-5, py::arg("elementwise_affine") = true,
           py::arg("bias") = true, py::arg("device") = py::none(), py::arg("dtype") = py::none())
      .def_property_readonly("normalized_shape", [](const LayerNorm& l) { return py::tuple(py::cast(l.normalized_shape)); })
      .def_readwrite("eps", &LayerNorm::eps)
      .def_readonly("elementwise_affine", &LayerNorm::elementwise_affine)
      .def("reset_parameters", &LayerNorm::reset_parameters);

  // `inplace` is accepted for PyTorch compatibility; the result is the same, computed out of place.
  bind_unary_module<Dropout>(m, "Dropout", "Zeroes elements with probability p in training mode (torch.nn.Dropout).")
      .def(py::init([](double p, bool inplace) {
             auto r = std::make_shared<Dropout>(p);
             r->inplace = inplace;
             return r;
           }), py::arg("p") = 0.5,
           py::arg("inplace") = false)
      .def_readonly("inplace", &Dropout::inplace)
      .def_readwrite("p", &Dropout::p);
  bind_unary_module<ReLU>(m, "ReLU", "max(x, 0) (torch.nn.ReLU).")
      .def(py::init([](bool inplace) {
             auto r = std::make_shared<ReLU>();
             r->inplace = inplace;
             return r;
           }), py::arg("inplace") = false)
      .def_readonly("inplace", &ReLU::inplace);
  bind_unary_module<GELU>(m, "GELU", "x * Phi(x); approximate='tanh' for the tanh form (torch.nn.GELU).")
      .def(py::init<std::string>(), py::arg("approximate") = "none")
      .def_readonly("approximate", &GELU::approximate);
  bind_unary_module<ELU>(m, "ELU", "x if x > 0 else alpha * (exp(x) - 1) (torch.nn.ELU).")
      .def(py::init([](double alpha, bool inplace) {
             auto r = std::make_shared<ELU>(alpha);
             r->inplace = inplace;
             return r;
           }), py::arg("alpha") = 1.0,
           py::arg("inplace") = false)
      .def_readonly("inplace", &ELU::inplace)
      .def_readwrite("alpha", &ELU::alpha);
  bind_unary_module<LeakyReLU>(m, "LeakyReLU", "x if x > 0 else negative_slope * x (torch.nn.LeakyReLU).")
      .def(py::init([](double slope, bool inplace) {
             auto r = std::make_shared<LeakyReLU>(slope);
             r->inplace = inplace;
             return r;
           }),
           py::arg("negative_slope") = 0.01, py::arg("inplace") = false)
      .def_readonly("inplace", &LeakyReLU::inplace)
      .def_readwrite("negative_slope", &LeakyReLU::negative_slope);
  bind_unary_module<Tanh>(m, "Tanh", "torch.nn.Tanh").def(py::init<>());
  bind_unary_module<Sigmoid>(m, "Sigmoid", "torch.nn.Sigmoid").def(py::init<>());
  bind_unary_module<Softmax>(m, "Softmax", "softmax over dim (torch.nn.Softmax).")
      .def(py::init<std::optional<int64_t>>(), py::arg("dim") = py::none())
      .def_readwrite("dim", &Softmax::dim);

  // Containers: constructed empty here; container.py adds PyTorch's constructors,
  // indexing and iteration on top (in Python, so children keep their Python objects).
  bind_module<Sequential>(m, "Sequential", "Chains modules: each one's output is the next one's input.")
      .def(py::init<>());
  bind_module<ModuleList>(m, "ModuleList", "Holds submodules in a list.").def(py::init<>());
  bind_module<ModuleDict>(m, "ModuleDict", "Holds submodules in an ordered dict.").def(py::init<>());
}

}  // namespace shanshui::python
