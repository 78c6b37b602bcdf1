// End-to-end tests of the train_tokenizer tool: runs the built binary
// ($LLM_BINARY_DIR/tools/train_tokenizer) on a tiny corpus in a temporary
// assets dir and checks the files it writes, its refusals and --help.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "core/tokenizer/tokenizer.h"
#include "tests/test_paths.h"

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

std::string Tool() { return llm::TestBinary("tools/train_tokenizer"); }

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct ToolRun {
  int exit_code;
  std::string output;  // stdout + stderr
};

class TrainTokenizerToolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (Tool().empty() || !fs::exists(Tool())) {
      GTEST_SKIP() << "train_tokenizer binary not found (set LLM_BINARY_DIR; run via ctest)";
    }
    dir_ = fs::temp_directory_path() / ("llm_train_tok_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "assets" / "text");
    // The toy corpus of trainer_test.cc, one word per line. The GPT-4 split
    // gives the pieces low x5, lower x2, newest x6, widest x3 and "\n" x16
    // (single bytes, no pairs), so the merges are the hand-worked 12 there.
    std::string text;
    for (int i = 0; i < 5; ++i) text += "low\n";
    for (int i = 0; i < 2; ++i) text += "lower\n";
    for (int i = 0; i < 6; ++i) text += "newest\n";
    for (int i = 0; i < 3; ++i) text += "widest\n";
    std::ofstream(dir_ / "assets" / "text" / "train.txt", std::ios::binary) << text;
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  ToolRun Run(const std::string& args) {
    std::string out_file = (dir_ / "out.log").string();
    std::string cmd = "env -u LLM_ASSETS_DIR '" + Tool() + "' --assets '" +
                      (dir_ / "assets").string() + "' " + args + " > '" + out_file + "' 2>&1";
    int status = std::system(cmd.c_str());
    return ToolRun{WIFEXITED(status) ? WEXITSTATUS(status) : -1, Slurp(out_file)};
  }
  std::string Checkpoint(const std::string& name) {
    return (dir_ / "assets" / "bpe_checkpoints" / name).string();
  }

  fs::path dir_;
};

TEST_F(TrainTokenizerToolTest, TrainsHandWorkedMergesAndLoads) {
  ToolRun r = Run("-n toy --no-verbose");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // The validation step of the original is printed even with --no-verbose.
  EXPECT_THAT(r.output, HasSubstr("recreated_input='hello world!!!? (안녕하세요!) joined123 😉'"));
  for (const char* f : {"pattern.txt", "merges.txt", "vocab.txt", "cache.txt"}) {
    EXPECT_TRUE(fs::exists(Checkpoint("toy") + "/" + f)) << f;
  }
  EXPECT_EQ(Slurp(Checkpoint("toy") + "/merges.txt"),
            "101,115:256\n256,116:257\n108,111:258\n258,119:259\n101,119:260\n110,260:261\n"
            "261,257:262\n100,257:263\n105,263:264\n119,264:265\n101,114:266\n259,266:267\n");
  // Every piece is now a single token: nothing to cache.
  EXPECT_EQ(Slurp(Checkpoint("toy") + "/cache.txt"), "");

  auto tok = llm::Tokenizer::Load(Checkpoint("toy"));
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->vocab_size(), 268);
  auto ids = (*tok)->Encode("lower\nnewest");
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_THAT(*ids, ElementsAre(267, 10, 262));
}

// With 3 merges (es, est, lo) the words stay multi-token and form the cache,
// by count: newest 6, low 5, widest 3, lower 2 (base64 of the piece : tokens).
TEST_F(TrainTokenizerToolTest, PieceCacheFile) {
  ToolRun r = Run("-n three -m 3 -c 3 --no-verbose");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(Slurp(Checkpoint("three") + "/merges.txt"), "101,115:256\n256,116:257\n108,111:258\n");
  EXPECT_EQ(Slurp(Checkpoint("three") + "/cache.txt"),
            "bmV3ZXN0:[110, 101, 119, 257]\n"   // newest
            "bG93:[258, 119]\n"                 // low
            "d2lkZXN0:[119, 105, 100, 257]\n");  // widest
}

TEST_F(TrainTokenizerToolTest, RefusesToOverwriteWithoutY) {
  ASSERT_EQ(Run("-n twice -m 5 --no-verbose").exit_code, 0);
  ToolRun again = Run("-n twice -m 5 --no-verbose");
  EXPECT_NE(again.exit_code, 0);
  EXPECT_THAT(again.output, HasSubstr("already exists"));
  EXPECT_THAT(again.output, HasSubstr("-y"));
  ToolRun forced = Run("-n twice -m 2 -y --no-verbose");
  EXPECT_EQ(forced.exit_code, 0) << forced.output;
  EXPECT_EQ(Slurp(Checkpoint("twice") + "/merges.txt"), "101,115:256\n256,116:257\n");
}

TEST_F(TrainTokenizerToolTest, ClearErrors) {
  ToolRun missing = Run("-n x --input '" + (dir_ / "nope.txt").string() + "'");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.output, HasSubstr("nope.txt"));
  EXPECT_THAT(missing.output, HasSubstr("download_data"));

  ToolRun pattern = Run("-n x -s nosuchpattern");
  EXPECT_NE(pattern.exit_code, 0);
  EXPECT_THAT(pattern.output, HasSubstr("nosuchpattern"));

  ToolRun negative = Run("-n x -m -1");
  EXPECT_EQ(negative.exit_code, 2);
  EXPECT_THAT(negative.output, HasSubstr("--num_merges"));

  ToolRun unknown = Run("--bogus");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.output, HasSubstr("--bogus"));
  EXPECT_FALSE(fs::exists(Checkpoint("x")));
}

TEST_F(TrainTokenizerToolTest, Help) {
  ToolRun r = Run("--help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag : {"--name", "--overwrite", "--num_merges", "--cache_size",
                           "--split_pattern", "--verbose", "--input", "--assets"}) {
    EXPECT_THAT(r.output, HasSubstr(flag));
  }
}

}  // namespace
