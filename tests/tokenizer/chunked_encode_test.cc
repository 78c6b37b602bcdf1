// EncodeChunked must equal Encode exactly. Checked at two levels:
//  - pre-tokenizer: splitting the chunks separately gives the same pieces as
//    splitting the whole text (all supported patterns, random adversarial
//    text, every safe cut used at once), plus a negative control showing that
//    naive newline cuts do change the pieces;
//  - tokenizer: with BPE merges trained on the text, multi-threaded chunked
//    encoding equals single-threaded Encode (and on the corpus if present).
#include "core/tokenizer/chunked_encode.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/tokenizer/pretokenizer.h"
#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/trainer.h"
#include "core/util/file_util.h"

namespace llm {
namespace {

using ::testing::HasSubstr;
using Spans = std::vector<std::pair<size_t, size_t>>;

const char* const kPatterns[] = {"gpt-4", "gpt2", "o200k_base"};

std::unique_ptr<PreTokenizer> MakePre(const std::string& name) {
  auto pattern = SplitPatternByName(name);
  EXPECT_TRUE(pattern.ok()) << name;
  auto pre = PreTokenizer::Create(*pattern);
  EXPECT_TRUE(pre.ok()) << pre.status();
  return std::move(*pre);
}

Spans SplitWhole(const PreTokenizer& pre, std::string_view text) {
  Spans s;
  pre.Split(text, [&](size_t b, size_t e) { s.emplace_back(b, e); });
  return s;
}

Spans SplitAtCuts(const PreTokenizer& pre, std::string_view text, const std::vector<size_t>& cuts) {
  Spans s;
  for (size_t i = 0; i + 1 < cuts.size(); ++i) {
    size_t base = cuts[i];
    pre.Split(text.substr(base, cuts[i + 1] - base),
              [&](size_t b, size_t e) { s.emplace_back(base + b, base + e); });
  }
  return s;
}

// Random text built from fragments that stress the patterns' lookaheads:
// whitespace runs of every kind, CR/LF, contractions, digits, punctuation,
// non-ASCII letters, marks and Unicode spaces.
std::string AdversarialText(std::mt19937* rng, int fragments) {
  static const char* const kFragments[] = {
      " ",  "  ", "   ", "\n", "\n\n", "\r\n", "\r", "\t", " \n", "\n ", "a",  "Z",     "word",
      "The", "'s", "'S", "'ll", "'", "\"", "1",  "123", "4567", ".", "!",  "?!", "...", "/",
      "-",  "\xC3\xA9", "\xE6\x97\xA5", "\xC2\xA0", "\xE2\x80\x83", "\xCC\x81", "\xF0\x9F\x98\x80",
      "x\n", ".\n", "'\n", "9\n", "x\nY", ".\nb", "A", "q"};
  constexpr size_t kN = sizeof(kFragments) / sizeof(kFragments[0]);
  std::uniform_int_distribution<size_t> pick(0, kN - 1);
  std::string t;
  for (int i = 0; i < fragments; ++i) t += kFragments[pick(*rng)];
  return t;
}

std::string CorpusOrEmpty() {
  const char* src = std::getenv("LLM_SOURCE_DIR");
  std::string root = src != nullptr ? src : ".";
  for (std::string p : {root + "/assets/text/raw.txt", root + "/../shared/data/shakespeare.txt"}) {
    auto r = ReadFile(p);
    if (r.ok()) return *r;
  }
  return "";
}

TEST(ChunkedEncodeTest, SafeBoundaryRule) {
  //                     0123 4 56
  std::string_view t = "ab.\nCd";
  EXPECT_TRUE(IsSafeChunkBoundary(t, 4));   // '.', '\n', 'C'
  EXPECT_FALSE(IsSafeChunkBoundary(t, 3));  // text[p-1] is not '\n'
  EXPECT_FALSE(IsSafeChunkBoundary(t, 0));
  EXPECT_FALSE(IsSafeChunkBoundary(t, 6));  // end of text is not an interior cut
  EXPECT_FALSE(IsSafeChunkBoundary("a \nB", 3));    // space before the newline
  EXPECT_FALSE(IsSafeChunkBoundary("a\n\nB", 3));   // newline before the newline
  EXPECT_FALSE(IsSafeChunkBoundary("a\n1", 2));     // digit after
  EXPECT_FALSE(IsSafeChunkBoundary("a\n\xC3\xA9", 2));  // non-ASCII letter after
  EXPECT_FALSE(IsSafeChunkBoundary("\n", 1));
  EXPECT_TRUE(IsSafeChunkBoundary("9\nz", 2));
}

TEST(ChunkedEncodeTest, BoundariesAreSafeOrderedAndAtLeastTarget) {
  std::string text;
  for (int i = 0; i < 2000; ++i) text += (i % 7 == 0) ? "Line one.\n\n" : "And then, she said\n";
  for (size_t target : {1u, 10u, 100u, 4096u, 1u << 20}) {
    std::vector<size_t> cuts = SafeChunkBoundaries(text, target);
    ASSERT_GE(cuts.size(), 2u);
    EXPECT_EQ(cuts.front(), 0u);
    EXPECT_EQ(cuts.back(), text.size());
    for (size_t i = 1; i + 1 < cuts.size(); ++i) {
      EXPECT_TRUE(IsSafeChunkBoundary(text, cuts[i])) << cuts[i];
      EXPECT_GE(cuts[i] - cuts[i - 1], target);
    }
    if (target == 1) {
      // Every safe position is used.
      size_t safe = 0;
      for (size_t p = 1; p < text.size(); ++p) safe += IsSafeChunkBoundary(text, p);
      EXPECT_EQ(cuts.size(), safe + 2);
    }
  }
  EXPECT_EQ(SafeChunkBoundaries("", 10), std::vector<size_t>({0}));
  EXPECT_EQ(SafeChunkBoundaries("no newline here", 1), std::vector<size_t>({0, 15}));
  EXPECT_EQ(SafeChunkBoundaries("a \nb \nc", 1), std::vector<size_t>({0, 7}));
}

TEST(ChunkedEncodeTest, NaiveNewlineCutsChangeThePieces) {
  // Negative control: these cuts are right after a newline but unsafe.
  auto gpt2 = MakePre("gpt2");
  std::string_view t1 = "a  \nB";  // GPT-2: "a" "  " "\n" "B" vs "a" "  \n" | "B"
  EXPECT_NE(SplitWhole(*gpt2, t1), SplitAtCuts(*gpt2, t1, {0, 4, 5}));
  EXPECT_FALSE(IsSafeChunkBoundary(t1, 4));
  auto gpt4 = MakePre("gpt-4");
  std::string_view t2 = "a \n\nB";  // GPT-4: " \n\n" is one piece; cut after the first '\n'
  EXPECT_NE(SplitWhole(*gpt4, t2), SplitAtCuts(*gpt4, t2, {0, 3, 5}));
  EXPECT_FALSE(IsSafeChunkBoundary(t2, 3));
}

TEST(ChunkedEncodeTest, PreTokenizerPiecesUnchangedAtSafeCuts) {
  std::mt19937 rng(12345);
  std::vector<std::string> texts;
  for (int i = 0; i < 400; ++i) texts.push_back(AdversarialText(&rng, 5 + i % 200));
  for (const char* name : kPatterns) {
    auto pre = MakePre(name);
    size_t total_cuts = 0;
    for (const std::string& t : texts) {
      std::vector<size_t> cuts = SafeChunkBoundaries(t, 1);  // every safe cut
      total_cuts += cuts.size() - 2;
      ASSERT_EQ(SplitWhole(*pre, t), SplitAtCuts(*pre, t, cuts)) << name << " text: " << t;
    }
    EXPECT_GT(total_cuts, 500u) << "the generator should produce many safe cuts";
  }
}

TEST(ChunkedEncodeTest, PreTokenizerPiecesUnchangedOnCorpus) {
  std::string corpus = CorpusOrEmpty();
  if (corpus.empty()) GTEST_SKIP() << "corpus not found (assets/text/raw.txt or ../shared)";
  std::string_view text = std::string_view(corpus).substr(0, 1 << 20);
  for (const char* name : kPatterns) {
    auto pre = MakePre(name);
    std::vector<size_t> cuts = SafeChunkBoundaries(text, 1);
    EXPECT_GT(cuts.size(), 1000u);
    EXPECT_EQ(SplitWhole(*pre, text), SplitAtCuts(*pre, text, cuts)) << name;
  }
}

// A tokenizer with merges learned from `text`, so piece boundaries matter.
std::unique_ptr<Tokenizer> TrainOn(const std::string& pattern_name, std::string_view text,
                                   int64_t merges) {
  auto pattern = SplitPatternByName(pattern_name);
  EXPECT_TRUE(pattern.ok());
  auto pre = PreTokenizer::Create(*pattern);
  EXPECT_TRUE(pre.ok());
  auto pieces = CountPieces(**pre, text);
  EXPECT_TRUE(pieces.ok()) << pieces.status();
  BpeTrainOptions opts;
  opts.num_merges = merges;
  BpeTrainingResult trained = TrainBpe(*pieces, opts);
  auto tok = Tokenizer::FromMerges(*pattern, trained.merges());
  EXPECT_TRUE(tok.ok()) << tok.status();
  return std::move(*tok);
}

TEST(ChunkedEncodeTest, ChunkedEqualsSingleThreadEncode) {
  std::mt19937 rng(777);
  std::string text;
  for (int i = 0; i < 40; ++i) text += AdversarialText(&rng, 400) + "\nThe end.\nNext";
  for (const char* name : kPatterns) {
    auto tok = TrainOn(name, text, 300);
    auto whole = tok->Encode(text);
    ASSERT_TRUE(whole.ok()) << whole.status();
    for (int threads : {1, 3}) {
      for (size_t target : {1u, 64u, 4096u}) {
        ChunkedEncodeOptions o;
        o.num_threads = threads;
        o.target_chunk_bytes = target;
        size_t last_done = 0;
        o.progress = [&](size_t done, size_t total) {
          EXPECT_GE(done, last_done);
          EXPECT_EQ(total, text.size());
          last_done = done;
        };
        auto chunked = EncodeChunked(*tok, text, o);
        ASSERT_TRUE(chunked.ok()) << chunked.status();
        EXPECT_EQ(*chunked, *whole) << name << " threads=" << threads << " target=" << target;
        EXPECT_EQ(last_done, text.size());
      }
    }
  }
}

TEST(ChunkedEncodeTest, ChunkedEqualsEncodeOnCorpus) {
  std::string corpus = CorpusOrEmpty();
  if (corpus.empty()) GTEST_SKIP() << "corpus not found (assets/text/raw.txt or ../shared)";
  std::string_view train = std::string_view(corpus).substr(0, 300000);
  std::string_view val = std::string_view(corpus).substr(3361047, 1048576);
  auto tok = TrainOn("gpt-4", train, 1000);
  auto whole = tok->Encode(val);
  ASSERT_TRUE(whole.ok());
  ChunkedEncodeOptions o;
  o.num_threads = 2;
  o.target_chunk_bytes = 16 << 10;
  auto chunked = EncodeChunked(*tok, val, o);
  ASSERT_TRUE(chunked.ok()) << chunked.status();
  EXPECT_EQ(*chunked, *whole);
}

TEST(ChunkedEncodeTest, SpecialTokensAndErrors) {
  std::string text;
  for (int i = 0; i < 200; ++i) text += "Some words here.\nAnd more<|endoftext|>x.\n";
  auto tok = TrainOn("gpt-4", text, 50);
  ASSERT_TRUE(tok->AddSpecialTokens({{"<|endoftext|>", tok->vocab_size()}}).ok());
  ChunkedEncodeOptions o;
  o.num_threads = 2;
  o.target_chunk_bytes = 100;
  // Allowed: encoded as the special id, same as Encode.
  o.policy = SpecialTokenPolicy::AllowAll();
  auto whole = tok->Encode(text, o.policy);
  auto chunked = EncodeChunked(*tok, text, o);
  ASSERT_TRUE(whole.ok() && chunked.ok());
  EXPECT_EQ(*chunked, *whole);
  // Disallowed (the default): an error naming the token, as Encode.
  o.policy = SpecialTokenPolicy();
  auto err = EncodeChunked(*tok, text, o);
  ASSERT_FALSE(err.ok());
  EXPECT_EQ(err.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(err.status().message()), HasSubstr("<|endoftext|>"));
  // The first chunk is the one reported.
  EXPECT_THAT(std::string(err.status().message()), HasSubstr("in text bytes [0, "));
  // Invalid UTF-8: the offset is relative to the whole text.
  std::string bad = text;
  bad[1000] = static_cast<char>(0xFF);
  auto utf = EncodeChunked(*tok, bad, o);
  ASSERT_FALSE(utf.ok());
  EXPECT_THAT(std::string(utf.status().message()), HasSubstr("1000"));
  // Empty text.
  auto empty = EncodeChunked(*tok, "", o);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

}  // namespace
}  // namespace llm
