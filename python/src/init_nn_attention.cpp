// The attention family: the modules (init_nn_transformer.cpp) and, in
// shanshui._C.nn.functional (re-exported as shanshui.nn.functional): scaled_dot_product_attention under torch's
// signature, the variant that also returns the attention weights, and the
// two implementations (math and flash) for tests and benchmarks.
#include "nn/functional.h"
#include "nn_bindings.h"

namespace shanshui::python {

namespace {

using OptT = std::optional<Tensor>;
namespace F = nn::functional;

Tensor opt(const OptT& t) { return t ? *t : Tensor(); }

}  // namespace

void init_nn_transformer(py::module_& m);  // the modules, in init_nn_transformer.cpp

void init_nn_attention(py::module_& m) {
  init_nn_transformer(m);
  py::module_ f = functional_submodule(m);
  auto none = py::none();
  f.def("scaled_dot_product_attention",
        [](const Tensor& q, const Tensor& k, const Tensor& v, const OptT& mask, double p, bool causal,
           std::optional<double> scale, bool gqa) {
          return F::scaled_dot_product_attention(q, k, v, opt(mask), p, causal, scale, gqa);
        },
        "softmax(query @ key^T * scale + attn_mask) @ value, as torch.nn.functional.scaled_dot_product_attention.\n"
        "attn_mask: bool (True = attend) or float (added to the scores), broadcast to [..., L, S].\n"
        "Runs a fused flash-style kernel when dropout_p == 0. A query whose keys are all masked gets zeros.",
        py::arg("query"), py::arg("key"), py::arg("value"), py::arg("attn_mask") = none, py::arg("dropout_p") = 0.0,
        py::arg("is_causal") = false, py::kw_only(), py::arg("scale") = none, py::arg("enable_gqa") = false);
  f.def("scaled_dot_product_attention_with_weights",
        [](const Tensor& q, const Tensor& k, const Tensor& v, const OptT& mask, double p, bool causal,
           std::optional<double> scale, bool gqa) {
          auto [o, w] = F::scaled_dot_product_attention_with_weights(q, k, v, opt(mask), p, causal, scale, gqa);
          return py::make_tuple(o, w);
        },
        "(output, attention weights [..., L, S]) through the composite path, for inspection and heatmaps.",
        py::arg("query"), py::arg("key"), py::arg("value"), py::arg("attn_mask") = none, py::arg("dropout_p") = 0.0,
        py::arg("is_causal") = false, py::kw_only(), py::arg("scale") = none, py::arg("enable_gqa") = false);
  f.def("_scaled_dot_product_attention_math",
        [](const Tensor& q, const Tensor& k, const Tensor& v, const OptT& mask, double p, bool causal,
           std::optional<double> scale, bool gqa) {
          return F::scaled_dot_product_attention_math(q, k, v, opt(mask), p, causal, scale, gqa);
        },
        "The composite (matmul, softmax, matmul) path of scaled_dot_product_attention.", py::arg("query"),
        py::arg("key"), py::arg("value"), py::arg("attn_mask") = none, py::arg("dropout_p") = 0.0,
        py::arg("is_causal") = false, py::kw_only(), py::arg("scale") = none, py::arg("enable_gqa") = false);
  f.def("_scaled_dot_product_flash_attention",
        [](const Tensor& q, const Tensor& k, const Tensor& v, const OptT& mask, bool causal,
           std::optional<double> scale, bool gqa) {
          return F::scaled_dot_product_attention_flash(q, k, v, opt(mask), causal, scale, gqa);
        },
        "The fused flash-style kernel of scaled_dot_product_attention (no dropout).", py::arg("query"),
        py::arg("key"), py::arg("value"), py::arg("attn_mask") = none, py::arg("is_causal") = false, py::kw_only(),
        py::arg("scale") = none, py::arg("enable_gqa") = false);
}

}  // namespace shanshui::python
