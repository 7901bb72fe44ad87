#include "autograd/node.h"

#include "autograd/grad_mode.h"
#include "core/dispatch.h"
#include "core/kernels/loops.h"
#include "core/ops.h"
#include "core/ops/inplace.h"

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

void Node::run_pre_hooks(tensor_list& grads) {
  auto run = [&](uint32_t nr, const std::function<Tensor(const Tensor&)>& hook) {
    if (!hook || nr >= grads.size() || !grads[nr].defined()) return;
    Tensor h = hook(grads[nr]);
    if (!h.defined()) return;
    SS_CHECK(h.shape() == grads[nr].shape(), RuntimeError, "hook on the gradient of output ", nr, " of ", name(),
             " changed its shape from ", grads[nr].shape(), " to ", h.shape());
    grads[nr] = std::move(h);
  };
  // Index loops: a hook may register further hooks.
  for (size_t i = 0; i < pre_hooks.size(); ++i) {
    auto hook = pre_hooks[i].second;  // copy: the vector may grow while it runs
    run(pre_hooks[i].first, hook);
  }
  for (size_t i = 0; i < retains_grad_hooks.size(); ++i) {
    uint32_t nr = retains_grad_hooks[i].first;
    auto hook = retains_grad_hooks[i].second;
    if (hook && nr < grads.size() && grads[nr].defined()) hook(grads[nr]);
  }
}

namespace {
thread_local Node* t_current_node = nullptr;
// SavedTensors made since the last record(): tells record() whether its closure holds any.
thread_local uint64_t t_saved_since_record = 0;

bool take_saved_count() {
  bool any = t_saved_since_record != 0;
  t_saved_since_record = 0;
  return any;
}

// g + into, written into `into` (same shape and dtype): the accumulation of .grad
// without a temporary.
void accumulate_inplace(const Tensor& into, const Tensor& g) {
  if (g.dtype() != into.dtype() || !is_floating(into.dtype())) {
    Tensor(into).add_(g);
    return;
  }
  Shape gst = kernels::broadcast_strides(g.shape(), g.strides(), into.shape());
  SS_DISPATCH_FLOAT(into.dtype(), "AccumulateGrad", [&](auto tag) {
    using T = decltype(tag);
    T* d = static_cast<T*>(into.raw_data());
    const T* s = static_cast<const T*>(g.raw_data());
    kernels::for_each_run<2>(into.shape(), {into.strides(), gst}, 1,
                             [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
                               T* dp = d + off[0];
                               const T* sp = s + off[1];
                               if (st[0] == 1 && st[1] == 1) {
                                 for (int64_t i = 0; i < n; ++i) dp[i] += sp[i];
                               } else {
                                 for (int64_t i = 0; i < n; ++i) dp[i * st[0]] += sp[i * st[1]];
                               }
                             });
  });
  into.impl()->storage->bump_version();
}
}  // namespace

Node* current_node() { return t_current_node; }
CurrentNodeGuard::CurrentNodeGuard(Node* n) : prev_(t_current_node) { t_current_node = n; }
CurrentNodeGuard::~CurrentNodeGuard() { t_current_node = prev_; }

AccumulateGrad::AccumulateGrad(std::shared_ptr<TensorImpl> l) : leaf(std::move(l)) {
  output_meta.push_back({leaf->shape, leaf->dtype});
}

void AccumulateGrad::run_pre_hooks(tensor_list& grads) {
  for (size_t i = 0; i < leaf->hooks.size(); ++i) {
    auto hook = leaf->hooks[i];
    if (!hook || !grads[0].defined()) continue;
    Tensor h = hook(grads[0]);
    if (!h.defined()) continue;
    SS_CHECK(h.shape() == grads[0].shape(), RuntimeError, "hook on the gradient of a leaf of shape ",
             grads[0].shape(), " returned a gradient of shape ", h.shape());
    grads[0] = h.dtype() == leaf->dtype ? std::move(h) : h.to(leaf->dtype);
  }
  Node::run_pre_hooks(grads);
}

