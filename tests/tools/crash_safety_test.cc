// Crash safety: SIGKILL the tools that write checkpoints, tokenizers and
// token files at random moments (including in the middle of a file write)
// and check that what is left on disk is never a corrupt file posing as a
// good one:
//  * train_model --checkpoint_every 1: every checkpoint.N.bin present loads
//    (LoadCheckpoint validates size + checksum) and has step N, the newest
//    checkpoint seen before the kill is still there, and no temporary file is
//    listed by ListCheckpointIterations;
//  * train_tokenizer: the directory either fails to Load with a clean error
//    or loads as the exact tokenizer a complete run produces (same
//    fingerprint); overwriting (-y) an identical tokenizer always leaves it
//    loadable;
//  * tokenize_splits: every token file present reads back fully validated
//    and equals the complete run's file.
// Kill times are pseudo-random from a fixed seed (reproducible) and spread
// over each tool's run time.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/model/checkpoint.h"
#include "core/tokenizer/pretokenizer.h"
#include "core/tokenizer/token_file.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/file_util.h"
#include "core/util/paths.h"
#include "tests/test_paths.h"

namespace llm {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string BinDir() { return TestBuildDir(); }

// Starts BIN/tools/TOOL ARGS with output discarded; returns its pid.
pid_t Spawn(const std::string& tool, const std::vector<std::string>& args) {
  const std::string exe = BinDir() + "/tools/" + tool;
  std::vector<std::string> argv_s = {exe};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& s : argv_s) argv.push_back(s.data());
    argv.push_back(nullptr);
    FILE* null = std::fopen("/dev/null", "w");
    if (null) {
      ::dup2(fileno(null), 1);
      ::dup2(fileno(null), 2);
    }
    ::setenv("OPENBLAS_NUM_THREADS", "1", 1);
    ::execv(exe.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

// Waits for `pid`; returns its exit code, or -signal if killed.
int Wait(pid_t pid) {
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

// Runs a tool to completion; returns its exit code.
int RunToCompletion(const std::string& tool, const std::vector<std::string>& args) {
  return Wait(Spawn(tool, args));
}

// Kills `pid` with SIGKILL after `delay`, unless it exits first. Returns true
// if the process was killed (false: it had already finished).
bool KillAfter(pid_t pid, std::chrono::microseconds delay) {
  std::this_thread::sleep_for(delay);
  ::kill(pid, SIGKILL);
  return Wait(pid) == -SIGKILL;
}

bool IsTempFile(const std::string& name) { return name.find(".tmp.") != std::string::npos; }

class CrashSafetyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = fs::temp_directory_path().string() + "/llm_crash_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    assets_ = tmpl;
    SetAssetsDir(assets_);
  }
  void TearDown() override {
    SetAssetsDir("assets");
    ASSERT_TRUE(RemoveAll(assets_).ok());
  }

  // Tokenizer "tiny" (vocab 260) and synthetic train/val/test token files.
  void WriteTinyTokenizerAndSplits() {
    auto tok = Tokenizer::FromMerges(SplitPatternByName("gpt-4").value(),
                                     {{'a', 'b', 256}, {'c', 'd', 257}, {256, 257, 258}, {'e', 'e', 259}});
    ASSERT_TRUE(tok.ok()) << tok.status();
    ASSERT_TRUE((*tok)->Save(TokenizerDir("tiny")).ok());
    ASSERT_TRUE(MakeDirs(TokensDir("tiny")).ok());
    for (const char* split : {"train", "val", "test"}) {
      std::vector<int32_t> t(4000);
      for (size_t i = 0; i < t.size(); ++i) t[i] = static_cast<int32_t>((i * 7919) % 260);
      TokenFileHeader h;
      h.vocab_size = 260;
      h.tokenizer_name = "tiny";
      h.tokenizer_fingerprint = (*tok)->Fingerprint();
      ASSERT_TRUE(WriteTokenFile(TokensDir("tiny") + "/" + split, h, t).ok());
    }
  }

  // A text corpus of `n` bytes (ASCII words plus some multi-byte UTF-8).
  std::string Corpus(size_t n) {
    static const char* const kWords[] = {"the ", "king ", "and ", "queen ", "of ", "caf\xC3\xA9 ",
                                         "thee ", "thou ", "\n", "speak, ", "night. "};
    std::string s;
    uint32_t x = 1;
    while (s.size() < n) {
      x = x * 1103515245u + 12345u;
      s += kWords[(x >> 16) % 11];
    }
    return s;
  }

  std::string assets_;
};

TEST_F(CrashSafetyTest, SigkillDuringTrainingLeavesLoadableCheckpoints) {
  WriteTinyTokenizerAndSplits();
  // ~26k parameters: a checkpoint (with Adam state) is ~310 KB, so a good
  // share of the run is spent writing checkpoints.
  const std::vector<std::string> args = {
      "--assets", assets_, "-t", "tiny", "-n", "crash", "-y", "--context", "16", "--n_blocks", "1",
      "--d_model", "32", "--n_heads", "2", "--d_head", "16", "--d_ff", "64", "-bs", "2",
      "-nb", "300", "--checkpoint_every", "1", "--eval_every", "1000000", "-q"};
  std::mt19937 rng(20240611);
  int kills = 0;
  for (int round = 0; round < 6; ++round) {
    // Start from an empty model dir, so every checkpoint seen below was
    // written by this run.
    ASSERT_TRUE(RemoveAll(ModelDir("crash")).ok());
    const pid_t pid = Spawn("train_model", args);
    // Wait for a first checkpoint (so there is a "previous" one), then kill
    // after a random extra delay.
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    int64_t newest_before = -1;
    while (Clock::now() < deadline) {
      auto its = ListCheckpointIterations("crash");
      if (!its.empty()) {
        newest_before = its.back();
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ASSERT_GE(newest_before, 1) << "train_model wrote no checkpoint within 120 s";
    const bool killed =
        KillAfter(pid, std::chrono::microseconds(std::uniform_int_distribution<int>(0, 300000)(rng)));
    kills += killed;

    // Every checkpoint file present loads and holds the step in its name.
    const std::vector<int64_t> its = ListCheckpointIterations("crash");
    ASSERT_FALSE(its.empty());
    EXPECT_GE(its.back(), newest_before) << "the newest checkpoint was lost";
    for (int64_t it : its) {
      auto ck = LoadCheckpoint(CheckpointPath("crash", it));
      ASSERT_TRUE(ck.ok()) << "round " << round << ": " << ck.status();
      EXPECT_EQ(ck->step, it);
      EXPECT_TRUE(ck->has_optimizer);
    }
    // Leftover temporary files (from the write in progress) are never
    // listed as checkpoints, and checkpoint.N.bin files are all listed.
    size_t ckpt_files = 0;
    for (const auto& e : fs::directory_iterator(ModelDir("crash"))) {
      const std::string name = e.path().filename().string();
      if (IsTempFile(name)) continue;
      if (name.rfind("checkpoint.", 0) == 0) ++ckpt_files;
    }
    EXPECT_EQ(ckpt_files, its.size());
  }
  std::printf("train_model: %d of 6 runs killed mid-training\n", kills);
  EXPECT_GE(kills, 3);
}

TEST_F(CrashSafetyTest, SigkillDuringTokenizerTrainingAndTokenizeSplits) {
  ASSERT_TRUE(MakeDirs(TextDir()).ok());
  const std::string corpus = Corpus(300000);
  for (const char* split : {"train", "val", "test"}) {
    ASSERT_TRUE(WriteFileAtomic(TextDir() + "/" + split + ".txt", corpus).ok());
  }
  const std::vector<std::string> train = {"--assets", assets_, "-n", "ref", "-m", "200",
                                          "--no-verbose"};
  // Reference: complete runs, timed to spread the kills over the run.
  auto t0 = Clock::now();
  ASSERT_EQ(RunToCompletion("train_tokenizer", train), 0);
  const auto train_us =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
  auto ref = Tokenizer::Load(TokenizerDir("ref"));
  ASSERT_TRUE(ref.ok()) << ref.status();
  t0 = Clock::now();
  ASSERT_EQ(RunToCompletion("tokenize_splits", {"--assets", assets_, "-n", "ref", "--no-progress"}), 0);
  const auto split_us =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
  std::vector<std::string> ref_tokens;
  for (const char* split : {"train", "val", "test"}) {
    auto b = ReadFile(TokensDir("ref") + "/" + split);
    ASSERT_TRUE(b.ok()) << b.status();
    ref_tokens.push_back(*b);
  }

  std::mt19937 rng(7);
  for (int round = 0; round < 6; ++round) {
    // A fresh name: killed at any point, the directory either does not load
    // (clean error) or is the complete tokenizer.
    const std::string name = absl::StrCat("fresh", round);
    std::vector<std::string> args = train;
    args[3] = name;
    KillAfter(Spawn("train_tokenizer", args),
              std::chrono::microseconds(std::uniform_int_distribution<int64_t>(0, train_us)(rng)));
    if (PathExists(TokenizerDir(name))) {
      auto t = Tokenizer::Load(TokenizerDir(name));
      if (t.ok()) {
        EXPECT_EQ((*t)->Fingerprint(), (*ref)->Fingerprint()) << "round " << round;
      } else {
        EXPECT_NE(t.status().code(), absl::StatusCode::kInternal) << t.status();
      }
    }
    // Overwriting the same tokenizer (-y): always loadable, always the same.
    std::vector<std::string> again = train;
    again.push_back("-y");
    KillAfter(Spawn("train_tokenizer", again),
              std::chrono::microseconds(std::uniform_int_distribution<int64_t>(0, train_us)(rng)));
    auto t = Tokenizer::Load(TokenizerDir("ref"));
    ASSERT_TRUE(t.ok()) << "round " << round << ": " << t.status();
    EXPECT_EQ((*t)->Fingerprint(), (*ref)->Fingerprint());

    // tokenize_splits: every token file present is complete and correct.
    KillAfter(Spawn("tokenize_splits", {"--assets", assets_, "-n", "ref", "--no-progress"}),
              std::chrono::microseconds(std::uniform_int_distribution<int64_t>(0, split_us)(rng)));
    int i = 0;
    for (const char* split : {"train", "val", "test"}) {
      const std::string path = TokensDir("ref") + "/" + split;
      auto tf = ReadTokenFile(path);
      ASSERT_TRUE(tf.ok()) << "round " << round << ": " << tf.status();
      EXPECT_EQ(ReadFile(path).value(), ref_tokens[i++]);
    }
  }
}

}  // namespace
}  // namespace llm
