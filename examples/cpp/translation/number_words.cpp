#include "number_words.h"

#include <algorithm>
#include <random>
#include <set>
#include <stdexcept>
#include <unordered_set>

namespace number_words {
namespace {

const char* const DE_UNITS[] = {"null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"};
const char* const DE_TEENS[] = {"zehn",      "elf",      "zwölf",    "dreizehn", "vierzehn",
                                "fünfzehn",  "sechzehn", "siebzehn", "achtzehn", "neunzehn"};
const char* const DE_TENS[] = {"", "", "zwanzig", "dreißig", "vierzig", "fünfzig", "sechzig", "siebzig", "achtzig",
                               "neunzig"};
const char* const EN_UNITS[] = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"};
const char* const EN_TEENS[] = {"ten",     "eleven",  "twelve",    "thirteen", "fourteen",
                                "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"};
const char* const EN_TENS[] = {"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"};

void check_range(int64_t n) {
  if (n < 0 || n > 999999)
    throw std::invalid_argument("number_words: n must be in [0, 999999], got " + std::to_string(n));
}

// German words of 1 <= n < 1000. `final`: the number ends here ("eins", not "ein").
void de_below_1000(int64_t n, bool final, Words& w) {
  int64_t h = n / 100, r = n % 100;
  if (h) {
    w.push_back(h == 1 ? "ein" : DE_UNITS[h]);
    w.push_back("hundert");
  }
  if (r == 0) return;
  if (r < 10) {
    w.push_back(r == 1 ? (final ? "eins" : "ein") : DE_UNITS[r]);
  } else if (r < 20) {
    w.push_back(DE_TEENS[r - 10]);
  } else {
    int64_t t = r / 10, u = r % 10;
    if (u) {
      w.push_back(u == 1 ? "ein" : DE_UNITS[u]);
      w.push_back("und");
    }
    w.push_back(DE_TENS[t]);
  }
}

void en_below_1000(int64_t n, Words& w) {
  int64_t h = n / 100, r = n % 100;
  if (h) {
    w.push_back(EN_UNITS[h]);
    w.push_back("hundred");
  }
  if (r == 0) return;
  if (r < 10) {
    w.push_back(EN_UNITS[r]);
  } else if (r < 20) {
    w.push_back(EN_TEENS[r - 10]);
  } else {
    w.push_back(EN_TENS[r / 10]);
    if (r % 10) w.push_back(EN_UNITS[r % 10]);
  }
}

}  // namespace

Words german(int64_t n) {
  check_range(n);
  if (n == 0) return {"null"};
  Words w;
  if (n / 1000) {
    de_below_1000(n / 1000, false, w);
    w.push_back("tausend");
  }
  if (n % 1000) de_below_1000(n % 1000, true, w);
  return w;
}

Words english(int64_t n) {
  check_range(n);
  if (n == 0) return {"zero"};
  Words w;
  if (n / 1000) {
    en_below_1000(n / 1000, w);
    w.push_back("thousand");
  }
  if (n % 1000) en_below_1000(n % 1000, w);
  return w;
}

Vocab::Vocab(const Words& words) : itos_{"<pad>", "<bos>", "<eos>"} {
  std::set<std::string> sorted(words.begin(), words.end());
  itos_.insert(itos_.end(), sorted.begin(), sorted.end());
  for (size_t i = 0; i < itos_.size(); ++i) stoi_[itos_[i]] = int64_t(i);
}

std::vector<int64_t> Vocab::encode(const Words& words) const {
  std::vector<int64_t> ids;
  for (const auto& w : words) {
    auto it = stoi_.find(w);
    if (it == stoi_.end()) throw std::invalid_argument("unknown word '" + w + "'");
    ids.push_back(it->second);
  }
  return ids;
}

Words Vocab::decode(const std::vector<int64_t>& ids) const {
  Words out;
  for (int64_t i : ids) {
    if (i == EOS) break;
    if (i != PAD && i != BOS && i >= 0 && i < size()) out.push_back(itos_[size_t(i)]);
  }
  return out;
}

std::pair<Words, Words> all_words() {
  // Every word appears in some n < 1000 or some multiple of 1000 (the "ein" before "tausend").
  std::set<std::string> de, en;
  std::vector<int64_t> ns;
  for (int64_t n = 0; n < 1000; ++n) ns.push_back(n);
  for (int64_t k = 1; k < 1000; ++k) ns.push_back(1000 * k);
  ns.push_back(1001), ns.push_back(21021);
  for (int64_t n : ns) {
    for (auto& w : german(n)) de.insert(w);
    for (auto& w : english(n)) en.insert(w);
  }
  return {Words(de.begin(), de.end()), Words(en.begin(), en.end())};
}

std::pair<std::vector<int64_t>, std::vector<int64_t>> make_splits(int64_t n_train, int64_t n_test,
                                                                   int64_t max_number, uint64_t seed) {
  if (n_train < 0 || n_test < 0 || n_train + n_test > max_number + 1)
    throw std::invalid_argument("make_splits: cannot draw " + std::to_string(n_train) + " + " +
                                std::to_string(n_test) + " distinct numbers from [0, " + std::to_string(max_number) +
                                "]");
  // Every count of digits is equally likely, as number_words.py's make_splits:
  // uniform numbers would be 90% six-digit ones, and the model would never see
  // "sieben und vierzig". A class whose numbers are used up drops out.
  struct Class { int64_t lo, hi, used = 0; };
  std::vector<Class> classes;
  for (int64_t lo = 0, hi = 9; lo <= max_number; lo = hi + 1, hi = hi * 10 + 9)
    classes.push_back({lo, std::min(hi, max_number)});
  std::mt19937_64 rng(seed);
  std::unordered_set<int64_t> seen;
  std::vector<int64_t> all;
  while (int64_t(all.size()) < n_train + n_test) {
    std::vector<Class*> open;
    for (auto& c : classes)
      if (c.used < c.hi - c.lo + 1) open.push_back(&c);
    Class& c = *open[std::uniform_int_distribution<size_t>(0, open.size() - 1)(rng)];
    int64_t n = std::uniform_int_distribution<int64_t>(c.lo, c.hi)(rng);
    if (seen.insert(n).second) all.push_back(n), ++c.used;
  }
  // The small classes run out early in the sequence: shuffle before splitting,
  // or the held-out tail would hold only large numbers.
  std::shuffle(all.begin(), all.end(), rng);
  return {std::vector<int64_t>(all.begin(), all.begin() + n_train),
          std::vector<int64_t>(all.begin() + n_train, all.end())};
}

Batch encode_batch(const std::vector<int64_t>& numbers, const Vocab& src_vocab, const Vocab& tgt_vocab) {
  std::vector<std::vector<int64_t>> src, tgt;
  Batch b;
  b.batch = int64_t(numbers.size());
  for (int64_t n : numbers) {
    src.push_back(src_vocab.encode(german(n)));
    std::vector<int64_t> t{BOS};
    for (int64_t id : tgt_vocab.encode(english(n))) t.push_back(id);
    t.push_back(EOS);
    tgt.push_back(std::move(t));
    b.src_len = std::max(b.src_len, int64_t(src.back().size()));
    b.tgt_len = std::max(b.tgt_len, int64_t(tgt.back().size()));
  }
  b.src.assign(size_t(b.batch * b.src_len), PAD);
  b.tgt.assign(size_t(b.batch * b.tgt_len), PAD);
  for (size_t i = 0; i < numbers.size(); ++i) {
    std::copy(src[i].begin(), src[i].end(), b.src.begin() + long(i) * b.src_len);
    std::copy(tgt[i].begin(), tgt[i].end(), b.tgt.begin() + long(i) * b.tgt_len);
  }
  return b;
}

std::string join(const Words& words) {
  std::string s;
  for (const auto& w : words) s += (s.empty() ? "" : " ") + w;
  return s;
}

}  // namespace number_words