tensor_list AccumulateGrad::apply(tensor_list&& grads) {
  Tensor g = std::move(grads[0]);
  grads.clear();
  if (!leaf->grad) {
    // Take the buffer if nobody else can see it, otherwise copy so that later
    // in-place accumulation cannot leak into another tensor.
    // (It must also cover its whole buffer, so .grad does not pin a larger one.)
    bool exclusive = g.impl_ptr().use_count() == 1 && g.storage().use_count() == 1 && g.is_contiguous() &&
                     size_t(g.numel()) * g.element_size() == g.storage()->nbytes();
    Tensor stored = GradMode::is_enabled() ? g : (exclusive ? g.detach() : g.detach().clone());
    leaf->grad = stored.impl_ptr();
  } else if (GradMode::is_enabled()) {
    leaf->grad = Tensor(leaf->grad).add(g).impl_ptr();  // create_graph: keep the history
  } else if (Tensor(leaf->grad).requires_grad()) {
    // A grad with history from an earlier create_graph pass is replaced, not modified.
    leaf->grad = Tensor(leaf->grad).detach().add(g).impl_ptr();
  } else {
    accumulate_inplace(Tensor(leaf->grad), g);
  }
  // Index loop with a copy of each hook: a hook may register further hooks.
  for (size_t i = 0; i < leaf->post_accumulate_hooks.size(); ++i) {
    auto hook = leaf->post_accumulate_hooks[i];
    if (hook) hook(Tensor(leaf));
  }
  return {};
}

SavedTensor::SavedTensor(const Tensor& t, bool is_output) : is_output_(is_output) {
  if (!t.defined()) return;
  ++t_saved_since_record;
  version_ = t.version();
  if (!is_output) {
    data_ = t;
    return;
  }
  data_ = t.detach();
  output_ = t.impl_ptr();
  if (t.grad_fn()) {  // saved after record(): the history is known now
    grad_fn_ = t.grad_fn();
    output_nr_ = t.impl()->output_nr;
    has_output_nr_ = true;
  }
}

Tensor SavedTensor::unpack() const {
  if (!data_.defined()) return Tensor();
  SS_CHECK(data_.version() == version_, RuntimeError,
           "one of the variables needed for gradient computation has been modified by an inplace operation: "
           "tensor of shape ", data_.shape(), " is at version ", data_.version(), "; expected version ", version_,
           " instead. Hint: clone the tensor before modifying it in place.");
  if (!is_output_ || !GradMode::is_enabled()) return data_;
  // create_graph: the output must carry the history of the op that made it.
  std::shared_ptr<Node> fn = grad_fn_.lock();
  uint32_t nr = output_nr_;
  if (!has_output_nr_) {
    Node* cur = current_node();
    auto out = output_.lock();
    if (out && out->grad_fn && (!cur || out->grad_fn.get() == cur)) {
      fn = out->grad_fn;
      nr = out->output_nr;
    } else if (cur) {
      fn = cur->shared_from_this();
      // The original output is gone; find it among the node's outputs by geometry.
      int64_t found = -1, matches = 0;
      for (size_t i = 0; i < cur->output_meta.size(); ++i)
        if (cur->output_meta[i].shape == data_.shape() && cur->output_meta[i].dtype == data_.dtype()) {
          found = int64_t(i);
          ++matches;
        }
      SS_CHECK(matches == 1, RuntimeError, cur->name(), ": cannot tell which output a saved output of shape ",
               data_.shape(), " is; save outputs after record() for create_graph");
      nr = uint32_t(found);
    }
  }
  if (!fn) return data_;
  Tensor r = data_.detach();
  r.impl()->grad_fn = fn;
  r.impl()->output_nr = nr;
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
  if (t.grad_fn()) return {impl->grad_fn, impl->output_nr};  // (grad_fn() regenerates a stale view's)
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
      name, [bw = std::move(backward)](const tensor_list& grads) { return bw(grads[0]); }, take_saved_count());
  std::vector<Tensor> outs{output};
  connect(node, inputs, outs);
}

void record_multi(const char* name, const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs,
                  FunctionNode::Backward backward) {
  auto node = std::make_shared<FunctionNode>(name, std::move(backward), take_saved_count());
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
