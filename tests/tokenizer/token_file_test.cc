#include "core/tokenizer/token_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/util/file_util.h"

namespace llm {
namespace {

using ::testing::HasSubstr;

std::string TempDir() {
  std::string tmpl = std::filesystem::temp_directory_path().string() + "/llm_tokfile_XXXXXX";
  char* d = ::mkdtemp(tmpl.data());
  EXPECT_NE(d, nullptr);
  return tmpl;
}

TokenFileHeader Header(uint32_t vocab) {
  TokenFileHeader h;
  h.vocab_size = vocab;
  h.tokenizer_name = "tiny";
  h.tokenizer_fingerprint = "0123456789abcdef";
  return h;
}

void Le(std::string* out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

// The documented layout, built by hand from the header comment (the CRC is
// the independently checked Crc32, see Crc32MatchesZlib).
std::string HandBuilt(uint32_t dtype, uint32_t vocab, const std::vector<uint32_t>& toks) {
  std::string b = "LLMTOKS1";
  Le(&b, 1, 4);
  Le(&b, dtype, 4);
  Le(&b, vocab, 4);
  Le(&b, toks.size(), 8);
  Le(&b, 4, 4);
  b += "tiny";
  b += "0123456789abcdef";
  for (uint32_t t : toks) Le(&b, t, static_cast<int>(dtype));
  Le(&b, Crc32(b), 4);
  return b;
}

TEST(TokenFileTest, Crc32MatchesZlib) {
  // Standard check value of CRC-32/ISO-HDLC (zlib.crc32(b"123456789")).
  EXPECT_EQ(Crc32("123456789"), 0xCBF43926u);
  EXPECT_EQ(Crc32(""), 0u);
  // zlib.crc32(b"The quick brown fox jumps over the lazy dog") == 0x414FA339
  EXPECT_EQ(Crc32("The quick brown fox jumps over the lazy dog"), 0x414FA339u);
  // Incremental == one shot.
  EXPECT_EQ(Crc32("6789", Crc32("12345")), 0xCBF43926u);
}

TEST(TokenFileTest, SerializeMatchesDocumentedLayoutUint16) {
  std::vector<int32_t> toks = {0, 1, 300, 65535};
  auto bytes = SerializeTokenFile(Header(65536), toks);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(*bytes, HandBuilt(2, 65536, {0, 1, 300, 65535}));
  EXPECT_EQ(bytes->size(), 52u + 4 + 4 * 2);
}

TEST(TokenFileTest, SerializeMatchesDocumentedLayoutUint32) {
  std::vector<int32_t> toks = {65536, 7, 100276};
  auto bytes = SerializeTokenFile(Header(100277), toks);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(*bytes, HandBuilt(4, 100277, {65536, 7, 100276}));
}

TEST(TokenFileTest, RoundTripThroughDisk) {
  std::string dir = TempDir();
  for (uint32_t vocab : {10256u, 200000u}) {
    std::vector<int32_t> toks;
    for (int i = 0; i < 200000; ++i) toks.push_back(static_cast<int32_t>((i * 7919u) % vocab));
    std::string path = dir + "/train";
    ASSERT_TRUE(WriteTokenFile(path, Header(vocab), toks).ok());
    auto f = ReadTokenFile(path);
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_EQ(f->tokens, toks);
    EXPECT_EQ(f->header.version, 1u);
    EXPECT_EQ(f->header.dtype_bytes, vocab <= 65536 ? 2u : 4u);
    EXPECT_EQ(f->header.vocab_size, vocab);
    EXPECT_EQ(f->header.num_tokens, toks.size());
    EXPECT_EQ(f->header.tokenizer_name, "tiny");
    EXPECT_EQ(f->header.tokenizer_fingerprint, "0123456789abcdef");
    // The streaming writer and the in-memory serializer agree.
    auto disk = ReadFile(path);
    auto mem = SerializeTokenFile(Header(vocab), toks);
    ASSERT_TRUE(disk.ok() && mem.ok());
    EXPECT_EQ(*disk, *mem);
    auto h = ReadTokenFileHeader(path);
    ASSERT_TRUE(h.ok()) << h.status();
    EXPECT_EQ(h->num_tokens, toks.size());
    EXPECT_EQ(h->vocab_size, vocab);
  }
  ASSERT_TRUE(RemoveAll(dir).ok());
}

TEST(TokenFileTest, EmptyTokenList) {
  auto bytes = SerializeTokenFile(Header(256), {});
  ASSERT_TRUE(bytes.ok());
  auto f = ParseTokenFile(*bytes, "x");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE(f->tokens.empty());
}

TEST(TokenFileTest, PythonZlibAgreesWithStoredChecksum) {
  if (::access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "/usr/bin/python3 not available";
  std::string dir = TempDir();
  std::string path = dir + "/val";
  std::vector<int32_t> toks = {5, 4, 3, 2, 1, 1000};
  ASSERT_TRUE(WriteTokenFile(path, Header(1024), toks).ok());
  std::string cmd =
      "/usr/bin/python3 -c \"import sys,zlib,struct; d=open(sys.argv[1],'rb').read(); "
      "n=struct.unpack_from('<I',d,28)[0]; c=struct.unpack_from('<Q',d,20)[0]; "
      "t=struct.unpack_from('<%dH'%c,d,48+n); "
      "ok=zlib.crc32(d[:-4])==struct.unpack('<I',d[-4:])[0] and list(t)==[5,4,3,2,1,1000]; "
      "sys.exit(0 if ok else 1)\" " +
      path;
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  ASSERT_TRUE(RemoveAll(dir).ok());
}

// --- every corruption is a clear error naming the file ----------------------

class CorruptTokenFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = SerializeTokenFile(Header(1000), {1, 2, 3, 999, 0});
    ASSERT_TRUE(b.ok());
    good_ = *b;
  }
  absl::Status Parse(const std::string& bytes) {
    return ParseTokenFile(bytes, "/some/dir/train").status();
  }
  std::string good_;
};

TEST_F(CorruptTokenFileTest, GoodFileParses) { EXPECT_TRUE(Parse(good_).ok()); }

TEST_F(CorruptTokenFileTest, TruncatedAnywhereIsDataLossNamingTheFile) {
  for (size_t len = 0; len < good_.size(); ++len) {
    absl::Status s = Parse(good_.substr(0, len));
    ASSERT_FALSE(s.ok()) << "prefix of length " << len << " accepted";
    EXPECT_THAT(std::string(s.message()), HasSubstr("/some/dir/train")) << len;
    if (len >= 8) {
      EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << len << ": " << s;
    }
  }
  absl::Status s = Parse(good_.substr(0, good_.size() - 3));
  EXPECT_THAT(std::string(s.message()), HasSubstr("truncated"));
}

TEST_F(CorruptTokenFileTest, TrailingBytesAreDataLoss) {
  absl::Status s = Parse(good_ + "xx");
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("size mismatch"));
}

TEST_F(CorruptTokenFileTest, EveryFlippedByteIsDetected) {
  for (size_t i = 0; i < good_.size(); ++i) {
    std::string bad = good_;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    absl::Status s = Parse(bad);
    ASSERT_FALSE(s.ok()) << "flip at byte " << i << " accepted";
    EXPECT_THAT(std::string(s.message()), HasSubstr("/some/dir/train")) << i;
  }
  // A flip inside the token array is caught by the checksum.
  std::string bad = good_;
  bad[52 + 1] ^= 0x40;  // a token byte (header is 48 + 4 bytes of name)
  absl::Status s = Parse(bad);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("checksum mismatch"));
}

