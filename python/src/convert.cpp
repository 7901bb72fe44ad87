// Conversions between Python objects and the C++ argument types: shapes,
// dims, scalars, NumPy arrays (zero-copy both ways), nested lists, index tuples.
#include <cstring>

#include "bindings.h"
#include "autograd/grad_mode.h"
#include "core/ops/inplace.h"

namespace shanshui::python {

TensorClass tensor_class(py::module_& m) { return py::reinterpret_borrow<TensorClass>(m.attr("Tensor")); }

namespace {
bool is_int_like(py::handle o) {
  return !PyBool_Check(o.ptr()) && (PyLong_Check(o.ptr()) || (!PyFloat_Check(o.ptr()) && PyIndex_Check(o.ptr())));
}
int64_t to_int(py::handle o, const char* op, const char* what) {
  if (!is_int_like(o))
    throw TypeError(cat_str(op, ": ", what, " must be an int, got ", type_name(o)));
  py::object idx = py::reinterpret_steal<py::object>(PyNumber_Index(o.ptr()));
  if (!idx) throw py::error_already_set();
  long long v = PyLong_AsLongLong(idx.ptr());
  if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
  return v;
}
}  // namespace

Shape to_shape(py::handle obj, const char* op) {
  if (py::isinstance<Tensor>(obj) || !PySequence_Check(obj.ptr()) || PyUnicode_Check(obj.ptr()))
    throw TypeError(cat_str(op, ": size must be a tuple of ints, got ",
                            type_name(obj)));
  Shape s;
  py::sequence seq = py::reinterpret_borrow<py::sequence>(obj);
  s.reserve(seq.size());
  for (py::handle e : seq) s.push_back(to_int(e, op, "each size"));
  return s;
}

Shape shape_args(const py::args& args, const char* op) {
  if (args.size() == 1 && !is_int_like(args[0])) return to_shape(args[0], op);
  Shape s;
  s.reserve(args.size());
  for (py::handle e : args) s.push_back(to_int(e, op, "each size"));
  return s;
}

std::vector<int64_t> to_dims(py::handle obj, const char* op) {
  if (obj.is_none()) return {};
  if (is_int_like(obj)) return {to_int(obj, op, "dim")};
  return to_shape(obj, op);
}

bool is_scalar(py::handle o) {
  PyObject* p = o.ptr();
  if (PyBool_Check(p) || PyLong_Check(p) || PyFloat_Check(p)) return true;
  // NumPy scalars (np.float32, np.int32, np.bool_) but not arrays or tensors.
  return py::isinstance<py::array>(o) ? false
         : (!py::isinstance<Tensor>(o) && py::hasattr(o, "dtype") && py::hasattr(o, "item") &&
            py::len(o.attr("shape")) == 0);
}

Scalar to_scalar(py::handle o, const char* op) {
  PyObject* p = o.ptr();
  if (PyBool_Check(p)) return Scalar(p == Py_True);
  if (PyLong_Check(p)) return Scalar(static_cast<long long>(py::cast<int64_t>(o)));
  if (PyFloat_Check(p)) return Scalar(PyFloat_AsDouble(p));
  if (is_scalar(o)) return to_scalar(o.attr("item")(), op);
  if (py::isinstance<Tensor>(o)) {
    const Tensor& t = py::cast<const Tensor&>(o);
    SS_CHECK(t.numel() == 1, ValueError, op, ": expected a number or a one-element tensor, got a tensor of shape ",
             t.shape());
    if (t.dtype() == DType::Bool) return Scalar(t.item<bool>());
    if (t.dtype() == DType::Int64) return Scalar(static_cast<long long>(t.item<int64_t>()));
    return Scalar(t.item_double());
  }
  throw TypeError(cat_str(op, ": expected a number, got ", type_name(o)));
}

Tensor to_tensor(py::handle o, const char* op) {
  if (py::isinstance<Tensor>(o)) return py::cast<Tensor>(o);
  if (is_scalar(o)) {
    Scalar s = to_scalar(o, op);
    return scalar_tensor(s, s.kind == DType::Float64 ? default_float() : s.kind);
  }
  throw TypeError(cat_str(op, ": expected a Tensor or a number, got ",
                          type_name(o)));
}

Tensor to_tensor_like(py::handle o, const Tensor& like, const char* op) {
  if (py::isinstance<Tensor>(o) || !is_scalar(o)) return to_tensor(o, op);
  Scalar s = to_scalar(o, op);
  return scalar_tensor(s, result_type(like, s));
}

py::object size_object(const Shape& s) {
  static PyObject* size_type = nullptr;
  if (!size_type) size_type = py::object(py::module_::import("shanshui._C").attr("Size")).release().ptr();
  py::tuple t(s.size());
  for (size_t i = 0; i < s.size(); ++i) PyTuple_SET_ITEM(t.ptr(), i, PyLong_FromLongLong(s[i]));
  return py::reinterpret_steal<py::object>(PyObject_CallOneArg(size_type, t.ptr()));
}

// ---- NumPy ---------------------------------------------------------------------

namespace {
py::dtype numpy_dtype(DType t) {
  switch (t) {
    case DType::Bool: return py::dtype::of<bool>();
    case DType::Int64: return py::dtype::of<int64_t>();
    case DType::Float32: return py::dtype::of<float>();
    case DType::Float64: return py::dtype::of<double>();
  }
  return py::dtype::of<float>();
}
}  // namespace

py::array to_numpy(const Tensor& t) {
  SS_CHECK(!t.requires_grad(), RuntimeError,
           "numpy: Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.");
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end()), strides;
  for (int64_t s : t.strides()) strides.push_back(s * int64_t(t.element_size()));
  // The capsule owns a handle to the tensor, so the array keeps the storage alive.
  auto* keep = new Tensor(t);
  py::capsule base(keep, [](void* p) { delete static_cast<Tensor*>(p); });
  static char empty_buffer[8];
  void* data = t.numel() == 0 || !t.raw_data() ? static_cast<void*>(empty_buffer) : t.raw_data();
  return py::array(numpy_dtype(t.dtype()), shape, strides, data, base);
}

