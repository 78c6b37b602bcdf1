// Tests of core/model/optimizer.h against hand-computed values.
#include "core/model/optimizer.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace llm {
namespace {

TEST(AdamTest, FirstStepsMatchHandComputation) {
  // Defaults: b1 0.9, b2 0.999, eps 1e-8. On step 1, m_hat = g and v_hat = g^2,
  // so every parameter moves by -lr * g / (|g| + eps) = -lr * sign(g) (to ~1e-8).
  std::vector<float> p = {1.0f, -2.0f, 0.5f};
  const std::vector<float> g1 = {0.1f, -0.2f, 0.0f};
  Adam adam(3);
  adam.Step(p.data(), g1.data(), 0.01f);
  EXPECT_EQ(adam.step(), 1);
  EXPECT_NEAR(p[0], 0.99f, 1e-6);
  EXPECT_NEAR(p[1], -1.99f, 1e-6);
  EXPECT_EQ(p[2], 0.5f);  // zero gradient => no move (0 / (0 + eps))
  EXPECT_NEAR(adam.m()[0], 0.01f, 1e-8);
  EXPECT_NEAR(adam.v()[1], 0.001 * 0.04, 2e-9);  // 1 - 0.999f is 0.00099999 in float
  // Step 2 with g2 for element 0: m = 0.9*0.01 + 0.1*0.3 = 0.039, v = 0.999*1e-5 + 0.001*0.09
  // = 9.999e-5; m_hat = 0.039/0.19, v_hat = 9.999e-5/0.001999.
  const std::vector<float> g2 = {0.3f, -0.2f, 0.0f};
  adam.Step(p.data(), g2.data(), 0.01f);
  const double m_hat = 0.039 / (1 - 0.81), v_hat = 9.999e-5 / (1 - 0.998001);
  EXPECT_NEAR(p[0], 0.99 - 0.01 * m_hat / (std::sqrt(v_hat) + 1e-8), 1e-6);
  EXPECT_NEAR(p[1], -1.98f, 1e-6);  // constant gradient => -lr * sign each step
}

TEST(AdamTest, WeightDecayIsDecoupled) {
  std::vector<float> p = {2.0f};
  const std::vector<float> g = {0.0f};
  Adam adam(1, AdamOptions{.weight_decay = 0.1f});
  adam.Step(p.data(), g.data(), 0.5f);
  EXPECT_NEAR(p[0], 2.0f * (1 - 0.5f * 0.1f), 1e-6);  // p -= lr * wd * p; Adam term is 0
}

TEST(AdamTest, SetStepControlsBiasCorrection) {
  std::vector<float> p = {0.0f};
  const std::vector<float> g = {1.0f};
  Adam adam(1);
  adam.set_step(1000);  // bias corrections ~ (1-0.9^1001) ~ 1 and (1-0.999^1001) ~ 0.6325
  adam.Step(p.data(), g.data(), 1.0f);
  const double m_hat = 0.1, v_hat = 0.001 / (1 - std::pow(0.999, 1001));
  EXPECT_NEAR(p[0], -m_hat / std::sqrt(v_hat), 1e-5);
}

TEST(GradNormTest, NormAndClipping) {
  std::vector<float> g = {3.0f, 4.0f, 0.0f};
  EXPECT_FLOAT_EQ(GlobalGradNorm(g.data(), 3), 5.0f);
  EXPECT_FLOAT_EQ(ClipGradNorm(g.data(), 3, 10.0f), 5.0f);
  EXPECT_EQ(g, (std::vector<float>{3.0f, 4.0f, 0.0f}));  // below max: untouched
  EXPECT_FLOAT_EQ(ClipGradNorm(g.data(), 3, 1.0f), 5.0f);
  EXPECT_NEAR(g[0], 0.6f, 1e-7);
  EXPECT_NEAR(g[1], 0.8f, 1e-7);
  std::vector<float> h = {30.0f, 40.0f};
  EXPECT_FLOAT_EQ(ClipGradNorm(h.data(), 2, 0.0f), 50.0f);  // disabled
  EXPECT_EQ(h[0], 30.0f);
}

TEST(LrScheduleTest, Constant) {
  LrSchedule s;
  EXPECT_FLOAT_EQ(s.At(0), 1e-3f);
  EXPECT_FLOAT_EQ(s.At(123456), 1e-3f);
}

TEST(LrScheduleTest, WarmupThenCosine) {
  LrSchedule s{.kind = LrSchedule::kCosine, .lr = 1.0f, .warmup_steps = 10, .total_steps = 110,
               .min_lr = 0.1f};
  EXPECT_FLOAT_EQ(s.At(0), 0.1f);   // (0+1)/10
  EXPECT_FLOAT_EQ(s.At(4), 0.5f);
  EXPECT_FLOAT_EQ(s.At(9), 1.0f);
  EXPECT_FLOAT_EQ(s.At(10), 1.0f);  // decay starts: cos(0)
  EXPECT_NEAR(s.At(60), 0.55f, 1e-6);  // halfway: min + 0.5 (max - min)
  EXPECT_NEAR(s.At(35), 0.1f + 0.9f * 0.5f * (1 + std::cos(M_PI * 0.25)), 1e-6);
  EXPECT_FLOAT_EQ(s.At(110), 0.1f);
  EXPECT_FLOAT_EQ(s.At(1000), 0.1f);
}

TEST(LrScheduleTest, WarmupThenLinear) {
  LrSchedule s{.kind = LrSchedule::kLinear, .lr = 2.0f, .warmup_steps = 0, .total_steps = 100,
               .min_lr = 0.0f};
  EXPECT_FLOAT_EQ(s.At(0), 2.0f);
  EXPECT_FLOAT_EQ(s.At(25), 1.5f);
  EXPECT_FLOAT_EQ(s.At(75), 0.5f);
  EXPECT_FLOAT_EQ(s.At(100), 0.0f);
}

}  // namespace
}  // namespace llm
