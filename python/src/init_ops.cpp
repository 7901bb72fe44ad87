// The op families, each in its own file.
#include "bindings.h"

namespace shanshui::python {

void init_ops(py::module_& m) {
  init_ops_creation(m);
  init_ops_elementwise(m);
  init_ops_math(m);
  init_ops_reduce(m);
  init_ops_shape(m);
  init_ops_index(m);
}

}  // namespace shanshui::python