Tensor from_numpy(const py::array& a) {
  DType dt;
  char kind = a.dtype().kind();
  int64_t isz = a.itemsize();
  if (kind == 'f' && isz == 4) dt = DType::Float32;
  else if (kind == 'f' && isz == 8) dt = DType::Float64;
  else if (kind == 'i' && isz == 8) dt = DType::Int64;
  else if (kind == 'b' && isz == 1) dt = DType::Bool;
  else
    throw TypeError(cat_str("from_numpy: can't convert np.ndarray of type ", std::string(py::str(a.dtype())),
                            ". The only supported types are: float64, float32, int64 and bool."));
  SS_CHECK(a.dtype().byteorder() != '>', TypeError, "from_numpy: given numpy array has byte order different from "
           "the native byte order");
  Shape shape(a.shape(), a.shape() + a.ndim()), strides;
  int64_t extent = 0;
  bool empty_array = a.size() == 0;
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    int64_t sb = a.strides()[i];
    SS_CHECK(sb >= 0, ValueError, "from_numpy: at least one stride in the given numpy array is negative; "
             "this is not supported (make a copy with array.copy())");
    SS_CHECK(sb % isz == 0, ValueError, "from_numpy: given numpy array strides are not a multiple of the "
             "element byte size; copy the numpy array to reallocate the memory");
    strides.push_back(sb / isz);
    if (!empty_array) extent += (shape[i] - 1) * (sb / isz);
  }
  // The storage borrows the array's buffer and holds a reference to the array
  // (released under the GIL, whichever thread drops the last tensor).
  auto* ref = new py::object(a);
  std::shared_ptr<void> keep(ref, [](void* p) {
    if (!Py_IsInitialized()) return;
    py::gil_scoped_acquire gil;
    delete static_cast<py::object*>(p);
  });
  size_t nbytes = empty_array ? 0 : size_t(extent + 1) * size_t(isz);
  auto storage = std::make_shared<Storage>(const_cast<void*>(a.data()), nbytes, std::move(keep));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->dtype = dt;
  return Tensor(std::move(impl));
}

// ---- Python values ---------------------------------------------------------------------

