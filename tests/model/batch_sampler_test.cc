#include "core/model/batch_sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>
#include <vector>

namespace llm {
namespace {

TEST(BatchSamplerTest, WindowsAreShiftedByOneAndInRange) {
  // tokens[i] = 1000 + i, so a window is identified by its first value.
  std::vector<int32_t> tok(50);
  std::iota(tok.begin(), tok.end(), 1000);
  BatchSampler s(tok.data(), tok.size(), /*context=*/8, /*batch=*/3, /*seed=*/7);
  ASSERT_TRUE(s.Validate().ok());
  std::vector<int32_t> in(24), tg(24);
  for (int64_t k = 0; k < 200; ++k) {
    s.Fill(k, in.data(), tg.data());
    for (int r = 0; r < 3; ++r) {
      const int32_t first = in[r * 8];
      EXPECT_GE(first, 1000);
      EXPECT_LE(first, 1000 + 50 - 8 - 1);  // last full window starts at n - context - 1
      EXPECT_EQ(static_cast<size_t>(first - 1000), s.WindowStart(k, r));
      for (int t = 0; t < 8; ++t) {
        EXPECT_EQ(in[r * 8 + t], first + t);
        EXPECT_EQ(tg[r * 8 + t], first + t + 1);
      }
    }
  }
}

TEST(BatchSamplerTest, PureFunctionOfSeedAndBatchIndex) {
  std::vector<int32_t> tok(10000);
  std::iota(tok.begin(), tok.end(), 0);
  BatchSampler a(tok.data(), tok.size(), 16, 4, 42);
  BatchSampler b(tok.data(), tok.size(), 16, 4, 42);
  BatchSampler other_seed(tok.data(), tok.size(), 16, 4, 43);
  // Query b in reverse order: no hidden state.
  std::vector<size_t> fwd, rev;
  for (int64_t k = 0; k < 50; ++k)
    for (int r = 0; r < 4; ++r) fwd.push_back(a.WindowStart(k, r));
  for (int64_t k = 49; k >= 0; --k)
    for (int r = 3; r >= 0; --r) rev.push_back(b.WindowStart(k, r));
  std::reverse(rev.begin(), rev.end());
  EXPECT_EQ(fwd, rev);
  int same = 0;
  for (int64_t k = 0; k < 50; ++k) same += a.WindowStart(k, 0) == other_seed.WindowStart(k, 0);
  EXPECT_LT(same, 3);
  // Consecutive batches differ.
  EXPECT_NE(a.WindowStart(0, 0), a.WindowStart(1, 0));
}

TEST(BatchSamplerTest, CoversEveryStartRoughlyUniformly) {
  std::vector<int32_t> tok(20);
  BatchSampler s(tok.data(), tok.size(), 4, 1, 3);
  // 16 possible starts (0..15); 16000 draws -> ~1000 each.
  std::vector<int> count(16, 0);
  for (int64_t k = 0; k < 16000; ++k) {
    size_t st = s.WindowStart(k, 0);
    ASSERT_LT(st, 16u);
    ++count[st];
  }
  for (int c : count) {
    EXPECT_GT(c, 850);
    EXPECT_LT(c, 1150);
  }
}

TEST(BatchSamplerTest, TooShortSequenceIsError) {
  std::vector<int32_t> tok(8);
  EXPECT_EQ(BatchSampler(tok.data(), 8, 8, 1, 0).Validate().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(BatchSampler(tok.data(), 9, 8, 1, 0).Validate().ok());
  EXPECT_FALSE(BatchSampler(tok.data(), 9, 8, 0, 0).Validate().ok());
}

TEST(EvalWindowsTest, CoverEveryPredictionOnce) {
  // n=10 tokens -> 9 predictions; context 4 -> windows [0,4) [4,8) [8,9).
  auto w = EvalWindows(10, 4);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0].start, 0u);
  EXPECT_EQ(w[0].length, 4);
  EXPECT_EQ(w[1].start, 4u);
  EXPECT_EQ(w[1].length, 4);
  EXPECT_EQ(w[2].start, 8u);
  EXPECT_EQ(w[2].length, 1);
  // Exact multiple: n=9 -> 8 predictions -> two full windows.
  w = EvalWindows(9, 4);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[1].length, 4);
  EXPECT_EQ(EvalWindows(10, 4, /*max_windows=*/2).size(), 2u);
  EXPECT_TRUE(EvalWindows(1, 4).empty());
  EXPECT_TRUE(EvalWindows(0, 4).empty());
}

TEST(SplitMix64Test, ReferenceValues) {
  // First outputs of the reference splitmix64 generator seeded with 0 (state
  // advances by the golden gamma before mixing): 0xe220a8397b1dcdaf, ...
  EXPECT_EQ(SplitMix64(0), 0xe220a8397b1dcdafull);
  EXPECT_EQ(SplitMix64(0x9e3779b97f4a7c15ull), 0x6e789e6aa1b965f4ull);
}

}  // namespace
}  // namespace llm
