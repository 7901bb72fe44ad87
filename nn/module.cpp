#include "nn/module.h"

#include <algorithm>
#include <set>
#include <sstream>
#include <unordered_set>

#include "autograd/grad_mode.h"

namespace shanshui::nn {

namespace {
void check_name(const Module& m, const std::string& name, const char* what) {
  SS_CHECK(!name.empty(), ValueError, m.type_name(), ".register_", what, ": name can't be empty");
  SS_CHECK(name.find('.') == std::string::npos, ValueError, m.type_name(), ".register_", what, ": name '", name,
           "' can't contain \".\"");
}
std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}
}  // namespace

Tensor& Module::register_parameter(const std::string& name, Tensor t, bool requires_grad) {
  check_name(*this, name, "parameter");
  SS_CHECK(!buffers_.contains(name) && !children_.contains(name), ValueError, type_name_,
           ".register_parameter: attribute '", name, "' already exists as a buffer or module");
  if (t.defined()) {
    SS_CHECK(t.is_leaf(), ValueError, type_name_, ".register_parameter: '", name,
             "' must be a leaf tensor (use .detach() for a computed value)");
    if (requires_grad && t.is_floating_point()) t.requires_grad_(true);
  }
  return params_.at(params_.set(name, std::move(t)));
}

Tensor& Module::register_buffer(const std::string& name, Tensor t, bool persistent) {
  check_name(*this, name, "buffer");
  SS_CHECK(!params_.contains(name) && !children_.contains(name), ValueError, type_name_,
           ".register_buffer: attribute '", name, "' already exists as a parameter or module");
  auto it = std::find(non_persistent_.begin(), non_persistent_.end(), name);
  if (!persistent && it == non_persistent_.end()) non_persistent_.push_back(name);
  if (persistent && it != non_persistent_.end()) non_persistent_.erase(it);
  return buffers_.at(buffers_.set(name, std::move(t)));
}

ModulePtr Module::register_module(const std::string& name, ModulePtr m) {
  check_name(*this, name, "module");
  SS_CHECK(!params_.contains(name) && !buffers_.contains(name), ValueError, type_name_, ".register_module: attribute '",
           name, "' already exists as a parameter or buffer");
  children_.set(name, m);
  return m;
}

void Module::erase(const std::string& name) {
  params_.erase(name);
  buffers_.erase(name);
  children_.erase(name);
}

namespace {
// Depth-first in registration order: a module's own tensors of one kind, then
// each child's; a tensor shared by several modules (tied weights) is listed once.
NamedTensors collect(const Module& root, OrderedDict<Tensor> Module::*which, bool recurse, const std::string& prefix,
                     const std::function<const OrderedDict<ModulePtr>&(const Module&)>& children_of) {
  NamedTensors out;
  std::unordered_set<const TensorImpl*> seen;
  std::function<void(const std::string&, const Module&)> visit = [&](const std::string& p, const Module& m) {
    for (const auto& [n, t] : m.*which)
      if (t.defined() && seen.insert(t.impl()).second) out.emplace_back(join(p, n), t);
    if (!recurse) return;
    for (const auto& [n, c] : children_of(m))
      if (c) visit(join(p, n), *c);
  };
  visit(prefix, root);
  return out;
}
}  // namespace

NamedTensors Module::named_parameters(bool recurse, const std::string& prefix) const {
  return collect(*this, &Module::params_, recurse, prefix, [](const Module& m) -> const auto& { return m.children_; });
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> r;
  for (auto& kv : named_parameters(recurse)) r.push_back(kv.second);
  return r;
}

NamedTensors Module::named_buffers(bool recurse, const std::string& prefix) const {
  return collect(*this, &Module::buffers_, recurse, prefix, [](const Module& m) -> const auto& { return m.children_; });
}

std::vector<Tensor> Module::buffers(bool recurse) const {
  std::vector<Tensor> r;
  for (auto& kv : named_buffers(recurse)) r.push_back(kv.second);
  return r;
}

std::vector<std::pair<std::string, ModulePtr>> Module::named_children() const {
  std::vector<std::pair<std::string, ModulePtr>> r;
  for (const auto& [n, c] : children_)
    if (c) r.emplace_back(n, c);
  return r;
}

std::vector<ModulePtr> Module::children() const {
  std::vector<ModulePtr> r;
  for (auto& kv : named_children()) r.push_back(kv.second);
  return r;
}

std::vector<std::pair<std::string, ModulePtr>> Module::named_modules(const std::string& prefix) {
  std::vector<std::pair<std::string, ModulePtr>> out;
  std::unordered_set<const Module*> seen;
  std::function<void(const std::string&, const ModulePtr&)> visit = [&](const std::string& p, const ModulePtr& m) {
    if (!seen.insert(m.get()).second) return;
    out.emplace_back(p, m);
    for (const auto& [n, c] : m->children_)
      if (c) visit(join(p, n), c);
  };
  // A module owned by a Python object alone has no shared_ptr to share (see
  // py::smart_holder): then point at it without owning, as the caller holds it anyway.
  ModulePtr self = weak_from_this().lock();
  if (!self) self = ModulePtr(ModulePtr(), this);
  visit(prefix, self);
  return out;
}

std::vector<ModulePtr> Module::modules() {
  std::vector<ModulePtr> r;
  for (auto& kv : named_modules()) r.push_back(kv.second);
  return r;
}

void Module::train(bool on) {
  training_ = on;
  for (const auto& [n, c] : children_)
    if (c) c->train(on);
}

void Module::zero_grad(bool set_to_none) {
  for (Tensor& p : parameters()) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (set_to_none) {
      p.set_grad(Tensor());
    } else {
      autograd::NoGradGuard ng;
      g.detach_();
      g.zero_();
    }
  }
}

