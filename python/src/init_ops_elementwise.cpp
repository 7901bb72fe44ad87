// Elementwise ops (core/ops/elementwise.h): shanshui.<op>(input, ...) and
// Tensor.<op>(...), plus the in-place variants Tensor.<op>_().
#include <deque>

#include "bindings.h"

namespace shanshui::python {

namespace {

using T = const Tensor&;

// Tensor-or-number second operand: numbers use the Scalar overload when there is one.
template <class FT, class FS>
auto tensor_or_scalar(const char* op, FT ft, FS fs) {
  return [op, ft, fs](T a, py::handle b) {
    if (py::isinstance<Tensor>(b)) return ft(a, py::cast<const Tensor&>(b));
    return fs(a, to_scalar(b, op));
  };
}

// Tensor.<name>_(...): compute `f` out of place and write it into self.
template <class... Args, class F>
auto inplace_of(const char* name, F f) {
  return [name, f](py::object self, Args... args) {
    return assign_inplace(self, f(py::cast<const Tensor&>(self), args...), name);
  };
}

}  // namespace

void init_ops_elementwise(py::module_& m) {
  TensorClass cls = tensor_class(m);

  // ---- binary arithmetic ---------------------------------------------------------------
  auto add_f = [](T a, py::handle b, py::handle alpha) {
    if (py::isinstance<Tensor>(b)) return add(a, py::cast<const Tensor&>(b), to_scalar(alpha, "add"));
    Scalar s = to_scalar(b, "add");
    Scalar al = to_scalar(alpha, "add");
    return al.v == 1 ? add(a, s) : add(a, scalar_tensor(s, s.kind == DType::Float64 ? default_float() : s.kind), al);
  };
  auto sub_f = [](T a, py::handle b, py::handle alpha) {
    if (py::isinstance<Tensor>(b)) return sub(a, py::cast<const Tensor&>(b), to_scalar(alpha, "sub"));
    Scalar s = to_scalar(b, "sub");
    Scalar al = to_scalar(alpha, "sub");
    return al.v == 1 ? sub(a, s) : sub(a, scalar_tensor(s, s.kind == DType::Float64 ? default_float() : s.kind), al);
  };
  def_op(m, cls, "add", add_f, "input + alpha * other", py::arg("other"), py::kw_only(), py::arg("alpha") = 1);
  def_op(m, cls, "sub", sub_f, "input - alpha * other", py::arg("other"), py::kw_only(), py::arg("alpha") = 1);
  def_op(m, cls, "subtract", sub_f, "input - alpha * other", py::arg("other"), py::kw_only(), py::arg("alpha") = 1);
  cls.def("add_", inplace_of<py::handle, py::handle>("add_", add_f), "In-place add.", py::arg("other"), py::kw_only(),
          py::arg("alpha") = 1);
  cls.def("sub_", inplace_of<py::handle, py::handle>("sub_", sub_f), "In-place sub.", py::arg("other"), py::kw_only(),
          py::arg("alpha") = 1);
  m.def("rsub", tensor_or_scalar("rsub", [](T a, T b) { return sub(b, a); }, [](T a, Scalar b) { return rsub(a, b); }),
        "other - input", py::arg("input"), py::arg("other"));

  struct Binary {
    const char* name;
    const char* doc;
    Tensor (*tt)(const Tensor&, const Tensor&);
    Tensor (*ts)(const Tensor&, Scalar);  // null: numbers are wrapped as 0-d tensors
  };
  static const Binary binaries[] = {
      {"mul", "input * other", [](T a, T b) { return mul(a, b); }, [](T a, Scalar b) { return mul(a, b); }},
      {"multiply", "input * other", [](T a, T b) { return mul(a, b); }, [](T a, Scalar b) { return mul(a, b); }},
      {"div", "input / other (true division)", [](T a, T b) { return div(a, b); },
       [](T a, Scalar b) { return div(a, b); }},
      {"divide", "input / other (true division)", [](T a, T b) { return div(a, b); },
       [](T a, Scalar b) { return div(a, b); }},
      {"true_divide", "input / other", [](T a, T b) { return div(a, b); }, [](T a, Scalar b) { return div(a, b); }},
      {"pow", "input ** exponent", [](T a, T b) { return pow(a, b); }, [](T a, Scalar b) { return pow(a, b); }},
      {"maximum", "Elementwise maximum.", [](T a, T b) { return maximum(a, b); }, nullptr},
      {"minimum", "Elementwise minimum.", [](T a, T b) { return minimum(a, b); }, nullptr},
      {"floor_divide", "floor(input / other)", [](T a, T b) { return floor_divide(a, b); },
       [](T a, Scalar b) { return floor_divide(a, scalar_tensor(b, result_type(a, b))); }},
      {"remainder", "Python-style modulus (sign of the divisor).", [](T a, T b) { return remainder(a, b); },
       [](T a, Scalar b) { return remainder(a, scalar_tensor(b, result_type(a, b))); }},
      {"eq", "input == other", [](T a, T b) { return eq(a, b); }, [](T a, Scalar b) { return eq(a, b); }},
      {"ne", "input != other", [](T a, T b) { return ne(a, b); }, [](T a, Scalar b) { return ne(a, b); }},
      {"lt", "input < other", [](T a, T b) { return lt(a, b); }, [](T a, Scalar b) { return lt(a, b); }},
      {"le", "input <= other", [](T a, T b) { return le(a, b); }, [](T a, Scalar b) { return le(a, b); }},
      {"gt", "input > other", [](T a, T b) { return gt(a, b); }, [](T a, Scalar b) { return gt(a, b); }},
      {"ge", "input >= other", [](T a, T b) { return ge(a, b); }, [](T a, Scalar b) { return ge(a, b); }},
      {"greater", "input > other", [](T a, T b) { return gt(a, b); }, [](T a, Scalar b) { return gt(a, b); }},
      {"less", "input < other", [](T a, T b) { return lt(a, b); }, [](T a, Scalar b) { return lt(a, b); }},
      {"logical_and", "Elementwise logical and.", [](T a, T b) { return logical_and(a, b); }, nullptr},
      {"logical_or", "Elementwise logical or.", [](T a, T b) { return logical_or(a, b); }, nullptr},
      {"logical_xor", "Elementwise logical xor.", [](T a, T b) { return logical_xor(a, b); }, nullptr},
  };
  for (const Binary& b : binaries) {
    auto f = [b](T a, py::handle o) {
      if (py::isinstance<Tensor>(o)) return b.tt(a, py::cast<const Tensor&>(o));
      if (b.ts) return b.ts(a, to_scalar(o, b.name));
      return b.tt(a, to_tensor(o, b.name));
    };
    def_op(m, cls, b.name, f, b.doc, py::arg("other"));
    std::string in = std::string(b.name) + "_";
    static std::deque<std::string> names;  // stable storage for the in-place names the closures keep
    names.push_back(in);
    const char* iname = names.back().c_str();
    // Ops whose backward may need the old self get a copy of it (div saves only its output and other).
    const bool saves_self = std::string(b.name) != "div" && std::string(b.name) != "divide" &&
                            std::string(b.name) != "true_divide";
    cls.def(iname, [iname, f, saves_self](py::object self, py::handle o) {
      const Tensor& s = py::cast<const Tensor&>(self);
      return assign_inplace(self, f(saves_self ? self_for_inplace(s, o) : s, o), iname);
    }, "In-place variant.", py::arg("other"));
  }
  m.def("pow", [](py::handle a, py::handle b) {
    // pow(number, tensor)
    if (!py::isinstance<Tensor>(a)) return pow(to_scalar(a, "pow"), py::cast<const Tensor&>(b));
    const Tensor& x = py::cast<const Tensor&>(a);
    return py::isinstance<Tensor>(b) ? pow(x, py::cast<const Tensor&>(b)) : pow(x, to_scalar(b, "pow"));
  }, "input ** exponent", py::arg("input"), py::arg("exponent"));

  // ---- unary ------------------------------------------------------------------------------
  struct Unary {
    const char* name;
    const char* doc;
    Tensor (*f)(const Tensor&);
    bool inplace;
  };
  static const Unary unaries[] = {
      {"neg", "-input", &neg, true},          {"negative", "-input", &neg, true},
      {"exp", "e ** input", &exp, true},      {"log", "Natural logarithm.", &log, true},
      {"sqrt", "Square root.", &sqrt, true},  {"rsqrt", "1 / sqrt(input)", &rsqrt, true},
      {"abs", "Absolute value.", &abs, true}, {"sign", "-1, 0 or 1.", &sign, true},
      {"sin", "Sine.", &sin, true},           {"cos", "Cosine.", &cos, true},
      {"tanh", "Hyperbolic tangent.", &tanh, true},
      {"sigmoid", "1 / (1 + exp(-input))", &sigmoid, true},
      {"relu", "max(input, 0)", &relu, true},
      {"logical_not", "Elementwise logical not.", &logical_not, false},
      {"isnan", "True where input is NaN.", &isnan, false},
  };
  for (const Unary& u : unaries) {
    auto f = u.f;
    m.def(u.name, f, u.doc, py::arg("input"));
    cls.def(u.name, f, u.doc);
    if (!u.inplace) continue;
    static std::deque<std::string> names;  // stable storage for the in-place names the closures keep
    names.push_back(std::string(u.name) + "_");
    const char* iname = names.back().c_str();
    cls.def(iname, [iname, f](py::object self) {
      return assign_inplace(self, f(self_for_inplace(py::cast<const Tensor&>(self))), iname);
    }, "In-place variant.");
  }
  m.def("relu_", [](py::object x) { return assign_inplace(x, relu(py::cast<const Tensor&>(x)), "relu_"); },
        py::arg("input"));
  def_op(m, cls, "gelu", [](T x, const std::string& approximate) { return gelu(x, approximate); },
         "GELU: exact (erf) or approximate='tanh'.", py::kw_only(), py::arg("approximate") = "none");
  def_op(m, cls, "elu", [](T x, double alpha) { return elu(x, alpha); }, "ELU.", py::arg("alpha") = 1.0);
  def_op(m, cls, "leaky_relu", [](T x, double s) { return leaky_relu(x, s); }, "Leaky ReLU.",
         py::arg("negative_slope") = 0.01);

  auto clamp_f = [](T x, std::optional<double> lo, std::optional<double> hi) {
    SS_CHECK(lo || hi, ValueError, "clamp: at least one of 'min' or 'max' must not be None");
    return clamp(x, lo, hi);
  };
  def_op(m, cls, "clamp", clamp_f, "Limit values to [min, max].", py::arg("min") = py::none(),
         py::arg("max") = py::none());
  def_op(m, cls, "clip", clamp_f, "Alias of clamp.", py::arg("min") = py::none(), py::arg("max") = py::none());
  cls.def("clamp_", inplace_of<std::optional<double>, std::optional<double>>("clamp_", [clamp_f](T x, auto lo, auto hi) {
            return clamp_f(self_for_inplace(x), lo, hi);  // clamp saves its input
          }), "In-place clamp.",
          py::arg("min") = py::none(), py::arg("max") = py::none());
  def_op(m, cls, "clamp_min", [](T x, double lo) { return clamp(x, lo, std::nullopt); }, "max(input, min)",
         py::arg("min"));
  def_op(m, cls, "clamp_max", [](T x, double hi) { return clamp(x, std::nullopt, hi); }, "min(input, max)",
         py::arg("max"));

  // ---- selection ------------------------------------------------------------------------------
  m.def("where", [](T cond, py::handle a, py::handle b) {
    return where(cond, to_tensor(a, "where"), to_tensor(b, "where"));
  }, "Elementwise cond ? input : other.", py::arg("condition"), py::arg("input"), py::arg("other"));
  cls.def("where", [](T self, T cond, py::handle other) { return where(cond, self, to_tensor(other, "where")); },
          "where(condition, self, other)", py::arg("condition"), py::arg("other"));
  auto masked_fill_f = [](T x, T mask, py::handle value) { return masked_fill(x, mask, to_scalar(value, "masked_fill")); };
  def_op(m, cls, "masked_fill", masked_fill_f, "Fill positions where mask is True.", py::arg("mask"), py::arg("value"));
  cls.def("masked_fill_", inplace_of<const Tensor&, py::handle>("masked_fill_", masked_fill_f), "In-place masked_fill.",
          py::arg("mask"), py::arg("value"));

  def_op(m, cls, "allclose", [](T a, T b, double rtol, double atol) { return allclose(a, b, rtol, atol); },
         "|input - other| <= atol + rtol * |other| everywhere.", py::arg("other"), py::arg("rtol") = 1e-5,
         py::arg("atol") = 1e-8);
  def_op(m, cls, "equal", [](T a, T b) { return equal(a, b); }, "Same shape and same values.", py::arg("other"));

  // ---- fills --------------------------------------------------------------------------------------------
  cls.def("zero_", [](py::object self) {
        py::cast<Tensor&>(self).zero_();
        return self;
      }, "Fill with zeros.")
      .def("fill_", [](py::object self, py::handle v) {
        py::cast<Tensor&>(self).fill_(to_scalar(v, "fill_"));
        return self;
      }, "Fill with a value.", py::arg("value"));
}

}  // namespace shanshui::python