TEST_F(CorruptTokenFileTest, BadMagic) {
  std::string bad = good_;
  bad.replace(0, 8, "NOTTOKS1");
  absl::Status s = Parse(bad);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("bad magic"));
  EXPECT_EQ(Parse("hello world, this is a text file not tokens").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CorruptTokenFileTest, UnknownVersion) {
  std::string bad = good_;
  bad[8] = 2;
  absl::Status s = Parse(bad);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(s.message()), HasSubstr("unsupported version 2"));
}

TEST_F(CorruptTokenFileTest, OutOfRangeTokenWithValidChecksum) {
  // A file whose checksum is right but whose token 1000 >= vocab 1000.
  std::string b = HandBuilt(2, 1000, {1, 1000});
  absl::Status s = Parse(b);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("token 1000 at index 1 is >= vocab_size 1000"));
}

TEST_F(CorruptTokenFileTest, HugeTokenCountDoesNotOverflowOrAllocate) {
  std::string bad = good_;
  for (int i = 20; i < 28; ++i) bad[i] = static_cast<char>(0xFF);
  absl::Status s = Parse(bad);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("truncated"));
}

TEST(TokenFileTest, ReadErrorsNameThePath) {
  std::string dir = TempDir();
  auto missing = ReadTokenFile(dir + "/nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr(dir + "/nope"));
  ASSERT_TRUE(WriteFileAtomic(dir + "/text", "just some text").ok());
  auto not_tokens = ReadTokenFile(dir + "/text");
  EXPECT_THAT(std::string(not_tokens.status().message()), HasSubstr(dir + "/text"));
  auto hdr = ReadTokenFileHeader(dir + "/text");
  EXPECT_FALSE(hdr.ok());
  ASSERT_TRUE(RemoveAll(dir).ok());
}

TEST(TokenFileTest, WriterRejectsBadInput) {
  std::string dir = TempDir();
  std::string path = dir + "/t";
  absl::Status s = WriteTokenFile(path, Header(100), {1, 100});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("token 100 at index 1"));
  EXPECT_THAT(std::string(s.message()), HasSubstr(path));
  EXPECT_FALSE(WriteTokenFile(path, Header(100), {-1}).ok());
  EXPECT_FALSE(WriteTokenFile(path, Header(0), {}).ok());
  TokenFileHeader h = Header(100);
  h.tokenizer_fingerprint = "XYZ";
  EXPECT_FALSE(WriteTokenFile(path, h, {}).ok());
  h.tokenizer_fingerprint = "0123456789ABCDEF";  // must be lowercase
  EXPECT_FALSE(WriteTokenFile(path, h, {}).ok());
  EXPECT_FALSE(PathExists(path));  // nothing written on error
  ASSERT_TRUE(RemoveAll(dir).ok());
}

}  // namespace
}  // namespace llm
