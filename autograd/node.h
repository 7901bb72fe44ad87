// Graph nodes of the tape. A node is the backward of one op: it receives the
// gradients of the op's outputs and returns the gradients of its inputs, which
// the engine routes along `next_edges` (one edge per input).
#pragma once
#include <atomic>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace shanshui::autograd {

class Node;
using tensor_list = std::vector<Tensor>;

struct Edge {
  std::shared_ptr<Node> fn;   // null: the input needs no gradient
  uint32_t input_nr = 0;      // which output of `fn` this input is
};

struct TensorMeta {
  Shape shape;
  DType dtype;
};

class Node : public std::enable_shared_from_this<Node> {
 public:
  Node();
  // Destroys long chains of nodes with a loop instead of recursion.
  virtual ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  virtual std::string name() const = 0;
  // grads: one per output, all defined (the engine fills missing ones with zeros).
  // Returns one gradient per input; an undefined tensor means "no gradient".
  virtual tensor_list apply(tensor_list&& grads) = 0;
  // Drop saved tensors after a backward without retain_graph.
  virtual void release_saved() {}

  // Run the tensor hooks on the incoming gradients (before apply, and before
  // autograd::grad captures them): pre_hooks in registration order, then the
  // retain_grad hooks, as PyTorch. A hook returning an undefined tensor keeps
  // the gradient; one returning a different shape is an error.
  virtual void run_pre_hooks(tensor_list& grads);

  std::vector<Edge> next_edges;
  std::vector<TensorMeta> output_meta;
  uint64_t sequence_nr;
  // Hooks on the gradient of output `first` (Tensor::register_hook on a non-leaf).
  // A removed hook is left as an empty std::function so handles stay valid.
  std::vector<std::pair<uint32_t, std::function<Tensor(const Tensor&)>>> pre_hooks;
  // retain_grad() of output `first`: always runs after pre_hooks.
  std::vector<std::pair<uint32_t, std::function<void(const Tensor&)>>> retains_grad_hooks;
  // false: outputs that received no gradient reach apply() as undefined tensors
  // instead of zeros (custom functions with ctx.set_materialize_grads(False)).
  bool materialize_grads = true;
};

// The node whose apply() is running on this thread (set by the engine), or null.
// SavedTensor::unpack uses it to re-attach an op's saved output to its history.
Node* current_node();
class CurrentNodeGuard {
 public:
  explicit CurrentNodeGuard(Node* n);
  ~CurrentNodeGuard();
  CurrentNodeGuard(const CurrentNodeGuard&) = delete;
  CurrentNodeGuard& operator=(const CurrentNodeGuard&) = delete;

 private:
  Node* prev_;
};

// The node most ops record: a backward closure written next to the forward.
class FunctionNode : public Node {
 public:
  using Backward = std::function<tensor_list(const tensor_list& grads)>;
  // saves_tensors: the closure holds SavedTensors, so it is dropped after a
  // backward without retain_graph and a second backward raises (as PyTorch,
  // where only nodes with saved tensors refuse a second pass).
  FunctionNode(const char* name, Backward fn, bool saves_tensors = true)
      : name_(name), fn_(std::move(fn)), saves_tensors_(saves_tensors) {}
  ~FunctionNode() override;
  std::string name() const override { return name_; }
  tensor_list apply(tensor_list&& grads) override;
  void release_saved() override {
    if (saves_tensors_) fn_ = nullptr;
  }

 private:
  const char* name_;
  Backward fn_;
  bool saves_tensors_;
};

// Writes incoming gradients into a leaf's .grad.
// The leaf's own hooks (TensorImpl::hooks) run first, as pre-hooks.
class AccumulateGrad : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf);
  std::string name() const override { return "AccumulateGrad"; }
  tensor_list apply(tensor_list&& grads) override;
  void run_pre_hooks(tensor_list& grads) override;
  std::shared_ptr<TensorImpl> leaf;
};

// A tensor kept for backward. Checks on unpack that it was not modified in
// place since it was saved. An op's own output (is_output = true; it may be
// saved before or after record()) is stored as a history-free alias, because a
// strong pointer from a node to its output would be a cycle; under
// create_graph, unpack re-attaches it to the node whose backward is running.
class SavedTensor {
 public:
  SavedTensor() = default;
  explicit SavedTensor(const Tensor& t, bool is_output = false);
  Tensor unpack() const;
  bool defined() const { return data_.defined(); }

 private:
  Tensor data_;
  std::weak_ptr<Node> grad_fn_;          // outputs saved after record()
  std::weak_ptr<TensorImpl> output_;     // outputs: the original tensor, for its output_nr
  uint32_t output_nr_ = 0;
  uint64_t version_ = 0;
  bool is_output_ = false;
  bool has_output_nr_ = false;
};

// ---- helpers for op authors ------------------------------------------------

// True when grad mode is on and some input requires grad.
bool needs_grad(std::initializer_list<const Tensor*> inputs);
inline bool needs_grad(const Tensor& a) { return needs_grad({&a}); }
inline bool needs_grad(const Tensor& a, const Tensor& b) { return needs_grad({&a, &b}); }
bool needs_grad(const std::vector<Tensor>& inputs);

// The edge through which a gradient for `t` flows (its grad_fn, or its leaf accumulator).
Edge gradient_edge(const Tensor& t);

// Attach `node` as grad_fn of `outputs`, with one edge per input.
void connect(const std::shared_ptr<Node>& node, const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs);

// Record a single-output op: `backward(grad_out)` returns one gradient per input
// (undefined for inputs that need none). Call only when needs_grad(inputs) is true.
// Construct the op's SavedTensors right before calling record: record notes
// whether any were made since the previous record on this thread, and only then
// frees the closure after backward (a closure without saved tensors stays, so
// e.g. a transposed weight can be back-propagated through twice, as PyTorch).
void record(const char* name, const std::vector<Tensor>& inputs, Tensor& output,
            std::function<tensor_list(const Tensor& grad)> backward);
// Multi-output form.
void record_multi(const char* name, const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs,
                  FunctionNode::Backward backward);

// Sum a broadcast gradient back to `shape` (the backward of broadcasting).
Tensor sum_to(const Tensor& grad, const Shape& shape);

}  // namespace shanshui::autograd
