// End-to-end tests of the tokenize_splits tool: runs the built binary
// ($LLM_BINARY_DIR/tools/tokenize_splits) on a temporary assets dir holding a
// hand-written tokenizer checkpoint and small text splits.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/tokenizer/pretokenizer.h"
#include "core/tokenizer/token_file.h"
#include "core/tokenizer/tokenizer.h"
#include "tests/test_paths.h"

namespace llm {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

std::string Tool() { return TestBinary("tools/tokenize_splits"); }

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Spit(const std::string& path, const std::string& data) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << data;
}

class TokenizeSplitsToolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(Tool().empty()) << "cannot locate the build dir (set LLM_BINARY_DIR)";
    ASSERT_TRUE(fs::exists(Tool())) << Tool() << " is missing: build the tokenize_splits target";
    std::string tmpl = fs::temp_directory_path().string() + "/llm_toksplit_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    assets_ = dir_ + "/assets";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Tokenizer "tiny": GPT-4 pattern, merges (h,e)->256 and (256,l)->257.
  void WriteTinyTokenizer() {
    auto pattern = SplitPatternByName("gpt-4");
    ASSERT_TRUE(pattern.ok());
    const std::string d = assets_ + "/bpe_checkpoints/tiny";
    Spit(d + "/pattern.txt", absl::StrCat(*pattern, "\n"));
    Spit(d + "/merges.txt", "104,101:256\n256,108:257\n");
  }

  int Run(const std::string& args, std::string* output) {
    std::string out_file = dir_ + "/out.txt";
    std::string cmd = absl::StrCat("'", Tool(), "' --assets '", assets_, "' --no-progress ", args,
                                   " > '", out_file, "' 2>&1");
    int status = std::system(cmd.c_str());
    *output = Slurp(out_file);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::string dir_, assets_;
};

TEST_F(TokenizeSplitsToolTest, HandWorkedTokensAndHeader) {
  WriteTinyTokenizer();
  // GPT-4 pieces: "hello" "\n" "he" "\n"; "hello" = h e l l o -> 256 l l o ->
  // 257 l o, so tokens 257 108 111 | 10 | 256 | 10.
  Spit(assets_ + "/text/train.txt", "hello\nhe\n");
  Spit(assets_ + "/text/val.txt", "he");       // 256
  Spit(assets_ + "/text/test.txt", "");        // nothing
  std::string out;
  ASSERT_EQ(Run("-n tiny", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("Loaded tokenizer 'tiny' with vocab_size=258"));
  EXPECT_THAT(out, HasSubstr("Encoded 9 characters to 6 tokens. compression=33.3%"));
  EXPECT_THAT(out, HasSubstr("chars/token=1.500 bytes/token=1.500"));

  auto train = ReadTokenFile(assets_ + "/tokens/tiny/train");
  ASSERT_TRUE(train.ok()) << train.status();
  EXPECT_EQ(train->tokens, std::vector<int32_t>({257, 108, 111, 10, 256, 10}));
  EXPECT_EQ(train->header.vocab_size, 258u);
  EXPECT_EQ(train->header.dtype_bytes, 2u);
  EXPECT_EQ(train->header.tokenizer_name, "tiny");
  auto tok = Tokenizer::Load(assets_ + "/bpe_checkpoints/tiny");
  ASSERT_TRUE(tok.ok());
  EXPECT_EQ(train->header.tokenizer_fingerprint, (*tok)->Fingerprint());
  auto val = ReadTokenFile(assets_ + "/tokens/tiny/val");
  ASSERT_TRUE(val.ok());
  EXPECT_EQ(val->tokens, std::vector<int32_t>({256}));
  auto test = ReadTokenFile(assets_ + "/tokens/tiny/test");
  ASSERT_TRUE(test.ok());
  EXPECT_TRUE(test->tokens.empty());
}

TEST_F(TokenizeSplitsToolTest, MultiThreadedOutputEqualsSingleThreadEncode) {
  WriteTinyTokenizer();
  std::string text;
  for (int i = 0; i < 3000; ++i) {
    text += (i % 5 == 0) ? "  hello there,\n\nhe said.\n" : "Hello hell help\nhe  \n x\n";
  }
  for (const char* split : {"train", "val", "test"}) Spit(assets_ + "/text/" + split + ".txt", text);
  std::string out;
  ASSERT_EQ(Run("-n tiny --threads 3 --chunk_bytes 1000 --verify", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("verify: single-threaded Encode gives the same"));
  auto tok = Tokenizer::Load(assets_ + "/bpe_checkpoints/tiny");
  ASSERT_TRUE(tok.ok());
  auto expected = (*tok)->Encode(text);
  ASSERT_TRUE(expected.ok());
  for (const char* split : {"train", "val", "test"}) {
    auto f = ReadTokenFile(assets_ + "/tokens/tiny/" + split);
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_EQ(f->tokens, *expected) << split;
  }
}

TEST_F(TokenizeSplitsToolTest, MissingTokenizerSaysToTrainIt) {
  std::string out;
  EXPECT_EQ(Run("-n nope", &out), 1);
  EXPECT_THAT(out, HasSubstr("train_tokenizer -n nope"));
  EXPECT_THAT(out, HasSubstr(assets_ + "/bpe_checkpoints/nope"));
}

TEST_F(TokenizeSplitsToolTest, MissingTextSaysToDownloadIt) {
  WriteTinyTokenizer();
  std::string out;
  EXPECT_EQ(Run("-n tiny", &out), 1);
  EXPECT_THAT(out, HasSubstr(assets_ + "/text/train.txt does not exist"));
  EXPECT_THAT(out, HasSubstr("download_data"));
}

TEST_F(TokenizeSplitsToolTest, InvalidUtf8IsAClearError) {
  WriteTinyTokenizer();
  Spit(assets_ + "/text/train.txt", "hello\n\xFFhe");
  std::string out;
  EXPECT_EQ(Run("-n tiny", &out), 1);
  EXPECT_THAT(out, HasSubstr("train.txt"));
  EXPECT_THAT(out, HasSubstr("offset 6"));
}

TEST_F(TokenizeSplitsToolTest, NameIsRequired) {
  std::string out;
  EXPECT_EQ(Run("", &out), 2);
  EXPECT_THAT(out, HasSubstr("-n/--name"));
}

}  // namespace
}  // namespace llm
