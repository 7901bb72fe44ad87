// The translation demo's data generator (examples/cpp/translation/number_words.h),
// on numbers whose words are known by hand, and its vocabulary and batches.
#include <catch2/catch.hpp>
#include <set>
#include <stdexcept>

#include "translation/number_words.h"

namespace nw = number_words;

TEST_CASE("number_words: German and English words of hand-checked numbers", "[number_words]") {
  // The docstring's example: the units come before the tens in German only.
  CHECK(nw::join(nw::german(347021)) == "drei hundert sieben und vierzig tausend ein und zwanzig");
  CHECK(nw::join(nw::english(347021)) == "three hundred forty seven thousand twenty one");
  CHECK(nw::join(nw::german(0)) == "null");
  CHECK(nw::join(nw::english(0)) == "zero");
  // "eins" only where the number ends; "ein" before hundert, tausend and und.
  CHECK(nw::join(nw::german(1)) == "eins");
  CHECK(nw::join(nw::german(1001)) == "ein tausend eins");
  CHECK(nw::join(nw::german(101)) == "ein hundert eins");
  CHECK(nw::join(nw::german(31)) == "ein und dreißig");
  CHECK(nw::join(nw::german(12)) == "zwölf");
  CHECK(nw::join(nw::english(12)) == "twelve");
  CHECK(nw::join(nw::german(999999)) == "neun hundert neun und neunzig tausend neun hundert neun und neunzig");
  CHECK(nw::join(nw::english(999999)) == "nine hundred ninety nine thousand nine hundred ninety nine");
  CHECK(nw::join(nw::english(50000)) == "fifty thousand");
  CHECK_THROWS_AS(nw::german(1000000), std::invalid_argument);
  CHECK_THROWS_AS(nw::english(-1), std::invalid_argument);
}

TEST_CASE("number_words: vocabularies, splits and padded batches", "[number_words]") {
  auto [de, en] = nw::all_words();
  nw::Vocab sv(de), tv(en);
  // null, eins .. neun (10) and ein, 10 teens, 8 tens, und, hundert, tausend = 32 German words;
  // 10 units, 10 teens, 8 tens, hundred, thousand = 30 English words; plus <pad> <bos> <eos>.
  CHECK(sv.size() == 35);
  CHECK(tv.size() == 33);
  CHECK(sv.word(nw::PAD) == "<pad>");
  CHECK(tv.decode(tv.encode({"forty", "two"})) == nw::Words{"forty", "two"});
  CHECK_THROWS_WITH(sv.encode({"zwanzig", "twenty"}), Catch::Contains("unknown word 'twenty'"));

  auto [train, test] = nw::make_splits(500, 100, 999999, 3);
  std::set<int64_t> all(train.begin(), train.end());
  all.insert(test.begin(), test.end());
  CHECK(all.size() == 600);  // distinct, so no held-out number is trained on
  // Digit counts equally likely: about 100 picks per class of 1..6 digits, so
  // the 100 numbers below 100 are mostly drawn (repeats are redrawn), where
  // uniform draws would give about none; 3-digit numbers about 100 of 900.
  int64_t below_100 = 0, three_digits = 0;
  for (int64_t n : all) below_100 += n < 100, three_digits += n >= 100 && n < 1000;
  CHECK(below_100 >= 50);
  CHECK(three_digits >= 60);
  CHECK(three_digits <= 140);
  // Short numbers are used up first: both splits must still get their share.
  int64_t test_below_100 = 0;
  for (int64_t n : test) test_below_100 += n < 100;
  CHECK(test_below_100 >= 3);
  CHECK_THROWS_AS(nw::make_splits(8, 3, 9), std::invalid_argument);

  nw::Batch b = nw::encode_batch({21, 1000}, sv, tv);
  REQUIRE(b.batch == 2);
  CHECK(b.src_len == 3);  // "ein und zwanzig" / "ein tausend" + padding
  CHECK(b.tgt_len == 4);  // <bos> twenty one <eos> / <bos> one thousand <eos>
  CHECK(b.src[5] == nw::PAD);
  CHECK(b.tgt[0] == nw::BOS);
  CHECK(b.tgt[3] == nw::EOS);
  CHECK(tv.decode({b.tgt.begin() + 4, b.tgt.end()}) == nw::Words{"one", "thousand"});
}
