// Grad mode, autograd.backward / autograd.grad, and the C++ half of custom
// Python functions (shanshui.autograd.Function, python/shanshui/autograd/function.py).
//
// A Python Function becomes one autograd::CustomNode whose backward closure
// takes the GIL and calls the Python trampoline `_run_backward(ctx, grads)`; a
// Python exception raised there travels through the engine as
// py::error_already_set and pybind11 restores it at the backward() / grad() call
// site, so the user sees their own exception. Saved tensors are kept inside the
// node as SavedTensors (an output saved for backward is stored without its
// grad_fn, so there is no node -> output -> node cycle); ctx reaches them
// through a weak handle, and the node holds ctx.
#include <string>
#include <utility>
#include <vector>

#include "autograd/engine.h"
#include "autograd/function.h"
#include "autograd/grad_mode.h"
#include "bindings.h"

namespace shanshui::python {
namespace {

using autograd::tensor_list;

// Python objects may only be touched with the GIL held. The engine may run with
// or without it (gil_scoped_acquire works in both cases); during interpreter
// shutdown the GIL must not be taken, so the references are leaked instead.
bool python_alive() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsInitialized() && !Py_IsFinalizing();
#else
  return Py_IsInitialized() && !_Py_IsFinalizing();
#endif
}

std::string type_name(py::handle h) { return Py_TYPE(h.ptr())->tp_name; }

bool expandable_to(const Shape& shape, const Shape& target) {
  if (shape.size() > target.size()) return false;
  const size_t lead = target.size() - shape.size();
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] != 1 && shape[i] != target[lead + i]) return false;
  return true;
}

// The Python side of one custom Function node: its ctx and the trampoline.
// Owned by the node's backward closure; released with the GIL held, because the
// node may die wherever the last tensor of its graph is dropped.
struct PyBackwardState {
  std::string name;
  py::object backward;  // _run_backward(ctx, grads) -> [grad or None per tensor input]
  py::object ctx;
  std::vector<autograd::TensorMeta> input_meta;  // per tensor input
  std::vector<int64_t> input_pos;                // forward-argument position of each tensor input

  ~PyBackwardState() {
    if (!python_alive()) {  // too late to decref: leak instead of crashing at exit
      backward.release();
      ctx.release();
      return;
    }
    py::gil_scoped_acquire gil;
    backward = py::object();
    ctx = py::object();
  }

  tensor_list operator()(const tensor_list& grads) const {
    py::gil_scoped_acquire gil;
    py::list py_grads(grads.size());  // one per tensor output; None where not materialized
    for (size_t i = 0; i < grads.size(); ++i) py_grads[i] = py::cast(grads[i]);
    py::object result = backward(ctx, py_grads);  // a Python exception propagates as error_already_set
    py::sequence seq = result.cast<py::sequence>();
    SS_CHECK(seq.size() == input_meta.size(), RuntimeError, "function ", name,
             " returned an incorrect number of gradients (expected ", input_meta.size(), ", got ", seq.size(), ")");
    tensor_list out(input_meta.size());
    for (size_t i = 0; i < input_meta.size(); ++i) {
      py::object item = seq[i];
      if (item.is_none()) continue;
      Tensor g = item.cast<Tensor>();
      const Shape& want = input_meta[i].shape;
      if (g.shape() != want) {
        // A gradient that broadcasts to the input is summed back, as PyTorch does.
        SS_CHECK(expandable_to(want, g.shape()), RuntimeError, "Function ", name,
                 " returned an invalid gradient at index ", input_pos[i], " - got ", g.shape(),
                 " but expected shape compatible with ", want);
        g = autograd::sum_to(g, want);
      }
      SS_CHECK(g.is_floating_point() || !is_floating(input_meta[i].dtype), RuntimeError, "Function ", name,
               " returned an invalid gradient at index ", input_pos[i], " - expected a floating point gradient, got ",
               dtype_name(g.dtype()));
      out[i] = std::move(g);
    }
    return out;
  }
};

// ctx's handle on its node: weak, so ctx (held by the node) does not keep it alive.
struct FunctionNodeRef {
  std::weak_ptr<autograd::CustomNode> node;

  py::tuple saved_tensors() const {
    auto n = node.lock();
    SS_CHECK(n, RuntimeError, "saved tensors are no longer available: the graph of this Function was freed");
    tensor_list s = n->saved_tensors();  // throws after a backward without retain_graph
    py::tuple r(s.size());
    for (size_t i = 0; i < s.size(); ++i) r[i] = py::cast(s[i]);
    return r;
  }
  std::string name() const {
    auto n = node.lock();
    return n ? n->name() : std::string();
  }
};

// Attach the outputs of a Python Function's forward (computed under no_grad) to
// a new autograd::CustomNode. Returns (per output: the tensor to hand back, or
// None when the object forward returned now carries the node itself; the
// node handle for ctx).
py::tuple wrap_function(const std::string& name, py::object backward, py::object ctx, const tensor_list& inputs,
                        const std::vector<int64_t>& input_pos, const tensor_list& outputs,
                        const std::vector<bool>& differentiable, const std::vector<bool>& dirty,
                        const std::vector<std::optional<Tensor>>& to_save, bool materialize_grads) {
  SS_CHECK(inputs.size() == input_pos.size() && outputs.size() == differentiable.size() &&
               outputs.size() == dirty.size(),
           ValueError, "_wrap_function: inconsistent argument lengths");
  auto state = std::make_shared<PyBackwardState>();
  state->name = name;
  state->input_pos = input_pos;
  for (const Tensor& t : inputs) state->input_meta.push_back({t.shape(), t.dtype()});

  autograd::CustomNodeOptions opt;
  opt.dirty = dirty;
  opt.non_differentiable.reserve(differentiable.size());
  for (bool d : differentiable) opt.non_differentiable.push_back(!d);
  for (const auto& s : to_save) opt.to_save.push_back(s ? *s : Tensor());
  opt.materialize_grads = materialize_grads;

  tensor_list wired = outputs;
  // The closure owns the Python objects only once the node exists, so a failure
  // above leaves nothing half-built.
  state->ctx = std::move(ctx);
  state->backward = std::move(backward);
  auto node = autograd::make_custom_node(
      name, inputs, wired, [state](const tensor_list& grads) { return (*state)(grads); }, opt);

  py::tuple result(outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i)
    result[i] = wired[i].is_same(outputs[i]) ? py::none() : py::cast(wired[i]);
  py::object ref = node ? py::cast(FunctionNodeRef{node}) : py::none();
  return py::make_tuple(result, ref);
}

