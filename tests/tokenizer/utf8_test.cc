#include "core/tokenizer/utf8.h"

#include <gtest/gtest.h>

namespace llm {
namespace {

TEST(Utf8Test, ValidatesAndReportsOffset) {
  EXPECT_TRUE(ValidateUtf8("hello \xE2\x82\xAC \xF0\x9F\x98\x89").ok());
  auto s = ValidateUtf8("ab\xC3");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("offset 2"), std::string::npos);
  EXPECT_EQ(ValidUtf8Prefix("abcdefghij\xFFxyz"), 10u);
  EXPECT_EQ(ValidUtf8Prefix("\xED\xA0\x80"), 0u);      // surrogate
  EXPECT_EQ(ValidUtf8Prefix("\xC0\xAF"), 0u);          // overlong
  EXPECT_EQ(ValidUtf8Prefix("\xF4\x90\x80\x80"), 0u);  // > U+10FFFF
}

// Expected strings below follow CPython's documented "maximal subpart"
// replacement (checked by hand against bytes.decode(errors="replace")).
TEST(Utf8Test, LossyMatchesPythonReplace) {
  EXPECT_EQ(Utf8Lossy("a\xFF" "b"), "a\xEF\xBF\xBD" "b");
  // Truncated 3-byte sequence: one replacement for the 2-byte prefix.
  EXPECT_EQ(Utf8Lossy("\xE2\x82"), "\xEF\xBF\xBD");
  // Surrogate lead: each byte replaced separately.
  EXPECT_EQ(Utf8Lossy("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(Utf8Lossy("\xF0\x9F\x98"), "\xEF\xBF\xBD");
}

TEST(Utf8Test, DecodeAndAppendRoundTrip) {
  for (uint32_t cp : {0x41u, 0xE9u, 0x20ACu, 0x1F609u, 0x10FFFFu}) {
    std::string s;
    AppendUtf8(cp, &s);
    int len;
    EXPECT_EQ(DecodeUtf8At(s, 0, &len), cp);
    EXPECT_EQ(static_cast<size_t>(len), s.size());
  }
}

}  // namespace
}  // namespace llm
