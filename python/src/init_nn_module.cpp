// shanshui.nn.Module and shanshui.nn.Parameter: the binding of nn::Module that
// Python classes subclass as in PyTorch (see nn_bindings.h for how C++ modules
// are bound on top of it).
//
// The C++ registry (nn::Module's parameters, buffers and children) is the one
// source of truth, so C++ and Python modules nest freely in either direction.
// Python objects are cached per module instance (in its __dict__ under
// "_ss_objects", validated against the registry on every read) so that reading
// `self.fc` or `self.weight` returns the object that was assigned, with its
// Python attributes, and `m.weight is m.weight` holds as in PyTorch.
#include "autograd/grad_mode.h"
#include "nn_bindings.h"
#include "nn_module_impl.h"

namespace shanshui::python {

using nn::Module;
using nn::ModulePtr;

// ---- the trampoline: C++ callers reach Python overrides ----------------------------------------
Tensor PyModule::forward(const Tensor& x) {
  py::gil_scoped_acquire gil;
  py::function f = py::get_override(static_cast<const Module*>(this), "forward");
  if (!f) return Module::forward(x);
  py::object r = f(x);
  SS_CHECK(py::isinstance<Tensor>(r), TypeError, type_name(),
           ".forward: called from C++ (e.g. by a C++ Sequential) with one tensor, it must return a Tensor, got ",
           python::type_name(r));
  return r.cast<Tensor>();
}

void PyModule::train(bool on) { PYBIND11_OVERRIDE(void, Module, train, on); }

std::string PyModule::extra_repr() const { PYBIND11_OVERRIDE(std::string, Module, extra_repr, ); }

// ---- object access ---------------------------------------------------------------------------------
Module* module_ptr(py::handle self) {
  if (!py::isinstance<Module>(self)) return nullptr;
  auto* inst = reinterpret_cast<py::detail::instance*>(self.ptr());
  if (!inst->get_value_and_holder().holder_constructed()) return nullptr;  // before Module.__init__()
  return py::cast<Module*>(self);
}

Module& checked_module(py::handle self) {
  Module* m = module_ptr(self);
  if (!m)
    throw py::attribute_error(cat_str("'", py::type::handle_of(self).attr("__name__").cast<std::string>(),
                                      "': Module.__init__() has not been called (call super().__init__() first)"));
  return *m;
}

std::string class_name(py::handle self) { return py::type::handle_of(self).attr("__name__").cast<std::string>(); }

namespace {
py::dict object_cache(py::handle self) {
  py::object d = py::reinterpret_steal<py::object>(PyObject_GenericGetDict(self.ptr(), nullptr));
  if (!d) throw py::error_already_set();
  py::dict dict = d.cast<py::dict>();
  PyObject* c = PyDict_GetItemString(dict.ptr(), "_ss_objects");
  if (c) return py::reinterpret_borrow<py::dict>(c);
  py::dict cache;
  dict["_ss_objects"] = cache;
  return cache;
}

void forget(py::handle self, const std::string& name) {
  py::dict cache = object_cache(self);
  if (cache.contains(name)) PyDict_DelItemString(cache.ptr(), name.c_str());
}

void drop_from_dict(py::handle self, const std::string& name) {
  py::object d = py::reinterpret_steal<py::object>(PyObject_GenericGetDict(self.ptr(), nullptr));
  if (d && PyDict_GetItemString(d.ptr(), name.c_str())) PyDict_DelItemString(d.ptr(), name.c_str());
  PyErr_Clear();
}
}  // namespace

py::object module_object(Module& mod) {
  if (auto sp = mod.weak_from_this().lock()) return py::cast(sp);
  return py::cast(&mod, py::return_value_policy::reference);
}

py::object child_object(py::handle self, const std::string& name, const ModulePtr& c) {
  if (!c) return py::none();
  py::dict cache = object_cache(self);
  PyObject* hit = PyDict_GetItemString(cache.ptr(), name.c_str());
  if (hit && module_ptr(hit) == c.get()) return py::reinterpret_borrow<py::object>(hit);
  py::object o = py::cast(c);
  cache[py::str(name)] = o;
  return o;
}

py::object tensor_object(py::handle self, const std::string& name, const Tensor& t, bool parameter) {
  if (!t.defined()) return py::none();
  py::dict cache = object_cache(self);
  PyObject* hit = PyDict_GetItemString(cache.ptr(), name.c_str());
  if (hit && py::isinstance<Tensor>(hit) && py::cast<const Tensor&>(hit).impl() == t.impl())
    return py::reinterpret_borrow<py::object>(hit);
  py::object o = parameter ? py::cast(Parameter(t)) : py::cast(t);
  cache[py::str(name)] = o;
  return o;
}

namespace {

// ---- registration with PyTorch's checks ----------------------------------------------------------------
void check_new_name(py::handle self, Module& m, const std::string& name, const char* what, bool exists_in_kind) {
  if (name.find('.') != std::string::npos)
    throw py::key_error(cat_str(what, " name can't contain \".\", got '", name, "'"));
  if (name.empty()) throw py::key_error(cat_str(what, " name can't be empty string \"\""));
  if (!exists_in_kind && py::hasattr(self, name.c_str()))
    throw py::key_error(cat_str("attribute '", name, "' already exists"));
}

void set_parameter(py::handle self, Module& m, const std::string& name, py::handle value) {
  if (value.is_none()) {
    if (!m.has_parameter(name)) m.erase(name);
    m.register_parameter(name, Tensor(), false);
    forget(self, name);
    return;
  }
  if (!py::isinstance<Parameter>(value))
    throw py::type_error(cat_str("cannot assign '", python::type_name(value), "' object to parameter '", name,
                                 "' (shanshui.nn.Parameter or None required)"));
  const Tensor& t = py::cast<const Tensor&>(value);
  if (!t.is_leaf())
    throw py::value_error(cat_str("Cannot assign non-leaf Tensor to parameter '", name,
                                  "'. Model parameters must be created explicitly (wrap a detached tensor in "
                                  "nn.Parameter)."));
  if (m.has_buffer(name) || m.has_module(name)) m.erase(name);
  m.register_parameter(name, t, /*requires_grad=*/false);  // keep the Parameter's own flag
  object_cache(self)[py::str(name)] = value;
}

void set_module(py::handle self, Module& m, const std::string& name, py::handle value) {
  if (m.has_parameter(name) || m.has_buffer(name)) m.erase(name);
  if (value.is_none()) {
    m.register_module(name, nullptr);
    forget(self, name);
    return;
  }
  m.register_module(name, value.cast<ModulePtr>());
  object_cache(self)[py::str(name)] = value;
}

void set_buffer(py::handle self, Module& m, const std::string& name, py::handle value, bool persistent) {
  if (!value.is_none() && !py::isinstance<Tensor>(value))
    throw py::type_error(cat_str("cannot assign '", python::type_name(value), "' object to buffer '", name,
                                 "' (shanshui.Tensor or None required)"));
  m.register_buffer(name, value.is_none() ? Tensor() : py::cast<Tensor>(value), persistent);
  if (value.is_none()) forget(self, name);
  else object_cache(self)[py::str(name)] = value;
}

py::object getattr_(py::handle self, const std::string& name) {
  if (Module* m = module_ptr(self)) {
    if (m->has_parameter(name)) return tensor_object(self, name, m->parameter(name), true);
    if (m->has_buffer(name)) return tensor_object(self, name, m->buffer(name), false);
    if (m->has_module(name)) return child_object(self, name, m->child(name));
  }
  throw py::attribute_error(cat_str("'", class_name(self), "' object has no attribute '", name, "'"));
}

void setattr_(py::handle self, const std::string& name, py::handle value) {
  Module* m = module_ptr(self);
  if (py::isinstance<Parameter>(value)) {
    if (!m) throw py::attribute_error("cannot assign parameters before Module.__init__() call");
    drop_from_dict(self, name);
    set_parameter(self, *m, name, value);
  } else if (m && m->has_parameter(name)) {
    if (!value.is_none())
      throw py::type_error(cat_str("cannot assign '", python::type_name(value), "' as parameter '", name,
                                   "' (shanshui.nn.Parameter or None expected)"));
    set_parameter(self, *m, name, value);
  } else if (py::isinstance<Module>(value)) {
    if (!m) throw py::attribute_error("cannot assign module before Module.__init__() call");
    drop_from_dict(self, name);
    set_module(self, *m, name, value);
  } else if (m && m->has_module(name)) {
    if (!value.is_none())
      throw py::type_error(cat_str("cannot assign '", python::type_name(value), "' as child module '", name,
                                   "' (shanshui.nn.Module or None expected)"));
    set_module(self, *m, name, value);
  } else if (m && m->has_buffer(name)) {
    set_buffer(self, *m, name, value, m->is_persistent_buffer(name));
  } else {
    if (PyObject_GenericSetAttr(self.ptr(), py::str(name).ptr(), value.ptr()) != 0) throw py::error_already_set();
  }
}

void delattr_(py::handle self, const std::string& name) {
  Module* m = module_ptr(self);
  if (m && (m->has_parameter(name) || m->has_buffer(name) || m->has_module(name))) {
    m->erase(name);
    forget(self, name);
    return;
  }
  if (PyObject_GenericSetAttr(self.ptr(), py::str(name).ptr(), nullptr) != 0) throw py::error_already_set();
}

// ---- __call__ and forward hooks ---------------------------------------------------------------------------
// While __call__ runs a module's hooks, the Python hooks take the Python args
// and output from here (any types), not the tensor lists of the C++ hook API.
struct CallContext {
  const Module* module;
  py::handle self;
  py::tuple* args;
  py::dict* kwargs;
  py::object* output;
};
thread_local std::vector<CallContext*> call_stack;

std::vector<Tensor> tensors_of(py::handle obj) {
  std::vector<Tensor> r;
  if (py::isinstance<Tensor>(obj)) {
    r.push_back(py::cast<Tensor>(obj));
  } else if (PyTuple_Check(obj.ptr()) || PyList_Check(obj.ptr())) {
    for (py::handle e : obj)
      if (py::isinstance<Tensor>(e)) r.push_back(py::cast<Tensor>(e));
  }
  return r;
}

py::object call(py::handle self, py::args args, py::kwargs kwargs) {
  Module& m = checked_module(self);
  py::object out = self.attr("forward")(*args, **kwargs);
  if (!m.has_forward_hooks()) return out;
  CallContext ctx{&m, self, &args, &kwargs, &out};
  call_stack.push_back(&ctx);
  struct Pop {
    ~Pop() { call_stack.pop_back(); }
  } pop;
  m.run_forward_hooks(tensors_of(args), tensors_of(out));
  return out;
}

// A weak reference to the Python object, not a weak_ptr: a Python subclass's
// C++ object is not visible to shared_from_this while Python alone owns it.
struct ModuleHookHandle {
  py::weakref module;
  int id;
  void remove() const {
    py::object o = module();
    if (Module* m = module_ptr(o)) m->remove_forward_hook(id);
  }
};

ModuleHookHandle register_forward_hook(py::handle self, py::function hook, bool with_kwargs) {
  Module& m = checked_module(self);
  // The hook may outlive the GIL-holding scope (a C++ owner destroys the module): release it under the GIL.
  std::shared_ptr<py::object> f(new py::object(std::move(hook)), [](py::object* p) {
    if (!Py_IsInitialized()) return;
    py::gil_scoped_acquire gil;
    delete p;
  });
  int id = m.register_replacing_forward_hook([f, with_kwargs](Module& mod, const std::vector<Tensor>& in,
                                                               std::vector<Tensor>& out) {
    py::gil_scoped_acquire gil;
    CallContext* ctx = !call_stack.empty() && call_stack.back()->module == &mod ? call_stack.back() : nullptr;
    py::object r;
    if (ctx) {
      r = with_kwargs ? (*f)(ctx->self, *ctx->args, *ctx->kwargs, *ctx->output) : (*f)(ctx->self, *ctx->args, *ctx->output);
      if (!r.is_none()) *ctx->output = r;
    } else {  // called from C++ (Module::operator(), a C++ container)
      py::object o = out.size() == 1 ? py::cast(out[0]) : py::object(py::tuple(py::cast(out)));
      py::tuple a(py::cast(in));
      r = with_kwargs ? (*f)(module_object(mod), a, py::dict(), o) : (*f)(module_object(mod), a, o);
    }
    if (!r.is_none()) out = tensors_of(r);
  });
  return ModuleHookHandle{py::weakref(self), id};
}

// ---- traversal over Python objects (so Python subclasses keep their identity) ------------------------------
std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

using NamedObjects = std::vector<std::pair<std::string, py::object>>;

NamedObjects named_modules(py::handle self, const std::string& prefix, bool remove_duplicate) {
  NamedObjects out;
  std::unordered_set<const Module*> seen;
  std::function<void(py::handle, const std::string&)> visit = [&](py::handle o, const std::string& p) {
    Module& m = checked_module(o);
    if (remove_duplicate && !seen.insert(&m).second) return;
    out.emplace_back(p, py::reinterpret_borrow<py::object>(o));
    for (auto& [n, c] : m.named_children()) visit(child_object(o, n, c), join(p, n));
  };
  visit(self, prefix);
  return out;
}

NamedObjects named_tensors(py::handle self, const std::string& prefix, bool recurse, bool remove_duplicate,
                           bool parameters) {
  NamedObjects mods = recurse ? named_modules(self, prefix, remove_duplicate)
                              : NamedObjects{{prefix, py::reinterpret_borrow<py::object>(self)}};
  NamedObjects out;
  std::unordered_set<const TensorImpl*> seen;
  for (auto& [p, o] : mods) {
    Module& m = checked_module(o);
    for (auto& [n, t] : parameters ? m.named_parameters(false) : m.named_buffers(false)) {
      if (remove_duplicate && !seen.insert(t.impl()).second) continue;
      out.emplace_back(join(p, n), tensor_object(o, n, t, parameters));
    }
  }
  return out;
}

py::iterator values_iter(const NamedObjects& v) {
  py::list l;
  for (auto& kv : v) l.append(kv.second);
  return py::iter(l);
}
py::iterator items_iter(const NamedObjects& v) {
  py::list l;
  for (auto& kv : v) l.append(py::make_tuple(kv.first, kv.second));
  return py::iter(l);
}

void state_dict_into(py::handle self, py::object& dest, const std::string& prefix, bool keep_vars) {
  Module& m = checked_module(self);
  for (auto& [n, t] : m.named_parameters(false))
    dest[py::str(prefix + n)] = keep_vars ? tensor_object(self, n, t, true) : py::cast(t.detach());
  for (auto& [n, t] : m.named_buffers(false))
    if (m.is_persistent_buffer(n))
      dest[py::str(prefix + n)] = keep_vars ? tensor_object(self, n, t, false) : py::cast(t.detach());
  for (auto& [n, c] : m.named_children()) {
    py::object child = child_object(self, n, c);
    // Through the Python method, so a Python subclass overriding state_dict is respected.
    child.attr("state_dict")(py::arg("destination") = dest, py::arg("prefix") = prefix + n + ".",
                             py::arg("keep_vars") = keep_vars);
  }
}

py::object incompatible_keys_type() {
  static py::object* type = [] {
    py::dict ns;
    ns["__builtins__"] = py::module_::import("builtins");
    py::exec(R"PY(
import collections
class _IncompatibleKeys(collections.namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What load_state_dict(strict=False) did not match (torch.nn.modules.module._IncompatibleKeys)."""
    __slots__ = ()
    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()
    __str__ = __repr__
)PY", ns, ns);
    return new py::object(ns["_IncompatibleKeys"]);  // leaked: lives as long as the interpreter
  }();
  return *type;
}

py::object load_state_dict(py::handle self, py::handle state_dict, bool strict, bool assign) {
  Module& m = checked_module(self);
  if (!PyMapping_Check(state_dict.ptr()))
    throw py::type_error(cat_str("Expected state_dict to be dict-like, got ", python::type_name(state_dict), "."));
  nn::StateDict sd;
  py::object as_tensor = py::module_::import("shanshui").attr("as_tensor");
  for (py::handle k : py::iter(state_dict.attr("keys")())) {
    py::object v = state_dict[k];
    if (!py::isinstance<Tensor>(v) && !py::isinstance<py::array>(v))
      throw py::type_error(cat_str("load_state_dict: the value of '", py::str(k).cast<std::string>(),
                                   "' must be a Tensor (or a NumPy array), got ", python::type_name(v)));
    sd.emplace_back(py::str(k).cast<std::string>(), as_tensor(v).cast<Tensor>());
  }
  nn::LoadStateDictResult r;
  try {
    r = m.load_state_dict(sd, strict);
  } catch (const ValueError& e) {  // a shape mismatch: PyTorch raises RuntimeError, naming the key and both shapes
    throw RuntimeError(cat_str("Error(s) in loading state_dict for ", class_name(self), ":\n\t", e.what()));
  }
  if (assign) {
    // PyTorch's assign=True: the module takes the given tensors instead of copying into its own.
    for (auto& [p, o] : named_modules(self, "", true)) {
      Module& mm = checked_module(o);
      for (auto& [n, t] : mm.named_parameters(false)) {
        auto it = std::find_if(sd.begin(), sd.end(), [&, q = join(p, n)](auto& kv) { return kv.first == q; });
        if (it == sd.end()) continue;
        Parameter np(it->second.detach());
        if (t.requires_grad()) np.requires_grad_(true);
        set_parameter(o, mm, n, py::cast(np));
      }
      for (auto& [n, t] : mm.named_buffers(false)) {
        auto it = std::find_if(sd.begin(), sd.end(), [&, q = join(p, n)](auto& kv) { return kv.first == q; });
        if (it != sd.end()) set_buffer(o, mm, n, py::cast(it->second.detach()), mm.is_persistent_buffer(n));
      }
    }
  }
  return incompatible_keys_type()(py::cast(r.missing_keys), py::cast(r.unexpected_keys));
}

// Re-point every floating parameter / buffer (and gradient) at a converted copy,
// keeping the tensor objects (as PyTorch's module.double()).
void retype(Module& m, DType dt) {
  autograd::NoGradGuard ng;
  auto convert = [dt](Tensor t) {
    if (!t.defined() || !t.is_floating_point() || t.dtype() == dt) return;
    Tensor v = t.to(dt);
    TensorImpl* i = t.impl();
    i->storage = v.storage();
    i->shape = v.shape();
    i->strides = v.strides();
    i->offset = v.offset();
    i->dtype = v.dtype();
  };
  for (auto& t : m.parameters()) {
    convert(t);
    convert(t.grad());
  }
  for (auto& t : m.buffers()) convert(t);
}

std::string add_indent(const std::string& s) {
  std::string r;
  for (char ch : s) {
    r += ch;
    if (ch == '\n') r += "  ";
  }
  return r;
}

// PyTorch's Module.__repr__, over Python objects so Python overrides of extra_repr / __repr__ are used.
std::string repr(py::handle self) {
  Module& m = checked_module(self);
  std::vector<std::string> lines;
  std::string extra = self.attr("extra_repr")().cast<std::string>();
  size_t start = 0;
  while (!extra.empty() && start <= extra.size()) {
    size_t e = extra.find('\n', start);
    lines.push_back(extra.substr(start, e == std::string::npos ? std::string::npos : e - start));
    if (e == std::string::npos) break;
    start = e + 1;
  }
  size_t n_extra = lines.size();
  for (auto& [n, c] : m.named_children())
    lines.push_back("(" + n + "): " + add_indent(py::repr(child_object(self, n, c)).cast<std::string>()));
  std::string s = class_name(self) + "(";
  if (lines.size() == 1 && n_extra == 1) {
    s += lines[0];
  } else if (!lines.empty()) {
    s += "\n";
    for (auto& l : lines) s += "  " + l + "\n";
  }
  return s + ")";
}

}  // namespace

py::module_ nn_submodule(py::module_& m) {
  if (py::hasattr(m, "nn")) return m.attr("nn").cast<py::module_>();
  return m.def_submodule("nn", "Compiled half of shanshui.nn (modules, functional ops, init).");
}

py::module_ functional_submodule(py::module_& m) {
  py::module_ nn = nn_submodule(m);
  if (py::hasattr(nn, "functional")) return nn.attr("functional").cast<py::module_>();
  return nn.def_submodule("functional", "Compiled half of shanshui.nn.functional.");
}

void init_nn_module(py::module_& m) {
  if (py::detail::get_type_info(typeid(Module))) return;
  py::module_ nnm = nn_submodule(m);

  py::class_<Parameter, Tensor>(nnm, "Parameter",
                                "A Tensor that is a module parameter: assigning one to a module attribute registers "
                                "it (torch.nn.Parameter).")
      .def(py::init([](std::optional<Tensor> data, bool requires_grad) {
             // Shares data's memory as a new leaf, as torch.nn.Parameter(data).
             Parameter p(data ? data->detach() : empty({0}));
             if (requires_grad) p.requires_grad_(true);
             return p;
           }),
           py::arg("data") = py::none(), py::arg("requires_grad") = true)
      .def("__repr__", [](const Parameter& p) { return "Parameter containing:\n" + p.to_string(); })
      .def("__deepcopy__", [](const Parameter& p, py::handle) {
        Tensor c;
        {
          NoGradGuard ng;
          c = p.clone();
        }
        Parameter r(c);
        if (p.requires_grad()) r.requires_grad_(true);
        if (p.grad().defined()) r.set_grad(p.grad().clone());
        return r;
      }, py::arg("memo"))
      .def(py::pickle(
          [](const Parameter& t) {
            Tensor d = t.detach().contiguous();
            return py::make_tuple(to_numpy(d).attr("copy")(), t.requires_grad());
          },
          [](py::tuple s) {
            Parameter p(from_numpy(py::cast<py::array>(s[0])));
            if (py::cast<bool>(s[1])) p.requires_grad_(true);
            return p;
          }));
  nnm.attr("Parameter").attr("__module__") = "shanshui.nn";

  py::class_<ModuleHookHandle>(nnm, "RemovableHandle", "Returned by register_forward_hook; remove() unregisters.")
      .def("remove", &ModuleHookHandle::remove)
      .def_readonly("id", &ModuleHookHandle::id)
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](const ModuleHookHandle& h, py::args) { h.remove(); });

  py::class_<Module, PyModule, py::smart_holder> cls(nnm, "Module", "Base class of all modules (torch.nn.Module).",
                                                     py::dynamic_attr());
  cls.attr("__module__") = "shanshui.nn";
  cls.def(py::init<>());
  {
    // Wrap the constructor so the C++ object knows its Python class name (C++ error messages, repr).
    py::object raw_init = cls.attr("__init__");
    cls.attr("__init__") = py::cpp_function(
        [raw_init](py::handle self) {
          raw_init(self);
          checked_module(self).set_type_name(class_name(self));
        },
        py::name("__init__"), py::is_method(cls), "Initialise the module's registry (call super().__init__()).");
  }
  cls.def("forward", [](py::handle self, py::args, py::kwargs) -> py::object {
       PyErr_SetString(PyExc_NotImplementedError,
                       cat_str("Module [", class_name(self), "] is missing the required \"forward\" function").c_str());
       throw py::error_already_set();
     }, "Defined by every subclass; called by __call__.")
      .def("__call__", &call, "forward(*args, **kwargs), then the forward hooks.")
      .def("_cpp_call", [](Module& m, const Tensor& x) { return m(x); },
           "Call through C++ (Module::operator(): C++ forward, C++-side hooks), as a C++ parent would; for tests.")
      .def("__getattr__", &getattr_)
      .def("__setattr__", &setattr_)
      .def("__delattr__", &delattr_)
      .def("__repr__", &repr)
      .def("extra_repr", [](Module& m) {
        if (auto* p = dynamic_cast<PyModule*>(&m)) return p->Module::extra_repr();
        return m.extra_repr();
      }, "Extra information in repr (the layer's options).")
      .def("_get_name", [](py::handle self) { return class_name(self); })
      // ---- registration
      .def("register_parameter", [](py::handle self, const std::string& name, py::handle param) {
        Module& m = checked_module(self);
        check_new_name(self, m, name, "parameter", m.has_parameter(name));
        set_parameter(self, m, name, param);
      }, py::arg("name"), py::arg("param"))
      .def("register_buffer", [](py::handle self, const std::string& name, py::handle tensor, bool persistent) {
        Module& m = checked_module(self);
        check_new_name(self, m, name, "buffer", m.has_buffer(name));
        set_buffer(self, m, name, tensor, persistent);
      }, py::arg("name"), py::arg("tensor"), py::arg("persistent") = true)
      .def("register_module", [](py::handle self, const std::string& name, py::handle module) {
        Module& m = checked_module(self);
        if (!module.is_none() && !py::isinstance<Module>(module))
          throw py::type_error(cat_str(python::type_name(module), " is not a Module subclass"));
        check_new_name(self, m, name, "module", m.has_module(name));
        set_module(self, m, name, module);
      }, py::arg("name"), py::arg("module"))
      .def("add_module", [](py::handle self, const std::string& name, py::handle module) {
        self.attr("register_module")(name, module);
      }, py::arg("name"), py::arg("module"))
      .def("get_submodule", [](py::handle self, const std::string& target) {
        py::object o = py::reinterpret_borrow<py::object>(self);
        if (target.empty()) return o;
        size_t start = 0;
        while (true) {
          size_t e = target.find('.', start);
          std::string part = target.substr(start, e == std::string::npos ? std::string::npos : e - start);
          Module& m = checked_module(o);
          if (!m.has_module(part) || !m.child(part))
            throw py::attribute_error(cat_str(class_name(o), " has no attribute `", part, "`"));
          o = child_object(o, part, m.child(part));
          if (e == std::string::npos) return o;
          start = e + 1;
        }
      }, py::arg("target"))
      // ---- traversal
      .def("parameters", [](py::handle self, bool recurse) { return values_iter(named_tensors(self, "", recurse, true, true)); },
           py::arg("recurse") = true)
      .def("named_parameters", [](py::handle self, const std::string& prefix, bool recurse, bool remove_duplicate) {
        return items_iter(named_tensors(self, prefix, recurse, remove_duplicate, true));
      }, py::arg("prefix") = "", py::arg("recurse") = true, py::arg("remove_duplicate") = true)
      .def("buffers", [](py::handle self, bool recurse) { return values_iter(named_tensors(self, "", recurse, true, false)); },
           py::arg("recurse") = true)
      .def("named_buffers", [](py::handle self, const std::string& prefix, bool recurse, bool remove_duplicate) {
        return items_iter(named_tensors(self, prefix, recurse, remove_duplicate, false));
      }, py::arg("prefix") = "", py::arg("recurse") = true, py::arg("remove_duplicate") = true)
      .def("children", [](py::handle self) {
        py::list l;
        std::unordered_set<const Module*> seen;
        for (auto& [n, c] : checked_module(self).named_children())
          if (seen.insert(c.get()).second) l.append(child_object(self, n, c));
        return py::iter(l);
      })
      .def("named_children", [](py::handle self) {
        py::list l;
        std::unordered_set<const Module*> seen;
        for (auto& [n, c] : checked_module(self).named_children())
          if (seen.insert(c.get()).second) l.append(py::make_tuple(n, child_object(self, n, c)));
        return py::iter(l);
      })
      .def("_named_children_with_none", [](py::handle self) {
        // (name, module or None) in registration order: the containers index these.
        Module& m = checked_module(self);
        py::list l;
        for (auto& n : m.child_names()) l.append(py::make_tuple(n, child_object(self, n, m.child(n))));
        return l;
      })
      .def("modules", [](py::handle self) { return values_iter(named_modules(self, "", true)); })
      .def("named_modules", [](py::handle self, py::handle memo, const std::string& prefix, bool remove_duplicate) {
        return items_iter(named_modules(self, prefix, remove_duplicate));
      }, py::arg("memo") = py::none(), py::arg("prefix") = "", py::arg("remove_duplicate") = true)
      // ---- modes and utilities
      .def("train", [](py::handle self, bool mode) {
        Module& m = checked_module(self);
        if (auto* p = dynamic_cast<PyModule*>(&m)) p->Module::train(mode);  // not back into a Python override
        else m.train(mode);
        return py::reinterpret_borrow<py::object>(self);
      }, py::arg("mode") = true, "Training mode for this module and its descendants; returns self.")
      .def("eval", [](py::handle self) { return self.attr("train")(false); }, "train(False); returns self.")
      .def_property("training", [](const Module& m) { return m.is_training(); },
                    [](Module& m, bool on) { m.set_training_flag(on); })
      .def("zero_grad", [](Module& m, bool set_to_none) { m.zero_grad(set_to_none); }, py::arg("set_to_none") = true)
      .def("requires_grad_", [](py::handle self, bool requires_grad) {
        checked_module(self).requires_grad_(requires_grad);
        return py::reinterpret_borrow<py::object>(self);
      }, py::arg("requires_grad") = true)
      .def("apply", [](py::handle self, py::function fn) {
        // Children first, then self (as PyTorch).
        Module& m = checked_module(self);
        for (auto& [n, c] : m.named_children()) child_object(self, n, c).attr("apply")(fn);
        fn(self);
        return py::reinterpret_borrow<py::object>(self);
      }, py::arg("fn"))
      .def("double", [](py::handle self) {
        retype(checked_module(self), DType::Float64);
        return py::reinterpret_borrow<py::object>(self);
      })
      .def("float", [](py::handle self) {
        retype(checked_module(self), DType::Float32);
        return py::reinterpret_borrow<py::object>(self);
      })
      .def("cpu", [](py::handle self) { return py::reinterpret_borrow<py::object>(self); })
      .def("to", [](py::handle self, py::args args, py::kwargs kwargs) {
        // to(dtype), to("cpu"), to(device, dtype), to(tensor), to(dtype=...)
        std::optional<DType> dt;
        auto take = [&](py::handle a) {
          if (py::isinstance<DType>(a)) dt = py::cast<DType>(a);
          else if (py::isinstance<Tensor>(a)) dt = py::cast<const Tensor&>(a).dtype();
          else if (!a.is_none()) {
            std::string dev = py::str(a);
            if (dev != "cpu" && dev.rfind("cpu:", 0) != 0)
              throw RuntimeError(cat_str("Module.to: shanshui runs on the CPU only (got device '", dev, "')"));
          }
        };
        for (py::handle a : args) take(a);
        for (auto kv : kwargs) take(kv.second);
        if (dt) {
          SS_CHECK(is_floating(*dt), TypeError, "Module.to: only floating point dtypes are accepted, got ",
                   dtype_name(*dt));
          retype(checked_module(self), *dt);
        }
        return py::reinterpret_borrow<py::object>(self);
      })
      // ---- hooks
      .def("register_forward_hook", [](py::handle self, py::function hook, bool with_kwargs) {
        return register_forward_hook(self, std::move(hook), with_kwargs);
      }, py::arg("hook"), py::kw_only(), py::arg("with_kwargs") = false,
         "hook(module, args, output) runs after every forward (from Python and from C++); a non-None return "
         "replaces the output. With with_kwargs=True: hook(module, args, kwargs, output). Returns a handle with "
         "remove().")
      // ---- checkpoints
      .def("state_dict", [](py::handle self, py::object destination, const std::string& prefix,
                            bool keep_vars) {
        if (destination.is_none()) destination = py::module_::import("collections").attr("OrderedDict")();
        state_dict_into(self, destination, prefix, keep_vars);
        return destination;
      }, py::kw_only(), py::arg("destination") = py::none(), py::arg("prefix") = "", py::arg("keep_vars") = false,
         "Parameters and persistent buffers under dotted keys (an OrderedDict, PyTorch's key order).")
      .def("load_state_dict", &load_state_dict, py::arg("state_dict"), py::arg("strict") = true,
           py::arg("assign") = false,
           "Copy values in (shapes must match); returns (missing_keys, unexpected_keys). With strict, any "
           "missing or unexpected key raises RuntimeError.");
}

}  // namespace shanshui::python
