// Binding C++ nn modules to Python (shanshui.nn).
//
// shanshui.nn.Module is the binding of nn::Module (init_nn_module.cpp). Python
// classes subclass it exactly as in PyTorch, and each C++ module class is bound
// as a subclass of it with bind_module<T>(). Every module class uses
// py::smart_holder, so one module can be owned by Python and C++ at once (a C++
// Sequential holding a Python module, a Python module holding a C++ one).
//
// What the base binding already gives every bound class: attribute access to the
// registry (`mha.in_proj_weight`, `mha.out_proj` need no property), __setattr__
// that registers Parameters / Modules / buffers, __call__ (forward + forward
// hooks), parameters(), state_dict(), load_state_dict(), train()/eval(), repr
// (from the C++ extra_repr()), and so on. A class only binds its constructor,
// its forward and its plain fields (with def_readonly / def_readwrite).
//
// Complete example (python/src/init_attention.cpp; call init_attention(m) in module.cpp):
//
//   #include "nn_bindings.h"
//   #include "nn/attention.h"
//   void init_attention(py::module_& m) {
//     using namespace shanshui;
//     python::bind_module<nn::MultiheadAttention>(m, "MultiheadAttention", "torch.nn.MultiheadAttention.")
//         .def(py::init<int64_t, int64_t, double, bool>(), py::arg("embed_dim"), py::arg("num_heads"),
//              py::arg("dropout") = 0.0, py::arg("bias") = true)
//         .def("forward", [](nn::MultiheadAttention& self, const Tensor& q, const Tensor& k, const Tensor& v) {
//           auto [out, weights] = self.forward(q, k, v);
//           return py::make_tuple(out, weights);   // any Python value may be returned
//         }, py::arg("query"), py::arg("key"), py::arg("value"))
//         .def_readonly("embed_dim", &nn::MultiheadAttention::embed_dim);
//   }
//
// For a module whose forward takes one tensor, bind_unary_module<T>() also binds
// `forward(input)`. The class lands in shanshui._C.nn, and shanshui.nn
// re-exports every Module subclass found there (and every function of
// shanshui._C.nn.functional in shanshui.nn.functional), so no Python file
// needs editing. Functional ops go into functional_submodule(m).
//
// Forward hooks: from Python, __call__ runs forward and then the hooks (Python
// hooks get (module, args, output) and may return a replacement output). From
// C++, Module::operator() runs them for single-tensor forwards; a C++ parent
// calling a multi-input child should call child->run_forward_hooks(inputs,
// outputs) after child->forward(...), and forward() itself must NOT run hooks
// (Python's __call__ already does).
#pragma once
#include "bindings.h"
#include "nn/module.h"

namespace shanshui::python {

// shanshui.nn.Parameter: a Tensor subclass marking a module's learnable leaf.
struct Parameter : Tensor {
  Parameter() = default;
  explicit Parameter(Tensor t) : Tensor(std::move(t)) {}
};

template <class M>
using ModuleClass = py::class_<M, nn::Module, py::smart_holder>;

// shanshui._C.nn and shanshui._C.nn.functional (created on first use).
py::module_ nn_submodule(py::module_& m);
py::module_ functional_submodule(py::module_& m);

// Binds nn::Module, Parameter and the containers (idempotent; bind_module calls it).
void init_nn_module(py::module_& m);

// The Python object of a module: the existing one when there is one (so a Python
// subclass keeps its Python attributes), else a new wrapper.
py::object module_object(nn::Module& mod);

template <class M>
ModuleClass<M> bind_module(py::module_& m, const char* name, const char* doc = "") {
  static_assert(std::is_base_of_v<nn::Module, M>, "bind_module: M must derive from nn::Module");
  init_nn_module(m);
  py::module_ nn = nn_submodule(m);
  ModuleClass<M> cls(nn, name, doc, py::dynamic_attr());
  cls.attr("__module__") = "shanshui.nn";
  return cls;
}

template <class M>
ModuleClass<M> bind_unary_module(py::module_& m, const char* name, const char* doc = "") {
  ModuleClass<M> cls = bind_module<M>(m, name, doc);
  cls.def("forward", [](M& self, const Tensor& input) { return self.forward(input); }, py::arg("input"));
  return cls;
}

}  // namespace shanshui::python
