// End-to-end tests of convert_tiktoken and llm_tokenize: run the built
// binaries on OpenAI's rank files ($LLM_SOURCE_DIR/../shared/data/tiktoken;
// skipped if absent) in a temporary assets dir. Expected ids were computed
// independently with npm tiktoken@1.0.22:
//   get_encoding("cl100k_base").encode("hello world") -> [15339, 1917]
//   get_encoding("o200k_base").encode("hello world")  -> [24912, 2375]
//   get_encoding("cl100k_base").encode("hello world <|endoftext|>", "all")
//     -> [15339, 1917, 220, 100257]
//   get_encoding("r50k_base").encode("hello world")   -> [31373, 995]
//   get_encoding("p50k_base").encode("hello world")   -> [31373, 995]
// and the rank files' first lines: cl100k_base rank 256 is "  " (two spaces).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include "tests/test_paths.h"

namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

std::string ToolPath(const std::string& name) { return llm::TestBinary("tools/" + name); }

std::string RankDir() {
  const char* s = std::getenv("LLM_SOURCE_DIR");
  return std::string(s ? s : ".") + "/../shared/data/tiktoken";
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct ToolRun {
  int exit_code;
  std::string out;  // stdout
  std::string err;  // stderr
};

class ConvertTiktokenTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // One converted checkpoint of each encoding shared by all tests.
    if (!Available()) return;
    shared_ = fs::temp_directory_path() / ("llm_convert_tk_" + std::to_string(::getpid()));
    fs::remove_all(shared_);
    for (const char* e : {"r50k_base", "p50k_base", "cl100k_base", "o200k_base"}) {
      const std::string cmd = "'" + ToolPath("convert_tiktoken") + "' --no-verbose --assets '" +
                              (shared_ / "assets").string() + "' --from '" + RankDir() + "/" + e +
                              ".tiktoken' > /dev/null 2>&1";
      convert_rc_ += std::system(cmd.c_str()) != 0;
    }
  }
  static void TearDownTestSuite() {
    if (!shared_.empty()) fs::remove_all(shared_);
  }
  static bool Available() {
    return fs::exists(ToolPath("convert_tiktoken")) && fs::exists(ToolPath("llm_tokenize")) &&
           fs::exists(RankDir() + "/cl100k_base.tiktoken") &&
           fs::exists(RankDir() + "/o200k_base.tiktoken");
  }
  void SetUp() override {
    if (!Available()) {
      GTEST_SKIP() << "needs tools/convert_tiktoken, tools/llm_tokenize (run via ctest) and "
                      "OpenAI's rank files in " << RankDir();
    }
    ASSERT_EQ(convert_rc_, 0) << "converting the four encodings failed";
    dir_ = shared_ / ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::create_directories(dir_);
  }

  // Runs `tool args` with stdin from `input`; captures stdout and stderr.
  ToolRun Run(const std::string& tool, const std::string& args, const std::string& input = "") {
    const std::string in = (dir_ / "in.txt").string(), out = (dir_ / "out.txt").string(),
                      err = (dir_ / "err.txt").string();
    std::ofstream(in, std::ios::binary) << input;
    const std::string cmd = "env -u LLM_ASSETS_DIR '" + ToolPath(tool) + "' " + args + " < '" +
                            in + "' > '" + out + "' 2> '" + err + "'";
    const int status = std::system(cmd.c_str());
    return ToolRun{WIFEXITED(status) ? WEXITSTATUS(status) : -1, Slurp(out), Slurp(err)};
  }
  std::string Assets() const { return "--assets '" + (shared_ / "assets").string() + "'"; }
  std::string Checkpoint(const std::string& name) const {
    return (shared_ / "assets" / "bpe_checkpoints" / name).string();
  }

  static inline fs::path shared_;
  static inline int convert_rc_ = 0;
  fs::path dir_;
};

TEST_F(ConvertTiktokenTest, WritesTheDirectoryFormat) {
  const std::string d = Checkpoint("cl100k_base");
  for (const char* f : {"pattern.txt", "ranks.tiktoken", "merges.txt", "vocab.txt",
                        "vocab.ref.txt", "cache.txt", "special_tokens.txt"}) {
    EXPECT_TRUE(fs::exists(d + "/" + f)) << f;
  }
  // ranks.tiktoken is OpenAI's file byte for byte.
  EXPECT_EQ(Slurp(d + "/ranks.tiktoken"), Slurp(RankDir() + "/cl100k_base.tiktoken"));
  EXPECT_EQ(Slurp(d + "/special_tokens.txt"),
            "<|endoftext|> 100257\n<|fim_prefix|> 100258\n<|fim_middle|> 100259\n"
            "<|fim_suffix|> 100260\n<|endofprompt|> 100276\n");
  EXPECT_EQ(Slurp(Checkpoint("o200k_base") + "/special_tokens.txt"),
            "<|endoftext|> 199999\n<|endofprompt|> 200018\n");
  // The original's numbering: bytes are 0..255, merged tokens keep their rank.
  EXPECT_EQ(Slurp(d + "/merges.txt").substr(0, 10), "32,32:256\n");
  // 100,000 multi-byte ranks, all reachable by a merge.
  const std::string merges = Slurp(d + "/merges.txt");
  EXPECT_EQ(std::count(merges.begin(), merges.end(), '\n'), 100000);
  EXPECT_THAT(Slurp(d + "/vocab.ref.txt"), HasSubstr("[15339] : [hello]\n"));
}

