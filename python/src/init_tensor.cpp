// The Tensor class: metadata, autograd properties, conversions, NumPy interop,
// indexing and the Python protocols (len, iter, bool, repr, hash, pickle).
// Also the types Tensor's properties return: dtype, Size, the grad_fn Node.
#include "autograd/grad_mode.h"
#include "bindings.h"
#include "core/ops/inplace.h"

namespace shanshui::python {

namespace {

void init_errors(py::module_& m) {
  // shanshui's exceptions derive from std::invalid_argument / out_of_range /
  // runtime_error; translate them explicitly so TypeError is not reported as ValueError.
  // Where PyTorch raises RuntimeError (shape and dtype mismatches), shanshui raises
  // ValueError / TypeError subclasses that are also RuntimeErrors, so code written
  // for either (`except RuntimeError`, `pytest.raises(ValueError)`) keeps working.
  py::dict ns;
  ns["__builtins__"] = py::module_::import("builtins");
  py::exec(R"PY(
class ValueError(ValueError, RuntimeError):
    """A bad argument value (shape, size, option); also a RuntimeError, as PyTorch raises."""
    __module__ = "shanshui"

class TypeError(TypeError, RuntimeError):
    """A bad dtype or argument type; also a RuntimeError, as PyTorch raises for dtype errors."""
    __module__ = "shanshui"
)PY", ns);
  m.attr("ValueError") = ns["ValueError"];
  m.attr("TypeError") = ns["TypeError"];
  static PyObject* value_error = ns["ValueError"].ptr();
  static PyObject* type_error = ns["TypeError"].ptr();
  Py_INCREF(value_error);
  Py_INCREF(type_error);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const shanshui::TypeError& e) {
      PyErr_SetString(type_error, e.what());
    } catch (const shanshui::ValueError& e) {
      PyErr_SetString(value_error, e.what());
    } catch (const shanshui::IndexError& e) {
      PyErr_SetString(PyExc_IndexError, e.what());
    } catch (const shanshui::RuntimeError& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });
}

void init_dtype(py::module_& m) {
  py::enum_<DType> e(m, "dtype", "Element type of a tensor (shanshui.float32, ...).");
  e
      .value("bool", DType::Bool)
      .value("int64", DType::Int64)
      .value("float32", DType::Float32)
      .value("float64", DType::Float64)
      .def_property_readonly("is_floating_point", [](DType t) { return is_floating(t); })
      .def_property_readonly("itemsize", [](DType t) { return itemsize(t); })
;
  // Replace (not overload) enum_'s own repr/str: dtypes print as shanshui.float32, like torch.float32.
  auto name = py::cpp_function([](DType t) { return std::string("shanshui.") + dtype_name(t); }, py::is_method(e));
  e.attr("__repr__") = name;
  e.attr("__str__") = name;
  m.def("promote_types", &promote_types, py::arg("type1"), py::arg("type2"),
        "The smallest dtype both arguments can be converted to (torch.promote_types).");
  m.def("result_type", [](py::handle a, py::handle b) {
        if (py::isinstance<Tensor>(a) && !py::isinstance<Tensor>(b))
          return result_type(py::cast<const Tensor&>(a), to_scalar(b, "result_type"));
        if (!py::isinstance<Tensor>(a) && py::isinstance<Tensor>(b))
          return result_type(py::cast<const Tensor&>(b), to_scalar(a, "result_type"));
        return result_type(to_tensor(a, "result_type"), to_tensor(b, "result_type"));
      }, py::arg("tensor1"), py::arg("tensor2"), "The dtype an elementwise op on the two arguments produces.");
}

