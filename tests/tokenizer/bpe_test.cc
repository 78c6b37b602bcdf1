// Piece-level BPE, decoding, rendering and construction checks for Tokenizer.
#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/tokenizer/lru_cache.h"
#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/unicode_tables.h"
#include "tests/tokenizer/tokenizer_test_util.h"

namespace llm {
namespace {

using testing_util::Gpt4Pattern;

// The GPT-4 split pattern exactly as the original stores it in pattern.txt.
constexpr char kGpt4[] =
    R"('(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)";

std::unique_ptr<Tokenizer> Make(std::vector<Merge> merges, TokenizerOptions opts = {}) {
  auto t = Tokenizer::FromMerges(Gpt4Pattern(), std::move(merges), opts);
  EXPECT_TRUE(t.ok()) << t.status();
  return std::move(t).value();
}

// Independent reference: the original's encode_tokens, literally. Find the
// pair with the smallest merged id among all adjacent pairs, then replace all
// its non-overlapping occurrences left to right; repeat.
std::vector<int32_t> ReferenceBpe(const std::string& piece, const std::vector<Merge>& merges) {
  std::map<std::pair<int32_t, int32_t>, int32_t> dict;
  for (const Merge& m : merges) dict[{m.left, m.right}] = m.id;  // later wins, as a dict
  std::vector<int32_t> t;
  for (unsigned char c : piece) t.push_back(c);
  while (t.size() > 1) {
    int32_t best = INT32_MAX;
    std::pair<int32_t, int32_t> best_pair;
    for (size_t i = 0; i + 1 < t.size(); ++i) {
      auto it = dict.find({t[i], t[i + 1]});
      if (it != dict.end() && it->second < best) {
        best = it->second;
        best_pair = it->first;
      }
    }
    if (best == INT32_MAX) break;
    std::vector<int32_t> merged;
    for (size_t i = 0; i < t.size();) {
      if (i + 1 < t.size() && t[i] == best_pair.first && t[i + 1] == best_pair.second) {
        merged.push_back(best);
        i += 2;
      } else {
        merged.push_back(t[i++]);
      }
    }
    t = std::move(merged);
  }
  return t;
}

TEST(BpeTest, WikipediaExampleByHand) {
  // aaabdaaabac: Z=aa (256), Y=ab (257), X=ZY (258) -> X d X a c.
  auto tok = Make({{'a', 'a', 256}, {'a', 'b', 257}, {256, 257, 258}});
  EXPECT_EQ(tok->EncodePieceBpe("aaabdaaabac"),
            (std::vector<int32_t>{258, 'd', 258, 'a', 'c'}));
}

TEST(BpeTest, LowestRankWinsNotLeftmost) {
  // "abc": bc (256) has a lower rank than ab (257), so a + bc.
  auto tok = Make({{'b', 'c', 256}, {'a', 'b', 257}});
  EXPECT_EQ(tok->EncodePieceBpe("abc"), (std::vector<int32_t>{'a', 256}));
  // The reverse order of merges gives ab + c.
  auto tok2 = Make({{'a', 'b', 256}, {'b', 'c', 257}});
  EXPECT_EQ(tok2->EncodePieceBpe("abc"), (std::vector<int32_t>{256, 'c'}));
}

TEST(BpeTest, OverlappingPairsMergeLeftToRight) {
  // aaaaa with aa (256): aa aa a; then aa+aa (257): [257, a].
  auto tok = Make({{'a', 'a', 256}});
  EXPECT_EQ(tok->EncodePieceBpe("aaaaa"), (std::vector<int32_t>{256, 256, 'a'}));
  auto tok2 = Make({{'a', 'a', 256}, {256, 256, 257}});
  EXPECT_EQ(tok2->EncodePieceBpe("aaaaa"), (std::vector<int32_t>{257, 'a'}));
  EXPECT_EQ(tok2->EncodePieceBpe("aaa"), (std::vector<int32_t>{256, 'a'}));
  EXPECT_EQ(tok2->EncodePieceBpe(""), (std::vector<int32_t>{}));
  EXPECT_EQ(tok2->EncodePieceBpe("\xff"), (std::vector<int32_t>{255}));
}

TEST(BpeTest, MatchesReferenceOnRandomMergesShortAndLongPieces) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 20; ++trial) {
    // Random merges over the alphabet a..d and earlier merged tokens
    // (repeated pairs allowed: the later one wins, as in the original).
    std::vector<Merge> merges;
    std::vector<int32_t> pool = {'a', 'b', 'c', 'd'};
    const int n = 5 + static_cast<int>(rng() % 60);
    for (int i = 0; i < n; ++i) {
      const int32_t l = pool[rng() % pool.size()], r = pool[rng() % pool.size()];
      merges.push_back({l, r, 256 + i});
      pool.push_back(256 + i);
    }
    auto tok = Make(merges);
    for (int k = 0; k < 30; ++k) {
      // Lengths straddle the small-piece/heap threshold (128 bytes).
      const size_t len = rng() % 3 == 0 ? 100 + rng() % 600 : rng() % 40;
      std::string s;
      for (size_t i = 0; i < len; ++i) s += static_cast<char>('a' + rng() % 4);
      ASSERT_EQ(tok->EncodePieceBpe(s), ReferenceBpe(s, merges)) << "trial " << trial << " " << s;
    }
  }
}

