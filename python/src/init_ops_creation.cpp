// Factories (core/ops/creation.h), random numbers (core/ops/random.h), NumPy
// import and the thread setting. Sizes are accepted torch-style: zeros(2, 3),
// zeros((2, 3)), zeros([2, 3]) or zeros(size=(2, 3)); dtype and requires_grad are keywords.
#include "bindings.h"
#include "core/parallel.h"

namespace shanshui::python {

namespace {

using T = const Tensor&;
using OptDType = std::optional<DType>;

Shape size_of(const py::args& args, const py::object& size, const char* op) {
  if (!size.is_none()) {
    SS_CHECK(args.size() == 0, TypeError, op, ": size given both positionally and as a keyword");
    return to_shape(size, op);
  }
  return shape_args(args, op);
}

void check_device(const py::object& device, const char* op) {
  if (device.is_none()) return;
  std::string d = py::str(device);
  SS_CHECK(d == "cpu" || d.rfind("cpu:", 0) == 0, RuntimeError, op, ": shanshui runs on the CPU only (got device '", d, "')");
}

Tensor finish(Tensor t, bool requires_grad) {
  if (requires_grad) t.requires_grad_(true);
  return t;
}

// f(*size, dtype=None, requires_grad=False, size=None, device=None)
template <class F>
void def_sized(py::module_& m, const char* name, F f, const char* doc) {
  m.def(name, [name, f](const py::args& args, OptDType dtype, bool requires_grad, const py::object& size,
                        const py::object& device) {
    check_device(device, name);
    return finish(f(size_of(args, size, name), dtype.value_or(DType::Float32)), requires_grad);
  }, doc, py::kw_only(), py::arg("dtype") = py::none(), py::arg("requires_grad") = false, py::arg("size") = py::none(),
        py::arg("device") = py::none());
}

// f_like(input, dtype=None, requires_grad=False)
template <class FLike, class FSized>
void def_like(py::module_& m, const char* name, FLike like, FSized sized, const char* doc) {
  m.def(name, [like, sized](T x, OptDType dtype, bool requires_grad, const py::object& device) {
    return finish(dtype ? sized(x.shape(), *dtype) : like(x), requires_grad);
  }, doc, py::arg("input"), py::kw_only(), py::arg("dtype") = py::none(), py::arg("requires_grad") = false,
        py::arg("device") = py::none());
}

}  // namespace

void init_ops_creation(py::module_& m) {
  TensorClass cls = tensor_class(m);
  auto none = py::none();

  def_sized(m, "zeros", [](const Shape& s, DType d) { return zeros(s, d); }, "A tensor of zeros.");
  def_sized(m, "ones", [](const Shape& s, DType d) { return ones(s, d); }, "A tensor of ones.");
  def_sized(m, "empty", [](const Shape& s, DType d) { return shanshui::empty(s, d); }, "An uninitialised tensor.");
  def_sized(m, "rand", [](const Shape& s, DType d) { return rand(s, d); }, "Uniform samples in [0, 1).");
  def_sized(m, "randn", [](const Shape& s, DType d) { return randn(s, d); }, "Standard normal samples.");
  m.def("full", [](py::handle size, py::handle value, OptDType dtype, bool requires_grad, const py::object& device) {
    check_device(py::reinterpret_borrow<py::object>(device), "full");
    Scalar v = to_scalar(value, "full");
    // As torch: the dtype follows the fill value (bool, int64, or the default float).
    DType d = dtype.value_or(v.kind == DType::Float64 ? default_float() : v.kind);
    return finish(full(to_shape(size, "full"), v, d), requires_grad);
  }, "A tensor filled with fill_value.", py::arg("size"), py::arg("fill_value"), py::kw_only(),
        py::arg("dtype") = none, py::arg("requires_grad") = false, py::arg("device") = none);

  def_like(m, "zeros_like", [](T x) { return zeros_like(x); }, [](const Shape& s, DType d) { return zeros(s, d); },
           "Zeros with input's shape (and dtype).");
  def_like(m, "ones_like", [](T x) { return ones_like(x); }, [](const Shape& s, DType d) { return ones(s, d); },
           "Ones with input's shape (and dtype).");
  def_like(m, "empty_like", [](T x) { return empty_like(x); },
           [](const Shape& s, DType d) { return shanshui::empty(s, d); }, "Uninitialised, with input's shape.");
  def_like(m, "rand_like", [](T x) { return rand_like(x); }, [](const Shape& s, DType d) { return rand(s, d); },
           "Uniform samples with input's shape.");
  def_like(m, "randn_like", [](T x) { return randn_like(x); }, [](const Shape& s, DType d) { return randn(s, d); },
           "Normal samples with input's shape.");
  m.def("full_like", [](T x, py::handle value, OptDType dtype, bool requires_grad) {
    Scalar v = to_scalar(value, "full_like");
    return finish(dtype ? full(x.shape(), v, *dtype) : full_like(x, v), requires_grad);
  }, "fill_value with input's shape (and dtype).", py::arg("input"), py::arg("fill_value"), py::kw_only(),
        py::arg("dtype") = none, py::arg("requires_grad") = false);
  m.def("scalar_tensor", [](py::handle v, DType dtype) { return scalar_tensor(to_scalar(v, "scalar_tensor"), dtype); },
        "A 0-d tensor.", py::arg("s"), py::kw_only(), py::arg("dtype") = DType::Float32);

  m.def("arange", [](py::handle a, py::handle b, py::handle step, OptDType dtype, bool requires_grad) {
    // arange(end) or arange(start, end, step=1)
    Tensor t = b.is_none() ? arange(to_scalar(a, "arange"), dtype)
                           : arange(to_scalar(a, "arange"), to_scalar(b, "arange"), to_scalar(step, "arange"), dtype);
    return finish(t, requires_grad);
  }, "Values from start to end (exclusive) in steps (int64 when all are ints).", py::arg("start"),
        py::arg("end") = none, py::arg("step") = 1, py::kw_only(), py::arg("dtype") = none,
        py::arg("requires_grad") = false);
  m.def("linspace", [](double a, double b, int64_t steps, OptDType dtype, bool requires_grad) {
    return finish(linspace(a, b, steps, dtype.value_or(DType::Float32)), requires_grad);
  }, "`steps` evenly spaced values from start to end (inclusive).", py::arg("start"), py::arg("end"), py::arg("steps"),
        py::kw_only(), py::arg("dtype") = none, py::arg("requires_grad") = false);
  m.def("eye", [](int64_t n, std::optional<int64_t> cols, OptDType dtype, bool requires_grad) {
    return finish(eye(n, cols, dtype.value_or(DType::Float32)), requires_grad);
  }, "Identity matrix n x m.", py::arg("n"), py::arg("m") = none, py::kw_only(), py::arg("dtype") = none,
        py::arg("requires_grad") = false);

  // ---- random ------------------------------------------------------------------------------
  m.def("manual_seed", [](uint64_t s) { manual_seed(s); }, "Seed every generator of the library.", py::arg("seed"));
  m.def("initial_seed", &initial_seed, "The seed last given to manual_seed.");
  m.def("randint", [](const py::args& args, OptDType dtype, bool requires_grad, const py::object& size_kw) {
    // randint(high, size) or randint(low, high, size)
    std::vector<py::handle> a(args.begin(), args.end());
    if (!size_kw.is_none()) a.push_back(size_kw);
    SS_CHECK(a.size() == 2 || a.size() == 3, TypeError, "randint: expected (high, size) or (low, high, size), got ",
             a.size(), " arguments");
    int64_t low = a.size() == 3 ? py::cast<int64_t>(a[0]) : 0;
    int64_t high = py::cast<int64_t>(a[a.size() - 2]);
    return finish(randint(low, high, to_shape(a.back(), "randint"), dtype.value_or(DType::Int64)), requires_grad);
  }, "Uniform integers in [low, high).", py::kw_only(), py::arg("dtype") = none, py::arg("requires_grad") = false,
        py::arg("size") = none);
  m.def("randperm", [](int64_t n, OptDType dtype) {
    Tensor p = randperm(n);
    return dtype ? p.to(*dtype) : p;
  }, "A random permutation of 0..n-1.", py::arg("n"), py::kw_only(), py::arg("dtype") = none);
  m.def("bernoulli", [](T x, std::optional<double> p) { return p ? bernoulli(x, *p) : bernoulli(x); },
        "1 with probability input (or p), else 0.", py::arg("input"), py::arg("p") = none);
  cls.def("bernoulli", [](T x, std::optional<double> p) { return p ? bernoulli(x, *p) : bernoulli(x); },
          py::arg("p") = none);
  def_op(m, cls, "multinomial", [](T p, int64_t n, bool r) { return multinomial(p, n, r); },
         "Draw num_samples indices per row from the weights.", py::arg("num_samples"), py::arg("replacement") = false);
  cls.def("uniform_", [](py::object self, double a, double b) {
    uniform_(py::cast<Tensor&>(self), a, b);
    return self;
  }, "Fill with U[from, to).", py::arg("from") = 0.0, py::arg("to") = 1.0);
  cls.def("normal_", [](py::object self, double mean, double std) {
    normal_(py::cast<Tensor&>(self), mean, std);
    return self;
  }, "Fill with N(mean, std^2).", py::arg("mean") = 0.0, py::arg("std") = 1.0);

  // ---- new_* (same dtype as self unless given) -------------------------------------------------
  cls.def("new_zeros", [](T x, const py::args& s, OptDType dtype, bool rg) {
    return finish(zeros(shape_args(s, "new_zeros"), dtype.value_or(x.dtype())), rg);
  }, py::kw_only(), py::arg("dtype") = none, py::arg("requires_grad") = false);
  cls.def("new_ones", [](T x, const py::args& s, OptDType dtype, bool rg) {
    return finish(ones(shape_args(s, "new_ones"), dtype.value_or(x.dtype())), rg);
  }, py::kw_only(), py::arg("dtype") = none, py::arg("requires_grad") = false);
  cls.def("new_empty", [](T x, const py::args& s, OptDType dtype, bool rg) {
    return finish(shanshui::empty(shape_args(s, "new_empty"), dtype.value_or(x.dtype())), rg);
  }, py::kw_only(), py::arg("dtype") = none, py::arg("requires_grad") = false);
  cls.def("new_full", [](T x, py::handle s, py::handle v, OptDType dtype, bool rg) {
    return finish(full(to_shape(s, "new_full"), to_scalar(v, "new_full"), dtype.value_or(x.dtype())), rg);
  }, py::arg("size"), py::arg("fill_value"), py::kw_only(), py::arg("dtype") = none, py::arg("requires_grad") = false);

  // ---- NumPy and threads ------------------------------------------------------------------------
  m.def("from_numpy", [](const py::array& a) { return from_numpy(a); },
        "A tensor sharing the NumPy array's memory (float32, float64, int64, bool).", py::arg("ndarray"));
  m.def("set_num_threads", &set_num_threads, "Threads for the library's loops and BLAS.", py::arg("n"));
  m.def("get_num_threads", &get_num_threads, "Threads for the library's loops and BLAS.");
}

}  // namespace shanshui::python
