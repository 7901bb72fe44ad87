// Embedding: a lookup table [num_embeddings, embedding_dim]; the row at
// padding_idx starts at zero and receives no gradient.
#pragma once
#include <optional>

#include "nn/module.h"

namespace shanshui::nn {

class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, std::optional<int64_t> padding_idx = std::nullopt,
            DType dtype = DType::Float32);
  Tensor forward(const Tensor& indices) override;
  void reset_parameters();
  std::string extra_repr() const override;
  Tensor& weight() { return params_["weight"]; }
  int64_t num_embeddings, embedding_dim;
  std::optional<int64_t> padding_idx;
};

}  // namespace shanshui::nn
