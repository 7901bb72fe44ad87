// Internals shared by the nn binding files (init_nn_module.cpp, init_nn_containers.cpp):
// the trampoline and the registry <-> Python object helpers. Not for other areas
// (they use nn_bindings.h).
#pragma once
#include <unordered_set>

#include "nn_bindings.h"

namespace shanshui::python {

// Trampoline: C++ callers (a C++ Sequential, train() recursion, repr) reach the
// Python overrides of a Python subclass.
class PyModule : public nn::Module, public py::trampoline_self_life_support {
 public:
  using nn::Module::Module;
  Tensor forward(const Tensor& x) override;
  void train(bool on) override;
  std::string extra_repr() const override;
};

// The C++ module of a Python module object; nullptr before Module.__init__() ran.
nn::Module* module_ptr(py::handle self);
// Same, raising AttributeError when __init__ has not run.
nn::Module& checked_module(py::handle self);
std::string class_name(py::handle self);
// The Python object for a registered child / parameter or buffer (None when
// registered as None), cached per instance so identity is kept.
py::object child_object(py::handle self, const std::string& name, const nn::ModulePtr& c);
py::object tensor_object(py::handle self, const std::string& name, const Tensor& t, bool parameter);

}  // namespace shanshui::python