void init_size(py::module_& m) {
  // torch.Size: a tuple whose slices stay Sizes and which prints as shanshui.Size([2, 3]).
  py::dict ns;
  ns["__builtins__"] = py::module_::import("builtins");
  py::exec(R"PY(
class Size(tuple):
    """The shape of a tensor: a tuple of ints."""
    __slots__ = ()
    def __repr__(self):
        return "shanshui.Size([" + ", ".join(str(d) for d in self) + "])"
    def __getitem__(self, i):
        r = tuple.__getitem__(self, i)
        return Size(r) if isinstance(i, slice) else r
    def __add__(self, other):
        return Size(tuple.__add__(self, tuple(other)))
    def numel(self):
        n = 1
        for d in self:
            n *= d
        return n
Size.__module__ = "shanshui"
)PY", ns, ns);
  m.attr("Size") = ns["Size"];
}

void init_node(py::module_& m) {
  using autograd::Node;
  if (py::detail::get_type_info(typeid(Node))) return;  // already bound by the autograd bindings
  py::class_<Node, std::shared_ptr<Node>>(m, "Node", "A node of the autograd graph (a tensor's grad_fn).")
      .def("name", &Node::name, "The node's name, e.g. 'AddBackward0'.")
      .def_property_readonly("next_functions", [](const Node& n) {
        py::tuple out(n.next_edges.size());
        for (size_t i = 0; i < n.next_edges.size(); ++i)
          out[i] = py::make_tuple(n.next_edges[i].fn ? py::cast(n.next_edges[i].fn) : py::none(),
                                  n.next_edges[i].input_nr);
        return out;
      }, "((node, input_nr), ...) for each input; None where no gradient flows.")
      .def("__repr__", [](const Node& n) { return "<" + n.name() + " object>"; });
}

// Returned by Tensor.register_hook; remove() unregisters the hook.
struct RemovableHandle {
  std::weak_ptr<TensorImpl> tensor;
  unsigned id;
  void remove() const {
    if (auto impl = tensor.lock()) Tensor(impl).remove_hook(id);
  }
};

unsigned register_hook(const Tensor& t, py::function fn) {
  // The hook object lives in the graph, which may be destroyed without the GIL
  // held: own the Python callable through a deleter that takes the GIL.
  std::shared_ptr<py::object> f(new py::object(std::move(fn)), [](py::object* p) {
    if (!Py_IsInitialized()) return;
    py::gil_scoped_acquire gil;
    delete p;
  });
  return const_cast<Tensor&>(t).register_hook(std::function<Tensor(const Tensor&)>([f](const Tensor& g) {
    py::gil_scoped_acquire gil;
    py::object r = (*f)(g);
    if (r.is_none()) return Tensor();
    SS_CHECK(py::isinstance<Tensor>(r), TypeError, "register_hook: the hook must return a Tensor or None, got ",
             type_name(r));
    return py::cast<Tensor>(r);
  }));
}

Tensor tensor_from_args(const py::args& args) {
  // ss.Tensor(t) aliases t's data as a new leaf (how Parameter wraps a tensor);
  // ss.Tensor(2, 3) is uninitialised float32; ss.Tensor([[1, 2]]) copies data as float32.
  if (args.size() == 1 && py::isinstance<Tensor>(args[0])) return py::cast<const Tensor&>(args[0]).detach();
  if (args.size() == 1 && !PyLong_Check(args[0].ptr()))
    return py::module_::import("shanshui").attr("tensor")(args[0], py::arg("dtype") = DType::Float32).cast<Tensor>();
  return shanshui::empty(shape_args(args, "Tensor"), DType::Float32);
}

