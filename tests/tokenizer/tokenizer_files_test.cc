// Tokenizer directory format: exact file contents, round trips, and a clear
// error (file + line) for every kind of corrupt or truncated file.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/tokenizer/tokenizer.h"
#include "core/util/file_util.h"
#include "tests/tokenizer/tokenizer_test_util.h"

namespace llm {
namespace {

using testing_util::Gpt4Pattern;

class TokenizerFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/tokfiles_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_TRUE(RemoveAll(dir_).ok());
  }
  void TearDown() override { (void)RemoveAll(dir_); }

  std::string Read(const std::string& name) { return ReadFile(dir_ + "/" + name).value(); }
  void Write(const std::string& name, const std::string& data) {
    ASSERT_TRUE(WriteFileAtomic(dir_ + "/" + name, data).ok());
  }
  // Saves a small valid tokenizer, then overwrites one file and expects Load
  // to fail with a message containing each of `needles`.
  void ExpectLoadError(const std::string& file, const std::string& contents,
                       const std::vector<std::string>& needles) {
    ASSERT_TRUE(Small()->Save(dir_).ok());
    Write(file, contents);
    auto t = Tokenizer::Load(dir_);
    ASSERT_FALSE(t.ok()) << file << " <- " << contents;
    for (const std::string& n : needles) {
      EXPECT_NE(t.status().message().find(n), std::string::npos)
          << "want \"" << n << "\" in: " << t.status();
    }
  }

  // Merges: 256 = "aa", 257 = "aab", 258 = "\n\n". Cache: "aaaa" = [256, 256]
  // and "baa" = [98, 256] (extra pieces, as train_piece_cache would add).
  std::unique_ptr<Tokenizer> Small() {
    auto t = Tokenizer::FromMerges(Gpt4Pattern(), {{97, 97, 256}, {256, 98, 257}, {10, 10, 258}});
    EXPECT_TRUE(t.ok()) << t.status();
    (*t)->AddTrainedPieces({{"aaaa", {256, 256}}, {"baa", {98, 256}}});
    return std::move(t).value();
  }

  std::string dir_;
};

TEST_F(TokenizerFilesTest, WritesTheOriginalFormatExactly) {
  auto tok = Small();
  ASSERT_TRUE(tok->Save(dir_).ok());
  EXPECT_EQ(Read("pattern.txt"), Gpt4Pattern() + "\n");
  EXPECT_EQ(Read("merges.txt"), "97,97:256\n256,98:257\n10,10:258\n");
  // base64("aaaa") = YWFhYQ==, base64("baa") = YmFh; Python list repr.
  EXPECT_EQ(Read("cache.txt"), "YWFhYQ==:[256, 256]\nYmFh:[98, 256]\n");
  const std::string vocab = Read("vocab.txt");
  EXPECT_NE(vocab.find("[10] : [\\u000a]\n"), std::string::npos);
  EXPECT_NE(vocab.find("[97] : [a]\n"), std::string::npos);
  EXPECT_NE(vocab.find("[257] : [aab]\n"), std::string::npos);
  EXPECT_NE(vocab.find("[258] : [\\u000a\\u000a]\n"), std::string::npos);
  EXPECT_NE(vocab.find("[255] : [\xEF\xBF\xBD]\n"), std::string::npos);
  EXPECT_EQ(vocab.substr(0, 16), "[0] : [\\u0000]\n[");
  EXPECT_FALSE(PathExists(dir_ + "/special_tokens.txt"));
}

TEST_F(TokenizerFilesTest, RoundTripPreservesEverything) {
  auto tok = Small();
  ASSERT_TRUE(tok->AddSpecialTokens({{"<|endoftext|>", 300}}).ok());
  ASSERT_TRUE(tok->Save(dir_).ok());
  EXPECT_EQ(Read("special_tokens.txt"), "<|endoftext|> 300\n");
  auto loaded = Tokenizer::Load(dir_);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const Tokenizer& t = **loaded;
  EXPECT_EQ(t.Fingerprint(), tok->Fingerprint());
  EXPECT_EQ(t.pattern(), tok->pattern());
  EXPECT_EQ(t.num_merges(), 3);
  EXPECT_EQ(t.vocab_size(), 301);
  EXPECT_EQ(t.special_tokens(), tok->special_tokens());
  for (const std::string s : {"aaaa", "baa aab\n\n", "hello <|endoftext|> aaab", ""}) {
    EXPECT_EQ(*t.Encode(s, SpecialTokenPolicy::AllowAll()),
              *tok->Encode(s, SpecialTokenPolicy::AllowAll()));
  }
  // The trained cache came back: "baa" encodes from the cache entry.
  EXPECT_EQ(*t.Encode("baa"), (std::vector<int32_t>{98, 256}));
  // Saving the loaded tokenizer reproduces identical files.
  const std::string dir2 = dir_ + "/again";
  ASSERT_TRUE(t.Save(dir2).ok());
  for (const char* f : {"pattern.txt", "merges.txt", "vocab.txt", "cache.txt", "special_tokens.txt"}) {
    EXPECT_EQ(ReadFile(dir2 + "/" + f).value(), Read(f)) << f;
  }
}

