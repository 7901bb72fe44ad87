// shanshui._C._optim: the C++ optimizers (their fused update loops and
// per-parameter state), gradient clipping, the generator state and the
// safetensors reader/writer. The Python classes in python/shanshui/optim own
// the torch-shaped surface (param_groups as dicts, state_dict layout) and push
// each group's options here before every step, so edits to
// opt.param_groups[i]['lr'] take effect.
#include "autograd/grad_mode.h"
#include "bindings.h"
#include "core/ops/random.h"
#include "core/serialize.h"
#include "optim/optim.h"

namespace shanshui::python {

namespace {

using optim::Optimizer;
using optim::Options;
using optim::ParamGroup;

// Groups arrive from Python as [(params, {option: float}), ...].
using PyGroups = std::vector<std::pair<std::vector<Tensor>, Options>>;

std::vector<ParamGroup> to_groups(const PyGroups& g) {
  std::vector<ParamGroup> out;
  for (const auto& [params, options] : g) out.push_back({params, options});
  return out;
}

void init_optimizer_class(py::module_& o) {
  py::class_<Optimizer>(o, "Optimizer", "C++ optimizer core (see shanshui.optim.Optimizer for the Python API).")
      .def("step", &Optimizer::step, "Update every parameter that has a gradient (under no-grad).")
      .def("zero_grad", &Optimizer::zero_grad, py::arg("set_to_none") = true)
      .def_property_readonly("num_groups", [](Optimizer& opt) { return opt.param_groups().size(); })
      .def("sync_group", [](Optimizer& opt, size_t i, const std::vector<Tensor>& params, const Options& options) {
        auto& groups = opt.param_groups();
        SS_CHECK(i <= groups.size(), IndexError, opt.name(), ": parameter group ", i, " out of range (",
                 groups.size(), " groups)");
        if (i == groups.size()) {
          opt.add_param_group({params, options});  // validates: leaves, floating point, no duplicates
          return;
        }
        groups[i].params = params;
        groups[i].options = options;
      }, py::arg("index"), py::arg("params"), py::arg("options"),
           "Set group `index`'s parameters and options (index == number of groups appends a group).")
      .def("get_state", [](const Optimizer& opt, const Tensor& p) -> py::object {
        const optim::ParamState* st = opt.find_state(p);
        if (!st) return py::none();
        py::dict tensors;
        for (const auto& [k, t] : st->tensors)
          if (t.defined()) tensors[py::str(k)] = t;  // the live buffers
        return py::make_tuple(st->step, tensors);
      }, py::arg("param"), "(step, {name: tensor}) of a parameter, or None before its first update.")
      .def("set_state", [](Optimizer& opt, const Tensor& p, int64_t step, const std::map<std::string, Tensor>& t) {
        optim::ParamState& st = opt.state(p);
        st.step = step;
        st.tensors.clear();
        for (const auto& [k, v] : t) {
          SS_CHECK(v.shape() == p.shape(), ValueError, opt.name(), ".load_state_dict: state '", k, "' has shape ",
                   v.shape(), " but its parameter has shape ", p.shape());
          autograd::NoGradGuard ng;
          st.tensors[k] = v.detach().to(p.dtype()).contiguous().clone();
        }
      }, py::arg("param"), py::arg("step"), py::arg("tensors"))
      .def("clear_state", &Optimizer::clear_state);

  o.def("SGD", [](const PyGroups& g) -> std::unique_ptr<Optimizer> {
    return std::make_unique<optim::SGD>(to_groups(g), optim::SGDOptions{});
  }, py::arg("groups"));
  o.def("Adam", [](const PyGroups& g, bool decoupled) -> std::unique_ptr<Optimizer> {
    if (decoupled) return std::make_unique<optim::AdamW>(to_groups(g), optim::AdamWOptions{});
    return std::make_unique<optim::Adam>(to_groups(g), optim::AdamOptions{});
  }, py::arg("groups"), py::arg("decoupled") = false);
  o.def("RMSprop", [](const PyGroups& g) -> std::unique_ptr<Optimizer> {
    return std::make_unique<optim::RMSprop>(to_groups(g), optim::RMSpropOptions{});
  }, py::arg("groups"));
}

void init_clip(py::module_& o) {
  o.def("clip_grad_norm_", &optim::clip_grad_norm_, py::arg("parameters"), py::arg("max_norm"),
        py::arg("norm_type") = 2.0, py::arg("error_if_nonfinite") = false,
        "Scale the gradients so their total norm is at most max_norm; returns the total norm.");
  o.def("clip_grad_value_", &optim::clip_grad_value_, py::arg("parameters"), py::arg("clip_value"),
        "Clamp every gradient to [-clip_value, clip_value] in place.");
}

void init_rng_state(py::module_& m) {
  // The whole generator state is (seed, Philox offset); torch returns a uint8
  // tensor, shanshui (which has no uint8) an int64 tensor of those two words.
  m.def("get_rng_state", [] {
    auto s = default_generator().get_state();
    Tensor t = empty({2}, DType::Int64);
    int64_t* d = t.data_ptr<int64_t>();
    d[0] = int64_t(s[0]);
    d[1] = int64_t(s[1]);
    return t;
  }, "The default generator's state as an int64 tensor [seed, offset] (torch.get_rng_state).");
  m.def("set_rng_state", [](const Tensor& t) {
    SS_CHECK(t.dtype() == DType::Int64 && t.dim() == 1 && t.numel() == 2, ValueError,
             "set_rng_state: expected the int64 tensor of shape [2] that get_rng_state returns, got ",
             dtype_name(t.dtype()), " tensor of shape ", t.shape());
    Tensor c = t.contiguous();
    const int64_t* d = c.data_ptr<int64_t>();
    default_generator().set_state({uint64_t(d[0]), uint64_t(d[1])});
  }, py::arg("new_state"), "Restore a state from get_rng_state (torch.set_rng_state).");
}

void init_safetensors(py::module_& m) {
  m.def("_save_safetensors", [](const std::vector<std::pair<std::string, Tensor>>& tensors, const std::string& path,
                                const std::map<std::string, std::string>& metadata) {
    py::gil_scoped_release nogil;
    save_safetensors(tensors, path, metadata);
  }, py::arg("tensors"), py::arg("path"), py::arg("metadata"));
  m.def("_load_safetensors", [](const std::string& path) {
    py::gil_scoped_release nogil;
    return load_safetensors_ordered(path);
  }, py::arg("path"));
  m.def("_load_safetensors_metadata", &load_safetensors_metadata, py::arg("path"));
}

}  // namespace

void init_optim(py::module_& m) {
  py::module_ o = m.def_submodule("_optim", "C++ optimizers and gradient clipping (used by shanshui.optim)");
  init_optimizer_class(o);
  init_clip(o);
  init_rng_state(m);
  init_safetensors(m);
}

}  // namespace shanshui::python
