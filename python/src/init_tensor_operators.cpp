// Python operators on Tensor. Each dispatches by hand on the other operand
// (Tensor, or a Python number which goes to the C++ Scalar overload so
// PyTorch's wrapped-number promotion applies), and returns NotImplemented for
// anything else so Python can try the reflected operator.
#include "bindings.h"

namespace shanshui::python {

namespace {

enum class Kind { Tensor, Scalar, Other };

Kind kind_of(py::handle o) {
  if (py::isinstance<Tensor>(o)) return Kind::Tensor;
  if (is_scalar(o)) return Kind::Scalar;
  return Kind::Other;
}

py::object not_implemented() { return py::reinterpret_borrow<py::object>(Py_NotImplemented); }

// A binary operator from a tensor-tensor and a tensor-scalar function.
template <class FT, class FS>
auto binary(const char* op, FT ft, FS fs) {
  return [op, ft, fs](const Tensor& self, py::handle other) -> py::object {
    switch (kind_of(other)) {
      case Kind::Tensor: return py::cast(ft(self, py::cast<const Tensor&>(other)));
      case Kind::Scalar: return py::cast(fs(self, to_scalar(other, op)));
      default: return not_implemented();
    }
  };
}

// An operator defined on tensors only: numbers are wrapped as 0-d tensors.
template <class FT>
auto binary_wrapped(const char* op, FT ft, bool reflected = false) {
  return [op, ft, reflected](const Tensor& self, py::handle other) -> py::object {
    if (kind_of(other) == Kind::Other) return not_implemented();
    Tensor o = to_tensor(other, op);
    return py::cast(reflected ? ft(o, self) : ft(self, o));
  };
}

// An in-place operator: compute out of place, write into self (version bump, history rebase).
template <class F>
auto inplace(const char* op, F f) {
  return [op, f](py::object self, py::handle other) -> py::object {
    if (kind_of(other) == Kind::Other) return not_implemented();
    const Tensor& s = py::cast<const Tensor&>(self);
    return assign_inplace(self, f(s, other), op);
  };
}

}  // namespace

void init_tensor_operators(py::module_& m) {
  TensorClass cls = tensor_class(m);
  using S = Scalar;
  using T = const Tensor&;

  // ---- arithmetic ------------------------------------------------------------------
  cls.def("__add__", binary("add", [](T a, T b) { return add(a, b); }, [](T a, S b) { return add(a, b); }))
      .def("__radd__", binary("add", [](T a, T b) { return add(b, a); }, [](T a, S b) { return add(a, b); }))
      .def("__sub__", binary("sub", [](T a, T b) { return sub(a, b); }, [](T a, S b) { return sub(a, b); }))
      .def("__rsub__", binary("rsub", [](T a, T b) { return sub(b, a); }, [](T a, S b) { return rsub(a, b); }))
      .def("__mul__", binary("mul", [](T a, T b) { return mul(a, b); }, [](T a, S b) { return mul(a, b); }))
      .def("__rmul__", binary("mul", [](T a, T b) { return mul(b, a); }, [](T a, S b) { return mul(a, b); }))
      .def("__truediv__", binary("div", [](T a, T b) { return div(a, b); }, [](T a, S b) { return div(a, b); }))
      .def("__rtruediv__", binary("div", [](T a, T b) { return div(b, a); }, [](T a, S b) { return rdiv(a, b); }))
      .def("__pow__", binary("pow", [](T a, T b) { return pow(a, b); }, [](T a, S b) { return pow(a, b); }))
      .def("__rpow__", binary("pow", [](T a, T b) { return pow(b, a); }, [](T a, S b) { return pow(b, a); }))
      .def("__floordiv__", binary("floor_divide", [](T a, T b) { return floor_divide(a, b); },
                                  [](T a, S b) { return floor_divide(a, scalar_tensor(b, result_type(a, b))); }))
      .def("__rfloordiv__", binary("floor_divide", [](T a, T b) { return floor_divide(b, a); },
                                   [](T a, S b) { return floor_divide(scalar_tensor(b, result_type(a, b)), a); }))
      .def("__mod__", binary("remainder", [](T a, T b) { return remainder(a, b); },
                             [](T a, S b) { return remainder(a, scalar_tensor(b, result_type(a, b))); }))
      .def("__rmod__", binary("remainder", [](T a, T b) { return remainder(b, a); },
                              [](T a, S b) { return remainder(scalar_tensor(b, result_type(a, b)), a); }))
      .def("__matmul__", [](T a, py::handle b) -> py::object {
        if (!py::isinstance<Tensor>(b)) return not_implemented();
        return py::cast(matmul(a, py::cast<const Tensor&>(b)));
      })
      .def("__neg__", [](T a) { return neg(a); })
      .def("__pos__", [](py::object self) { return self; })
      .def("__abs__", [](T a) { return abs(a); })
      .def("__invert__", [](T a) { return bitwise_not(a); })
      .def("__and__", binary_wrapped("__and__", [](T a, T b) { return bitwise_and(a, b); }))
      .def("__or__", binary_wrapped("__or__", [](T a, T b) { return bitwise_or(a, b); }))
      .def("__xor__", binary_wrapped("__xor__", [](T a, T b) { return bitwise_xor(a, b); }))
      .def("__rand__", binary_wrapped("__and__", [](T a, T b) { return bitwise_and(a, b); }, true))
      .def("__ror__", binary_wrapped("__or__", [](T a, T b) { return bitwise_or(a, b); }, true))
      .def("__rxor__", binary_wrapped("__xor__", [](T a, T b) { return bitwise_xor(a, b); }, true))
      .def("__lshift__", binary_wrapped("__lshift__", [](T a, T b) { return bitwise_left_shift(a, b); }))
      .def("__rshift__", binary_wrapped("__rshift__", [](T a, T b) { return bitwise_right_shift(a, b); }))
      .def("__rlshift__", binary_wrapped("__lshift__", [](T a, T b) { return bitwise_left_shift(a, b); }, true))
      .def("__rrshift__", binary_wrapped("__rshift__", [](T a, T b) { return bitwise_right_shift(a, b); }, true));

  // ---- comparisons (elementwise, bool results) --------------------------------------------
  cls.def("__eq__", binary("eq", [](T a, T b) { return eq(a, b); }, [](T a, S b) { return eq(a, b); }))
      .def("__ne__", binary("ne", [](T a, T b) { return ne(a, b); }, [](T a, S b) { return ne(a, b); }))
      .def("__lt__", binary("lt", [](T a, T b) { return lt(a, b); }, [](T a, S b) { return lt(a, b); }))
      .def("__le__", binary("le", [](T a, T b) { return le(a, b); }, [](T a, S b) { return le(a, b); }))
      .def("__gt__", binary("gt", [](T a, T b) { return gt(a, b); }, [](T a, S b) { return gt(a, b); }))
      .def("__ge__", binary("ge", [](T a, T b) { return ge(a, b); }, [](T a, S b) { return ge(a, b); }))
      // (__hash__ is defined in init_tensor.cpp, before __eq__, so tensors stay hashable by identity.)
      .def("__contains__", [](T a, py::handle v) {
        Tensor e = to_tensor(v, "__contains__");
        return any(eq(a, e)).item<bool>();
      });

  // ---- in-place operators ---------------------------------------------------------------------
  auto sc = [](py::handle o, const char* op) { return to_scalar(o, op); };
  cls.def("__iadd__", inplace("add_", [sc](T a, py::handle o) {
        return py::isinstance<Tensor>(o) ? add(a, py::cast<const Tensor&>(o)) : add(a, sc(o, "add_")); }))
      .def("__isub__", inplace("sub_", [sc](T a, py::handle o) {
        return py::isinstance<Tensor>(o) ? sub(a, py::cast<const Tensor&>(o)) : sub(a, sc(o, "sub_")); }))
      .def("__imul__", inplace("mul_", [sc](T a, py::handle o) {
        Tensor s = self_for_inplace(a, o);  // mul saves its input
        return py::isinstance<Tensor>(o) ? mul(s, py::cast<const Tensor&>(o)) : mul(s, sc(o, "mul_")); }))
      .def("__itruediv__", inplace("div_", [sc](T a, py::handle o) {
        return py::isinstance<Tensor>(o) ? div(a, py::cast<const Tensor&>(o)) : div(a, sc(o, "div_")); }))
      .def("__ipow__", inplace("pow_", [sc](T a, py::handle o) {
        Tensor s = self_for_inplace(a, o);  // pow saves its input
        return py::isinstance<Tensor>(o) ? pow(s, py::cast<const Tensor&>(o)) : pow(s, sc(o, "pow_")); }))
      .def("__imod__", inplace("remainder_", [](T a, py::handle o) {
        return remainder(self_for_inplace(a, o), to_tensor_like(o, a, "remainder_")); }))
      .def("__iand__", inplace("bitwise_and_", [](T a, py::handle o) { return bitwise_and(a, to_tensor(o, "__iand__")); }))
      .def("__ior__", inplace("bitwise_or_", [](T a, py::handle o) { return bitwise_or(a, to_tensor(o, "__ior__")); }))
      .def("__ixor__", inplace("bitwise_xor_", [](T a, py::handle o) { return bitwise_xor(a, to_tensor(o, "__ixor__")); }))
      .def("__ilshift__", inplace("bitwise_left_shift_", [](T a, py::handle o) {
        return bitwise_left_shift(a, to_tensor(o, "__ilshift__")); }))
      .def("__irshift__", inplace("bitwise_right_shift_", [](T a, py::handle o) {
        return bitwise_right_shift(a, to_tensor(o, "__irshift__")); }));
}

}  // namespace shanshui::python
