#include "autograd/engine.h"

#include <queue>
#include <unordered_map>

#include "autograd/grad_mode.h"
#include "core/ops.h"

namespace shanshui::autograd {

namespace {

struct Task {
  tensor_list grads;      // one slot per output of the node, filled as parents run
  int dependencies = 0;   // parents that have not run yet
  bool exec = true;       // autograd::grad: some path from here reaches a captured gradient
  bool capture = false;   // autograd::grad: a gradient of this node is returned to the caller
};

// autograd::grad: the gradient arriving at output `output_nr` of `fn` goes to result `slot`.
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

tensor_list run_engine(const tensor_list& roots, const tensor_list& grad_roots, bool keep_graph, bool create_graph,
                       const std::vector<Edge>* capture_edges) {
  SS_CHECK(roots.size() == grad_roots.size() || grad_roots.empty(), ValueError, "backward: got ", roots.size(),
           " tensors but ", grad_roots.size(), " gradients");
  SS_CHECK(!roots.empty(), ValueError, "backward: no tensors to differentiate");
  GradModeGuard mode(create_graph);

  // Root gradients.
  std::vector<std::pair<Edge, Tensor>> root_edges;
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& r = roots[i];
    SS_CHECK(r.defined(), ValueError, "backward: element ", i, " of tensors is undefined");
    SS_CHECK(r.requires_grad(), RuntimeError, "backward: element ", i,
             " of tensors does not require grad and does not have a grad_fn");
    Tensor g = grad_roots.empty() ? Tensor() : grad_roots[i];
    if (!g.defined()) {
      SS_CHECK(r.numel() == 1, RuntimeError, "backward: grad can be implicitly created only for scalar outputs; "
               "got a tensor of shape ", r.shape(), " (pass a gradient of the same shape)");
      g = ones_like(r);
    } else {
      SS_CHECK(g.shape() == r.shape(), RuntimeError, "backward: Mismatch in shape: the gradient has shape ",
               g.shape(), " but the tensor has shape ", r.shape());
      if (!create_graph) g = g.detach();
      if (g.dtype() != r.dtype()) g = g.to(r.dtype());
    }
    root_edges.push_back({gradient_edge(r), g});
  }

