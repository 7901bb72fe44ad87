// The gather / scatter family (core/ops/index.h): gather, scatter_add,
// index_select, index_add, embedding, one_hot, nonzero.
#include "bindings.h"

namespace shanshui::python {

namespace {
using T = const Tensor&;
}  // namespace

void init_ops_index(py::module_& m) {
  TensorClass cls = tensor_class(m);

  def_op(m, cls, "gather", [](T x, int64_t d, T idx) { return gather(x, d, idx); },
         "out[i][j] = input[index[i][j]][j] (for dim 0).", py::arg("dim"), py::arg("index"));
  auto scatter_add_f = [](T x, int64_t d, T idx, T src) { return scatter_add(x, d, idx, src); };
  def_op(m, cls, "scatter_add", scatter_add_f, "out = input; out[index[i][j]][j] += src[i][j] (for dim 0).",
         py::arg("dim"), py::arg("index"), py::arg("src"));
  cls.def("scatter_add_", [scatter_add_f](py::object self, int64_t d, T idx, T src) {
    return assign_inplace(self, scatter_add_f(py::cast<const Tensor&>(self), d, idx, src), "scatter_add_");
  }, "In-place scatter_add.", py::arg("dim"), py::arg("index"), py::arg("src"));
  def_op(m, cls, "index_select", [](T x, int64_t d, T idx) { return index_select(x, d, idx); },
         "The entries of index along dim.", py::arg("dim"), py::arg("index"));
  auto index_add_f = [](T x, int64_t d, T idx, T src, py::handle alpha) {
    return index_add(x, d, idx, src, to_scalar(alpha, "index_add"));
  };
  def_op(m, cls, "index_add", index_add_f, "out = input; out.select(dim, index[i]) += alpha * source.select(dim, i).",
         py::arg("dim"), py::arg("index"), py::arg("source"), py::kw_only(), py::arg("alpha") = 1);
  cls.def("index_add_", [index_add_f](py::object self, int64_t d, T idx, T src, py::handle alpha) {
    return assign_inplace(self, index_add_f(py::cast<const Tensor&>(self), d, idx, src, alpha), "index_add_");
  }, "In-place index_add.", py::arg("dim"), py::arg("index"), py::arg("source"), py::kw_only(), py::arg("alpha") = 1);
  m.def("embedding", [](T weight, T indices, std::optional<int64_t> padding_idx) {
    return embedding(weight, indices, padding_idx);
  }, "Rows of weight [num_embeddings, dim] picked by int64 indices (torch.embedding argument order).",
        py::arg("weight"), py::arg("indices"), py::arg("padding_idx") = py::none());
  m.def("one_hot", [](T idx, int64_t n) { return one_hot(idx, n); }, "int64 one-hot encoding (num_classes=-1: max + 1).",
        py::arg("tensor"), py::arg("num_classes") = -1);
  def_op(m, cls, "nonzero", [](T x, bool as_tuple) -> py::object {
    Tensor nz = nonzero(x);
    if (!as_tuple) return py::cast(nz);
    py::tuple out(x.dim());
    for (int64_t d = 0; d < x.dim(); ++d) out[d] = py::cast(select(nz, 1, d));
    return out;
  }, "Indices of the nonzero elements, [n, ndim] (or one tensor per dim with as_tuple=True).", py::kw_only(),
         py::arg("as_tuple") = false);
}

}  // namespace shanshui::python
