#include "autograd/engine.h"

#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "autograd/grad_mode.h"
#include "core/ops.h"

namespace shanshui::autograd {

namespace {

struct Task {
  tensor_list grads;  // one slot per output of the node
  int dependencies = 0;
};

// Gradients captured for torch.autograd.grad: (node, output_nr) -> slot.
struct Capture {
  Node* fn;
  uint32_t output_nr;
  size_t slot;
};

void add_into(Tensor& slot, Tensor g) {
  if (!slot.defined()) {
    slot = std::move(g);
  } else {
    slot = slot.add(g);
  }
}

// A gradient must have its input's shape; it takes its input's dtype (an op on
// mixed dtypes computes in the wider one).
Tensor conform(const Node& producer, const Edge& e, Tensor g) {
  const TensorMeta& m = e.fn->output_meta[e.input_nr];
  SS_CHECK(g.shape() == m.shape, RuntimeError, "autograd: ", producer.name(), " returned a gradient of shape ",
           g.shape(), " for an input of shape ", m.shape);
  return g.dtype() == m.dtype ? g : g.to(m.dtype);
}

tensor_list run_engine(const tensor_list& roots, const tensor_list& grad_roots, bool retain_graph,
                       bool create_graph, const std::vector<Edge>* capture_edges) {
  SS_CHECK(roots.size() == grad_roots.size() || grad_roots.empty(), ValueError, "backward: got ", roots.size(),
           " tensors but ", grad_roots.size(), " gradients");
  GradModeGuard mode(create_graph);

  // Root gradients.
  std::vector<std::pair<Edge, Tensor>> root_edges;
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& r = roots[i];
    SS_CHECK(r.requires_grad(), RuntimeError, "backward: element ", i,
             " of tensors does not require grad and does not have a grad_fn");
    Tensor g = grad_roots.empty() ? Tensor() : grad_roots[i];
    if (!g.defined()) {
      SS_CHECK(r.numel() == 1, RuntimeError, "backward: grad can be implicitly created only for scalar outputs; "
               "got a tensor of shape ", r.shape(), " (pass a gradient of the same shape)");
      g = ones_like(r);
    } else {
      SS_CHECK(g.shape() == r.shape(), ValueError, "backward: gradient has shape ", g.shape(),
               " but the tensor has shape ", r.shape());
      if (!create_graph) g = g.detach();
    }
    root_edges.push_back({gradient_edge(r), g});
  }

  // Count dependencies with an iterative DFS (graphs can be 1e5 nodes deep).
  std::unordered_map<Node*, Task> tasks;
  std::vector<Node*> stack;
  std::unordered_set<Node*> seen;
  for (auto& re : root_edges) {
    Node* n = re.first.fn.get();
    if (seen.insert(n).second) stack.push_back(n);
  }
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next_edges) {
      if (!e.fn) continue;
      tasks[e.fn.get()].dependencies++;
      if (seen.insert(e.fn.get()).second) stack.push_back(e.fn.get());
    }
  }

  std::vector<Capture> captures;
  tensor_list captured;
  if (capture_edges) {
    captured.resize(capture_edges->size());
    for (size_t i = 0; i < capture_edges->size(); ++i)
      if ((*capture_edges)[i].fn) captures.push_back({(*capture_edges)[i].fn.get(), (*capture_edges)[i].input_nr, i});
  }

  // Ready nodes run highest sequence number first: the most recently recorded
  // op first, which frees activations in the reverse order they were made.
  auto cmp = [](const std::shared_ptr<Node>& a, const std::shared_ptr<Node>& b) {
    return a->sequence_nr < b->sequence_nr;
  };
  std::priority_queue<std::shared_ptr<Node>, std::vector<std::shared_ptr<Node>>, decltype(cmp)> ready(cmp);
  for (auto& re : root_edges) {
    Task& t = tasks[re.first.fn.get()];
    t.grads.resize(re.first.fn->output_meta.size());
    add_into(t.grads[re.first.input_nr], re.second);
  }
  {
    std::unordered_set<Node*> pushed;
    for (auto& re : root_edges)
      if (tasks[re.first.fn.get()].dependencies == 0 && pushed.insert(re.first.fn.get()).second)
        ready.push(re.first.fn);
  }

  while (!ready.empty()) {
    std::shared_ptr<Node> node = ready.top();
    ready.pop();
    auto it = tasks.find(node.get());
    tensor_list grads = std::move(it->second.grads);
    tasks.erase(it);
    grads.resize(node->output_meta.size());
    for (auto& [nr, hook] : node->pre_hooks)
      if (grads[nr].defined()) {
        Tensor h = hook(grads[nr]);
        if (h.defined()) grads[nr] = h;
      }
    bool is_accumulator = dynamic_cast<AccumulateGrad*>(node.get()) != nullptr;
    if (capture_edges) {
      for (const Capture& c : captures)
        if (c.fn == node.get() && grads[c.output_nr].defined()) captured[c.slot] = grads[c.output_nr];
      if (is_accumulator) continue;  // autograd.grad leaves .grad untouched
    }
    bool any = false;
    for (size_t i = 0; i < grads.size(); ++i) {
      if (grads[i].defined()) {
        any = true;
      } else {
        grads[i] = zeros(node->output_meta[i].shape, node->output_meta[i].dtype);
      }
    }
    tensor_list in_grads;
    if (any) in_grads = node->apply(std::move(grads));
    if (!retain_graph) node->release_saved();
    for (size_t i = 0; i < node->next_edges.size(); ++i) {
      const Edge& e = node->next_edges[i];
      if (!e.fn) continue;
      Task& t = tasks[e.fn.get()];
      if (i < in_grads.size() && in_grads[i].defined()) {
        if (t.grads.empty()) t.grads.resize(e.fn->output_meta.size());
        add_into(t.grads[e.input_nr], conform(*node, e, std::move(in_grads[i])));
      }
      if (--t.dependencies == 0) ready.push(e.fn);
    }
  }
  return captured;
}

}  // namespace

void backward(const tensor_list& roots, const tensor_list& grad_roots, bool retain_graph, bool create_graph) {
  run_engine(roots, grad_roots, retain_graph || create_graph, create_graph, nullptr);
}

tensor_list grad(const tensor_list& outputs, const tensor_list& inputs, const tensor_list& grad_outputs,
                 bool retain_graph, bool create_graph, bool allow_unused) {
  std::vector<Edge> edges;
  for (size_t i = 0; i < inputs.size(); ++i) {
    SS_CHECK(inputs[i].requires_grad(), RuntimeError, "autograd.grad: input ", i, " does not require grad");
    edges.push_back(gradient_edge(inputs[i]));
  }
  tensor_list r = run_engine(outputs, grad_outputs, retain_graph || create_graph, create_graph, &edges);
  for (size_t i = 0; i < r.size(); ++i)
    SS_CHECK(r[i].defined() || allow_unused, RuntimeError, "autograd.grad: input ", i,
             " was not used in the graph; pass allow_unused=True if this is intended");
  return r;
}

}  // namespace shanshui::autograd
