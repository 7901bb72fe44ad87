// An insertion-ordered name -> value map (parameters, buffers, children keep
// the order in which a module registered them, as PyTorch's OrderedDict).
#pragma once
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/error.h"

namespace shanshui::nn {

template <class V>
class OrderedDict {
 public:
  using Item = std::pair<std::string, V>;

  // Insert or replace; returns the slot index, which stays valid until erase().
  size_t set(const std::string& key, V value) {
    auto it = index_.find(key);
    if (it != index_.end()) {
      items_[it->second].second = std::move(value);
      return it->second;
    }
    index_[key] = items_.size();
    items_.emplace_back(key, std::move(value));
    return items_.size() - 1;
  }
  bool contains(const std::string& key) const { return index_.count(key) != 0; }
  V& operator[](const std::string& key) {
    auto it = index_.find(key);
    SS_CHECK(it != index_.end(), IndexError, "OrderedDict: no entry named '", key, "'");
    return items_[it->second].second;
  }
  const V& operator[](const std::string& key) const {
    auto it = index_.find(key);
    SS_CHECK(it != index_.end(), IndexError, "OrderedDict: no entry named '", key, "'");
    return items_[it->second].second;
  }
  V& at(size_t i) { return items_[i].second; }
  const V& at(size_t i) const { return items_[i].second; }
  void erase(const std::string& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return;
    items_.erase(items_.begin() + it->second);
    index_.clear();
    for (size_t i = 0; i < items_.size(); ++i) index_[items_[i].first] = i;
  }
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }
  auto begin() { return items_.begin(); }
  auto end() { return items_.end(); }

 private:
  std::vector<Item> items_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace shanshui::nn