TEST(BpeTest, FromMergesValidation) {
  auto gap = Tokenizer::FromMerges(Gpt4Pattern(), {{'a', 'a', 256}, {'a', 'b', 258}});
  ASSERT_FALSE(gap.ok());
  EXPECT_EQ(gap.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(gap.status().message().find("must be 257"), std::string::npos) << gap.status();
  auto fwd = Tokenizer::FromMerges(Gpt4Pattern(), {{'a', 256, 256}});
  ASSERT_FALSE(fwd.ok());
  EXPECT_NE(fwd.status().message().find("merge 0"), std::string::npos) << fwd.status();
  auto neg = Tokenizer::FromMerges(Gpt4Pattern(), {{-1, 'a', 256}});
  EXPECT_FALSE(neg.ok());
  auto bad_pattern = Tokenizer::FromMerges("(not a known pattern", {});
  EXPECT_FALSE(bad_pattern.ok());
}

TEST(BpeTest, DecodeExactAndLossy) {
  auto tok = Make({{'a', 'a', 256}, {0xE2, 0x80, 257}});
  EXPECT_EQ(tok->vocab_size(), 258);
  EXPECT_EQ(tok->num_merges(), 2);
  EXPECT_EQ(*tok->DecodeBytes({256, 'b', 257, 0x8B}), "aab\xE2\x80\x8B");
  // A lone continuation byte decodes to U+FFFD.
  EXPECT_EQ(*tok->DecodeBytes({0x80}), "\x80");
  EXPECT_EQ(*tok->Decode({'x', 0x80, 'y'}), "x\xEF\xBF\xBDy");
  EXPECT_EQ(*tok->Decode({257}), "\xEF\xBF\xBD");  // truncated 3-byte sequence
  for (int32_t bad : {258, -1, 1 << 30}) {
    auto r = tok->DecodeBytes({'a', bad});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("position 1"), std::string::npos) << r.status();
    EXPECT_FALSE(tok->Decode({bad}).ok());
    EXPECT_FALSE(tok->IsValidToken(bad));
  }
  EXPECT_TRUE(tok->IsValidToken(257));
  EXPECT_EQ(tok->TokenBytes(256), "aa");
}

TEST(BpeTest, RenderEscapesCategoryC) {
  // U+200B (Cf) = E2 80 8B; U+E000 (Co) = EE 80 80; U+0378 (Cn) = CD B8;
  // U+10FFFF (Cn) = F4 8F BF BF; U+00AD (Cf) = C2 AD; U+00A0 (Zs) = C2 A0.
  auto tok = Make({{0xE2, 0x80, 256}, {256, 0x8B, 257},   //
                   {0xEE, 0x80, 258}, {258, 0x80, 259},   //
                   {0xCD, 0xB8, 260},                     //
                   {0xF4, 0x8F, 261}, {261, 0xBF, 262}, {262, 0xBF, 263},
                   {0xC2, 0xAD, 264}, {0xC2, 0xA0, 265},
                   {'a', '\n', 266}});
  EXPECT_EQ(tok->Render('\n'), "\\u000a");
  EXPECT_EQ(tok->Render(0), "\\u0000");
  EXPECT_EQ(tok->Render(0x7F), "\\u007f");
  EXPECT_EQ(tok->Render('a'), "a");
  EXPECT_EQ(tok->Render(257), "\\u200b");
  EXPECT_EQ(tok->Render(259), "\\ue000");
  EXPECT_EQ(tok->Render(260), "\\u0378");
  EXPECT_EQ(tok->Render(263), "\\u10ffff");
  EXPECT_EQ(tok->Render(264), "\\u00ad");
  EXPECT_EQ(tok->Render(265), "\xC2\xA0");
  EXPECT_EQ(tok->Render(266), "a\\u000a");
  // Invalid bytes become U+FFFD (category So, not escaped).
  EXPECT_EQ(tok->Render(0x80), "\xEF\xBF\xBD");
  EXPECT_EQ(tok->Render(256), "\xEF\xBF\xBD");
  EXPECT_EQ(tok->Render(9999), "");
}

