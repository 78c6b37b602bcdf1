// Unit tests for bugs found by the fuzzers (tests/fuzz/). Each input is built
// by hand here; the raw crashing inputs are also kept in
// tests/fuzz/regressions/TARGET/ and replayed by fuzz_replay_test.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "core/tokenizer/token_file.h"

namespace llm {
namespace {

void PutU32(std::string* s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

// A token file with vocab_size 0xB5870001 (> INT32_MAX) and one uint32 token
// 0x87B500B4 used to parse successfully and return the token as a negative
// int32 (found by fuzz_token_file). Such headers are now malformed.
TEST(FuzzRegressionTest, TokenFileVocabSizeAboveInt32MaxIsRejected) {
  std::string f = "LLMTOKS1";
  PutU32(&f, 1);           // version
  PutU32(&f, 4);           // dtype
  PutU32(&f, 0xB5870001);  // vocab_size
  PutU32(&f, 1);           // num_tokens (u64, low word)
  PutU32(&f, 0);           //            (high word)
  PutU32(&f, 0);           // name length
  f += "0123456789abcdef";  // fingerprint
  PutU32(&f, 0x87B500B4);  // the token
  PutU32(&f, Crc32(f));
  auto r = ParseTokenFile(f, "x.tokens");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_NE(r.status().message().find("vocab_size"), absl::string_view::npos) << r.status();

  // The writer refuses such a header too.
  TokenFileHeader h;
  h.vocab_size = 0x80000000u;
  h.tokenizer_fingerprint = "0123456789abcdef";
  EXPECT_EQ(SerializeTokenFile(h, {1}).status().code(), absl::StatusCode::kInvalidArgument);
  // The largest allowed vocabulary still works.
  h.vocab_size = 0x7FFFFFFF;
  auto ok = SerializeTokenFile(h, {0x7FFFFFFE});
  ASSERT_TRUE(ok.ok()) << ok.status();
  auto back = ParseTokenFile(*ok, "y.tokens");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->tokens, std::vector<int32_t>{0x7FFFFFFE});
}

}  // namespace
}  // namespace llm
