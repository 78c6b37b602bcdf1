// Hand-worked splits for every known pattern (expected pieces derived from
// the regex semantics by hand; the differential ctest
// tokenizer_pretokenizer_vs_python_regex covers random text against Python).
#include "core/tokenizer/pretokenizer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/tokenizer/pretokenizer_internal.h"
#include "core/tokenizer/utf8.h"

namespace llm {
namespace {

using Pieces = std::vector<std::string>;

// Spellings not returned by SplitPatternByName but recognised by Create.
constexpr char kCl100kTiktokenPython[] =
    R"('(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s)";
constexpr char kGpt2Factored[] =
    R"('(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

std::unique_ptr<PreTokenizer> MakeByName(std::string_view name) {
  auto pattern = SplitPatternByName(name);
  EXPECT_TRUE(pattern.ok()) << pattern.status();
  auto pre = PreTokenizer::Create(*pattern);
  EXPECT_TRUE(pre.ok()) << pre.status();
  return std::move(*pre);
}

std::unique_ptr<PreTokenizer> MakeByText(std::string_view pattern, bool fast = true) {
  auto pre = pretokenizer_internal::CreateWithOptions(pattern, fast);
  EXPECT_TRUE(pre.ok()) << pre.status();
  return std::move(*pre);
}

Pieces Split(const PreTokenizer& pre, std::string_view text) {
  Pieces out;
  for (std::string_view p : pre.SplitToVector(text)) out.emplace_back(p);
  return out;
}

TEST(SplitPatternByNameTest, KnownNamesAndAliases) {
  EXPECT_EQ(DefaultSplitPatternName(), "gpt-4");
  for (const char* name :
       {"gpt-4", "cl100k_base", "o200k_base", "gpt2", "r50k_base", "p50k_base"}) {
    auto p = SplitPatternByName(name);
    ASSERT_TRUE(p.ok()) << name;
    auto pre = PreTokenizer::Create(*p);
    ASSERT_TRUE(pre.ok()) << name << ": " << pre.status();
    EXPECT_EQ((*pre)->pattern(), *p);
  }
  EXPECT_EQ(*SplitPatternByName("gpt-4"),
            R"('(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)");
  EXPECT_EQ(*SplitPatternByName("r50k_base"), *SplitPatternByName("gpt2"));
  EXPECT_EQ(*SplitPatternByName("p50k_base"), *SplitPatternByName("gpt2"));
  auto bad = SplitPatternByName("gpt-5");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kNotFound);
}

TEST(PreTokenizerTest, RefusesUnknownPatterns) {
  auto pre = PreTokenizer::Create(R"(\w+|\s+)");
  ASSERT_FALSE(pre.ok());
  EXPECT_EQ(pre.status().code(), absl::StatusCode::kInvalidArgument);
  // A near miss (one character off) is also refused.
  std::string p = *SplitPatternByName("gpt-4");
  p.back() = '*';
  EXPECT_FALSE(PreTokenizer::Create(p).ok());
}

TEST(PreTokenizerTest, WhiteSpaceSetIsPythonRegexBackslashS) {
  // Python `regex` \s and Rust regex-syntax's (tiktoken) \s: Unicode
  // White_Space; U+001C..U+001F (which Python's str.isspace() accepts) and
  // U+FEFF, U+180E, U+200B are NOT in it (checked against tiktoken 1.0.22).
  const std::vector<uint32_t> expected = {
      0x9,    0xA,    0xB,    0xC,    0xD,    0x20,   0x85,   0xA0,   0x1680,
      0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008,
      0x2009, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000};
  std::vector<uint32_t> got;
  for (uint32_t cp = 0; cp < 0x110000; ++cp) {
    if (pretokenizer_internal::IsReferenceWhiteSpace(cp)) got.push_back(cp);
  }
  EXPECT_EQ(got, expected);
}

TEST(PreTokenizerTest, ClassesFollowTiktokensUnicode16) {
  // tiktoken 1.0.22 (Unicode 16.0 tables) encodes X + "*e" as tokens(X) +
  // [84648 "*e"] (cl100k_base) exactly for the letters/digits X below: X is
  // \p{L} or \p{N}, so "*e" is a piece `[^\r\n\p{L}\p{N}]?\p{L}+`. For a code
  // point that is not (e.g. assigned only in Unicode 17.0), " ?[^\s\p{L}\p{N}]+"
  // takes "X*" and "e" is left alone.
  auto pre = MakeByName("gpt-4");
  // U+1E4D0 NAG MUNDARI LETTER O (Unicode 15.0), U+2EBF0 CJK Extension I
  // (15.1), U+137B7 Egyptian Hieroglyphs Extended-A (16.0): Lo.
  for (const char* x : {"\U0001E4D0", "\U0002EBF0", "\U000137B7"}) {
    EXPECT_EQ(Split(*pre, std::string(x) + "*e"), (Pieces{x, "*e"})) << x;
  }
  // U+1CCF0..U+1CCF3 OUTLINED DIGIT ZERO..THREE (Unicode 16.0, Nd): \p{N}{1,3}.
  EXPECT_EQ(Split(*pre, "\U0001CCF0\U0001CCF1\U0001CCF2\U0001CCF3"),
            (Pieces{"\U0001CCF0\U0001CCF1\U0001CCF2", "\U0001CCF3"}));
  // U+088F (assigned in Unicode 17.0) and U+323B0 (CJK Extension J, 17.0) are
  // unassigned in 16.0: "other".
  for (const char* x : {"\u088f", "\U000323B0"}) {
    EXPECT_EQ(Split(*pre, std::string(x) + "*e"), (Pieces{std::string(x) + "*", "e"})) << x;
  }
}

TEST(Gpt4PatternTest, HandWorkedCases) {
  auto pre = MakeByName("gpt-4");
  EXPECT_EQ(Split(*pre, ""), Pieces{});
  EXPECT_EQ(Split(*pre, " "), (Pieces{" "}));
  EXPECT_EQ(Split(*pre, "   "), (Pieces{"   "}));
  EXPECT_EQ(Split(*pre, "\r\n"), (Pieces{"\r\n"}));
  EXPECT_EQ(Split(*pre, "\n\n\n"), (Pieces{"\n\n\n"}));
  EXPECT_EQ(Split(*pre, "a   b"), (Pieces{"a", "  ", " b"}));
  EXPECT_EQ(Split(*pre, "a  "), (Pieces{"a", "  "}));
  EXPECT_EQ(Split(*pre, "  \n"), (Pieces{"  \n"}));
  EXPECT_EQ(Split(*pre, "\t\tx"), (Pieces{"\t", "\tx"}));
  EXPECT_EQ(Split(*pre, "a\tb"), (Pieces{"a", "\tb"}));
  EXPECT_EQ(Split(*pre, "x  \n\n  y"), (Pieces{"x", "  \n\n", " ", " y"}));
  // Whitespace run at the end containing a newline: `\s*[\r\n]` stops at the
  // last newline, the rest is `\s+(?!\S)`.
  EXPECT_EQ(Split(*pre, "a \n  "), (Pieces{"a", " \n", "  "}));
  EXPECT_EQ(Split(*pre, "Hello world!!!? (안녕하세요!) joined123 😉"),
            (Pieces{"Hello", " world", "!!!?", " (", "안녕하세요", "!)", " joined", "123", " 😉"}));
  EXPECT_EQ(Split(*pre, "1234567"), (Pieces{"123", "456", "7"}));
  EXPECT_EQ(Split(*pre, "'ll've"), (Pieces{"'ll", "'ve"}));
  EXPECT_EQ(Split(*pre, "don'T"), (Pieces{"don", "'T"}));
  EXPECT_EQ(Split(*pre, "I'M"), (Pieces{"I", "'M"}));
  EXPECT_EQ(Split(*pre, "'S'LL'Re'rE"), (Pieces{"'S", "'LL", "'Re", "'rE"}));
  EXPECT_EQ(Split(*pre, "'sup"), (Pieces{"'s", "up"}));
  EXPECT_EQ(Split(*pre, "'x"), (Pieces{"'x"}));
  // U+017F LATIN SMALL LETTER LONG S case-folds to s.
  EXPECT_EQ(Split(*pre, "it'\u017f"), (Pieces{"it", "'\u017f"}));
  EXPECT_EQ(Split(*pre, "/path/to\n"), (Pieces{"/path", "/to", "\n"}));
  EXPECT_EQ(Split(*pre, "!!\n\nx"), (Pieces{"!!\n\n", "x"}));
  // Unicode spaces.
  EXPECT_EQ(Split(*pre, "a\u00a0\u00a0b"), (Pieces{"a", "\u00a0", "\u00a0b"}));
  EXPECT_EQ(Split(*pre, "x\u2009y"), (Pieces{"x", "\u2009y"}));
  EXPECT_EQ(Split(*pre, "x\u3000"), (Pieces{"x", "\u3000"}));
  EXPECT_EQ(Split(*pre, "a\u0085\u0085b"), (Pieces{"a", "\u0085", "\u0085b"}));
  EXPECT_EQ(Split(*pre, "a\u2028b"), (Pieces{"a", "\u2028b"}));
  EXPECT_EQ(Split(*pre, "a\u1680\u202f 1"), (Pieces{"a", "\u1680\u202f", " ", "1"}));
  // Not whitespace: U+FEFF (format), U+001C (control).
  EXPECT_EQ(Split(*pre, "\ufeffabc"), (Pieces{"\ufeffabc"}));
  EXPECT_EQ(Split(*pre, "a\x1c b"), (Pieces{"a", "\x1c", " b"}));
  // Emoji ZWJ sequence: symbols and a format char, one "other" run.
  EXPECT_EQ(Split(*pre, "hi 👨‍👩‍👧!"), (Pieces{"hi", " 👨‍👩‍👧!"}));
  // Combining mark is not a letter.
  EXPECT_EQ(Split(*pre, "nai\u0308ve"), (Pieces{"nai", "\u0308ve"}));
  // Other scripts' digits are \p{N}.
  EXPECT_EQ(Split(*pre, "x٣٤٥٦"), (Pieces{"x", "٣٤٥", "٦"}));
}

TEST(Cl100kTiktokenPythonSpellingTest, WhitespaceRunAtEndIsOnePiece) {
  auto pre = MakeByText(kCl100kTiktokenPython);
  EXPECT_EQ(Split(*pre, "a \n  "), (Pieces{"a", " \n  "}));
  EXPECT_EQ(Split(*pre, "a \n\u3000"), (Pieces{"a", " \n\u3000"}));
  // Elsewhere identical to gpt-4.
  EXPECT_EQ(Split(*pre, "a   b"), (Pieces{"a", "  ", " b"}));
  EXPECT_EQ(Split(*pre, "x  \n\n  y"), (Pieces{"x", "  \n\n", " ", " y"}));
  EXPECT_EQ(Split(*pre, "  "), (Pieces{"  "}));
  EXPECT_EQ(Split(*pre, "a\tb"), (Pieces{"a", "\tb"}));
  EXPECT_EQ(Split(*pre, "don'T 1234"), (Pieces{"don", "'T", " ", "123", "4"}));
  // cl100k_base by name is tiktoken's JS spelling: same splits as gpt-4.
  auto js = MakeByName("cl100k_base");
  EXPECT_EQ(Split(*js, "a \n  "), (Pieces{"a", " \n", "  "}));
  EXPECT_EQ(Split(*js, "'S'LL'Re'rE"), (Pieces{"'S", "'LL", "'Re", "'rE"}));
}

TEST(O200kPatternTest, HandWorkedCases) {
  auto pre = MakeByName("o200k_base");
  EXPECT_EQ(Split(*pre, ""), Pieces{});
  EXPECT_EQ(Split(*pre, "a   b"), (Pieces{"a", "  ", " b"}));
  EXPECT_EQ(Split(*pre, "HelloWorld"), (Pieces{"Hello", "World"}));
  EXPECT_EQ(Split(*pre, "HELLOworld"), (Pieces{"HELLOworld"}));
  EXPECT_EQ(Split(*pre, "XMLHttpRequest"), (Pieces{"XMLHttp", "Request"}));
  EXPECT_EQ(Split(*pre, "I'M"), (Pieces{"I'M"}));
  EXPECT_EQ(Split(*pre, "don'T"), (Pieces{"don'T"}));
  EXPECT_EQ(Split(*pre, "isn't it"), (Pieces{"isn't", " it"}));
  EXPECT_EQ(Split(*pre, "we'LL'll"), (Pieces{"we'LL", "'ll"}));
  EXPECT_EQ(Split(*pre, "/path/to\n"), (Pieces{"/path", "/to", "\n"}));
  EXPECT_EQ(Split(*pre, "!!\n/x"), (Pieces{"!!\n/", "x"}));
  EXPECT_EQ(Split(*pre, "1234567"), (Pieces{"123", "456", "7"}));
  EXPECT_EQ(Split(*pre, "  \n"), (Pieces{"  \n"}));
  EXPECT_EQ(Split(*pre, "\n\n\n"), (Pieces{"\n\n\n"}));
  EXPECT_EQ(Split(*pre, "Hello world!!!? (안녕하세요!) joined123 😉"),
            (Pieces{"Hello", " world", "!!!?", " (", "안녕하세요", "!)", " joined", "123", " 😉"}));
  // Marks belong to both letter sets: no split inside the word.
  EXPECT_EQ(Split(*pre, "nai\u0308ve"), (Pieces{"nai\u0308ve"}));
  // Titlecase U+01C5 is upper-like: starts a new piece after lowercase.
  EXPECT_EQ(Split(*pre, "a\u01c5b"), (Pieces{"a", "\u01c5b"}));
}

TEST(Gpt2PatternTest, HandWorkedCases) {
  for (const char* text : {"gpt2", "factored"}) {
    auto pre = std::string_view(text) == "gpt2" ? MakeByName("gpt2") : MakeByText(kGpt2Factored);
    EXPECT_EQ(Split(*pre, ""), Pieces{});
    EXPECT_EQ(Split(*pre, "a   b"), (Pieces{"a", "  ", " b"}));
    EXPECT_EQ(Split(*pre, "Hello world!!!? (안녕하세요!) joined123 😉"),
              (Pieces{"Hello", " world", "!!!?", " (", "안녕하세요", "!)", " joined", "123", " 😉"}));
    EXPECT_EQ(Split(*pre, "1234567"), (Pieces{"1234567"}));
    EXPECT_EQ(Split(*pre, "don't"), (Pieces{"don", "'t"}));
    EXPECT_EQ(Split(*pre, "don'T"), (Pieces{"don", "'", "T"}));
    EXPECT_EQ(Split(*pre, "'ll've"), (Pieces{"'ll", "'ve"}));
    EXPECT_EQ(Split(*pre, "\n\n\n"), (Pieces{"\n\n\n"}));
    EXPECT_EQ(Split(*pre, "a\n\nb"), (Pieces{"a", "\n", "\n", "b"}));
    EXPECT_EQ(Split(*pre, "a \tb"), (Pieces{"a", " ", "\t", "b"}));
    EXPECT_EQ(Split(*pre, "  \n"), (Pieces{"  \n"}));
    EXPECT_EQ(Split(*pre, "x \u00a0y"), (Pieces{"x", " ", "\u00a0", "y"}));
    EXPECT_EQ(Split(*pre, "it'\u017f"), (Pieces{"it", "'", "\u017f"}));
  }
}

// Random valid UTF-8 over all code points (incl. unassigned, NUL, controls):
// pieces are non-empty and tile the text.
TEST(PreTokenizerTest, PiecesTileRandomUnicode) {
  std::mt19937 rng(12345);
  for (const char* name : {"gpt-4", "o200k_base", "gpt2"}) {
    const std::string named = *SplitPatternByName(name);
    for (std::string_view pattern : {std::string_view(named), std::string_view(kCl100kTiktokenPython)}) {
      auto pre = MakeByText(pattern);
      for (int doc = 0; doc < 300; ++doc) {
        std::string text;
        const int n = rng() % 60;
        for (int i = 0; i < n; ++i) {
          uint32_t cp = rng() % 4 == 0 ? rng() % 0x110000 : rng() % 0x80;
          if (cp >= 0xD800 && cp < 0xE000) cp = ' ';
          AppendUtf8(cp, &text);
        }
        size_t expected_begin = 0;
        pre->Split(text, [&](size_t begin, size_t end) {
          ASSERT_EQ(begin, expected_begin);
          ASSERT_GT(end, begin);
          expected_begin = end;
        });
        EXPECT_EQ(expected_begin, text.size());
      }
    }
  }
}

// The ASCII fast path must give exactly the RE2 path's pieces.
TEST(PreTokenizerTest, AsciiFastPathMatchesRe2Path) {
  const std::string alphabet =
      std::string("aAsStTdDmMlLvVeErRxZ09'''  \t\n\r\x0b\x0c\x1c\x1f!?/.-") + std::string(1, '\0');
  std::mt19937 rng(777);
  for (const char* name : {"gpt-4", "cl100k_base", "o200k_base", "gpt2"}) {
    const std::string named = *SplitPatternByName(name);
    for (std::string_view pattern : {std::string_view(named), std::string_view(kCl100kTiktokenPython)}) {
      auto fast = MakeByText(pattern, true);
      auto slow = MakeByText(pattern, false);
      for (int doc = 0; doc < 20000; ++doc) {
        std::string text;
        const int n = rng() % 16;
        for (int i = 0; i < n; ++i) text.push_back(alphabet[rng() % alphabet.size()]);
        if (rng() % 8 == 0) text += "\u00e9";  // a non-ASCII neighbour
        ASSERT_EQ(fast->SplitToVector(text), slow->SplitToVector(text))
            << name << " text=[" << text << "]";
      }
    }
  }
}

}  // namespace
}  // namespace llm
