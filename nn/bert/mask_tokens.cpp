#include "nn/bert/mask_tokens.h"

#include <algorithm>

#include "autograd/grad_mode.h"
#include "core/ops.h"

namespace shanshui::nn::functional {

std::pair<Tensor, Tensor> mask_tokens(const Tensor& ids, int64_t mask_token_id, int64_t vocab_size,
                                      double mlm_probability, const Tensor& special, double mask_replace_prob,
                                      double random_replace_prob) {
  const char* op = "mask_tokens";
  SS_CHECK(ids.defined(), ValueError, op, ": input_ids is undefined");
  SS_CHECK(ids.dtype() == DType::Int64, TypeError, op, ": input_ids must be int64, got ", dtype_name(ids.dtype()));
  SS_CHECK(vocab_size > 0, ValueError, op, ": vocab_size must be positive, got ", vocab_size);
  SS_CHECK(mask_token_id >= 0 && mask_token_id < vocab_size, ValueError, op, ": mask_token_id (", mask_token_id,
           ") must be in [0, vocab_size=", vocab_size, ")");
  SS_CHECK(mlm_probability >= 0 && mlm_probability <= 1, ValueError, op, ": mlm_probability must be in [0, 1], got ",
           mlm_probability);
  SS_CHECK(mask_replace_prob >= 0 && mask_replace_prob <= 1 && random_replace_prob >= 0 && random_replace_prob <= 1 &&
               mask_replace_prob + random_replace_prob <= 1 + 1e-12,
           ValueError, op, ": mask_replace_prob (", mask_replace_prob, ") and random_replace_prob (",
           random_replace_prob, ") must be in [0, 1] and sum to at most 1");
  if (special.defined())
    SS_CHECK(special.shape() == ids.shape(), ValueError, op, ": special_tokens_mask of shape ", special.shape(),
             " does not match input_ids of shape ", ids.shape());

  autograd::NoGradGuard ng;
  const Shape& shape = ids.shape();
  // Selection: Bernoulli(mlm_probability), never on special tokens.
  Tensor prob = full(shape, mlm_probability, DType::Float32);
  if (special.defined()) prob = masked_fill(prob, special.dtype() == DType::Bool ? special : ne(special, 0), 0.0);
  Tensor selected = ne(bernoulli(prob), 0);
  Tensor labels = where(selected, ids, full(shape, int64_t(-100), DType::Int64));

  Tensor replaced = logical_and(ne(bernoulli(full(shape, mask_replace_prob, DType::Float32)), 0), selected);
  Tensor inputs = where(replaced, full(shape, mask_token_id, DType::Int64), ids);
  if (mask_replace_prob >= 1 || random_replace_prob <= 0) return {inputs, labels};

  // Of the selected tokens not replaced by [MASK] (1 - mask_replace_prob of them), this
  // fraction gets a random id, so random_replace_prob of all selected do.
  const double scaled = std::min(1.0, random_replace_prob / (1 - mask_replace_prob));
  Tensor randomized = logical_and(logical_and(ne(bernoulli(full(shape, scaled, DType::Float32)), 0), selected),
                                  logical_not(replaced));
  inputs = where(randomized, randint(0, vocab_size, shape, DType::Int64), inputs);
  return {inputs, labels};
}

}  // namespace shanshui::nn::functional
