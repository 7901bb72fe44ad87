#include "autograd/function.h"

#include <cxxabi.h>

#include <cstdlib>

#include "autograd/copy_slices.h"
#include "core/ops/inplace.h"

namespace shanshui::autograd {

// ---- CustomNode ----------------------------------------------------------------

CustomNode::~CustomNode() {
  // Drop the closure and saved tensors before ~Node hands the edges to its loop.
  backward_ = nullptr;
  saved_.clear();
}

tensor_list CustomNode::apply(tensor_list&& grads) {
  SS_CHECK(backward_ != nullptr, RuntimeError, name_, ": the backward function has been released");
  tensor_list r = backward_(grads);
  SS_CHECK(r.size() <= next_edges.size(), RuntimeError, "function ", name_,
           " returned an incorrect number of gradients (expected ", next_edges.size(), ", got ", r.size(), ")");
  for (size_t i = 0; i < r.size(); ++i) {
    if (!r[i].defined() || !next_edges[i].fn) continue;
    const TensorMeta& m = next_edges[i].fn->output_meta[next_edges[i].input_nr];
    SS_CHECK(r[i].shape() == m.shape, RuntimeError, "function ", name_, " returned an invalid gradient at index ", i,
             " - got ", r[i].shape(), " but expected shape compatible with ", m.shape);
  }
  return r;
}

void CustomNode::release_saved() {
  if (!saved_.empty()) released_ = true;
  saved_.clear();
}

tensor_list CustomNode::saved_tensors() const {
  SS_CHECK(!released_, RuntimeError, name_,
           ": trying to backward through the graph a second time (or directly access saved tensors after they "
           "have already been freed). Saved intermediate values of the graph are freed when you call "
           ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the graph "
           "a second time or if you need to access saved tensors after calling backward.");
  tensor_list r;
  r.reserve(saved_.size());
  for (const SavedTensor& s : saved_) r.push_back(s.unpack());
  return r;
}

std::shared_ptr<CustomNode> make_custom_node(std::string name, const tensor_list& inputs, tensor_list& outputs,
                                             CustomNode::Backward backward, const CustomNodeOptions& opt) {
  if (!needs_grad(inputs)) return nullptr;
  const size_t n = outputs.size();
  SS_CHECK(opt.non_differentiable.empty() || opt.non_differentiable.size() == n, ValueError, name,
           ": non_differentiable has ", opt.non_differentiable.size(), " flags for ", n, " outputs");
  SS_CHECK(opt.dirty.empty() || opt.dirty.size() == n, ValueError, name, ": dirty has ", opt.dirty.size(),
           " flags for ", n, " outputs");
  auto node = std::make_shared<CustomNode>(std::move(name), std::move(backward));
  node->materialize_grads = opt.materialize_grads;
  // Edges first: a dirty input's old history is what its gradient flows into.
  node->next_edges.reserve(inputs.size());
  for (const Tensor& in : inputs) node->next_edges.push_back(gradient_edge(in));

  auto is_input = [&](const Tensor& t) {
    for (const Tensor& in : inputs)
      if (in.defined() && in.is_same(t)) return true;
    return false;
  };
  node->output_meta.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    Tensor& o = outputs[i];
    if (!o.defined()) {
      node->output_meta.push_back({Shape{}, DType::Float32});
      continue;
    }
    node->output_meta.push_back({o.shape(), o.dtype()});
    const bool dirty = !opt.dirty.empty() && opt.dirty[i];
    const bool differentiable =
        o.is_floating_point() && (opt.non_differentiable.empty() || !opt.non_differentiable[i]);
    bool repeated = false;
    for (size_t j = 0; j < i; ++j) repeated = repeated || (outputs[j].defined() && outputs[j].is_same(o));
    if (dirty) {
      SS_CHECK(is_input(o), RuntimeError, node->name(), ": a tensor marked dirty must be an input of forward");
      check_inplace_allowed(o, node->name().c_str());
    } else if (is_input(o) || repeated) {
      o = o.detach();  // the input keeps its own history; the output is an alias with the new one
    }
    if (dirty && inplace_rebases_base(o, differentiable)) {
      // A view modified in place by forward: its base's history goes through CopySlices.
      rebase_view_history(o, differentiable ? Edge{node, uint32_t(i)} : Edge{});
    } else if (differentiable) {
      o.impl()->grad_fn = node;
      o.impl()->output_nr = uint32_t(i);
      o.impl()->requires_grad = false;
    } else if (dirty && o.grad_fn()) {
      o.impl()->grad_fn = nullptr;  // overwritten in place with a value that has no gradient
    }
  }
  node->saved_.reserve(opt.to_save.size());
  for (const Tensor& t : opt.to_save)
    node->saved_.emplace_back(t, t.defined() && t.grad_fn() == node);
  return node;
}

// ---- IValue -----------------------------------------------------------------------