void Module::apply(const std::function<void(Module&)>& fn) {
  for (const auto& [n, c] : children_)
    if (c) c->apply(fn);
  fn(*this);
}

void Module::requires_grad_(bool requires_grad) {
  for (Tensor& p : parameters()) p.requires_grad_(requires_grad);
}

StateDict Module::state_dict(const std::string& prefix) const {
  StateDict sd;
  std::function<void(const std::string&, const Module&)> visit = [&](const std::string& p, const Module& m) {
    for (const auto& [n, t] : m.params_)
      if (t.defined()) sd.emplace_back(join(p, n), t.detach());
    for (const auto& [n, t] : m.buffers_)
      if (t.defined() && std::find(m.non_persistent_.begin(), m.non_persistent_.end(), n) == m.non_persistent_.end())
        sd.emplace_back(join(p, n), t.detach());
    for (const auto& [n, c] : m.children_)
      if (c) visit(join(p, n), *c);
  };
  visit(prefix, *this);
  return sd;
}

LoadStateDictResult Module::load_state_dict(const StateDict& sd, bool strict) {
  StateDict mine = state_dict();
  std::map<std::string, Tensor> given(sd.begin(), sd.end());
  LoadStateDictResult r;
  std::set<std::string> known;
  // Check every shape before copying anything, so a failed load changes nothing.
  for (auto& [k, t] : mine) {
    known.insert(k);
    auto it = given.find(k);
    if (it == given.end()) {
      r.missing_keys.push_back(k);
      continue;
    }
    SS_CHECK(it->second.shape() == t.shape(), ValueError, "load_state_dict: size mismatch for ", k,
             ": copying a param with shape ", it->second.shape(), " from checkpoint, the shape in current model is ",
             t.shape());
  }
  for (auto& [k, t] : sd)
    if (!known.count(k)) r.unexpected_keys.push_back(k);
  if (strict && (!r.missing_keys.empty() || !r.unexpected_keys.empty())) {
    std::string msg = "load_state_dict: error(s) in loading state_dict for " + type_name_ + ":";
    if (!r.missing_keys.empty()) {
      msg += " Missing key(s):";
      for (auto& k : r.missing_keys) msg += " \"" + k + "\"";
      msg += ".";
    }
    if (!r.unexpected_keys.empty()) {
      msg += " Unexpected key(s):";
      for (auto& k : r.unexpected_keys) msg += " \"" + k + "\"";
      msg += ".";
    }
    throw RuntimeError(msg);
  }
  autograd::NoGradGuard ng;
  for (auto& [k, t] : mine) {
    auto it = given.find(k);
    if (it != given.end()) Tensor(t).copy_(it->second);
  }
  return r;
}

int Module::register_forward_hook(ForwardHook hook) {
  return register_replacing_forward_hook(
      [h = std::move(hook)](Module& m, const std::vector<Tensor>& in, std::vector<Tensor>& out) { h(m, in, out); });
}

int Module::register_replacing_forward_hook(ReplacingForwardHook hook) {
  int id = next_hook_id_++;
  forward_hooks_.emplace_back(id, std::move(hook));
  return id;
}

bool Module::is_persistent_buffer(const std::string& name) const {
  return buffers_.contains(name) &&
         std::find(non_persistent_.begin(), non_persistent_.end(), name) == non_persistent_.end();
}

void Module::remove_forward_hook(int handle) {
  forward_hooks_.erase(std::remove_if(forward_hooks_.begin(), forward_hooks_.end(),
                                      [handle](const auto& h) { return h.first == handle; }),
                       forward_hooks_.end());
}

std::vector<Tensor> Module::run_forward_hooks(const std::vector<Tensor>& inputs, std::vector<Tensor> outputs) {
  // Copy: a hook may remove itself.
  auto hooks = forward_hooks_;
  for (auto& [id, h] : hooks) h(*this, inputs, outputs);
  return outputs;
}

Tensor Module::forward(const Tensor& input) {
  throw RuntimeError(cat_str(type_name_, ".forward: this module does not take a single tensor input (got shape ",
                             input.shape(), ")"));
}

Tensor Module::operator()(const Tensor& input) {
  Tensor out = forward(input);
  if (forward_hooks_.empty()) return out;
  std::vector<Tensor> outs = run_forward_hooks({input}, {out});
  SS_CHECK(outs.size() == 1, TypeError, type_name_, ": a forward hook replaced the output by ", outs.size(),
           " tensors where the caller takes one");
  return outs[0];
}

std::string Module::repr() const {
  // PyTorch's layout: the extra_repr alone on one line when there are no
  // children, otherwise one line per extra_repr line and per child, indented.
  auto indent = [](const std::string& s) {
    std::string r;
    for (char ch : s) {
      r += ch;
      if (ch == '\n') r += "  ";
    }
    return r;
  };
  std::vector<std::string> lines;
  std::string extra = extra_repr();
  if (!extra.empty()) {
    std::istringstream is(extra);
    for (std::string l; std::getline(is, l);) lines.push_back(l);
  }
  size_t n_extra = lines.size();
  for (const auto& [n, c] : children_)
    if (c) lines.push_back("(" + n + "): " + indent(c->repr()));
  std::ostringstream os;
  os << type_name_ << "(";
  if (lines.size() == 1 && n_extra == 1) {
    os << lines[0];
  } else if (!lines.empty()) {
    os << "\n";
    for (auto& l : lines) os << "  " << l << "\n";
  }
  os << ")";
  return os.str();
}

}  // namespace shanshui::nn
