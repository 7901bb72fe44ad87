// shanshui._C.nn: calls the nn binding files in dependency order (Module first).
#include "nn_bindings.h"

namespace shanshui::python {

void init_nn_layers(py::module_& m);
void init_nn_functional(py::module_& m);

void init_nn(py::module_& m) {
  init_nn_module(m);  // Module, Parameter, hook handles
  init_nn_layers(m);  // Linear, Embedding, LayerNorm, Dropout, activations, containers
  init_nn_functional(m);  // shanshui._C.nn.functional and shanshui._C.nn.init
}

}  // namespace shanshui::python
