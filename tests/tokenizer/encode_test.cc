// Tokenizer::Encode: caches, threads, special tokens, invalid input and
// pathological inputs.
#include <time.h>

#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/utf8.h"
#include "tests/tokenizer/tokenizer_test_util.h"

namespace llm {
namespace {

using testing_util::Gpt4Pattern;

// A trained-style tokenizer with 2000 realistic merges (from cl100k), or a
// tiny hand-made one when cl100k is unavailable.
std::unique_ptr<Tokenizer> MakeTokenizer(TokenizerOptions opts = {}) {
  std::vector<Merge> merges = testing_util::Cl100kStyleMerges(2000);
  if (merges.empty()) {
    merges = {{'t', 'h', 256}, {256, 'e', 257}, {' ', 257, 258}, {'e', 'r', 259}, {'o', 'u', 260}};
  }
  auto t = Tokenizer::FromMerges(Gpt4Pattern(), std::move(merges), opts);
  EXPECT_TRUE(t.ok()) << t.status();
  return std::move(t).value();
}

// Shakespeare if available, else synthetic English-like text.
std::string SampleText(size_t max_bytes) {
  std::string text = testing_util::ShakespeareText();
  if (text.empty()) {
    std::mt19937 rng(7);
    const char* words[] = {"the", " king", " queen", " doth", " thee", " thou", "\n", ",", " art"};
    while (text.size() < max_bytes) text += words[rng() % 9];
  }
  if (text.size() > max_bytes) text.resize(max_bytes);
  text.resize(ValidUtf8Prefix(text));
  return text;
}

// Random text mixing ASCII, Latin-1, CJK, emoji, whitespace and rare planes.
std::string RandomUnicode(std::mt19937* rng, size_t num_chars) {
  std::string s;
  for (size_t i = 0; i < num_chars; ++i) {
    uint32_t cp;
    switch ((*rng)() % 6) {
      case 0: cp = 0x20 + (*rng)() % 0x5F; break;
      case 1: cp = " \n\t\r"[(*rng)() % 4]; break;
      case 2: cp = 0xA0 + (*rng)() % 0x160; break;
      case 3: cp = 0x4E00 + (*rng)() % 0x5000; break;
      case 4: cp = 0x1F300 + (*rng)() % 0x300; break;
      default:
        do cp = (*rng)() % 0x110000; while (cp >= 0xD800 && cp <= 0xDFFF);
    }
    AppendUtf8(cp, &s);
  }
  return s;
}

TEST(EncodeTest, RoundTripsRandomUnicode) {
  auto tok = MakeTokenizer();
  std::mt19937 rng(42);
  for (int i = 0; i < 200; ++i) {
    const std::string s = RandomUnicode(&rng, rng() % 300);
    auto ids = tok->Encode(s);
    ASSERT_TRUE(ids.ok()) << ids.status();
    ASSERT_EQ(*tok->DecodeBytes(*ids), s);
    ASSERT_EQ(*tok->Decode(*ids), s);
  }
  if (const Tokenizer* cl = testing_util::Cl100k()) {
    for (int i = 0; i < 100; ++i) {
      const std::string s = RandomUnicode(&rng, rng() % 300);
      auto ids = cl->Encode(s);
      ASSERT_TRUE(ids.ok()) << ids.status();
      ASSERT_EQ(*cl->DecodeBytes(*ids), s);
    }
  }
}

TEST(EncodeTest, EmptyText) {
  auto tok = MakeTokenizer();
  EXPECT_TRUE(tok->Encode("")->empty());
}

TEST(EncodeTest, CacheOnOffColdWarmGiveIdenticalOutput) {
  const std::string text = SampleText(300000);
  TokenizerOptions off;
  off.use_cache = false;
  auto no_cache = MakeTokenizer(off);
  // Every piece goes through the LRU here (lru_min_piece_bytes = 0), so the
  // cached path is exercised on all of them; `default_threshold` checks the
  // default configuration too.
  TokenizerOptions all_pieces;
  all_pieces.lru_min_piece_bytes = 0;
  auto cached = MakeTokenizer(all_pieces);
  auto default_threshold = MakeTokenizer();
  TokenizerOptions tiny;
  tiny.lru_capacity = 7;  // constant eviction
  tiny.lru_min_piece_bytes = 0;
  auto small_cache = MakeTokenizer(tiny);

  auto ref = no_cache->Encode(text);
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(no_cache->cache_stats().hits + no_cache->cache_stats().misses, 0u);
  EXPECT_EQ(*cached->Encode(text), *ref);  // cold
  const CacheStats cold = cached->cache_stats();
  EXPECT_GT(cold.misses, 0u);
  EXPECT_GT(cold.size, 0u);
  EXPECT_EQ(*cached->Encode(text), *ref);  // warm
  const CacheStats warm = cached->cache_stats();
  EXPECT_GT(warm.hits, cold.hits);
  EXPECT_EQ(warm.misses, cold.misses);  // everything was cached the first time
  EXPECT_EQ(*small_cache->Encode(text), *ref);
  EXPECT_EQ(*small_cache->Encode(text), *ref);
  EXPECT_LE(small_cache->cache_stats().size, 7u);
  EXPECT_EQ(*default_threshold->Encode(text), *ref);
  EXPECT_EQ(*default_threshold->Encode(text), *ref);
  cached->ClearCache();
  EXPECT_EQ(cached->cache_stats().size, 0u);
  EXPECT_EQ(*cached->Encode(text), *ref);
  EXPECT_EQ(*cached->DecodeBytes(*ref), text);
  // Per piece, the BPE result equals what the caches returned: encoding each
  // cache-miss piece alone (no trained-cache hit) is plain BPE.
  EXPECT_EQ(*cached->Encode("Thou"), cached->EncodePieceBpe("Thou"));
}

TEST(EncodeTest, LruCacheBoundAndCounters) {
  // No merges: every multi-letter word misses the trained cache (which holds
  // only single-byte tokens), so each Encode of a word is one LRU access.
  TokenizerOptions opts;
  opts.lru_capacity = 3;
  opts.lru_min_piece_bytes = 0;  // cache even these short words
  auto tok = Tokenizer::FromMerges(Gpt4Pattern(), {}, opts).value();
  for (const char* w : {"alpha", "beta", "gamma", "alpha", "delta", "beta"}) {
    ASSERT_TRUE(tok->Encode(w).ok());
  }
  // alpha miss, beta miss, gamma miss, alpha hit, delta miss (evicts beta),
  // beta miss (evicts gamma).
  CacheStats st = tok->cache_stats();
  EXPECT_EQ(st.hits, 1u);
  EXPECT_EQ(st.misses, 5u);
  EXPECT_EQ(st.size, 3u);
  EXPECT_EQ(st.capacity, 3u);
  ASSERT_TRUE(tok->Encode("gamma").ok());  // miss, evicts alpha
  EXPECT_EQ(tok->cache_stats().misses, 6u);
  ASSERT_TRUE(tok->Encode("alpha").ok());  // miss again
  ASSERT_TRUE(tok->Encode("gamma").ok());  // hit
  EXPECT_EQ(tok->cache_stats().misses, 7u);
  EXPECT_EQ(tok->cache_stats().hits, 2u);
  EXPECT_EQ(tok->cache_stats().size, 3u);
}

TEST(EncodeTest, ConcurrentEncodeMatchesSingleThread) {
  const std::string text = SampleText(400000);
  std::vector<std::string> chunks;
  for (size_t i = 0; i < text.size(); i += 5000) {
    std::string c = text.substr(i, 5000);
    c.resize(ValidUtf8Prefix(c));
    chunks.push_back(c);
  }
  TokenizerOptions off;
  off.use_cache = false;
  auto ref_tok = MakeTokenizer(off);
  std::vector<std::vector<int32_t>> expected;
  for (const auto& c : chunks) expected.push_back(*ref_tok->Encode(c));

  TokenizerOptions small;
  small.lru_capacity = 2048;  // sharded, with eviction under contention
  small.lru_min_piece_bytes = 0;  // every piece through the shared LRU
  auto tok = MakeTokenizer(small);
  std::vector<std::vector<std::vector<int32_t>>> got(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      // Each thread walks the chunks from a different start.
      for (size_t k = 0; k < chunks.size(); ++k) {
        const size_t i = (k + t * 13) % chunks.size();
        got[t].resize(chunks.size());
        got[t][i] = *tok->Encode(chunks[i]);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 8; ++t) ASSERT_EQ(got[t], expected) << "thread " << t;

  auto batch = tok->EncodeBatch(chunks, {}, 8);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(*batch, expected);
  auto batch1 = tok->EncodeBatch(chunks, {}, 1);
  EXPECT_EQ(*batch1, expected);
  auto bad = tok->EncodeBatch({"ok", "bad \xFF"}, {}, 2);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("text 1"), std::string::npos) << bad.status();
}

TEST(EncodeTest, InvalidUtf8IsAnErrorWithOffset) {
  auto tok = MakeTokenizer();
  for (const std::string& s : {std::string("ab\xFF" "cd"), std::string("ab\xC3"),
                               std::string("ab\xED\xA0\x80")}) {
    auto r = tok->Encode(s);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("offset 2"), std::string::npos) << r.status();
  }
}

TEST(EncodeTest, SpecialTokenPolicies) {
  auto tok = MakeTokenizer();
  ASSERT_TRUE(tok->AddSpecialTokens({{"<|end|>", 5000}, {"<|end|>x", 5001}, {"<|pad|>", 5002}}).ok());
  const std::vector<int32_t> a = *tok->Encode("a"), b = *tok->Encode(" b");

  // Allowed: split around the special; longest match at a position wins.
  auto r = tok->Encode("a<|end|> b", SpecialTokenPolicy::AllowAll());
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<int32_t> want = a;
  want.push_back(5000);
  want.insert(want.end(), b.begin(), b.end());
  EXPECT_EQ(*r, want);
  EXPECT_EQ(*tok->Encode("<|end|>x<|end|>", SpecialTokenPolicy::AllowAll()),
            (std::vector<int32_t>{5001, 5000}));
  EXPECT_EQ(*tok->Encode("<|pad|>", SpecialTokenPolicy::AllowAll()), (std::vector<int32_t>{5002}));

  // Default policy: any special is disallowed -> error with token and offset.
  auto e = tok->Encode("hello <|pad|>");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(e.status().message().find("\"<|pad|>\""), std::string::npos) << e.status();
  EXPECT_NE(e.status().message().find("byte offset 6"), std::string::npos) << e.status();

  // Allowed list + disallow_all: other specials are errors.
  SpecialTokenPolicy only_end;
  only_end.allowed = {"<|end|>"};
  EXPECT_EQ(tok->Encode("<|end|>", only_end)->size(), 1u);
  EXPECT_FALSE(tok->Encode("<|end|> <|pad|>", only_end).ok());

  // Allowed list without disallow_all: other specials are plain text.
  only_end.disallow_all = false;
  auto plain_pad = tok->Encode("<|end|><|pad|>", only_end);
  ASSERT_TRUE(plain_pad.ok()) << plain_pad.status();
  EXPECT_EQ((*plain_pad)[0], 5000);
  EXPECT_GT(plain_pad->size(), 2u);
  EXPECT_EQ(*tok->DecodeBytes(*plain_pad), "<|end|><|pad|>");

  // Explicit disallowed list.
  SpecialTokenPolicy no_pad = SpecialTokenPolicy::PlainText();
  no_pad.disallowed = {"<|pad|>"};
  EXPECT_TRUE(tok->Encode("<|end|>", no_pad).ok());
  EXPECT_FALSE(tok->Encode("x<|pad|>", no_pad).ok());

  // Plain text: same ids as a tokenizer without special tokens.
  auto plain = tok->Encode("a<|end|> b", SpecialTokenPolicy::PlainText());
  auto no_specials = MakeTokenizer();
  EXPECT_EQ(*plain, *no_specials->Encode("a<|end|> b"));
}

// CPU time of the calling thread (robust against other jobs on the machine).
double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Times Encode + round trip; pathological inputs must take < 1 s of CPU.
void ExpectFast(const Tokenizer& tok, const std::string& text, const char* what) {
  const double t0 = ThreadCpuSeconds();
  auto ids = tok.Encode(text);
  const double secs = ThreadCpuSeconds() - t0;
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_LT(secs, 1.0) << what;
  std::printf("%s: %.3f s\n", what, secs);
  EXPECT_EQ(*tok.DecodeBytes(*ids), text) << what;
}

TEST(EncodeTest, PathologicalMegabyteInputsAreFast) {
  auto tok = MakeTokenizer();
  ExpectFast(*tok, std::string(1 << 20, 'a'), "1 MB of 'a'");
  ExpectFast(*tok, std::string(1 << 20, ' '), "1 MB of spaces");
  std::mt19937 rng(3);
  std::string raw(768 * 1024, '\0');
  for (char& c : raw) c = static_cast<char>(rng());
  ExpectFast(*tok, absl::Base64Escape(raw), "1 MB base64 blob");
  // Long pieces also go through BPE directly (heap path).
  const double t0 = ThreadCpuSeconds();
  auto bpe = tok->EncodePieceBpe(std::string(1 << 20, 'a'));
  EXPECT_LT(ThreadCpuSeconds() - t0, 1.0);
  EXPECT_EQ(*tok->DecodeBytes(bpe), std::string(1 << 20, 'a'));
  if (const Tokenizer* cl = testing_util::Cl100k()) {
    ExpectFast(*cl, std::string(1 << 20, 'a'), "cl100k: 1 MB of 'a'");
    ExpectFast(*cl, absl::Base64Escape(raw), "cl100k: 1 MB base64 blob");
  }
}

}  // namespace
}  // namespace llm