py::object to_dtype_args(const py::object& self, const py::args& args, const py::kwargs& kw) {
  // to(dtype), to(other), to("cpu"), to(device, dtype), to(dtype=..., copy=...)
  const Tensor& t = py::cast<const Tensor&>(self);
  std::optional<DType> dt;
  bool copy = false;
  auto take = [&](py::handle a) {
    if (py::isinstance<DType>(a)) dt = py::cast<DType>(a);
    else if (py::isinstance<Tensor>(a)) dt = py::cast<const Tensor&>(a).dtype();
    else if (PyUnicode_Check(a.ptr()) || py::hasattr(a, "type")) {
      std::string dev = py::str(a);
      SS_CHECK(dev == "cpu" || dev.rfind("cpu:", 0) == 0, RuntimeError, "to: shanshui runs on the CPU only (got device '",
               dev, "')");
    } else if (!a.is_none()) {
      throw TypeError(cat_str("to: expected a dtype, a tensor or a device, got ",
                              type_name(a)));
    }
  };
  for (py::handle a : args) take(a);
  for (auto kv : kw) {
    std::string k = py::str(kv.first);
    if (k == "dtype" || k == "device" || k == "other") take(kv.second);
    else if (k == "copy") copy = py::cast<bool>(kv.second);
    else if (k != "non_blocking" && k != "memory_format")
      throw TypeError(cat_str("to: unexpected keyword argument '", k, "'"));
  }
  if (!copy && (!dt || *dt == t.dtype())) return self;
  return py::cast(t.to(dt ? *dt : t.dtype(), copy));
}

// x.float() etc.: self when the dtype already matches (as torch), else a converted copy.
auto cast_to(DType dt) {
  return [dt](py::object self) -> py::object {
    const Tensor& t = py::cast<const Tensor&>(self);
    return t.dtype() == dt ? self : py::cast(t.to(dt));
  };
}