TEST_F(ConvertTiktokenTest, EncodesLikeTiktoken) {
  for (const auto& [enc, ids] : std::vector<std::pair<std::string, std::string>>{
           {"cl100k_base", "15339 1917\n"},
           {"o200k_base", "24912 2375\n"},
           {"r50k_base", "31373 995\n"},
           {"p50k_base", "31373 995\n"}}) {
    ToolRun r = Run("llm_tokenize", "-t " + enc + " " + Assets(), "hello world");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, ids) << enc;
  }
  ToolRun special = Run("llm_tokenize", "-t cl100k_base --allowed_special all " + Assets(),
                        "hello world <|endoftext|>");
  EXPECT_EQ(special.out, "15339 1917 220 100257\n") << special.err;
  ToolRun back = Run("llm_tokenize", "-t cl100k_base -d " + Assets(), "15339 1917\n220\t100257");
  EXPECT_EQ(back.exit_code, 0) << back.err;
  EXPECT_EQ(back.out, "hello world <|endoftext|>");
}

TEST_F(ConvertTiktokenTest, LlmTokenizeErrors) {
  ToolRun disallowed = Run("llm_tokenize", "-t cl100k_base " + Assets(), "x <|endoftext|>");
  EXPECT_EQ(disallowed.exit_code, 1);
  EXPECT_THAT(disallowed.err, HasSubstr("disallowed special token \"<|endoftext|>\" at byte offset 2"));
  ToolRun bad_utf8 = Run("llm_tokenize", "-t cl100k_base " + Assets(), "ok\xff");
  EXPECT_EQ(bad_utf8.exit_code, 1);
  EXPECT_THAT(bad_utf8.err, HasSubstr("offset 2"));
  ToolRun bad_id = Run("llm_tokenize", "-t cl100k_base -d " + Assets(), "1 2 x3");
  EXPECT_EQ(bad_id.exit_code, 1);
  EXPECT_THAT(bad_id.err, HasSubstr("'x3' is not a token id"));
  ToolRun unknown_id = Run("llm_tokenize", "-t cl100k_base -d " + Assets(), "1 100256");
  EXPECT_EQ(unknown_id.exit_code, 1);
  EXPECT_THAT(unknown_id.err, HasSubstr("unknown token id 100256 at position 1"));
  ToolRun missing = Run("llm_tokenize", "-t nope " + Assets(), "");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("convert_tiktoken --encoding nope"));
  ToolRun bad_special =
      Run("llm_tokenize", "-t cl100k_base --allowed_special '<|im_start|>' " + Assets(), "");
  EXPECT_EQ(bad_special.exit_code, 1);
  EXPECT_THAT(bad_special.err, HasSubstr("not a special token"));
  ToolRun lines = Run("llm_tokenize", "-t o200k_base --lines " + Assets(),
                      "hello world\nbad <|endoftext|>\n");
  EXPECT_EQ(lines.exit_code, 1);
  EXPECT_THAT(lines.out, HasSubstr("24912 2375\nerror: disallowed special token"));
  EXPECT_THAT(lines.err, HasSubstr("the first is line 2"));
}

TEST_F(ConvertTiktokenTest, ConverterErrors) {
  const std::string cl = RankDir() + "/cl100k_base.tiktoken";
  ToolRun exists = Run("convert_tiktoken", "--no-verbose " + Assets() + " --from '" + cl + "'");
  EXPECT_EQ(exists.exit_code, 1);
  EXPECT_THAT(exists.err, HasSubstr("already exists"));
  EXPECT_THAT(exists.err, HasSubstr("-y"));
  ToolRun wrong = Run("convert_tiktoken",
                      "--no-verbose " + Assets() + " -n w --encoding o200k_base --from '" + cl + "'");
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_THAT(wrong.err, HasSubstr("does not match OpenAI's o200k_base.tiktoken"));
  ToolRun unknown = Run("convert_tiktoken", "--no-verbose " + Assets() + " --encoding gpt5");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("unknown --encoding 'gpt5'"));
  // No network here (or a closed port): the error explains how to use --from.
  ToolRun offline = Run("convert_tiktoken", "--no-verbose " + Assets() +
                                                " -n off --encoding cl100k_base "
                                                "--url http://127.0.0.1:9/cl100k_base.tiktoken");
  EXPECT_EQ(offline.exit_code, 1);
  EXPECT_THAT(offline.err, HasSubstr("cannot download http://127.0.0.1:9/"));
  EXPECT_THAT(offline.err, HasSubstr("convert_tiktoken --from cl100k_base.tiktoken --encoding cl100k_base"));
  // A custom rank file needs a split pattern; a corrupt one names the line.
  const std::string custom = (dir_ / "custom.tiktoken").string();
  std::ofstream(custom, std::ios::binary) << "YQ== 0\nYg== 1\n";
  ToolRun no_pattern = Run("convert_tiktoken", "--no-verbose " + Assets() + " --from '" + custom + "'");
  EXPECT_EQ(no_pattern.exit_code, 1);
  EXPECT_THAT(no_pattern.err, HasSubstr("--split_pattern"));
  ToolRun few_bytes = Run("convert_tiktoken", "--no-verbose " + Assets() + " -n c --split_pattern gpt-4 --from '" + custom + "'");
  EXPECT_EQ(few_bytes.exit_code, 1);
  EXPECT_THAT(few_bytes.err, HasSubstr("every single byte must have a rank"));
  std::ofstream(custom, std::ios::binary) << "YQ== 0\nnot-base64! 1\n";
  ToolRun corrupt = Run("convert_tiktoken", "--no-verbose " + Assets() + " -n c --split_pattern gpt-4 --from '" + custom + "'");
  EXPECT_EQ(corrupt.exit_code, 1);
  EXPECT_THAT(corrupt.err, HasSubstr("custom.tiktoken:2: bad base64"));
}

}  // namespace
