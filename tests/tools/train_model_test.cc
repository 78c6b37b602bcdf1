// End-to-end tests of the train_model and evaluate_model binaries on a tiny
// tokenizer and synthetic token splits written into a temporary assets dir.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/model/batch_sampler.h"
#include "core/model/checkpoint.h"
#include "core/model/transformer.h"
#include "core/tokenizer/pretokenizer.h"
#include "core/tokenizer/token_file.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/file_util.h"
#include "core/util/paths.h"
#include "tests/test_paths.h"

namespace llm {
namespace {

std::string BinDir() { return TestBuildDir(); }

struct RunResult {
  int exit_code;
  std::string output;  // stdout + stderr
};

RunResult RunTool(const std::string& tool, const std::string& args) {
  std::string cmd = absl::StrCat("OPENBLAS_NUM_THREADS=1 ", BinDir(), "/tools/", tool, " ", args,
                                 " 2>&1");
  FILE* p = ::popen(cmd.c_str(), "r");
  EXPECT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int st = ::pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

// A temporary assets dir with tokenizer "tiny" (4 merges, vocab 260) and
// train/val/test token files of synthetic, partly predictable data.
class TrainToolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = std::filesystem::temp_directory_path().string() + "/llm_traintool_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    assets_ = tmpl;
    SetAssetsDir(assets_);
    auto pattern = SplitPatternByName("gpt-4");
    ASSERT_TRUE(pattern.ok());
    auto tok = Tokenizer::FromMerges(*pattern, {{'a', 'b', 256}, {'c', 'd', 257},
                                                {256, 257, 258}, {'e', 'e', 259}});
    ASSERT_TRUE(tok.ok()) << tok.status();
    ASSERT_EQ((*tok)->vocab_size(), 260);
    ASSERT_TRUE((*tok)->Save(TokenizerDir("tiny")).ok());
    fingerprint_ = (*tok)->Fingerprint();
    ASSERT_TRUE(MakeDirs(TokensDir("tiny")).ok());
    WriteSplit("train", 3000, 1);
    WriteSplit("val", 700, 2);
    WriteSplit("test", 500, 3);
  }
  void TearDown() override {
    SetAssetsDir("assets");
    ASSERT_TRUE(RemoveAll(assets_).ok());
  }

  void WriteSplit(const std::string& split, size_t n, uint32_t seed) {
    std::vector<int32_t> t(n);
    uint32_t x = seed;
    for (size_t i = 0; i < n; ++i) {
      x = x * 1103515245u + 12345u;
      t[i] = ((x >> 16) % 8 == 0) ? static_cast<int32_t>((x >> 20) % 260)
                                  : static_cast<int32_t>(97 + i % 7);
    }
    TokenFileHeader h;
    h.vocab_size = 260;
    h.tokenizer_name = "tiny";
    h.tokenizer_fingerprint = fingerprint_;
    ASSERT_TRUE(WriteTokenFile(TokensDir("tiny") + "/" + split, h, t).ok());
    if (split == "val") val_ = t;
  }

  std::string Common() const {
    return absl::StrCat("--assets ", assets_,
                        " -t tiny --context 8 --n_blocks 2 --d_model 16 --n_heads 2 --d_head 8 "
                        "--d_ff 32 -bs 4 --eval_batches 2 -q");
  }

