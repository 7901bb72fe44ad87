// Reductions (core/ops/reduce.h) with PyTorch's Python signatures: dim is
// None / an int / a tuple, keepdim, dtype; max/min with a dim return a
// (values, indices) named tuple.
#include "bindings.h"

namespace shanshui::python {

namespace {

using T = const Tensor&;

Tensor cast_opt(T x, const std::optional<DType>& dt) { return dt ? x.to(*dt) : x; }

std::optional<int64_t> one_dim(py::handle dim, const char* op) {
  if (dim.is_none()) return std::nullopt;
  auto d = to_dims(dim, op);
  SS_CHECK(d.size() == 1, TypeError, op, ": dim must be a single int (got ", d.size(), " dims)");
  return d[0];
}

// (values, indices) like torch.return_types.max.
py::object values_indices(const char* name, std::pair<Tensor, Tensor> r) {
  static py::object* types = nullptr;
  if (!types) types = new py::object(py::dict());  // name -> namedtuple type, kept for the process lifetime
  py::dict d = py::reinterpret_borrow<py::dict>(*types);
  if (!d.contains(name)) {
    py::object nt = py::module_::import("collections").attr("namedtuple")(name, py::make_tuple("values", "indices"));
    nt.attr("__module__") = "shanshui.return_types";
    d[name] = nt;
  }
  return d[name](r.first, r.second);
}

// Reduction over dims of a boolean test: all / any with a dim.
Tensor all_any(T x, py::handle dim, bool keepdim, bool is_all, const char* op) {
  if (dim.is_none() && !keepdim) return is_all ? all(x) : any(x);
  Tensor nz = x.dtype() == DType::Bool ? x : ne(x, Scalar(0));
  Tensor counts = sum(is_all ? logical_not(nz) : nz, to_dims(dim, op), keepdim);
  return is_all ? eq(counts, Scalar(0)) : gt(counts, Scalar(0));
}

py::object max_min(T x, py::handle dim, bool keepdim, bool is_max) {
  const char* op = is_max ? "max" : "min";
  if (dim.is_none()) return py::cast(is_max ? max(x) : min(x));
  if (py::isinstance<Tensor>(dim))  // max(input, other): elementwise
    return py::cast(is_max ? maximum(x, py::cast<const Tensor&>(dim)) : minimum(x, py::cast<const Tensor&>(dim)));
  int64_t d = *one_dim(dim, op);
  return values_indices(op, is_max ? max(x, d, keepdim) : min(x, d, keepdim));
}

}  // namespace

void init_ops_reduce(py::module_& m) {
  TensorClass cls = tensor_class(m);
  auto none = py::none();

  def_op(m, cls, "sum", [](T x, py::handle dim, bool keepdim, std::optional<DType> dtype) {
    return sum(x, to_dims(dim, "sum"), keepdim, dtype);
  }, "Sum over dim (None: all dims).", py::arg("dim") = none, py::arg("keepdim") = false, py::kw_only(),
     py::arg("dtype") = none);
  def_op(m, cls, "mean", [](T x, py::handle dim, bool keepdim, std::optional<DType> dtype) {
    return mean(cast_opt(x, dtype), to_dims(dim, "mean"), keepdim);
  }, "Mean over dim (None: all dims).", py::arg("dim") = none, py::arg("keepdim") = false, py::kw_only(),
     py::arg("dtype") = none);
  def_op(m, cls, "prod", [](T x, py::handle dim, bool keepdim, std::optional<DType> dtype) {
    return prod(cast_opt(x, dtype), one_dim(dim, "prod"), keepdim);
  }, "Product over one dim (None: all elements).", py::arg("dim") = none, py::arg("keepdim") = false, py::kw_only(),
     py::arg("dtype") = none);

  auto var_like = [](bool is_std) {
    return [is_std](T x, py::handle dim, std::optional<bool> unbiased, bool keepdim, std::optional<int64_t> correction) {
      const char* op = is_std ? "std" : "var";
      SS_CHECK(!(unbiased && correction), TypeError, op, ": give either unbiased or correction, not both");
      int64_t c = correction ? *correction : (unbiased.value_or(true) ? 1 : 0);
      return is_std ? shanshui::std(x, to_dims(dim, op), c, keepdim) : var(x, to_dims(dim, op), c, keepdim);
    };
  };
  def_op(m, cls, "var", var_like(false), "Variance over dim (correction=1: unbiased).", py::arg("dim") = none,
         py::arg("unbiased") = none, py::arg("keepdim") = false, py::kw_only(), py::arg("correction") = none);
  def_op(m, cls, "std", var_like(true), "Standard deviation over dim (correction=1: unbiased).",
         py::arg("dim") = none, py::arg("unbiased") = none, py::arg("keepdim") = false, py::kw_only(),
         py::arg("correction") = none);
  def_op(m, cls, "logsumexp", [](T x, py::handle dim, bool keepdim) {
    return logsumexp(x, to_dims(dim, "logsumexp"), keepdim);
  }, "log(sum(exp(input))) over dim, computed stably.", py::arg("dim"), py::arg("keepdim") = false);
  def_op(m, cls, "amax", [](T x, py::handle dim, bool keepdim) { return amax(x, to_dims(dim, "amax"), keepdim); },
         "Maximum over dims (gradient split evenly between ties).", py::arg("dim") = py::tuple(),
         py::arg("keepdim") = false);
  def_op(m, cls, "amin", [](T x, py::handle dim, bool keepdim) { return amin(x, to_dims(dim, "amin"), keepdim); },
         "Minimum over dims (gradient split evenly between ties).", py::arg("dim") = py::tuple(),
         py::arg("keepdim") = false);
  def_op(m, cls, "max", [](T x, py::handle dim, bool keepdim) { return max_min(x, dim, keepdim, true); },
         "max(input): the maximum; max(input, dim, keepdim=False): (values, indices); max(input, other): maximum.",
         py::arg("dim") = none, py::arg("keepdim") = false);
  def_op(m, cls, "min", [](T x, py::handle dim, bool keepdim) { return max_min(x, dim, keepdim, false); },
         "min(input): the minimum; min(input, dim, keepdim=False): (values, indices); min(input, other): minimum.",
         py::arg("dim") = none, py::arg("keepdim") = false);
  def_op(m, cls, "argmax", [](T x, py::handle dim, bool keepdim) { return argmax(x, one_dim(dim, "argmax"), keepdim); },
         "Index of the maximum (flattened when dim is None).", py::arg("dim") = none, py::arg("keepdim") = false);
  def_op(m, cls, "argmin", [](T x, py::handle dim, bool keepdim) { return argmin(x, one_dim(dim, "argmin"), keepdim); },
         "Index of the minimum (flattened when dim is None).", py::arg("dim") = none, py::arg("keepdim") = false);
  def_op(m, cls, "softmax", [](T x, int64_t dim, std::optional<DType> dtype) { return softmax(cast_opt(x, dtype), dim); },
         "exp(x) / sum(exp(x)) along dim.", py::arg("dim"), py::arg("dtype") = none);
  def_op(m, cls, "log_softmax", [](T x, int64_t dim, std::optional<DType> dtype) {
    return log_softmax(cast_opt(x, dtype), dim);
  }, "x - logsumexp(x) along dim.", py::arg("dim"), py::arg("dtype") = none);
  def_op(m, cls, "cumsum", [](T x, int64_t dim, std::optional<DType> dtype) { return cumsum(cast_opt(x, dtype), dim); },
         "Cumulative sum along dim.", py::arg("dim"), py::kw_only(), py::arg("dtype") = none);
  def_op(m, cls, "all", [](T x, py::handle dim, bool keepdim) { return all_any(x, dim, keepdim, true, "all"); },
         "True if every element (along dim) is nonzero.", py::arg("dim") = none, py::arg("keepdim") = false);
  def_op(m, cls, "any", [](T x, py::handle dim, bool keepdim) { return all_any(x, dim, keepdim, false, "any"); },
         "True if some element (along dim) is nonzero.", py::arg("dim") = none, py::arg("keepdim") = false);
}

}  // namespace shanshui::python