void init_tensor_class(py::module_& m) {
  py::class_<RemovableHandle>(m, "RemovableHandle", "Handle of a tensor hook.")
      .def("remove", &RemovableHandle::remove, "Unregister the hook.");
  TensorClass cls(m, "Tensor", "A multi-dimensional array with autograd (torch.Tensor).");
  cls.def(py::init(&tensor_from_args))
      // ---- metadata ------------------------------------------------------------
      .def_property_readonly("shape", [](const Tensor& t) { return size_object(t.shape()); }, "The sizes (a Size).")
      .def("size", [](const Tensor& t, py::object dim) -> py::object {
        if (dim.is_none()) return size_object(t.shape());
        return py::int_(t.size(py::cast<int64_t>(dim)));
      }, py::arg("dim") = py::none(), "The sizes, or the size of one dim.")
      .def("stride", [](const Tensor& t, py::object dim) -> py::object {
        if (dim.is_none()) return py::tuple(py::cast(t.strides()));
        return py::int_(t.stride(py::cast<int64_t>(dim)));
      }, py::arg("dim") = py::none(), "The strides in elements, or the stride of one dim.")
      .def("dim", &Tensor::dim, "Number of dims.")
      .def("ndimension", &Tensor::dim, "Number of dims.")
      .def_property_readonly("ndim", &Tensor::dim, "Number of dims.")
      .def("numel", &Tensor::numel, "Number of elements.")
      .def("nelement", &Tensor::numel, "Number of elements.")
      .def_property_readonly("dtype", &Tensor::dtype, "The element type.")
      .def_property_readonly("device", [](const Tensor&) { return py::str("cpu"); }, "Always 'cpu'.")
      .def_property_readonly("is_cuda", [](const Tensor&) { return false; })
      .def("element_size", &Tensor::element_size, "Bytes per element.")
      .def_property_readonly("itemsize", &Tensor::element_size, "Bytes per element.")
      .def_property_readonly("nbytes", [](const Tensor& t) { return t.numel() * int64_t(t.element_size()); })
      .def("is_contiguous", &Tensor::is_contiguous, "True when the elements are laid out in row-major order.")
      .def("is_floating_point", &Tensor::is_floating_point)
      .def("storage_offset", &Tensor::offset, "Offset of the first element in the storage, in elements.")
      .def("data_ptr", [](const Tensor& t) { return reinterpret_cast<uintptr_t>(t.raw_data()); })
      .def_property_readonly("_version", &Tensor::version, "The storage's version counter (bumped by in-place ops).")
      // ---- autograd ------------------------------------------------------------
      .def_property("requires_grad", &Tensor::requires_grad,
                    [](Tensor& t, bool r) { t.requires_grad_(r); }, "Whether gradients flow to this tensor.")
      .def("requires_grad_", [](py::object self, bool r) {
        py::cast<Tensor&>(self).requires_grad_(r);
        return self;
      }, py::arg("requires_grad") = true, "Set requires_grad in place; returns self.")
      .def_property("grad", &Tensor::grad,
                    [](Tensor& t, std::optional<Tensor> g) { t.set_grad(g ? *g : Tensor()); },
                    "The accumulated gradient (None until a backward reaches this tensor).")
      .def_property_readonly("grad_fn", &Tensor::grad_fn, "The node that produced this tensor (None for leaves).")
      .def_property_readonly("is_leaf", &Tensor::is_leaf)
      .def_property_readonly("_base", &Tensor::base,
                             "The root tensor this differentiable view was made from (None if not a view). A new "
                             "Python object each time: compare with data_ptr(), not `is`.")
      .def("_is_view", &Tensor::is_differentiable_view,
           "True for a differentiable view (select, slicing, view, transpose, expand, ...); False for detach().")
      .def_property_readonly("retains_grad", &Tensor::retains_grad)
      .def("retain_grad", &Tensor::retain_grad, "Keep .grad for this non-leaf tensor after backward.")
      .def("backward", [](const Tensor& t, std::optional<Tensor> gradient, std::optional<bool> retain_graph,
                          bool create_graph) {
        t.backward(gradient ? *gradient : Tensor(), retain_graph.value_or(create_graph), create_graph);
      }, py::arg("gradient") = py::none(), py::arg("retain_graph") = py::none(), py::arg("create_graph") = false,
         "Accumulate the gradient of this tensor into the leaves' .grad.")
      .def("register_hook", [](const Tensor& t, py::function fn) {
        return RemovableHandle{t.impl_ptr(), register_hook(t, std::move(fn))};
      }, py::arg("hook"), "Call hook(grad) whenever this tensor's gradient is computed; a returned tensor "
         "replaces the gradient. Returns a handle with remove().")
      .def("detach", &Tensor::detach, "A tensor sharing the data, without history.")
      .def("detach_", [](py::object self) {
        py::cast<Tensor&>(self).detach_();
        return self;
      })
      .def_property("data", &Tensor::detach, [](Tensor& t, const Tensor& v) {
        // Re-point this tensor at v's data (torch's `p.data = ...`): autograd metadata stays.
        TensorImpl* i = t.impl();
        i->storage = v.storage();
        i->shape = v.shape();
        i->strides = v.strides();
        i->offset = v.offset();
        i->dtype = v.dtype();
      }, "The data without history (setting it swaps the underlying data).")
      // ---- conversion -------------------------------------------------------------
      .def("to", &to_dtype_args, "to(dtype) / to(other) / to('cpu'): convert the dtype (a no-op if equal).")
      .def("type", [](const Tensor& t, std::optional<DType> dt) -> py::object {
        if (!dt) return py::str(std::string("shanshui.") + dtype_name(t.dtype()));
        return py::cast(t.to(*dt));
      }, py::arg("dtype") = py::none())
      .def("float", cast_to(DType::Float32), "to(float32)")
      .def("double", cast_to(DType::Float64), "to(float64)")
      .def("long", cast_to(DType::Int64), "to(int64)")
      .def("int", cast_to(DType::Int64), "to(int64) (shanshui has no int32)")
      .def("bool", cast_to(DType::Bool), "to(bool)")
      .def("cpu", [](py::object self) { return self; })
      .def("contiguous", [](py::object self) -> py::object {
        const Tensor& t = py::cast<const Tensor&>(self);
        return t.is_contiguous() ? self : py::cast(t.contiguous());
      }, "self if contiguous, else a contiguous copy.")
      .def("clone", [](const Tensor& t) { return t.clone(); }, "A copy with its own memory (differentiable).")
      .def("copy_", [](py::object self, const Tensor& src) {
        py::cast<Tensor&>(self).copy_(src);
        return self;
      }, py::arg("src"), "Copy src (broadcast, converted) into self.")
      .def("item", &item, "The value of a one-element tensor as a Python number.")
      .def("tolist", &tolist, "Nested Python lists of the values.")
      .def("numpy", [](const Tensor& t, bool force) { return to_numpy(force ? t.detach() : t); },
           py::arg("force") = false, "A NumPy array sharing this tensor's memory.")
      .def("__array__", [](const Tensor& t, py::object dtype, py::object copy) -> py::object {
        py::object a = to_numpy(t);
        if (!dtype.is_none()) a = a.attr("astype")(dtype);
        return a;
      }, py::arg("dtype") = py::none(), py::arg("copy") = py::none())
      // ---- Python protocols --------------------------------------------------------
      .def("__repr__", [](const Tensor& t) { return t.to_string(); })
      .def("__len__", [](const Tensor& t) {
        SS_CHECK(t.dim() > 0, TypeError, "len() of a 0-d tensor");
        return t.shape()[0];
      })
      .def("__iter__", [](const Tensor& t) {
        SS_CHECK(t.dim() > 0, TypeError, "iteration over a 0-d tensor");
        return py::iter(py::cast(unbind(t, 0)));
      })
      .def("__bool__", [](const Tensor& t) {
        SS_CHECK(t.numel() == 1, RuntimeError, "Boolean value of Tensor with ", t.numel(),
                 " values (shape ", t.shape(), ") is ambiguous");
        return t.item_double() != 0.0;
      })
      .def("__float__", [](const Tensor& t) {
        SS_CHECK(t.numel() == 1, TypeError, "float(): only one element tensors can be converted to Python scalars");
        return t.item_double();
      })
      .def("__int__", [](const Tensor& t) {
        SS_CHECK(t.numel() == 1, TypeError, "int(): only one element tensors can be converted to Python scalars");
        return t.dtype() == DType::Int64 ? t.item<int64_t>() : static_cast<int64_t>(t.item_double());
      })
      .def("__index__", [](const Tensor& t) {
        SS_CHECK(t.numel() == 1 && (t.dtype() == DType::Int64 || t.dtype() == DType::Bool), TypeError,
                 "only integer tensors of a single element can be converted to an index");
        return t.item<int64_t>();
      })
      .def("__hash__", [](py::handle self) { return py::hash(py::int_(reinterpret_cast<uintptr_t>(self.ptr()))); })
      .def("__getitem__", [](const Tensor& t, py::handle idx) { return t.index(to_indices(idx)); })
      .def("__setitem__", [](Tensor& t, py::handle idx, py::handle value) {
        Tensor v = py::isinstance<Tensor>(value) ? py::cast<Tensor>(value)
                   : is_scalar(value)          ? scalar_tensor(to_scalar(value, "__setitem__"), t.dtype())
                   : py::isinstance<py::array>(value) || PyList_Check(value.ptr()) || PyTuple_Check(value.ptr())
                       ? py::module_::import("shanshui").attr("tensor")(value).cast<Tensor>()
                       : to_tensor(value, "__setitem__");
        t.index_put_(to_indices(idx), v);
      })
      .def("__deepcopy__", [](const Tensor& t, py::handle) {
        Tensor c;
        {
          NoGradGuard ng;
          c = t.clone();
        }
        if (t.is_leaf() && t.requires_grad()) c.requires_grad_(true);
        if (t.grad().defined()) c.set_grad(t.grad().clone());
        return c;
      }, py::arg("memo"))
      .def(py::pickle(
          [](const Tensor& t) {
            Tensor d = t.detach().contiguous();
            return py::make_tuple(to_numpy(d).attr("copy")(), t.requires_grad());
          },
          [](py::tuple s) {
            Tensor t = from_numpy(py::cast<py::array>(s[0]));
            if (py::cast<bool>(s[1])) t.requires_grad_(true);
            return t;
          }))
      .def_property_readonly_static("__array_priority__", [](py::handle) { return 1000; });
}

}  // namespace

void init_tensor(py::module_& m) {
  init_errors(m);
  init_dtype(m);
  init_size(m);
  init_node(m);
  init_tensor_class(m);
}

}  // namespace shanshui::python