TEST(BpeTest, CategoryTableSpotChecks) {
  // Categories from /usr/bin/python3 unicodedata.category().
  EXPECT_TRUE(IsUnicodeCategoryC(0x85));     // Cc
  EXPECT_FALSE(IsUnicodeCategoryC(0xA0));    // Zs
  EXPECT_FALSE(IsUnicodeCategoryC(0xFFFD));  // So
  EXPECT_TRUE(IsUnicodeCategoryC(0xD800));   // Cs
  EXPECT_TRUE(IsUnicodeCategoryC(0xFEFF));   // Cf
  EXPECT_FALSE(IsUnicodeCategoryC(0x4E00));  // Lo
  EXPECT_TRUE(IsUnicodeCategoryC(0xF0000));  // Co
}

TEST(BpeTest, FingerprintIsStableFnv1a) {
  auto tok = Make({{'a', 'a', 256}, {256, 'b', 257}});
  ASSERT_EQ(tok->pattern(), kGpt4);
  // Expected values: FNV-1a 64 of "pattern:<p>\nmerges:\n97,97:256\n256,98:257\n
  // specials:\n" (+ "<|end|> 258\n"), computed with a few lines of Python.
  EXPECT_EQ(tok->Fingerprint(), "cd79977f30f71c8b");
  ASSERT_TRUE(tok->AddSpecialTokens({{"<|end|>", 258}}).ok());
  EXPECT_EQ(tok->Fingerprint(), "744ecdca1cbc1edd");
  EXPECT_NE(Make({{'a', 'a', 256}})->Fingerprint(), "cd79977f30f71c8b");
}

TEST(BpeTest, SpecialTokenRegistration) {
  auto tok = Make({{'a', 'a', 256}});
  EXPECT_FALSE(tok->AddSpecialTokens({{"<|x|>", 256}}).ok());  // collides with a merge
  EXPECT_FALSE(tok->AddSpecialTokens({{"", 300}}).ok());
  EXPECT_FALSE(tok->AddSpecialTokens({{"a\nb", 300}}).ok());
  ASSERT_TRUE(tok->AddSpecialTokens({{"<|x|>", 300}}).ok());
  EXPECT_FALSE(tok->AddSpecialTokens({{"<|x|>", 301}}).ok());  // duplicate text
  EXPECT_FALSE(tok->AddSpecialTokens({{"<|y|>", 300}}).ok());  // duplicate id
  EXPECT_EQ(tok->vocab_size(), 301);
  EXPECT_EQ(tok->SpecialTokenId("<|x|>"), 300);
  EXPECT_FALSE(tok->IsValidToken(299));
  EXPECT_EQ(*tok->DecodeBytes({'a', 300}), "a<|x|>");
}

TEST(LruCacheTest, EvictsLeastRecentlyUsedAndCounts) {
  PieceLruCache cache(3);
  std::vector<int32_t> out;
  EXPECT_FALSE(cache.Lookup("a", &out));
  cache.Insert("a", {1});
  cache.Insert("b", {2, 3});
  cache.Insert("c", {4});
  EXPECT_TRUE(cache.Lookup("a", &out));  // a is now most recent; b is LRU
  EXPECT_EQ(out, (std::vector<int32_t>{1}));
  cache.Insert("d", {5});  // evicts b
  EXPECT_FALSE(cache.Lookup("b", &out));
  EXPECT_TRUE(cache.Lookup("c", &out));
  EXPECT_TRUE(cache.Lookup("d", &out));
  EXPECT_EQ(out, (std::vector<int32_t>{1, 4, 5}));
  auto st = cache.GetStats();
  EXPECT_EQ(st.hits, 3u);
  EXPECT_EQ(st.misses, 2u);
  EXPECT_EQ(st.size, 3u);
  cache.Clear();
  EXPECT_EQ(cache.GetStats().size, 0u);
  EXPECT_EQ(cache.GetStats().hits, 0u);
}

TEST(LruCacheTest, ShardedCacheNeverExceedsCapacity) {
  PieceLruCache cache(2000);
  for (int i = 0; i < 20000; ++i) cache.Insert("piece" + std::to_string(i), {i});
  EXPECT_LE(cache.GetStats().size, 2000u);
  EXPECT_GT(cache.GetStats().size, 1900u);  // shards fill evenly
  PieceLruCache none(0);
  none.Insert("x", {1});
  std::vector<int32_t> out;
  EXPECT_FALSE(none.Lookup("x", &out));
}

}  // namespace
}  // namespace llm
