#include "autograd/node.h"

#include "autograd/grad_mode.h"
#include "core/ops.h"

namespace shanshui::autograd {

namespace {
std::atomic<uint64_t> g_next_sequence_nr{0};

// Nodes whose last reference is being dropped, destroyed iteratively by the
// outermost ~Node so a 100,000-deep chain does not overflow the stack.
thread_local std::vector<std::shared_ptr<Node>> t_pending_delete;
thread_local bool t_deleting = false;
}  // namespace

Node::Node() : sequence_nr(g_next_sequence_nr.fetch_add(1, std::memory_order_relaxed)) {}

Node::~Node() {
  // Derived members (saved tensors) are already gone; only the edges keep
  // predecessors alive now. Hand them to the loop below instead of recursing.
  for (auto& e : next_edges)
    if (e.fn) t_pending_delete.push_back(std::move(e.fn));
  next_edges.clear();
  if (t_deleting) return;
  t_deleting = true;
  while (!t_pending_delete.empty()) {
    std::shared_ptr<Node> n = std::move(t_pending_delete.back());
    t_pending_delete.pop_back();
    n.reset();  // may run ~Node, which only appends to t_pending_delete
  }
  t_deleting = false;
}

FunctionNode::~FunctionNode() {
  // Release the closure (and its saved tensors) before ~Node hands off the edges.
  fn_ = nullptr;
}

tensor_list FunctionNode::apply(tensor_list&& grads) {
  SS_CHECK(fn_ != nullptr, RuntimeError, name_,
           ": trying to backward through the graph a second time (or directly access saved tensors after "
           "they have already been freed). Saved intermediate values of the graph are freed when you call "
           ".backward(); specify retain_graph=True if you need to backward through the graph a second time.");
  return fn_(grads);
}

AccumulateGrad::AccumulateGrad(std::shared_ptr<TensorImpl> l) : leaf(std::move(l)) {
  output_meta.push_back({leaf->shape, leaf->dtype});
}

tensor_list AccumulateGrad::apply(tensor_list&& grads) {
  Tensor g = std::move(grads[0]);
  if (!leaf->grad) {
    // Take the buffer if nobody else can see it, otherwise copy so that later
    // in-place accumulation cannot leak into another tensor.
    bool exclusive = g.impl_ptr().use_count() == 1 && g.storage().use_count() == 1 && g.is_contiguous();
    Tensor stored = GradMode::is_enabled() ? g : (exclusive ? g.detach() : g.detach().clone());
    leaf->grad = stored.impl_ptr();
  } else if (GradMode::is_enabled()) {
    leaf->grad = Tensor(leaf->grad).add(g).impl_ptr();  // create_graph: keep the history
  } else {
    Tensor(leaf->grad).add_(g);
  }
  return {};
}

SavedTensor::SavedTensor(const Tensor& t, bool is_output) : is_output_(is_output) {
  if (!t.defined()) return;
  version_ = t.version();
  if (is_output && t.grad_fn()) {
    data_ = t.detach();
    grad_fn_ = t.grad_fn();
    output_nr_ = t.impl()->output_nr;
  } else {
    data_ = t;
  }
}

Tensor SavedTensor::unpack() const {
  if (!data_.defined()) return Tensor();
  SS_CHECK(data_.version() == version_, RuntimeError,
           "one of the variables needed for gradient computation has been modified by an inplace operation: "
           "tensor of shape ", data_.shape(), " is at version ", data_.version(), "; expected version ", version_,
           " instead.");
  if (!is_output_) return data_;
  auto fn = grad_fn_.lock();
  if (!fn) return data_;
  // Re-attach the history so create_graph backward sees the output as computed by its op.
  Tensor r = data_.detach();
  r.impl()->grad_fn = fn;
  r.impl()->output_nr = output_nr_;
  return r;
}

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Edge gradient_edge(const Tensor& t) {
  if (!t.defined()) return {};
  TensorImpl* impl = t.impl();
  if (impl->grad_fn) return {impl->grad_fn, impl->output_nr};
  if (!impl->requires_grad) return {};
  std::shared_ptr<Node> acc = impl->grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t.impl_ptr());
    impl->grad_accumulator = acc;
  }
  return {acc, 0};
}

void connect(const std::shared_ptr<Node>& node, const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs) {
  node->next_edges.reserve(inputs.size());
  for (const Tensor& in : inputs) node->next_edges.push_back(gradient_edge(in));
  node->output_meta.reserve(outputs.size());
  for (uint32_t i = 0; i < outputs.size(); ++i) {
    TensorImpl* o = outputs[i].impl();
    node->output_meta.push_back({o->shape, o->dtype});
    o->grad_fn = node;
    o->output_nr = i;
    o->requires_grad = false;  // a non-leaf requires grad through its grad_fn
  }
}

void record(const char* name, const std::vector<Tensor>& inputs, Tensor& output,
            std::function<tensor_list(const Tensor& grad)> backward) {
  auto node = std::make_shared<FunctionNode>(
      name, [bw = std::move(backward)](const tensor_list& grads) { return bw(grads[0]); });
  std::vector<Tensor> outs{output};
  connect(node, inputs, outs);
}

void record_multi(const char* name, const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs,
                  FunctionNode::Backward backward) {
  auto node = std::make_shared<FunctionNode>(name, std::move(backward));
  connect(node, inputs, outputs);
}

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  const int64_t lead = grad.dim() - static_cast<int64_t>(shape.size());
  std::vector<int64_t> dims;
  for (int64_t i = 0; i < grad.dim(); ++i)
    if (i < lead || (shape[i - lead] == 1 && grad.size(i) != 1)) dims.push_back(i);
  Tensor r = dims.empty() ? grad : grad.sum(dims, /*keepdim=*/true);
  return r.shape() == shape ? r : r.reshape(shape);
}

}  // namespace shanshui::autograd
