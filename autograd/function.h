// Custom differentiable functions, as PyTorch's C++ frontend
// (torch::autograd::Function) and, type-erased, for the Python bindings.
//
//   struct MulConst : autograd::Function<MulConst> {
//     static Tensor forward(AutogradContext* ctx, Tensor x, double c) {
//       ctx->saved_data["c"] = c;
//       return x.mul(c);
//     }
//     static tensor_list backward(AutogradContext* ctx, tensor_list g) {
//       return {g[0].mul(ctx->saved_data["c"].toDouble()), Tensor()};  // one entry per forward argument
//     }
//   };
//   Tensor y = MulConst::apply(x, 2.0);
//
// forward runs under no-grad. When grad mode is on and some tensor argument
// requires grad, the outputs get one CustomNode as grad_fn whose backward calls
// T::backward with one gradient per output (zeros for outputs that received
// none, unless ctx->set_materialize_grads(false)) and expects one entry per
// forward argument (tensor_list arguments count once per element; non-tensor
// arguments must get an undefined Tensor; extra trailing undefined entries are
// ignored). Integer/bool outputs and those passed to mark_non_differentiable do
// not require grad. An input returned as an output becomes an alias with the new
// history, unless it was passed to mark_dirty (modified in place), in which case
// the input itself is rebased onto the node.
#pragma once
#include <memory>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/node.h"

namespace shanshui::autograd {

// ---- the type-erased node (used by Function<T> and the Python bindings) --------

struct CustomNodeOptions;

class CustomNode : public Node {
 public:
  // grad_outputs: one per forward output. Returns one gradient per forward
  // input tensor (undefined = no gradient); fewer entries mean undefined.
  using Backward = std::function<tensor_list(const tensor_list& grad_outputs)>;
  CustomNode(std::string name, Backward backward) : name_(std::move(name)), backward_(std::move(backward)) {}
  ~CustomNode() override;
  std::string name() const override { return name_; }
  tensor_list apply(tensor_list&& grads) override;
  // Frees the saved tensors; the backward closure stays, so a function that
  // saved nothing can run backward twice (as PyTorch).
  void release_saved() override;

  // The tensors given as `to_save`, unpacked: version-checked, outputs
  // re-attached to their history. Throws after a backward without retain_graph.
  tensor_list saved_tensors() const;
  // Whether input tensor i (in the order of `inputs`) needs a gradient.
  bool needs_input_grad(size_t i) const { return i < next_edges.size() && next_edges[i].fn != nullptr; }

 private:
  friend std::shared_ptr<CustomNode> make_custom_node(std::string, const tensor_list&, tensor_list&,
                                                      Backward, const CustomNodeOptions&);
  std::string name_;
  Backward backward_;
  std::vector<SavedTensor> saved_;
  bool released_ = false;
};

struct CustomNodeOptions {
  std::vector<bool> non_differentiable;  // per output; empty = all (floating) outputs differentiable
  std::vector<bool> dirty;               // per output: an input modified in place by forward (mark_dirty)
  tensor_list to_save;                   // save_for_backward (inputs, outputs or others; undefined allowed)
  bool materialize_grads = true;
};

// Attach a CustomNode named `name` to `outputs`, which the caller computed from
// `inputs` without recording history (under NoGradGuard). One edge per input
// (undefined inputs and those not requiring grad get no gradient). `outputs` is
// updated in place: differentiable outputs get the node as grad_fn (an output
// that is also an input is replaced by an alias, unless dirty). Returns null
// and leaves `outputs` untouched when grad mode is off or no input requires
// grad. Saved tensors are taken after the outputs are wired, so saving an
// output makes no reference cycle.
std::shared_ptr<CustomNode> make_custom_node(std::string name, const tensor_list& inputs, tensor_list& outputs,
                                             CustomNode::Backward backward, const CustomNodeOptions& options = {});

// ---- C++ frontend -------------------------------------------------------------

// A value kept in ctx->saved_data (PyTorch's IValue, reduced to what backward
// formulas need).
class IValue {
 public:
  IValue() = default;
  IValue(bool v) : v_(v) {}
  IValue(int v) : v_(int64_t(v)) {}
  IValue(long v) : v_(int64_t(v)) {}
  IValue(long long v) : v_(int64_t(v)) {}
  IValue(double v) : v_(v) {}
  IValue(std::string v) : v_(std::move(v)) {}
  IValue(const char* v) : v_(std::string(v)) {}
  IValue(std::vector<int64_t> v) : v_(std::move(v)) {}
  IValue(Tensor v) : v_(std::move(v)) {}
  bool isNone() const { return v_.index() == 0; }
  bool isInt() const { return std::holds_alternative<int64_t>(v_); }
  bool isDouble() const { return std::holds_alternative<double>(v_); }
  int64_t toInt() const;
  double toDouble() const;  // ints convert
  bool toBool() const;
  const std::string& toStringRef() const;
  const std::vector<int64_t>& toIntVector() const;
  Tensor toTensor() const;