TEST_F(TokenizerFilesTest, LoadsADirectoryWrittenByTheOriginal) {
  // Written by hand the way the original's RegexTokenizer.save does (no
  // special_tokens.txt; vocab.txt contents are not read).
  ASSERT_TRUE(MakeDirs(dir_).ok());
  Write("pattern.txt", Gpt4Pattern() + "\n");
  Write("merges.txt", "104,101:256\n108,108:257\n256,257:258\n258,111:259\n");
  Write("vocab.txt", "ignored\n");
  Write("cache.txt", "IGhlbGxv:[32, 259]\n");  // " hello"
  auto t = Tokenizer::Load(dir_);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*(*t)->Encode("hello"), (std::vector<int32_t>{259}));
  EXPECT_EQ(*(*t)->Encode("hello hello"), (std::vector<int32_t>{259, 32, 259}));
  EXPECT_EQ(*(*t)->Encode("shell"), (std::vector<int32_t>{'s', 258}));  // s he ll -> s hell
}

TEST_F(TokenizerFilesTest, RankBasedTokenizerRoundTrips) {
  const Tokenizer* cl = testing_util::Cl100k();
  if (cl == nullptr) GTEST_SKIP() << "cl100k_base.tiktoken not found";
  ASSERT_TRUE(cl->Save(dir_).ok());
  // merges.txt is written in the original's numbering (bytes are 0..255):
  // cl100k_base's rank 256 is "  " (base64 "ICA=" in the rank file).
  auto merges = ReadFile(dir_ + "/merges.txt");
  ASSERT_TRUE(merges.ok()) << merges.status();
  EXPECT_EQ(merges->substr(0, 10), "32,32:256\n");
  auto t = Tokenizer::Load(dir_);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE((*t)->is_rank_based());
  EXPECT_EQ((*t)->Fingerprint(), cl->Fingerprint());
  EXPECT_EQ(*(*t)->Encode("hello world"), (std::vector<int32_t>{15339, 1917}));
  // A merges.txt that contradicts ranks.tiktoken is refused (stale file).
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/merges.txt", "32,33:256\n").ok());
  auto stale = Tokenizer::Load(dir_);
  ASSERT_FALSE(stale.ok());
  EXPECT_NE(stale.status().message().find("merges.txt:1:"), std::string::npos) << stale.status();
}

TEST_F(TokenizerFilesTest, MissingFiles) {
  auto none = Tokenizer::Load(dir_);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find(dir_), std::string::npos);
  for (const char* f : {"pattern.txt", "merges.txt"}) {
    ASSERT_TRUE(Small()->Save(dir_).ok());
    ASSERT_TRUE(RemoveAll(dir_ + "/" + f).ok());
    auto t = Tokenizer::Load(dir_);
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.status().message().find(std::string("missing file: ") + dir_ + "/" + f),
              std::string::npos) << t.status();
  }
}

TEST_F(TokenizerFilesTest, CorruptPattern) {
  ExpectLoadError("pattern.txt", Gpt4Pattern(), {"pattern.txt", "truncated"});
  ExpectLoadError("pattern.txt", "", {"pattern.txt"});
  ExpectLoadError("pattern.txt", "(unknown pattern\n", {"pattern"});
}

TEST_F(TokenizerFilesTest, CorruptMerges) {
  ExpectLoadError("merges.txt", "", {"merges.txt", "empty merges file"});
  ExpectLoadError("merges.txt", "97,97:256\n97,x:257\n", {"merges.txt:2:", "bad number"});
  ExpectLoadError("merges.txt", "97,97:256\n97,97257\n", {"merges.txt:2:", "missing ':'"});
  ExpectLoadError("merges.txt", "97,97:256\n97:257\n", {"merges.txt:2:", "missing ','"});
  ExpectLoadError("merges.txt", "97,97:256\n97,98:258\n",
                  {"merges.txt:2:", "out of order", "expected 257"});
  ExpectLoadError("merges.txt", "97,300:256\n", {"merges.txt:1:", "does not exist"});
  ExpectLoadError("merges.txt", "97,97:256\n\n97,98:257\n", {"merges.txt:2:"});
  ExpectLoadError("merges.txt", "97,97:-256\n", {"merges.txt:1:", "bad number"});
}

TEST_F(TokenizerFilesTest, CorruptCache) {
  ExpectLoadError("cache.txt", "YWFhYQ==:[256, 256]\nYWFhYQ=[256, 256]\n",
                  {"cache.txt:2:", "missing ':'"});
  ExpectLoadError("cache.txt", "YWF!YQ==:[256, 256]\n", {"cache.txt:1:", "bad base64"});
  ExpectLoadError("cache.txt", "YWFhYQ:[256, 256]\n", {"cache.txt:1:", "bad base64"});
  ExpectLoadError("cache.txt", "YWFhYQ==:[256, 257]\n", {"cache.txt:1:", "do not decode"});
  ExpectLoadError("cache.txt", "YWFhYQ==:[256, 9999]\n", {"cache.txt:1:", "unknown token id 9999"});
  ExpectLoadError("cache.txt", "YWFhYQ==:[256 256]\n", {"cache.txt:1:", "bad number"});
  ExpectLoadError("cache.txt", "YWFhYQ==:256, 256\n", {"cache.txt:1:", "[t1, t2, ...]"});
  ExpectLoadError("cache.txt", "/w==:[255]\n", {"cache.txt:1:", "not UTF-8"});
}

TEST_F(TokenizerFilesTest, CorruptSpecialTokens) {
  ExpectLoadError("special_tokens.txt", "<|x|> 300\n<|y|>\n", {"special_tokens.txt:2:"});
  ExpectLoadError("special_tokens.txt", "<|x|> 3x0\n", {"special_tokens.txt:1:", "bad number"});
  ExpectLoadError("special_tokens.txt", "<|x|> 97\n", {"special_tokens.txt", "already used"});
}

}  // namespace
}  // namespace llm
