// Shared pieces of the Python bindings: one init_<area>(py::module_&) per file
// (module.cpp calls them in order), and the conversions between Python objects
// and the C++ types that several files need.
//
// Binding layout:
//   init_tensor.cpp            Tensor class: metadata, autograd properties, numpy, indexing, repr;
//                              also dtype, Size, the grad_fn Node type and exception translation.
//   init_tensor_operators.cpp  + - * / ** @ comparisons, r-operators, in-place operators
//   init_ops_*.cpp             ops, each bound as a free function and as a Tensor method
//   init_autograd.cpp          grad mode, autograd.grad/backward, custom Functions (helper "pyautograd")
#pragma once
#include <pybind11/eval.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "autograd/node.h"
#include "core/ops.h"
#include "core/tensor.h"

namespace py = pybind11;

// An undefined Tensor (no grad yet, an unused gradient, no bias) reaches Python
// as None; nothing undefined is ever wrapped, so methods never see a null impl.
namespace pybind11::detail {
template <>
class type_caster<shanshui::Tensor> : public type_caster_base<shanshui::Tensor> {
  using base = type_caster_base<shanshui::Tensor>;

 public:
  static handle cast(const shanshui::Tensor& src, return_value_policy p, handle parent) {
    if (!src.defined()) return none().release();
    return base::cast(src, p, parent);
  }
  static handle cast(shanshui::Tensor&& src, return_value_policy p, handle parent) {
    if (!src.defined()) return none().release();
    return base::cast(std::move(src), p, parent);
  }
  static handle cast(const shanshui::Tensor* src, return_value_policy p, handle parent) {
    if (!src || !src->defined()) return none().release();
    return base::cast(src, p, parent);
  }
};
}  // namespace pybind11::detail

namespace shanshui::python {

using TensorClass = py::class_<Tensor>;

// The bound Tensor class (after init_tensor has run).
TensorClass tensor_class(py::module_& m);

// ---- argument conversion -----------------------------------------------------
// The Python type name of obj, for error messages.
inline std::string type_name(py::handle obj) { return Py_TYPE(obj.ptr())->tp_name; }
// A shape from a sequence of ints (tuple, list, Size).
Shape to_shape(py::handle obj, const char* op);
// Sizes given torch-style: f(2, 3) or f((2, 3)) or f([2, 3]).
Shape shape_args(const py::args& args, const char* op);
// dim=None (all) / int / tuple or list of ints.
std::vector<int64_t> to_dims(py::handle obj, const char* op);
// Python bool / int / float (and NumPy scalars of those kinds).
bool is_scalar(py::handle obj);
Scalar to_scalar(py::handle obj, const char* op);
// A Tensor, or a Python scalar wrapped as a 0-d tensor (bool, int64, float32 =
// the default dtype), so the wrapped-number promotion rule still applies.
Tensor to_tensor(py::handle obj, const char* op);
// A Tensor, or a Python scalar as a 0-d tensor of result_type(like, scalar): a float
// with a float64 tensor stays float64 (to_tensor would round it to float32 first).
Tensor to_tensor_like(py::handle obj, const Tensor& like, const char* op);
// torch.Size (a tuple subclass) for a shape.
py::object size_object(const Shape& s);

// ---- NumPy and Python values ---------------------------------------------------
// A NumPy array sharing the tensor's memory (the array keeps the storage alive).
py::array to_numpy(const Tensor& t);
// A tensor sharing the array's memory (the tensor keeps the array alive).
Tensor from_numpy(const py::array& a);
py::object tolist(const Tensor& t);
py::object item(const Tensor& t);

// ---- indexing ----------------------------------------------------------------
std::vector<TensorIndex> to_indices(py::handle obj);

// ---- in-place helpers ------------------------------------------------------------
// Write `result` into `self` (the out-of-place value), keeping history; returns self.
py::object assign_inplace(const py::object& self, const Tensor& result, const char* op);
// The input to give the out-of-place op of an in-place one that may save it
// for backward (mul_, pow_, sin_, ...): self is about to be overwritten, so a
// copy when a graph is being recorded (as Tensor::mul_ does in C++).
Tensor self_for_inplace(const Tensor& self, py::handle other = py::none());

// ---- init functions ----------------------------------------------------------------
void init_tensor(py::module_& m);
void init_tensor_operators(py::module_& m);
void init_ops(py::module_& m);
void init_ops_creation(py::module_& m);
void init_ops_elementwise(py::module_& m);
void init_ops_math(py::module_& m);  // init_ops_math.cpp: rounding, more unary/binary math, bitwise
void init_ops_reduce(py::module_& m);
void init_ops_shape(py::module_& m);
void init_ops_index(py::module_& m);
// Optimizers, clipping, generator state, safetensors (helper "optim-py").
void init_optim(py::module_& m);
void init_distributed(py::module_& m);  // shanshui.distributed (helper "mpi")

// shanshui._C.nn (helper nn-py): Module and Parameter (init_nn_module.cpp; see
// nn_bindings.h for binding more C++ modules), containers, layers, functional, init.
void init_nn(py::module_& m);
// Recurrent layers, additive / Luong attention, Seq2Seq, hard attention (init_rnn.cpp).
void init_rnn(py::module_& m);
// BertModel, BertForMaskedLM and functional.mask_tokens (init_bert.cpp).
void init_bert(py::module_& m);
void init_nn_attention(py::module_& m);  // shanshui._C.nn.functional: scaled_dot_product_attention
// KV-cache decoding and greedy / beam search (init_nn_decoding.cpp); after init_nn_attention and init_rnn.
void init_nn_decoding(py::module_& m);
// Vision and graph ops (helper vision-graph): scatter_reduce, edge softmax, GAT, conv, pooling.
void init_vision_graph(py::module_& m);

// Bind `f` both as shanshui.<name>(input, ...) and as Tensor.<name>(...).
template <class F, class... Extra>
void def_op(py::module_& m, TensorClass& cls, const char* name, F&& f, const char* doc, const Extra&... extra) {
  m.def(name, f, doc, py::arg("input"), extra...);
  cls.def(name, std::forward<F>(f), doc, extra...);
}

}  // namespace shanshui::python

// Written by the autograd bindings (helper "pyautograd"): grad mode and the
// rest of shanshui.autograd. The grad_fn Node type is bound in init_tensor.cpp.
void init_autograd(py::module_& m);