// A Tensor or a sequence of Tensors -> list.
tensor_list tensor_seq(py::handle obj, const char* op, const char* what) {
  if (py::isinstance<Tensor>(obj)) return {py::cast<Tensor>(obj)};
  SS_CHECK(PySequence_Check(obj.ptr()) && !PyUnicode_Check(obj.ptr()), TypeError, op, ": ", what,
           " must be a Tensor or a sequence of Tensors, got ", type_name(obj));
  tensor_list r;
  for (py::handle e : py::reinterpret_borrow<py::sequence>(obj)) {
    SS_CHECK(py::isinstance<Tensor>(e), TypeError, op, ": ", what, " must contain only Tensors, got ",
             type_name(e));
    r.push_back(py::cast<Tensor>(e));
  }
  return r;
}

// None, a Tensor, or a sequence of Tensors / None (None = implicit ones for a scalar).
tensor_list grad_seq(py::handle obj, size_t n, const char* op, const char* what) {
  if (obj.is_none()) return tensor_list(n);
  if (py::isinstance<Tensor>(obj)) return {py::cast<Tensor>(obj)};
  SS_CHECK(PySequence_Check(obj.ptr()) && !PyUnicode_Check(obj.ptr()), TypeError, op, ": ", what,
           " must be None, a Tensor or a sequence of Tensors, got ",
           type_name(obj));
  tensor_list r;
  for (py::handle e : py::reinterpret_borrow<py::sequence>(obj)) {
    if (e.is_none()) {
      r.emplace_back();
      continue;
    }
    SS_CHECK(py::isinstance<Tensor>(e), TypeError, op, ": ", what, " must contain only Tensors or None, got ",
             type_name(e));
    r.push_back(py::cast<Tensor>(e));
  }
  SS_CHECK(r.size() == n, RuntimeError, op, ": got ", n, " tensors and ", r.size(), " gradients");
  return r;
}

}  // namespace
}  // namespace shanshui::python

void init_autograd(py::module_& m) {
  using namespace shanshui;
  using namespace shanshui::python;

  m.def("is_grad_enabled", [] { return autograd::GradMode::is_enabled(); },
        "True when operations are recorded for autograd on this thread.");
  m.def("_set_grad_enabled", [](bool enabled) { autograd::GradMode::set_enabled(enabled); }, py::arg("mode"),
        "Set this thread's grad mode (use shanshui.set_grad_enabled / no_grad).");

  py::module_ ag = m.def_submodule("_autograd", "autograd engine entry points and custom-function support");

  ag.def(
      "backward",
      [](py::object tensors, py::object grad_tensors, py::object retain_graph, bool create_graph) {
        tensor_list roots = tensor_seq(tensors, "backward", "tensors");
        tensor_list grads = grad_seq(grad_tensors, roots.size(), "backward", "grad_tensors");
        bool retain = retain_graph.is_none() ? create_graph : retain_graph.cast<bool>();
        autograd::backward(roots, grads, retain, create_graph);
      },
      py::arg("tensors"), py::arg("grad_tensors") = py::none(), py::arg("retain_graph") = py::none(),
      py::arg("create_graph") = false,
      "Accumulate the gradients of `tensors` into the .grad of the leaves of their graph.");

  ag.def(
      "grad",
      [](py::object outputs, py::object inputs, py::object grad_outputs, py::object retain_graph, bool create_graph,
         bool allow_unused) {
        tensor_list outs = tensor_seq(outputs, "grad", "outputs");
        tensor_list ins = tensor_seq(inputs, "grad", "inputs");
        tensor_list grads = grad_seq(grad_outputs, outs.size(), "grad", "grad_outputs");
        bool retain = retain_graph.is_none() ? create_graph : retain_graph.cast<bool>();
        tensor_list r = autograd::grad(outs, ins, grads, retain, create_graph, allow_unused);
        py::tuple t(r.size());
        for (size_t i = 0; i < r.size(); ++i) t[i] = py::cast(r[i]);  // undefined -> None
        return t;
      },
      py::arg("outputs"), py::arg("inputs"), py::arg("grad_outputs") = py::none(),
      py::arg("retain_graph") = py::none(), py::arg("create_graph") = false, py::arg("allow_unused") = false,
      "Return the gradients of `outputs` with respect to `inputs` (None for unused inputs).");

  py::class_<FunctionNodeRef>(ag, "_FunctionNodeRef", "ctx's weak handle on the graph node of a custom Function")
      .def("saved_tensors", &FunctionNodeRef::saved_tensors)
      .def("name", &FunctionNodeRef::name);

  ag.def("_wrap_function", &wrap_function, py::arg("name"), py::arg("backward"), py::arg("ctx"), py::arg("inputs"),
         py::arg("input_pos"), py::arg("outputs"), py::arg("differentiable"), py::arg("dirty"), py::arg("to_save"),
         py::arg("materialize_grads"),
         "Attach the outputs of a custom Function's forward to a new graph node (internal).");
}
