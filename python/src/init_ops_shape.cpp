// Views and shape ops (core/ops/view_ops.h) and matrix products
// (core/ops/linalg.h). Methods take sizes torch-style: x.view(2, 3) or x.view((2, 3)).
#include "bindings.h"

namespace shanshui::python {

namespace {

using T = const Tensor&;

py::tuple to_tuple(const std::vector<Tensor>& ts) {
  py::tuple out(ts.size());
  for (size_t i = 0; i < ts.size(); ++i) out[i] = py::cast(ts[i]);
  return out;
}

std::vector<Tensor> to_tensors(py::handle seq, const char* op) {
  SS_CHECK(PySequence_Check(seq.ptr()) && !py::isinstance<Tensor>(seq), TypeError, op,
           ": expected a sequence of tensors (list or tuple), got ",
           type_name(seq));
  std::vector<Tensor> out;
  for (py::handle e : py::reinterpret_borrow<py::sequence>(seq)) {
    SS_CHECK(py::isinstance<Tensor>(e), TypeError, op, ": expected a sequence of tensors, but element ", out.size(),
             " is ", type_name(e));
    out.push_back(py::cast<Tensor>(e));
  }
  return out;
}

Tensor squeeze_dims(T x, py::handle dim) {
  if (dim.is_none()) return squeeze(x);
  std::vector<int64_t> dims = to_dims(dim, "squeeze");
  if (PyLong_Check(dim.ptr())) return squeeze(x, dims[0]);
  // Several dims: squeeze from the highest down so the lower dims keep their positions.
  dims = wrap_dims(dims, x.dim() == 0 ? 1 : x.dim(), "squeeze");
  Tensor r = x;
  for (auto it = dims.rbegin(); it != dims.rend(); ++it) r = squeeze(r, *it);
  return r;
}

std::vector<Tensor> split_any(T x, py::handle sizes, int64_t dim) {
  if (PyLong_Check(sizes.ptr())) return split(x, py::cast<int64_t>(sizes), dim);
  return split(x, to_shape(sizes, "split"), dim);
}

}  // namespace

void init_ops_shape(py::module_& m) {
  TensorClass cls = tensor_class(m);

  // ---- views with torch-style size arguments ------------------------------------------------
  cls.def("view", [](T x, py::args s) { return view(x, shape_args(s, "view")); }, "A view with a new shape.")
      .def("reshape", [](T x, py::args s) { return reshape(x, shape_args(s, "reshape")); },
           "A view when the strides allow, else a copy.")
      .def("permute", [](T x, py::args d) { return permute(x, shape_args(d, "permute")); }, "Reorder the dims.")
      .def("expand", [](T x, py::args s) { return expand(x, shape_args(s, "expand")); },
           "Broadcast to a larger shape without copying (-1 keeps a size).")
      .def("repeat", [](T x, py::args s) { return repeat(x, shape_args(s, "repeat")); }, "Tile the tensor.")
      .def("view_as", [](T x, T o) { return view(x, o.shape()); }, py::arg("other"))
      .def("reshape_as", [](T x, T o) { return reshape(x, o.shape()); }, py::arg("other"))
      .def("expand_as", [](T x, T o) { return expand(x, o.shape()); }, py::arg("other"))
      .def("t", [](T x) { return x.t(); }, "Transpose of a tensor with at most 2 dims.")
      .def_property_readonly("T", [](T x) { return x.T(); }, "All dims reversed.")
      .def_property_readonly("mT", [](T x) { return x.mT(); }, "The last two dims swapped.");
  m.def("reshape", [](T x, py::handle s) { return reshape(x, to_shape(s, "reshape")); }, "A view or copy with a new shape.",
        py::arg("input"), py::arg("shape"));
  m.def("permute", [](T x, py::handle d) { return permute(x, to_shape(d, "permute")); }, "Reorder the dims.",
        py::arg("input"), py::arg("dims"));
  m.def("broadcast_to", [](T x, py::handle s) { return broadcast_to(x, to_shape(s, "broadcast_to")); },
        "Broadcast to shape (a view).", py::arg("input"), py::arg("size"));
  cls.def("broadcast_to", [](T x, py::handle s) { return broadcast_to(x, to_shape(s, "broadcast_to")); },
          py::arg("size"));
  m.def("t", [](T x) { return x.t(); }, py::arg("input"));

  def_op(m, cls, "flatten", [](T x, int64_t s, int64_t e) { return flatten(x, s, e); }, "Merge dims start_dim..end_dim.",
         py::arg("start_dim") = 0, py::arg("end_dim") = -1);
  def_op(m, cls, "unflatten", [](T x, int64_t d, py::handle sizes) { return unflatten(x, d, to_shape(sizes, "unflatten")); },
         "Split one dim into sizes.", py::arg("dim"), py::arg("sizes"));
  def_op(m, cls, "transpose", [](T x, int64_t a, int64_t b) { return transpose(x, a, b); }, "Swap two dims (a view).",
         py::arg("dim0"), py::arg("dim1"));
  def_op(m, cls, "swapaxes", [](T x, int64_t a, int64_t b) { return transpose(x, a, b); }, "Alias of transpose.",
         py::arg("axis0"), py::arg("axis1"));
  def_op(m, cls, "squeeze", &squeeze_dims, "Remove size-1 dims (all, or the given ones).", py::arg("dim") = py::none());
  def_op(m, cls, "unsqueeze", [](T x, int64_t d) { return unsqueeze(x, d); }, "Insert a size-1 dim.", py::arg("dim"));
  def_op(m, cls, "narrow", [](T x, int64_t d, int64_t s, int64_t l) { return narrow(x, d, s, l); },
         "input[..., start:start+length, ...] along dim (a view).", py::arg("dim"), py::arg("start"), py::arg("length"));
  def_op(m, cls, "select", [](T x, int64_t d, int64_t i) { return select(x, d, i); }, "input[..., index, ...] along dim.",
         py::arg("dim"), py::arg("index"));
  def_op(m, cls, "diagonal", [](T x, int64_t o, int64_t a, int64_t b) { return diagonal(x, o, a, b); },
         "The diagonal of dims (dim1, dim2), appended as the last dim (a view).", py::arg("offset") = 0,
         py::arg("dim1") = 0, py::arg("dim2") = 1);
  def_op(m, cls, "split", [](T x, py::handle s, int64_t d) { return to_tuple(split_any(x, s, d)); },
         "Pieces of split_size (int) or of the given sizes (list) along dim.", py::arg("split_size_or_sections"),
         py::arg("dim") = 0);
  def_op(m, cls, "chunk", [](T x, int64_t c, int64_t d) { return to_tuple(chunk(x, c, d)); },
         "Split into `chunks` nearly equal pieces along dim.", py::arg("chunks"), py::arg("dim") = 0);
  def_op(m, cls, "unbind", [](T x, int64_t d) { return to_tuple(unbind(x, d)); }, "The slices along dim.",
         py::arg("dim") = 0);
  def_op(m, cls, "tril", [](T x, int64_t k) { return tril(x, k); }, "Lower triangle (others zero).",
         py::arg("diagonal") = 0);
  def_op(m, cls, "triu", [](T x, int64_t k) { return triu(x, k); }, "Upper triangle (others zero).",
         py::arg("diagonal") = 0);

  auto cat_f = [](py::handle xs, int64_t d) { return cat(to_tensors(xs, "cat"), d); };
  m.def("cat", cat_f, "Concatenate along an existing dim.", py::arg("tensors"), py::arg("dim") = 0);
  m.def("concat", cat_f, "Alias of cat.", py::arg("tensors"), py::arg("dim") = 0);
  m.def("concatenate", cat_f, "Alias of cat.", py::arg("tensors"), py::arg("dim") = 0);
  m.def("stack", [](py::handle xs, int64_t d) { return stack(to_tensors(xs, "stack"), d); },
        "Join along a new dim.", py::arg("tensors"), py::arg("dim") = 0);

  // ---- matrix products -------------------------------------------------------------------------
  def_op(m, cls, "matmul", [](T a, T b) { return matmul(a, b); }, "Matrix product with broadcast batch dims.",
         py::arg("other"));
  def_op(m, cls, "mm", [](T a, T b) { return mm(a, b); }, "2-D matrix product.", py::arg("mat2"));
  def_op(m, cls, "bmm", [](T a, T b) { return bmm(a, b); }, "Batched 3-D matrix product.", py::arg("mat2"));
  m.def("linear", [](T x, T w, std::optional<Tensor> b) { return linear(x, w, b ? *b : Tensor()); },
        "x @ weight.T + bias (nn.functional.linear).", py::arg("input"), py::arg("weight"), py::arg("bias") = py::none());
}

}  // namespace shanshui::python
