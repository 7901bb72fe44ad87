// BERT's masked-language-model corruption (the 80/10/10 rule), as Hugging
// Face's DataCollatorForLanguageModeling.torch_mask_tokens:
//   - each position not in special_tokens_mask is selected with probability mlm_probability;
//   - of the selected, mask_replace_prob (80%) become mask_token_id, random_replace_prob
//     (10%) a uniformly random id in [0, vocab_size), the rest (10%) stay as they are;
//   - labels hold the original id at selected positions and -100 (cross_entropy's
//     ignore_index) everywhere else.
// Draws come from the library's generator, so manual_seed makes the masks reproducible
// (they are not torch's numbers). special_tokens_mask (bool, or nonzero = special) of
// input_ids' shape marks positions that are never selected; undefined = none.
#pragma once
#include <utility>

#include "core/tensor.h"

namespace shanshui::nn::functional {

// Returns (inputs, labels), both int64 of input_ids' shape; input_ids is not modified.
std::pair<Tensor, Tensor> mask_tokens(const Tensor& input_ids, int64_t mask_token_id, int64_t vocab_size,
                                      double mlm_probability = 0.15, const Tensor& special_tokens_mask = Tensor(),
                                      double mask_replace_prob = 0.8, double random_replace_prob = 0.1);

}  // namespace shanshui::nn::functional