namespace {
[[noreturn]] void bad_ivalue(const char* want) {
  throw TypeError(cat_str("saved_data: the value is not ", want));
}
}  // namespace

int64_t IValue::toInt() const {
  if (auto p = std::get_if<int64_t>(&v_)) return *p;
  if (auto p = std::get_if<bool>(&v_)) return *p ? 1 : 0;
  bad_ivalue("an int");
}
double IValue::toDouble() const {
  if (auto p = std::get_if<double>(&v_)) return *p;
  if (auto p = std::get_if<int64_t>(&v_)) return double(*p);
  bad_ivalue("a number");
}
bool IValue::toBool() const {
  if (auto p = std::get_if<bool>(&v_)) return *p;
  bad_ivalue("a bool");
}
const std::string& IValue::toStringRef() const {
  if (auto p = std::get_if<std::string>(&v_)) return *p;
  bad_ivalue("a string");
}
const std::vector<int64_t>& IValue::toIntVector() const {
  if (auto p = std::get_if<std::vector<int64_t>>(&v_)) return *p;
  bad_ivalue("a list of ints");
}
Tensor IValue::toTensor() const {
  if (auto p = std::get_if<Tensor>(&v_)) return *p;
  bad_ivalue("a tensor");
}

// ---- AutogradContext / Function<T> ------------------------------------------------------

tensor_list AutogradContext::get_saved_variables() const {
  if (auto node = node_.lock()) return node->saved_tensors();
  return to_save_;  // still inside forward (or nothing was recorded)
}

namespace detail {

std::string backward_name(const char* mangled) {
  int status = 0;
  char* d = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string name = status == 0 && d ? d : mangled;
  std::free(d);
  auto colon = name.rfind("::");
  if (colon != std::string::npos) name = name.substr(colon + 2);
  return name + "Backward";
}

void init_context(AutogradContext& ctx, const tensor_list& inputs, bool record) {
  ctx.needs_input_grad_.assign(inputs.size(), false);
  for (size_t i = 0; i < inputs.size(); ++i)
    ctx.needs_input_grad_[i] = record && inputs[i].defined() && inputs[i].requires_grad();
}

tensor_list wrap_function(const std::shared_ptr<AutogradContext>& ctx, std::string name, const tensor_list& inputs,
                          tensor_list outputs, std::vector<bool> slots,
                          std::function<tensor_list(AutogradContext*, tensor_list)> user_backward) {
  CustomNodeOptions opt;
  opt.materialize_grads = ctx->materialize_grads_;
  opt.to_save = std::move(ctx->to_save_);
  ctx->to_save_.clear();
  auto contains = [](const tensor_list& l, const Tensor& t) {
    for (const Tensor& x : l)
      if (x.defined() && x.is_same(t)) return true;
    return false;
  };
  if (!ctx->non_differentiable_.empty() || !ctx->dirty_.empty()) {
    opt.non_differentiable.assign(outputs.size(), false);
    opt.dirty.assign(outputs.size(), false);
    for (size_t i = 0; i < outputs.size(); ++i) {
      opt.non_differentiable[i] = contains(ctx->non_differentiable_, outputs[i]);
      opt.dirty[i] = contains(ctx->dirty_, outputs[i]);
    }
    for (const Tensor& d : ctx->dirty_)
      SS_CHECK(contains(outputs, d), RuntimeError, name, ": a tensor passed to mark_dirty must be returned by forward");
    ctx->non_differentiable_.clear();
    ctx->dirty_.clear();
  }
  // The node owns ctx; ctx sees the node only weakly (no cycle).
  std::string fname = name;
  auto backward = [ctx_ptr = ctx, slots = std::move(slots), fname, user_backward = std::move(user_backward)](
                      const tensor_list& grads) {
    tensor_list r = user_backward(ctx_ptr.get(), grads);
    // One result per forward argument; extra trailing undefined entries are dropped.
    size_t n = slots.size();
    if (r.size() > n) {
      bool extra_undefined = true;
      for (size_t i = n; i < r.size(); ++i) extra_undefined = extra_undefined && !r[i].defined();
      if (extra_undefined) r.resize(n);
    }
    SS_CHECK(r.size() == n, RuntimeError, "function ", fname, " returned an incorrect number of gradients (expected ",
             n, ", got ", r.size(), ")");
    tensor_list out;
    for (size_t i = 0; i < n; ++i) {
      if (slots[i]) {
        out.push_back(r[i]);
      } else {
        SS_CHECK(!r[i].defined(), RuntimeError, "function ", fname,
                 " returned a defined gradient at position ", i + 1,
                 ", but the corresponding forward input was not a Tensor");
      }
    }
    return out;
  };
  auto node = make_custom_node(std::move(name), inputs, outputs, std::move(backward), opt);
  ctx->node_ = node;
  return outputs;
}

}  // namespace detail
}  // namespace shanshui::autograd
