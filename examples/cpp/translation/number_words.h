// German number words to English number words: the toy translation task of
// examples/translation/number_words.py, ported to C++ word for word.
//
// German says the units before the tens ("ein und zwanzig" = one and twenty),
// English after ("twenty one"), so a model has to reorder, not just map words:
//   347021 -> "drei hundert sieben und vierzig tausend ein und zwanzig"
//          -> "three hundred forty seven thousand twenty one"
// Compounds are split so each token is a word. Token 0 is padding, 1 <bos>, 2 <eos>.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace number_words {

using Words = std::vector<std::string>;
constexpr int64_t PAD = 0, BOS = 1, EOS = 2;

Words german(int64_t n);   // 0 <= n <= 999999; throws std::invalid_argument otherwise
Words english(int64_t n);

class Vocab {
 public:
  explicit Vocab(const Words& words);  // <pad>, <bos>, <eos>, then the sorted distinct words
  int64_t size() const { return int64_t(itos_.size()); }
  const std::string& word(int64_t id) const { return itos_.at(size_t(id)); }
  // Throws std::invalid_argument naming the unknown word.
  std::vector<int64_t> encode(const Words& words) const;
  // Stops at <eos>, skips <pad> and <bos>.
  Words decode(const std::vector<int64_t>& ids) const;

 private:
  Words itos_;
  std::map<std::string, int64_t> stoi_;
};

// Every word the two languages use for 0..999999, each list sorted.
std::pair<Words, Words> all_words();

// Disjoint random numbers in [0, max_number] for training and held-out testing,
// every count of digits equally likely (as number_words.py).
std::pair<std::vector<int64_t>, std::vector<int64_t>> make_splits(int64_t n_train, int64_t n_test,
                                                                   int64_t max_number = 999999, uint64_t seed = 0);

// Padded row-major batches: src [B, S] (German word ids), tgt [B, T] (<bos> English ids <eos>).
struct Batch {
  std::vector<int64_t> src, tgt;
  int64_t batch = 0, src_len = 0, tgt_len = 0;
};
Batch encode_batch(const std::vector<int64_t>& numbers, const Vocab& src_vocab, const Vocab& tgt_vocab);

std::string join(const Words& words);

}  // namespace number_words
