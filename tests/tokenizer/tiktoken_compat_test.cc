// cl100k_base built with Tokenizer::FromRanks must reproduce tiktoken.
//
// Reference ids were computed independently with the npm package
// tiktoken@1.0.22 (installed in a scratch dir, /tmp/tk), e.g.
//   const { get_encoding } = require("tiktoken");
//   const enc = get_encoding("cl100k_base");
//   enc.encode(s, [], [])          // plain text
//   enc.encode("a<|endoftext|>b", "all")
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/tokenizer/tokenizer.h"
#include "tests/tokenizer/tokenizer_test_util.h"

namespace llm {
namespace {

using testing_util::Cl100k;

#define REQUIRE_CL100K()                                                             \
  const Tokenizer* tok = Cl100k();                                                   \
  if (tok == nullptr) GTEST_SKIP() << "cl100k_base.tiktoken not found (expected in " \
                                      "../shared/data/tiktoken next to the repo)"

struct Case {
  std::string text;
  std::vector<int32_t> ids;
};

TEST(TiktokenCompatTest, Cl100kMatchesNpmTiktoken) {
  REQUIRE_CL100K();
  const std::vector<Case> cases = {
      {"hello world", {15339, 1917}},
      {"Hello, world! How's it going?", {9906, 11, 1917, 0, 2650, 596, 433, 2133, 30}},
      {"    indented code();\n\n\tfoo = bar[0] + 12345;",
       {262, 1280, 16243, 2082, 1454, 197, 8134, 284, 3703, 58, 15, 60, 489, 220, 4513, 1774, 26}},
      {"na\xC3\xAFve caf\xC3\xA9 \xE2\x80\x94 \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE"
       "\xE3\x83\x86\xE3\x82\xAD\xE3\x82\xB9\xE3\x83\x88 \xF0\x9F\xA4\x96\xF0\x9F\x91\x8D"
       "\xF0\x9F\x8F\xBD",
       {3458, 38672, 588, 53050, 2001, 76502, 22656, 45918, 252, 16144, 57933, 62903, 71634,
        11410, 97, 244, 9468, 239, 235, 9468, 237, 121}},
      {std::string(64, 'a'), {70540, 70540, 70540, 70540, 70540, 70540, 70540, 70540}},
      {"To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer",
       {1271, 387, 11, 477, 539, 311, 387, 11, 430, 374, 279, 3488, 512, 25729, 364, 83, 285,
        13348, 1565, 304, 279, 4059, 311, 7831}},
      {"<|endoftext|> is special", {27, 91, 8862, 728, 428, 91, 29, 374, 3361}},
  };
  for (const Case& c : cases) {
    auto ids = tok->Encode(c.text, SpecialTokenPolicy::PlainText());
    ASSERT_TRUE(ids.ok()) << ids.status();
    EXPECT_EQ(*ids, c.ids) << c.text;
    EXPECT_EQ(*tok->DecodeBytes(c.ids), c.text);
  }
}

TEST(TiktokenCompatTest, SpecialTokensLikeTiktoken) {
  REQUIRE_CL100K();
  // enc.encode("a<|endoftext|>b", "all") -> [64, 100257, 65]
  auto all = tok->Encode("a<|endoftext|>b", SpecialTokenPolicy::AllowAll());
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(*all, (std::vector<int32_t>{64, 100257, 65}));
  // enc.encode("x <|endoftext|>") throws (disallowed_special="all").
  auto err = tok->Encode("x <|endoftext|>");
  ASSERT_FALSE(err.ok());
  EXPECT_EQ(err.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(err.status().message().find("<|endoftext|>"), std::string::npos) << err.status();
  EXPECT_NE(err.status().message().find("byte offset 2"), std::string::npos) << err.status();
}

TEST(TiktokenCompatTest, RecoveredMergesRebuildTheVocabulary) {
  REQUIRE_CL100K();
  // Every recovered merge concatenates to its token, and (almost) every
  // multi-byte token is reachable by a merge.
  int multi_byte = 0;
  for (int32_t id = 0; id < 100256; ++id) {
    if (tok->IsValidToken(id) && tok->TokenBytes(id).size() > 1) ++multi_byte;
  }
  EXPECT_GT(static_cast<int>(tok->merges().size()), multi_byte * 99 / 100);
  for (const Merge& m : tok->merges()) {
    ASSERT_EQ(tok->TokenBytes(m.left) + tok->TokenBytes(m.right), tok->TokenBytes(m.id));
    ASSERT_LT(m.left, m.id);
    ASSERT_LT(m.right, m.id);
  }
  EXPECT_EQ(tok->vocab_size(), 100277);
}

}  // namespace
}  // namespace llm
