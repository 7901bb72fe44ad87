// More elementwise math (core/ops/elementwise_math.cpp): rounding, transcendental
// unary ops, atan2/fmod/hypot/logaddexp/xlogy, lerp/addcmul/addcdiv/addmm, logit,
// nan_to_num and the bitwise ops, as shanshui.<op>, Tensor.<op> and Tensor.<op>_().
#include <deque>

#include "bindings.h"

namespace shanshui::python {

namespace {

using T = const Tensor&;

// Stable storage for the names the in-place closures keep.
const char* keep_name(const std::string& s) {
  static std::deque<std::string> names;
  names.push_back(s);
  return names.back().c_str();
}

// Two operands, either of which may be a Python number (wrapped as a 0-d tensor of the
// dtype the number takes next to the other operand).
std::pair<Tensor, Tensor> operands(py::handle a, py::handle b, const char* op) {
  if (py::isinstance<Tensor>(a)) {
    const Tensor& x = py::cast<const Tensor&>(a);
    return {x, to_tensor_like(b, x, op)};
  }
  Tensor y = to_tensor(b, op);
  return {to_tensor_like(a, y, op), y};
}

}  // namespace

void init_ops_math(py::module_& m) {
  TensorClass cls = tensor_class(m);

  // ---- unary ---------------------------------------------------------------------------
  struct Unary {
    const char* name;
    const char* doc;
    Tensor (*f)(const Tensor&);
  };
  static const Unary unaries[] = {
      {"floor", "Largest integer <= input.", [](T x) { return floor(x); }},
      {"ceil", "Smallest integer >= input.", [](T x) { return ceil(x); }},
      {"trunc", "Round toward zero.", [](T x) { return trunc(x); }},
      {"fix", "Alias of trunc.", [](T x) { return trunc(x); }},
      {"frac", "input - trunc(input).", [](T x) { return frac(x); }},
      {"log1p", "log(1 + input).", [](T x) { return log1p(x); }},
      {"expm1", "exp(input) - 1.", [](T x) { return expm1(x); }},
      {"log2", "Base-2 logarithm.", [](T x) { return log2(x); }},
      {"log10", "Base-10 logarithm.", [](T x) { return log10(x); }},
      {"tan", "Tangent.", [](T x) { return tan(x); }},
      {"atan", "Arctangent.", [](T x) { return atan(x); }},
      {"arctan", "Alias of atan.", [](T x) { return atan(x); }},
      {"asin", "Arcsine.", [](T x) { return asin(x); }},
      {"arcsin", "Alias of asin.", [](T x) { return asin(x); }},
      {"acos", "Arccosine.", [](T x) { return acos(x); }},
      {"arccos", "Alias of acos.", [](T x) { return acos(x); }},
      {"sinh", "Hyperbolic sine.", [](T x) { return sinh(x); }},
      {"cosh", "Hyperbolic cosine.", [](T x) { return cosh(x); }},
      {"asinh", "Inverse hyperbolic sine.", [](T x) { return asinh(x); }},
      {"arcsinh", "Alias of asinh.", [](T x) { return asinh(x); }},
      {"acosh", "Inverse hyperbolic cosine.", [](T x) { return acosh(x); }},
      {"arccosh", "Alias of acosh.", [](T x) { return acosh(x); }},
      {"atanh", "Inverse hyperbolic tangent.", [](T x) { return atanh(x); }},
      {"arctanh", "Alias of atanh.", [](T x) { return atanh(x); }},
      {"erf", "Error function.", [](T x) { return erf(x); }},
      {"erfc", "1 - erf(input).", [](T x) { return erfc(x); }},
      {"erfinv", "Inverse error function.", [](T x) { return erfinv(x); }},
      {"bitwise_not", "Bitwise not (int64 and bool).", [](T x) { return bitwise_not(x); }},
  };
  for (const Unary& u : unaries) {
    auto f = u.f;
    m.def(u.name, f, u.doc, py::arg("input"));
    cls.def(u.name, f, u.doc);
    const char* iname = keep_name(std::string(u.name) + "_");
    cls.def(iname, [iname, f](py::object self) {
      return assign_inplace(self, f(self_for_inplace(py::cast<const Tensor&>(self))), iname);
    }, "In-place variant.");
  }

  auto round_f = [](T x, int64_t decimals) { return round(x, decimals); };
  def_op(m, cls, "round", round_f, "Round half to even, to `decimals` decimal places.", py::kw_only(),
         py::arg("decimals") = 0);
  cls.def("round_", [round_f](py::object self, int64_t decimals) {
    return assign_inplace(self, round_f(py::cast<const Tensor&>(self), decimals), "round_");
  }, "In-place round.", py::kw_only(), py::arg("decimals") = 0);

  auto logit_f = [](T x, std::optional<double> eps) { return logit(x, eps); };
  def_op(m, cls, "logit", logit_f, "log(p / (1 - p)), p clamped to [eps, 1 - eps] when eps is given.",
         py::arg("eps") = py::none());
  cls.def("logit_", [logit_f](py::object self, std::optional<double> eps) {
    return assign_inplace(self, logit_f(self_for_inplace(py::cast<const Tensor&>(self)), eps), "logit_");
  }, "In-place logit.", py::arg("eps") = py::none());

  auto nan_to_num_f = [](T x, std::optional<double> nan, std::optional<double> posinf, std::optional<double> neginf) {
    return nan_to_num(x, nan ? *nan : 0.0, posinf, neginf);
  };
  def_op(m, cls, "nan_to_num", nan_to_num_f, "Replace NaN, +inf and -inf by finite values.", py::arg("nan") = 0.0,
         py::arg("posinf") = py::none(), py::arg("neginf") = py::none());
  cls.def("nan_to_num_", [nan_to_num_f](py::object self, std::optional<double> nan, std::optional<double> posinf,
                                        std::optional<double> neginf) {
    return assign_inplace(self, nan_to_num_f(self_for_inplace(py::cast<const Tensor&>(self)), nan, posinf, neginf),
                          "nan_to_num_");
  }, "In-place nan_to_num.", py::arg("nan") = 0.0, py::arg("posinf") = py::none(), py::arg("neginf") = py::none());

  // ---- binary --------------------------------------------------------------------------------
  struct Binary {
    const char* name;
    const char* doc;
    Tensor (*f)(const Tensor&, const Tensor&);
    bool inplace;
  };
  static const Binary binaries[] = {
      {"atan2", "atan(input / other) in the right quadrant.", [](T a, T b) { return atan2(a, b); }, true},
      {"arctan2", "Alias of atan2.", [](T a, T b) { return atan2(a, b); }, true},
      {"fmod", "C fmod: remainder with the sign of the dividend.", [](T a, T b) { return fmod(a, b); }, true},
      {"hypot", "sqrt(input^2 + other^2).", [](T a, T b) { return hypot(a, b); }, true},
      {"logaddexp", "log(exp(input) + exp(other)).", [](T a, T b) { return logaddexp(a, b); }, false},
      {"xlogy", "input * log(other), 0 where input == 0.", [](T a, T b) { return xlogy(a, b); }, true},
      {"bitwise_and", "Bitwise and (int64 and bool).", [](T a, T b) { return bitwise_and(a, b); }, true},
      {"bitwise_or", "Bitwise or (int64 and bool).", [](T a, T b) { return bitwise_or(a, b); }, true},
      {"bitwise_xor", "Bitwise xor (int64 and bool).", [](T a, T b) { return bitwise_xor(a, b); }, true},
      {"bitwise_left_shift", "input << other (int64).", [](T a, T b) { return bitwise_left_shift(a, b); }, true},
      {"bitwise_right_shift", "input >> other (int64).", [](T a, T b) { return bitwise_right_shift(a, b); }, true},
  };
  for (const Binary& b : binaries) {
    auto tf = b.f;
    const char* name = b.name;
    // The first operand may be a Python number too (torch.xlogy(2, t)).
    m.def(name, [tf, name](py::handle a, py::handle o) {
      auto [x, y] = operands(a, o, name);
      return tf(x, y);
    }, b.doc, py::arg("input"), py::arg("other"));
    cls.def(name, [tf, name](T a, py::handle o) { return tf(a, to_tensor_like(o, a, name)); }, b.doc, py::arg("other"));
    if (!b.inplace) continue;
    const char* iname = keep_name(std::string(name) + "_");
    cls.def(iname, [tf, iname](py::object self, py::handle o) {
      const Tensor& s = py::cast<const Tensor&>(self);
      return assign_inplace(self, tf(self_for_inplace(s, o), to_tensor_like(o, s, iname)), iname);
    }, "In-place variant.", py::arg("other"));
  }

  // lerp(start, end, weight): weight a number or a tensor.
  auto lerp_f = [](T s, T e, py::handle w) {
    if (py::isinstance<Tensor>(w)) return lerp(s, e, py::cast<const Tensor&>(w));
    return lerp(s, e, to_scalar(w, "lerp").v);
  };
  def_op(m, cls, "lerp", lerp_f, "input + weight * (end - input).", py::arg("end"), py::arg("weight"));
  cls.def("lerp_", [lerp_f](py::object self, T e, py::handle w) {
    return assign_inplace(self, lerp_f(self_for_inplace(py::cast<const Tensor&>(self)), e, w), "lerp_");
  }, "In-place lerp.", py::arg("end"), py::arg("weight"));

  auto addcmul_f = [](T x, T a, T b, py::handle v) { return addcmul(x, a, b, to_scalar(v, "addcmul")); };
  auto addcdiv_f = [](T x, T a, T b, py::handle v) { return addcdiv(x, a, b, to_scalar(v, "addcdiv")); };
  def_op(m, cls, "addcmul", addcmul_f, "input + value * tensor1 * tensor2.", py::arg("tensor1"), py::arg("tensor2"),
         py::kw_only(), py::arg("value") = 1);
  def_op(m, cls, "addcdiv", addcdiv_f, "input + value * tensor1 / tensor2.", py::arg("tensor1"), py::arg("tensor2"),
         py::kw_only(), py::arg("value") = 1);
  cls.def("addcmul_", [addcmul_f](py::object self, T a, T b, py::handle v) {
    return assign_inplace(self, addcmul_f(py::cast<const Tensor&>(self), a, b, v), "addcmul_");
  }, "In-place addcmul.", py::arg("tensor1"), py::arg("tensor2"), py::kw_only(), py::arg("value") = 1);
  cls.def("addcdiv_", [addcdiv_f](py::object self, T a, T b, py::handle v) {
    return assign_inplace(self, addcdiv_f(py::cast<const Tensor&>(self), a, b, v), "addcdiv_");
  }, "In-place addcdiv.", py::arg("tensor1"), py::arg("tensor2"), py::kw_only(), py::arg("value") = 1);

  auto addmm_f = [](T x, T a, T b, py::handle beta, py::handle alpha) {
    return addmm(x, a, b, to_scalar(beta, "addmm"), to_scalar(alpha, "addmm"));
  };
  def_op(m, cls, "addmm", addmm_f, "beta * input + alpha * (mat1 @ mat2).", py::arg("mat1"), py::arg("mat2"),
         py::kw_only(), py::arg("beta") = 1, py::arg("alpha") = 1);
}

}  // namespace shanshui::python