namespace {
template <class T>
py::object value_at(const T* p) {
  if constexpr (std::is_same_v<T, bool>) return py::bool_(*p);
  else if constexpr (std::is_same_v<T, int64_t>) return py::int_(*p);
  else return py::float_(double(*p));
}
template <class T>
py::object tolist_rec(const T* p, const Tensor& t, int64_t d) {
  if (d == t.dim()) return value_at(p);
  int64_t n = t.shape()[d], st = t.strides()[d];
  py::list out(n);
  for (int64_t i = 0; i < n; ++i) PyList_SET_ITEM(out.ptr(), i, tolist_rec(p + i * st, t, d + 1).release().ptr());
  return out;
}
template <class F>
py::object visit(const Tensor& t, F&& f) {
  switch (t.dtype()) {
    case DType::Bool: return f(static_cast<const bool*>(t.raw_data()));
    case DType::Int64: return f(static_cast<const int64_t*>(t.raw_data()));
    case DType::Float32: return f(static_cast<const float*>(t.raw_data()));
    case DType::Float64: return f(static_cast<const double*>(t.raw_data()));
  }
  return py::none();
}
}  // namespace

py::object tolist(const Tensor& t) {
  return visit(t, [&](const auto* p) { return tolist_rec(p, t, 0); });
}

py::object item(const Tensor& t) {
  SS_CHECK(t.numel() == 1, ValueError, "item: a Tensor with ", t.numel(), " elements (shape ", t.shape(),
           ") cannot be converted to a scalar");
  return visit(t, [&](const auto* p) { return value_at(p); });
}

// ---- indexing ----------------------------------------------------------------

namespace {
TensorIndex to_index(py::handle o) {
  PyObject* p = o.ptr();
  if (PyBool_Check(p)) return TensorIndex(scalar_tensor(Scalar(p == Py_True), DType::Bool));
  if (PyLong_Check(p)) return TensorIndex(py::cast<int64_t>(o));
  if (PySlice_Check(p)) {
    auto* s = reinterpret_cast<PySliceObject*>(p);
    auto opt = [](PyObject* v) -> std::optional<int64_t> {
      if (v == Py_None) return std::nullopt;
      return to_int(v, "index", "slice indices");
    };
    Slice sl{opt(s->start), opt(s->stop), 1};
    if (s->step != Py_None) sl.step = to_int(s->step, "index", "slice step");
    SS_CHECK(sl.step > 0, ValueError, "index: slice step must be positive, got ", sl.step);
    return TensorIndex(sl);
  }
  if (o.is_none()) return TensorIndex(NewAxis{});
  if (p == Py_Ellipsis) return TensorIndex(Ellipsis{});
  if (py::isinstance<Tensor>(o)) return TensorIndex(py::cast<Tensor>(o));
  if (py::isinstance<py::array>(o) || PyList_Check(p) || PyTuple_Check(p)) {
    // An array or a list of ints / bools is an index tensor (advanced indexing).
    py::array arr = py::module_::import("numpy").attr("asarray")(o);
    char kind = arr.dtype().kind();
    SS_CHECK(kind == 'i' || kind == 'u' || kind == 'b', IndexError,
             "index: only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid "
             "indices (got an array or list of ", std::string(py::str(arr.dtype())), ")");
    if (kind != 'b') arr = arr.attr("astype")("int64");
    return TensorIndex(from_numpy(arr).clone());
  }
  if (PyIndex_Check(p) && !PyFloat_Check(p)) return TensorIndex(to_int(o, "index", "index"));
  throw IndexError(cat_str("index: only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                           "Variables are valid indices (got ", type_name(o),
                           ")"));
}
}  // namespace

std::vector<TensorIndex> to_indices(py::handle obj) {
  std::vector<TensorIndex> out;
  if (PyTuple_Check(obj.ptr())) {
    for (py::handle e : py::reinterpret_borrow<py::tuple>(obj)) out.push_back(to_index(e));
  } else {
    out.push_back(to_index(obj));
  }
  return out;
}

Tensor self_for_inplace(const Tensor& self, py::handle other) {
  bool other_requires_grad = py::isinstance<Tensor>(other) && py::cast<const Tensor&>(other).requires_grad();
  bool recording = autograd::GradMode::is_enabled() && (self.requires_grad() || other_requires_grad);
  return recording ? self.clone() : self;
}

py::object assign_inplace(const py::object& self, const Tensor& result, const char* op) {
  Tensor& s = py::cast<Tensor&>(self);
  detail::assign_inplace(s, result, op);
  return self;
}

}  // namespace shanshui::python
