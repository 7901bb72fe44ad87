#include "nn/embedding.h"

#include "autograd/grad_mode.h"
#include "core/ops.h"
#include "nn/init.h"

namespace shanshui::nn {

Embedding::Embedding(int64_t n, int64_t d, std::optional<int64_t> pad, DType dtype)
    : Module("Embedding"), num_embeddings(n), embedding_dim(d), padding_idx(pad) {
  SS_CHECK(n >= 0 && d >= 0, ValueError, "Embedding: num_embeddings and embedding_dim must be non-negative, got ", n,
           " and ", d);
  if (padding_idx) {
    SS_CHECK(*padding_idx >= -n && *padding_idx < n, ValueError, "Embedding: padding_idx ", *padding_idx,
             " must be within num_embeddings (", n, ")");
    if (*padding_idx < 0) padding_idx = *padding_idx + n;
  }
  register_parameter("weight", empty({n, d}, dtype));
  reset_parameters();
}

void Embedding::reset_parameters() {
  init::normal_(weight());
  if (padding_idx) {
    autograd::NoGradGuard ng;
    weight().select(0, *padding_idx).zero_();
  }
}

Tensor Embedding::forward(const Tensor& indices) { return embedding(weight(), indices, padding_idx); }

std::string Embedding::extra_repr() const {
  std::string s = cat_str(num_embeddings, ", ", embedding_dim);
  if (padding_idx) s += cat_str(", padding_idx=", *padding_idx);
  return s;
}

}  // namespace shanshui::nn