  std::string assets_;
  std::string fingerprint_;
  std::vector<int32_t> val_;
};

TEST_F(TrainToolTest, HelpWorks) {
  RunResult r = RunTool("train_model", "--help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("--batch_size"), std::string::npos);
  EXPECT_NE(r.output.find("--starting_checkpoint_iter"), std::string::npos);
  r = RunTool("evaluate_model", "--help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("--checkpoint_name"), std::string::npos);
}

// N+M steps in one run == N steps, then resume for M (cosine schedule with a
// fixed --total_steps, weight decay and clipping all on), bitwise.
TEST_F(TrainToolTest, ResumeIsBitwiseExact) {
  const std::string sched =
      " --schedule cosine --warmup 2 --total_steps 12 --min_lr 1e-4 -lr 3e-3 --weight_decay 0.01"
      " --grad_clip 1 --seed 5";
  RunResult full = RunTool("train_model", Common() + sched + " -n full -nb 12");
  ASSERT_EQ(full.exit_code, 0) << full.output;
  RunResult a = RunTool("train_model", Common() + sched + " -n part -nb 8");
  ASSERT_EQ(a.exit_code, 0) << a.output;
  // Resume: the seed comes from the checkpoint (not passed again).
  const std::string sched_no_seed = sched.substr(0, sched.find(" --seed"));
  RunResult b =
      RunTool("train_model", Common() + sched_no_seed + " -n resumed -s part -c 8 -nb 4");
  ASSERT_EQ(b.exit_code, 0) << b.output;
  auto x = LoadCheckpoint(CheckpointPath("full", 12));
  auto y = LoadCheckpoint(CheckpointPath("resumed", 12));
  ASSERT_TRUE(x.ok()) << x.status();
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ(y->step, 12);
  EXPECT_EQ(y->seed, 5u);
  EXPECT_EQ(y->tokenizer_name, "tiny");
  EXPECT_EQ(y->tokenizer_fingerprint, fingerprint_);
  ASSERT_EQ(x->params.size(), y->params.size());
  EXPECT_EQ(std::memcmp(x->params.data(), y->params.data(), x->params.size() * 4), 0);
  EXPECT_EQ(std::memcmp(x->adam_m.data(), y->adam_m.data(), x->adam_m.size() * 4), 0);
  EXPECT_EQ(std::memcmp(x->adam_v.data(), y->adam_v.data(), x->adam_v.size() * 4), 0);
  EXPECT_EQ(x->adam_step, y->adam_step);
  // Sanity: the resumed-from checkpoint differs.
  auto p8 = LoadCheckpoint(CheckpointPath("part", 8));
  ASSERT_TRUE(p8.ok());
  EXPECT_NE(std::memcmp(x->params.data(), p8->params.data(), x->params.size() * 4), 0);
}

TEST_F(TrainToolTest, CheckpointFrequencyLogAndOverwrite) {
  RunResult r = RunTool("train_model", Common() + " -n v1 -nb 12 --checkpoint_every 5 --eval_every 6");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ListCheckpointIterations("v1"), (std::vector<int64_t>{5, 10, 12}));
  EXPECT_NE(r.output.find("step      6: val loss"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("step     12: val loss"), std::string::npos) << r.output;
  auto log = ReadFile(ModelDir("v1") + "/train_log.tsv");
  ASSERT_TRUE(log.ok());
  std::vector<std::string> lines = absl::StrSplit(*log, '\n', absl::SkipEmpty());
  EXPECT_EQ(lines.size(), 13u);  // header + 12 steps
  // Same name again without -y is refused; with -y old checkpoints are replaced.
  r = RunTool("train_model", Common() + " -n v1 -nb 3");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("already exists"), std::string::npos) << r.output;
  r = RunTool("train_model", Common() + " -y -n v1 -nb 3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ListCheckpointIterations("v1"), (std::vector<int64_t>{3}));
}

TEST_F(TrainToolTest, ClearErrors) {
  // Missing token files name the command that creates them.
  ASSERT_TRUE(RemoveAll(TokensDir("tiny")).ok());
  RunResult r = RunTool("train_model", Common() + " -n v1 -nb 2");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("tokenize_splits -n tiny"), std::string::npos) << r.output;
  // Missing tokenizer.
  r = RunTool("train_model", absl::StrCat("--assets ", assets_, " -t nope -n v1 -nb 2"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("bpe_checkpoints/nope"), std::string::npos) << r.output;
  // Same start and destination name; missing iteration.
  r = RunTool("train_model", Common() + " -n v1 -s v1 -c 3 -nb 2");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("must be different"), std::string::npos) << r.output;
  // Bad flag value.
  r = RunTool("train_model", Common() + " -n v1 --schedule bogus");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--schedule"), std::string::npos) << r.output;
}

TEST_F(TrainToolTest, ResumeErrors) {
  RunResult r = RunTool("train_model", Common() + " -n v1 -nb 3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = RunTool("train_model", Common() + " -n v2 -s v1 -c 7 -nb 2");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("checkpoint.7.bin"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("iterations: 3"), std::string::npos) << r.output;
  r = RunTool("train_model", Common() + " -n v2 -s v1 -c 3 -nb 2 --d_model 32");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("--d_model"), std::string::npos) << r.output;
  // A corrupted starting checkpoint is reported with its path.
  std::string path = CheckpointPath("v1", 3);
  auto bytes = ReadFile(path);
  ASSERT_TRUE(bytes.ok());
  (*bytes)[bytes->size() / 2] ^= 1;
  ASSERT_TRUE(WriteFileAtomic(path, *bytes).ok());
  r = RunTool("train_model", Common() + " -n v2 -s v1 -c 3 -nb 2");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("checksum mismatch"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(path), std::string::npos) << r.output;
}

// evaluate_model's val loss equals an independent per-window computation.
TEST_F(TrainToolTest, EvaluateModelMatchesReference) {
  RunResult r = RunTool("train_model", Common() + " -n v1 -nb 10");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = RunTool("evaluate_model", absl::StrCat("--assets ", assets_, " -t tiny -n v1 -c 10 -bs 8 -q"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // "val  : 699 predictions (700 tokens)  loss X  perplexity Y"
  size_t at = r.output.find("val  : 699 predictions");
  ASSERT_NE(at, std::string::npos) << r.output;
  double loss = 0, ppl = 0;
  ASSERT_EQ(std::sscanf(r.output.c_str() + r.output.find("loss", at), "loss %lf perplexity %lf",
                        &loss, &ppl),
            2)
      << r.output;
  EXPECT_NE(r.output.find("test : 499 predictions"), std::string::npos) << r.output;

  auto ck = LoadCheckpoint(CheckpointPath("v1", 10));
  ASSERT_TRUE(ck.ok());
  Transformer m(ck->config);
  std::copy(ck->params.begin(), ck->params.end(), m.params());
  double sum = 0;
  int count = 0;
  for (size_t s = 0; s + 1 < val_.size(); s += 8) {
    int len = static_cast<int>(std::min<size_t>(8, val_.size() - 1 - s));
    sum += static_cast<double>(m.ForwardLoss(&val_[s], &val_[s + 1], 1, len)) * len;
    count += len;
  }
  EXPECT_NEAR(loss, sum / count, 2e-4);
  EXPECT_NEAR(ppl, std::exp(sum / count), 0.01 * ppl);

  // Latest checkpoint by default; vocab mismatch against another tokenizer.
  r = RunTool("evaluate_model", absl::StrCat("--assets ", assets_, " -t tiny -n v1 -s val -nb 1 -q"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("v1:10"), std::string::npos) << r.output;
  auto pattern = SplitPatternByName("gpt-4");
  auto other = Tokenizer::FromMerges(*pattern, {{'a', 'b', 256}});
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE((*other)->Save(TokenizerDir("other")).ok());
  r = RunTool("evaluate_model", absl::StrCat("--assets ", assets_, " -t other -n v1 -q"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("vocab_size 260"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace llm
