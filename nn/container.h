// Containers: Sequential (chains single-tensor forwards), ModuleList, ModuleDict.
#pragma once
#include <initializer_list>

#include "nn/module.h"

namespace shanshui::nn {

class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}
  Sequential(std::initializer_list<ModulePtr> mods) : Module("Sequential") {
    for (auto& m : mods) push_back(m);
  }
  void push_back(ModulePtr m) { register_module(std::to_string(children_.size()), std::move(m)); }
  size_t size() const { return children_.size(); }
  ModulePtr operator[](int64_t i) const;
  Tensor forward(const Tensor& x) override {
    Tensor h = x;
    for (auto& [name, m] : children_) h = (*m)(h);
    return h;
  }
};

class ModuleList : public Module {
 public:
  ModuleList() : Module("ModuleList") {}
  ModuleList(std::initializer_list<ModulePtr> mods) : Module("ModuleList") {
    for (auto& m : mods) push_back(m);
  }
  void push_back(ModulePtr m) { register_module(std::to_string(children_.size()), std::move(m)); }
  size_t size() const { return children_.size(); }
  ModulePtr operator[](int64_t i) const;
};

class ModuleDict : public Module {
 public:
  ModuleDict() : Module("ModuleDict") {}
  void insert(const std::string& key, ModulePtr m) { register_module(key, std::move(m)); }
  bool contains(const std::string& key) const { return children_.contains(key); }
  ModulePtr operator[](const std::string& key) const { return children_[key]; }
  size_t size() const { return children_.size(); }
};

inline ModulePtr index_child(const OrderedDict<ModulePtr>& c, int64_t i, const char* type) {
  int64_t n = int64_t(c.size());
  SS_CHECK(i >= -n && i < n, IndexError, type, ": index ", i, " is out of range for ", n, " modules");
  return c.at(size_t(i < 0 ? i + n : i));
}
inline ModulePtr Sequential::operator[](int64_t i) const { return index_child(children_, i, "Sequential"); }
inline ModulePtr ModuleList::operator[](int64_t i) const { return index_child(children_, i, "ModuleList"); }

}  // namespace shanshui::nn