 private:
  std::variant<std::monostate, bool, int64_t, double, std::string, std::vector<int64_t>, Tensor> v_;
};

class AutogradContext;
namespace detail {
void init_context(AutogradContext& ctx, const tensor_list& inputs, bool record);
// Wire the outputs of Function<T>::forward; returns the updated outputs.
tensor_list wrap_function(const std::shared_ptr<AutogradContext>& ctx, std::string name, const tensor_list& inputs,
                          tensor_list outputs, std::vector<bool> slots,
                          std::function<tensor_list(AutogradContext*, tensor_list)> user_backward);
}  // namespace detail

class AutogradContext {
 public:
  // Tensors needed by backward (inputs or outputs of forward).
  void save_for_backward(tensor_list to_save) { to_save_ = std::move(to_save); }
  // The saved tensors, checked against in-place modification since forward.
  tensor_list get_saved_variables() const;
  // Non-tensor state for backward. (Tensors stored here are not version-checked.)
  std::unordered_map<std::string, IValue> saved_data;
  // Whether the i-th tensor argument of forward needs a gradient (as PyTorch's
  // C++ frontend: indexed over tensor arguments only).
  bool needs_input_grad(size_t i) const { return i < needs_input_grad_.size() && needs_input_grad_[i]; }
  void mark_non_differentiable(const tensor_list& outputs) { non_differentiable_ = outputs; }
  void mark_dirty(const tensor_list& inputs) { dirty_ = inputs; }
  void set_materialize_grads(bool value) { materialize_grads_ = value; }

 private:
  friend void detail::init_context(AutogradContext&, const tensor_list&, bool);
  friend tensor_list detail::wrap_function(const std::shared_ptr<AutogradContext>&, std::string, const tensor_list&,
                                           tensor_list, std::vector<bool>,
                                           std::function<tensor_list(AutogradContext*, tensor_list)>);
  tensor_list to_save_, non_differentiable_, dirty_;
  bool materialize_grads_ = true;
  std::vector<bool> needs_input_grad_;
  std::weak_ptr<CustomNode> node_;
};

namespace detail {
// Flatten the tensor arguments of apply(); `slots` gets one entry per backward result position.
inline void collect_arg(tensor_list& ts, std::vector<bool>& slots, const Tensor& t) {
  ts.push_back(t);
  slots.push_back(true);
}
inline void collect_arg(tensor_list& ts, std::vector<bool>& slots, const tensor_list& l) {
  for (const Tensor& t : l) collect_arg(ts, slots, t);
}
template <class A>
void collect_arg(tensor_list&, std::vector<bool>& slots, const A&) {
  slots.push_back(false);
}
inline tensor_list as_list(const Tensor& t) { return {t}; }
inline tensor_list as_list(const tensor_list& l) { return l; }
inline void from_list(Tensor& out, const tensor_list& l) { out = l[0]; }
inline void from_list(tensor_list& out, const tensor_list& l) { out = l; }

std::string backward_name(const char* mangled);
}  // namespace detail

template <class T>
struct Function {
  template <class... Args>
  static auto apply(Args&&... args) {
    auto ctx = std::make_shared<AutogradContext>();
    tensor_list inputs;
    std::vector<bool> slots;
    (detail::collect_arg(inputs, slots, args), ...);
    const bool record = needs_grad(inputs);
    detail::init_context(*ctx, inputs, record);
    using R = std::decay_t<decltype(T::forward(ctx.get(), std::forward<Args>(args)...))>;
    static_assert(std::is_same_v<R, Tensor> || std::is_same_v<R, tensor_list>,
                  "autograd::Function: forward must return a Tensor or a tensor_list");
    R out;
    {
      NoGradGuard ng;
      out = T::forward(ctx.get(), std::forward<Args>(args)...);
    }
    if (!record) return out;
    tensor_list wrapped = detail::wrap_function(ctx, detail::backward_name(typeid(T).name()), inputs,
                                                detail::as_list(out), std::move(slots),
                                                [](AutogradContext* c, tensor_list g) {
                                                  return T::backward(c, std::move(g));
                                                });
    detail::from_list(out, wrapped);
    return out;
  }
};

}  // namespace shanshui::autograd
