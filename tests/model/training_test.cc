// Trainer: exact resume through a checkpoint file, learning on a trivially
// learnable sequence, and the evaluation-loss weighting.
#include "core/model/training.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <vector>

#include "core/model/checkpoint.h"
#include "core/util/file_util.h"

namespace llm {
namespace {

ModelConfig Tiny() {
  ModelConfig c;
  c.vocab_size = 13;
  c.context = 8;
  c.n_blocks = 2;
  c.d_model = 16;
  c.n_heads = 2;
  c.d_head = 8;
  c.d_ff = 32;
  return c;
}

// A noisy cyclic sequence: mostly (i mod 13), sometimes a pseudo-random token.
std::vector<int32_t> Tokens(size_t n) {
  std::vector<int32_t> t(n);
  uint32_t x = 12345;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    t[i] = ((x >> 16) % 10 == 0) ? static_cast<int32_t>((x >> 20) % 13) : static_cast<int32_t>(i % 13);
  }
  return t;
}

TrainOptions Options() {
  TrainOptions o;
  o.batch_size = 4;
  o.seed = 99;
  o.schedule.kind = LrSchedule::kCosine;
  o.schedule.lr = 3e-3f;
  o.schedule.warmup_steps = 3;
  o.schedule.total_steps = 20;
  o.schedule.min_lr = 1e-4f;
  o.adam.weight_decay = 0.01f;
  o.grad_clip = 1.0f;
  return o;
}

bool SameBits(const float* a, const float* b, size_t n) {
  return std::memcmp(a, b, n * sizeof(float)) == 0;
}

TEST(TrainerTest, ResumeThroughCheckpointIsBitwiseExact) {
  const std::vector<int32_t> tok = Tokens(500);
  const ModelConfig cfg = Tiny();
  const TrainOptions opt = Options();
  BatchSampler sampler(tok.data(), tok.size(), cfg.context, opt.batch_size, opt.seed);
  ASSERT_TRUE(sampler.Validate().ok());

  // Straight run: N + M = 12 + 8 steps.
  Trainer straight(cfg, opt);
  for (int i = 0; i < 20; ++i) straight.Step(sampler);

  // N steps, save, load in a fresh trainer, M more steps.
  Trainer first(cfg, opt);
  for (int i = 0; i < 12; ++i) first.Step(sampler);
  std::string dir = std::filesystem::temp_directory_path().string() + "/llm_resume_XXXXXX";
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  const std::string path = dir + "/checkpoint.12.bin";
  ASSERT_TRUE(SaveCheckpoint(path, first.Snapshot()).ok());
  auto loaded = LoadCheckpoint(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->step, 12);
  EXPECT_EQ(loaded->adam_step, 12);

  TrainOptions other_init = opt;  // init seed is irrelevant once restored
  Trainer resumed(cfg, other_init);
  ASSERT_TRUE(resumed.Restore(*loaded).ok());
  for (int i = 0; i < 8; ++i) resumed.Step(sampler);

  const size_t n = straight.model().num_params();
  EXPECT_EQ(resumed.step(), 20);
  EXPECT_TRUE(SameBits(straight.model().params(), resumed.model().params(), n));
  EXPECT_TRUE(SameBits(straight.adam().m(), resumed.adam().m(), n));
  EXPECT_TRUE(SameBits(straight.adam().v(), resumed.adam().v(), n));
  EXPECT_EQ(straight.adam().step(), resumed.adam().step());
  // And the comparison is meaningful: training moved the weights.
  Trainer untouched(cfg, opt);
  EXPECT_FALSE(SameBits(straight.model().params(), untouched.model().params(), n));
  ASSERT_TRUE(RemoveAll(dir).ok());
}

TEST(TrainerTest, RestoreWithoutOptimizerStateStartsFreshAdam) {
  const ModelConfig cfg = Tiny();
  Trainer t(cfg, Options());
  CheckpointData d = t.Snapshot();
  d.has_optimizer = false;
  d.adam_m.clear();
  d.adam_v.clear();
  d.step = 7;
  Trainer u(cfg, Options());
  ASSERT_TRUE(u.Restore(d).ok());
  EXPECT_EQ(u.step(), 7);
  EXPECT_EQ(u.adam().step(), 0);
  ModelConfig other = cfg;
  other.d_ff = 16;
  Trainer w(other, Options());
  EXPECT_EQ(w.Restore(t.Snapshot()).code(), absl::StatusCode::kInvalidArgument);
}

TEST(TrainerTest, LearnsACyclicSequence) {
  const std::vector<int32_t> tok = Tokens(2000);
  const ModelConfig cfg = Tiny();
  TrainOptions opt;
  opt.batch_size = 8;
  opt.seed = 1;
  opt.schedule.lr = 1e-2f;
  Trainer t(cfg, opt);
  BatchSampler sampler(tok.data(), tok.size(), cfg.context, opt.batch_size, opt.seed);
  auto windows = EvalWindows(tok.size(), cfg.context);
  const double before = t.EvalLoss(tok.data(), windows, 16);
  EXPECT_NEAR(before, std::log(13.0), 0.7);  // near-uniform predictions at init
  for (int i = 0; i < 150; ++i) t.Step(sampler);
  const double after = t.EvalLoss(tok.data(), windows, 16);
  // 90% of next tokens are determined by the previous one; the 10% noise
  // costs about 0.1*ln(13) + H(0.9) ~ 0.58 nats. Require clear learning.
  EXPECT_LT(after, 1.2) << "before " << before;
}

TEST(TrainerTest, EvalLossIsTokenWeightedMeanOverWindows) {
  const std::vector<int32_t> tok = Tokens(45);  // 44 predictions: 5 windows of 8 + one of 4
  const ModelConfig cfg = Tiny();
  Trainer t(cfg, Options());
  auto windows = EvalWindows(tok.size(), cfg.context);
  ASSERT_EQ(windows.size(), 6u);
  ASSERT_EQ(windows.back().length, 4);
  // Reference: one forward per window, weighted by its length, in double.
  double sum = 0, cnt = 0;
  for (const auto& w : windows) {
    sum += t.model().ForwardLoss(&tok[w.start], &tok[w.start + 1], 1, w.length) * w.length;
    cnt += w.length;
  }
  size_t last_progress = 0;
  const double got = t.EvalLoss(tok.data(), windows, 3, [&](size_t d) { last_progress = d; });
  EXPECT_NEAR(got, sum / cnt, 1e-5);
  EXPECT_EQ(last_progress, windows.size());
}

}  // namespace
}  // namespace llm
