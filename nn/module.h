// nn::Module: the base of every layer. Keeps insertion-ordered named
// parameters, buffers and child modules with dotted names, train/eval mode,
// state_dict / load_state_dict with PyTorch's keys, and forward hooks.
// C++ layers derive from it; Python classes derive from its binding.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "nn/ordered_dict.h"

namespace shanshui::nn {

class Module;
using ModulePtr = std::shared_ptr<Module>;
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
using StateDict = NamedTensors;

struct LoadStateDictResult {
  std::vector<std::string> missing_keys;
  std::vector<std::string> unexpected_keys;
};

class Module : public std::enable_shared_from_this<Module> {
 public:
  explicit Module(std::string type_name = "Module") : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  const std::string& type_name() const { return type_name_; }
  // Python subclasses report their own class name (repr, error messages).
  void set_type_name(std::string n) { type_name_ = std::move(n); }

  // ---- registration --------------------------------------------------------
  // A parameter is a leaf tensor that requires grad (undefined = registered as None).
  Tensor& register_parameter(const std::string& name, Tensor t, bool requires_grad = true);
  Tensor& register_buffer(const std::string& name, Tensor t, bool persistent = true);
  ModulePtr register_module(const std::string& name, ModulePtr m);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    register_module(name, ModulePtr(m));
    return m;
  }

  // ---- access --------------------------------------------------------------
  bool has_parameter(const std::string& name) const { return params_.contains(name); }
  bool has_buffer(const std::string& name) const { return buffers_.contains(name); }
  bool has_module(const std::string& name) const { return children_.contains(name); }
  Tensor& parameter(const std::string& name) { return params_[name]; }
  Tensor& buffer(const std::string& name) { return buffers_[name]; }
  ModulePtr& child(const std::string& name) { return children_[name]; }
  // Every child name in order, including children registered as None.
  std::vector<std::string> child_names() const {
    std::vector<std::string> r;
    for (const auto& kv : children_) r.push_back(kv.first);
    return r;
  }
  void erase(const std::string& name);  // drop a parameter, buffer or child of that name
  bool is_persistent_buffer(const std::string& name) const;

  std::vector<Tensor> parameters(bool recurse = true) const;
  NamedTensors named_parameters(bool recurse = true, const std::string& prefix = "") const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  NamedTensors named_buffers(bool recurse = true, const std::string& prefix = "") const;
  std::vector<ModulePtr> children() const;
  std::vector<std::pair<std::string, ModulePtr>> named_children() const;
  // This module first, then its descendants (each once), with dotted names.
  std::vector<std::pair<std::string, ModulePtr>> named_modules(const std::string& prefix = "");
  std::vector<ModulePtr> modules();

  // ---- modes and utilities ---------------------------------------------------
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // This module only (PyTorch's `module.training = False`); train() recurses.
  void set_training_flag(bool on) { training_ = on; }
  void zero_grad(bool set_to_none = true);
  void apply(const std::function<void(Module&)>& fn);  // children first, then self, as PyTorch
  void requires_grad_(bool requires_grad = true);

  // ---- checkpoints -------------------------------------------------------------
  // Parameters and persistent buffers, dotted keys, tensors detached (sharing storage).
  StateDict state_dict(const std::string& prefix = "") const;
  // Copies values in place (so optimizers keep their references). A shape
  // mismatch throws naming the key and both shapes; with strict, missing or
  // unexpected keys throw too, listing all of them.
  LoadStateDictResult load_state_dict(const StateDict& sd, bool strict = true);

  // ---- forward hooks ------------------------------------------------------------
  // Called after forward with the module, its tensor inputs and tensor outputs.
  using ForwardHook = std::function<void(Module&, const std::vector<Tensor>&, const std::vector<Tensor>&)>;
  // A hook that may replace the outputs in place (PyTorch's hooks that return a
  // value); the Python bindings register Python hooks as these.
  using ReplacingForwardHook = std::function<void(Module&, const std::vector<Tensor>&, std::vector<Tensor>&)>;
  int register_forward_hook(ForwardHook hook);
  int register_replacing_forward_hook(ReplacingForwardHook hook);
  void remove_forward_hook(int handle);
  bool has_forward_hooks() const { return !forward_hooks_.empty(); }
  // Runs the hooks in registration order; returns the outputs, as replaced by the hooks.
  std::vector<Tensor> run_forward_hooks(const std::vector<Tensor>& inputs, std::vector<Tensor> outputs);

  // ---- forward ------------------------------------------------------------------
  // Single-tensor forward, overridden by layers that take one tensor (and by
  // Python subclasses through the bindings); Sequential chains these.
  virtual Tensor forward(const Tensor& input);
  // forward + forward hooks.
  Tensor operator()(const Tensor& input);

  // ---- printing --------------------------------------------------------------
  virtual std::string extra_repr() const { return ""; }
  std::string repr() const;

 protected:
  OrderedDict<Tensor> params_;
  OrderedDict<Tensor> buffers_;
  std::vector<std::string> non_persistent_;
  OrderedDict<ModulePtr> children_;
  bool training_ = true;

 private:
  std::string type_name_;
  std::vector<std::pair<int, ReplacingForwardHook>> forward_hooks_;
  int next_hook_id_ = 0;
};

}  // namespace shanshui::nn
