#include "optim/checkpoint.h"

#include <nlohmann/json.hpp>

#include "core/ops/random.h"
#include "core/serialize.h"

namespace shanshui::optim {

namespace {

using json = nlohmann::ordered_json;
constexpr const char* kTreeKey = "shanshui.tree";

// The tagged JSON of python/shanshui/serialization.py: dicts keep key types as [key, value] pairs.
json dict_node(json pairs) { return json{{"__dict__", std::move(pairs)}}; }
json tensor_node(const std::string& name) { return json{{"__tensor__", name}}; }

// Lookup in a tagged dict; throws naming the path when absent.
const json& get(const json& node, const json& key, const std::string& path, const std::string& what) {
  SS_CHECK(node.is_object() && node.contains("__dict__") && node["__dict__"].is_array(), ValueError,
           "load_training_state: '", path, "': ", what, " is not a dict");
  for (const json& kv : node["__dict__"])
    if (kv.is_array() && kv.size() == 2 && kv[0] == key) return kv[1];
  throw ValueError(cat_str("load_training_state: '", path, "': no '", key.dump(), "' in ", what));
}

const Tensor& tensor_of(const json& node, const std::map<std::string, Tensor>& tensors, const std::string& path) {
  SS_CHECK(node.is_object() && node.contains("__tensor__") && node["__tensor__"].is_string(), ValueError,
           "load_training_state: '", path, "': expected a tensor entry, got ", node.dump());
  auto it = tensors.find(node["__tensor__"].get<std::string>());
  SS_CHECK(it != tensors.end(), ValueError, "load_training_state: '", path, "': tensor '",
           node["__tensor__"].get<std::string>(), "' is missing from the file");
  return it->second;
}

}  // namespace

void save_training_state(const std::string& path, const nn::Module& model, const Optimizer& optimizer,
                         const LRScheduler* scheduler, int64_t step) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  json model_pairs = json::array();
  for (const auto& [k, t] : model.state_dict()) {
    tensors.emplace_back("model." + k, t);
    model_pairs.push_back({k, tensor_node("model." + k)});
  }
  const OptimizerStateDict sd = optimizer.state_dict();
  json state_pairs = json::array();
  for (const auto& [idx, st] : sd.state) {
    json entry = json::array({json::array({"step", st.step})});
    for (const auto& [k, t] : st.tensors) {
      if (!t.defined()) continue;
      std::string name = "optimizer.state." + std::to_string(idx) + "." + k;
      tensors.emplace_back(name, t);
      entry.push_back({k, tensor_node(name)});
    }
    state_pairs.push_back({idx, dict_node(std::move(entry))});
  }
  json groups = json::array();
  for (size_t g = 0; g < sd.param_groups.size(); ++g) {
    json pairs = json::array();
    for (const auto& [k, v] : sd.param_groups[g]) pairs.push_back({k, v});
    pairs.push_back({"params", sd.group_params[g]});
    groups.push_back(dict_node(std::move(pairs)));
  }
  json top = json::array();
  top.push_back({"model", dict_node(std::move(model_pairs))});
  top.push_back({"optimizer", dict_node(json::array({json::array({"state", dict_node(std::move(state_pairs))}),
                                                     json::array({"param_groups", std::move(groups)}),
                                                     json::array({"name", optimizer.name()})}))});
  if (scheduler)
    top.push_back({"scheduler", dict_node(json::array({json::array({"last_epoch", scheduler->last_epoch()}),
                                                       json::array({"base_lrs", scheduler->base_lrs()}),
                                                       json::array({"_last_lr", scheduler->get_last_lr()})}))});
  top.push_back({"step", step});
  tensors.emplace_back("rng_state", get_rng_state());
  top.push_back({"rng_state", tensor_node("rng_state")});
  save_safetensors(tensors, path, {{kTreeKey, dict_node(std::move(top)).dump()}});
}

int64_t load_training_state(const std::string& path, nn::Module& model, Optimizer& optimizer,
                            LRScheduler* scheduler) {
  // Read and check everything before changing anything, so a bad file leaves the run as it was.
  const std::map<std::string, Tensor> tensors = load_safetensors(path);
  const auto md = load_safetensors_metadata(path);
  auto it = md.find(kTreeKey);
  SS_CHECK(it != md.end(), ValueError, "load_training_state: '", path,
           "' has no training state (no __metadata__['", kTreeKey, "'])");
  const json tree = json::parse(it->second, nullptr, /*allow_exceptions=*/false);
  SS_CHECK(!tree.is_discarded(), ValueError, "load_training_state: '", path, "': the saved structure is not JSON");

  nn::StateDict model_sd;
  OptimizerStateDict osd;
  int64_t step = 0, last_epoch = 0;
  std::vector<double> base_lrs;
  Tensor rng;
  try {
  const json& m = get(tree, "model", path, "the checkpoint");
  for (const json& kv : m["__dict__"]) {
    SS_CHECK(kv.is_array() && kv.size() == 2 && kv[0].is_string(), ValueError, "load_training_state: '", path,
             "': malformed model entry");
    model_sd.emplace_back(kv[0].get<std::string>(), tensor_of(kv[1], tensors, path));
  }

  const json& o = get(tree, "optimizer", path, "the checkpoint");
  const json& name = get(o, "name", path, "the optimizer state");
  SS_CHECK(name == optimizer.name(), ValueError, "load_training_state: '", path, "' holds a ", name.dump(),
           " state but the optimizer is ", optimizer.name());
  for (const json& kv : get(o, "state", path, "the optimizer state")["__dict__"]) {
    SS_CHECK(kv.is_array() && kv.size() == 2 && kv[0].is_number_integer(), ValueError, "load_training_state: '",
             path, "': malformed optimizer state entry");
    ParamState st;
    for (const json& e : kv[1].at("__dict__")) {
      const std::string k = e.at(0).get<std::string>();
      if (k == "step") st.step = e.at(1).get<int64_t>();
      else st.tensors[k] = tensor_of(e.at(1), tensors, path);
    }
    osd.state[kv[0].get<int64_t>()] = std::move(st);
  }
  const json& groups = get(o, "param_groups", path, "the optimizer state");
  SS_CHECK(groups.is_array(), ValueError, "load_training_state: '", path, "': param_groups is not a list");
  for (const json& g : groups) {
    Options opts;
    std::vector<int64_t> ids;
    for (const json& e : g.at("__dict__")) {
      const std::string k = e.at(0).get<std::string>();
      if (k == "params") ids = e.at(1).get<std::vector<int64_t>>();
      else opts[k] = e.at(1).get<double>();
    }
    osd.param_groups.push_back(std::move(opts));
    osd.group_params.push_back(std::move(ids));
  }
  step = get(tree, "step", path, "the checkpoint").get<int64_t>();
  rng = tensor_of(get(tree, "rng_state", path, "the checkpoint"), tensors, path);
  if (scheduler) {
    const json& s = get(tree, "scheduler", path, "the checkpoint");
    last_epoch = get(s, "last_epoch", path, "the scheduler state").get<int64_t>();
    base_lrs = get(s, "base_lrs", path, "the scheduler state").get<std::vector<double>>();
  }
  } catch (const nlohmann::json::exception& e) {  // a wrong type or shape somewhere in the structure
    throw ValueError(cat_str("load_training_state: '", path, "': malformed training state (", e.what(), ")"));
  }

  model.load_state_dict(model_sd, /*strict=*/true);
  optimizer.load_state_dict(osd);
  if (scheduler) scheduler->load_state(last_epoch, base_lrs);
  set_rng_state(rng);
  return step;
}

}  // namespace shanshui::optim
