// End-to-end tests of the download_data tool: runs the built binary
// ($LLM_BINARY_DIR/tools/download_data) against temporary assets dirs. Never
// touches the network (--no-network, or --from).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include "tests/test_paths.h"

namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

std::string Tool() { return llm::TestBinary("tools/download_data"); }

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

// Runs `args` with the tool in `cwd`, with LLM_SHARED_DIR / LLM_ASSETS_DIR
// cleared so only the flags decide what happens.
ToolRun RunTool(const std::string& cwd, const std::string& args) {
  std::string out_file = fs::temp_directory_path().string() + "/llm_dl_out_" +
                         std::to_string(::getpid());
  std::string cmd = "cd '" + cwd + "' && env -u LLM_SHARED_DIR -u LLM_ASSETS_DIR '" + Tool() +
                    "' " + args + " > '" + out_file + "' 2>&1";
  int status = std::system(cmd.c_str());
  ToolRun r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, Slurp(out_file)};
  fs::remove(out_file);
  return r;
}

// The corpus, if this machine has it (assets/text/raw.txt or ../shared).
std::string FindCorpus() {
  std::string src = Env("LLM_SOURCE_DIR");
  if (src.empty()) src = ".";
  for (std::string p : {src + "/assets/text/raw.txt", src + "/../shared/data/shakespeare.txt"}) {
    if (fs::exists(p)) return fs::absolute(p).string();
  }
  return "";
}

class DownloadDataToolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(Tool().empty()) << "cannot locate the build dir (set LLM_BINARY_DIR)";
    ASSERT_TRUE(fs::exists(Tool())) << Tool() << " is missing: build the download_data target";
    std::string tmpl = fs::temp_directory_path().string() + "/llm_dltool_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    // cwd for the tool: a nested dir, so ../shared does not exist relative to it.
    dir_ = tmpl;
    cwd_ = dir_ + "/work";
    fs::create_directories(cwd_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_, cwd_;
};

TEST_F(DownloadDataToolTest, RealCorpusSplitsHaveKnownSizesAndHashes) {
  std::string corpus = FindCorpus();
  if (corpus.empty()) GTEST_SKIP() << "Shakespeare corpus not found (assets/text or ../shared)";
  ToolRun r = RunTool(cwd_, "--from '" + corpus + "' --assets '" + dir_ + "/assets'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Verified 5,458,199 bytes"));
  const std::string text = dir_ + "/assets/text/";
  EXPECT_EQ(fs::file_size(text + "raw.txt"), 5458199u);
  EXPECT_EQ(fs::file_size(text + "train.txt"), 3361047u);
  EXPECT_EQ(fs::file_size(text + "val.txt"), 1048576u);
  EXPECT_EQ(fs::file_size(text + "test.txt"), 1048576u);
  // Hashes of the splits as cut by Python: t = open(f).read();
  // sha256(t[:3361047]), sha256(t[3361047:4409623]), sha256(t[-1048576:]).
  std::string cmd = "cd '" + text + "' && sha256sum raw.txt train.txt val.txt test.txt";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[4096];
  std::string sums;
  while (size_t n = std::fread(buf, 1, sizeof(buf), p)) sums.append(buf, n);
  ::pclose(p);
  EXPECT_THAT(sums,
              HasSubstr("c5601d266987ac885ca96522b1b4e439feb7eca39f0fe1111f7342b63b6468f3  raw.txt"));
  EXPECT_THAT(sums,
              HasSubstr("fb52687394df88e9fa2a716345b19be1279ed0ef00187e0a86d6a0310ce80c99  train.txt"));
  EXPECT_THAT(sums,
              HasSubstr("fd1912a31e389fc90c86b9a91ad4631c8c6f38d3cc078fe8794107be988c2939  val.txt"));
  EXPECT_THAT(sums,
              HasSubstr("62f6119f98ff16a94d1c452f22e4bb865f76670793ecdfc5f7473ec21ddb8a3b  test.txt"));
  // Concatenating the splits gives the corpus back.
  EXPECT_EQ(Slurp(text + "train.txt") + Slurp(text + "val.txt") + Slurp(text + "test.txt"),
            Slurp(text + "raw.txt"));

  // Second run is a no-op; with -y and --no-network and no source it fails.
  ToolRun again = RunTool(cwd_, "--no-network --assets '" + dir_ + "/assets'");
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_THAT(again.output, HasSubstr("nothing to do"));
  ToolRun redo = RunTool(cwd_, "-y --no-network --assets '" + dir_ + "/assets'");
  EXPECT_EQ(redo.exit_code, 1) << redo.output;
}

TEST_F(DownloadDataToolTest, LLMSharedDirFallbackIsUsedWithoutNetwork) {
  std::string corpus = FindCorpus();
  if (corpus.empty()) GTEST_SKIP() << "Shakespeare corpus not found (assets/text or ../shared)";
  fs::create_directories(dir_ + "/shared/data");
  fs::create_symlink(corpus, dir_ + "/shared/data/shakespeare.txt");
  std::string cmd = "cd '" + cwd_ + "' && LLM_SHARED_DIR='" + dir_ + "/shared' '" + Tool() +
                    "' --no-network --assets '" + dir_ + "/assets' > '" + dir_ + "/out' 2>&1";
  int status = std::system(cmd.c_str());
  std::string out = Slurp(dir_ + "/out");
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
  EXPECT_THAT(out, HasSubstr("Using the offline copy " + dir_ + "/shared/data/shakespeare.txt"));
  EXPECT_EQ(fs::file_size(dir_ + "/assets/text/test.txt"), 1048576u);
}

TEST_F(DownloadDataToolTest, BadFromFileIsAnErrorNamingExpectedAndActual) {
  std::string bad = dir_ + "/bad.txt";
  std::ofstream(bad) << "not the corpus\n";
  ToolRun r = RunTool(cwd_, "--from '" + bad + "' --assets '" + dir_ + "/assets'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr(bad));
  EXPECT_THAT(r.output, HasSubstr("expected 5,458,199 bytes, got 15 bytes"));
  EXPECT_FALSE(fs::exists(dir_ + "/assets/text/raw.txt"));

  // Right size, wrong content: the checksum catches it.
  std::string same_size(5458199, 'a');
  std::ofstream(bad, std::ios::binary | std::ios::trunc) << same_size;
  ToolRun r2 = RunTool(cwd_, "--from '" + bad + "' --assets '" + dir_ + "/assets'");
  EXPECT_EQ(r2.exit_code, 1);
  EXPECT_THAT(r2.output,
              HasSubstr("expected c5601d266987ac885ca96522b1b4e439feb7eca39f0fe1111f7342b63b6468f3"));
  EXPECT_FALSE(fs::exists(dir_ + "/assets/text/raw.txt"));
}

TEST_F(DownloadDataToolTest, NoNetworkAndNoCopyGivesClearError) {
  ToolRun r = RunTool(cwd_, "--no-network --assets '" + dir_ + "/assets'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("network disabled (--no-network)"));
  EXPECT_THAT(r.output, HasSubstr("../shared/data/shakespeare.txt"));
  EXPECT_THAT(r.output, HasSubstr("download_data --from PATH"));
  EXPECT_FALSE(fs::exists(dir_ + "/assets/text/raw.txt"));
}

TEST_F(DownloadDataToolTest, BadFlagsAndHelp) {
  ToolRun help = RunTool(cwd_, "--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.output, HasSubstr("--no-network"));
  EXPECT_THAT(help.output, HasSubstr("--from"));
  ToolRun bad = RunTool(cwd_, "--frob");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.output, HasSubstr("unknown option '--frob'"));
}

}  // namespace