  // Discover the graph and count dependencies with an iterative DFS (graphs can
  // be 1e5 nodes deep). `order` lists every node once.
  std::unordered_map<Node*, Task> tasks;
  std::vector<Node*> order, stack;
  for (auto& re : root_edges) {
    Node* n = re.first.fn.get();
    if (tasks.emplace(n, Task{}).second) {
      stack.push_back(n);
      order.push_back(n);
    }
  }
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next_edges) {
      if (!e.fn) continue;
      auto [it, fresh] = tasks.emplace(e.fn.get(), Task{});
      it->second.dependencies++;
      if (fresh) {
        stack.push_back(e.fn.get());
        order.push_back(e.fn.get());
      }
    }
  }

  // autograd::grad: run only the nodes from which a captured gradient is reachable.
  std::vector<Capture> captures;
  tensor_list captured;
  if (capture_edges) {
    captured.resize(capture_edges->size());
    for (size_t i = 0; i < capture_edges->size(); ++i) {
      const Edge& e = (*capture_edges)[i];
      auto it = e.fn ? tasks.find(e.fn.get()) : tasks.end();
      if (it == tasks.end()) continue;  // not part of this graph: unused
      it->second.capture = true;
      captures.push_back({e.fn.get(), e.input_nr, i});
    }
    // Children come after their parents in a topological order; walk it backwards.
    std::unordered_map<Node*, int> pending;
    for (auto& [n, t] : tasks) pending[n] = t.dependencies;
    std::vector<Node*> topo, frontier;
    for (Node* n : order)
      if (pending[n] == 0) frontier.push_back(n);
    while (!frontier.empty()) {
      Node* n = frontier.back();
      frontier.pop_back();
      topo.push_back(n);
      for (const Edge& e : n->next_edges)
        if (e.fn && --pending[e.fn.get()] == 0) frontier.push_back(e.fn.get());
    }
    for (auto it = topo.rbegin(); it != topo.rend(); ++it) {
      Task& t = tasks[*it];
      t.exec = false;
      for (const Edge& e : (*it)->next_edges) {
        if (!e.fn) continue;
        const Task& c = tasks[e.fn.get()];
        if (c.exec || c.capture) t.exec = true;
      }
    }
  }
  auto wanted = [&](const Task& t) { return !capture_edges || t.exec || t.capture; };

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
  for (auto& re : root_edges) {
    Task& t = tasks[re.first.fn.get()];
    // dependencies == -1 marks "already queued" (a node can be the root of several tensors).
    if (t.dependencies == 0 && wanted(t)) {
      ready.push(re.first.fn);
      t.dependencies = -1;
    }
  }

  while (!ready.empty()) {
    std::shared_ptr<Node> node = ready.top();
    ready.pop();
    auto it = tasks.find(node.get());
    Task task = std::move(it->second);
    tasks.erase(it);
    tensor_list grads = std::move(task.grads);
    grads.resize(node->output_meta.size());

    node->run_pre_hooks(grads);
    if (task.capture)
      for (const Capture& c : captures)
        if (c.fn == node.get() && grads[c.output_nr].defined()) captured[c.slot] = grads[c.output_nr];
    if (capture_edges && !task.exec) continue;  // autograd::grad never touches .grad

    bool any = false;
    for (size_t i = 0; i < grads.size(); ++i) {
      if (grads[i].defined()) {
        any = true;
      } else if (node->materialize_grads) {
        grads[i] = zeros(node->output_meta[i].shape, node->output_meta[i].dtype);
      }
    }
    tensor_list in_grads;
    if (any) {
      CurrentNodeGuard current(node.get());
      in_grads = node->apply(std::move(grads));
    }
    if (!keep_graph) node->release_saved();
    SS_CHECK(in_grads.size() <= node->next_edges.size(), RuntimeError, "autograd: ", node->name(), " returned ",
             in_grads.size(), " gradients for ", node->next_edges.size(), " inputs");
    for (size_t i = 0; i < node->next_edges.size(); ++i) {
      const Edge& e = node->next_edges[i];
      if (!e.fn) continue;
      auto cit = tasks.find(e.fn.get());
      if (cit == tasks.end()) continue;
      Task& t = cit->second;
      if (!wanted(t)) continue;
      if (i < in_grads.size() && in_grads[i].defined()) {
        if (t.grads.empty()) t.grads.resize(e.fn->output_meta.size());
        add_into(t.grads[e.input_nr], conform(*node, e, std::move(in_grads[i])));
      } else if (any && i >= in_grads.size()) {
        SS_CHECK(false, RuntimeError, "autograd: ", node->name(), " returned ", in_grads.size(),
                 " gradients but input ", i, " requires one");
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
  SS_CHECK(!inputs.empty(), ValueError, "autograd.grad: requires at least one input");
  std::vector<Edge> edges;
  for (size_t i = 0; i < inputs.size(); ++i) {
    SS_CHECK(inputs[i].defined(), ValueError, "autograd.grad: input ", i, " is undefined");
    SS_CHECK(inputs[i].requires_grad(), RuntimeError, "autograd.grad: input ", i, " does not require grad");
    edges.push_back(gradient_edge(inputs[i]));
  }
  tensor_list r = run_engine(outputs, grad_outputs, retain_graph || create_graph, create_graph, &edges);
  for (size_t i = 0; i < r.size(); ++i)
    SS_CHECK(r[i].defined() || allow_unused, RuntimeError, "autograd.grad: input ", i,
             " (shape ", inputs[i].shape(), ") appears to not have been used in the graph; pass "
             "allow_unused=True if this is the desired behavior");
  return r;
}

}  // namespace shanshui::autograd
