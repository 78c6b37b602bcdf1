// Sampler (core/model/sampler.h): greedy, temperature, top-k, top-p, seeding.
#include "core/model/sampler.h"

#include <cmath>
#include <map>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace llm {
namespace {

Sampler Make(float temperature, int32_t top_k = 0, float top_p = 1.0f, uint64_t seed = 1) {
  SamplerOptions o;
  o.temperature = temperature;
  o.top_k = top_k;
  o.top_p = top_p;
  o.seed = seed;
  auto s = Sampler::Create(o);
  EXPECT_TRUE(s.ok()) << s.status();
  return *s;
}

std::vector<float> RandomLogits(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 3.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// Reference softmax in double, written independently of the library.
std::vector<double> RefSoftmax(const std::vector<float>& logits, double temperature) {
  double mx = -1e300;
  for (float l : logits) mx = std::max(mx, static_cast<double>(l));
  std::vector<double> p(logits.size());
  double sum = 0;
  for (size_t i = 0; i < logits.size(); ++i) sum += p[i] = std::exp((logits[i] - mx) / temperature);
  for (double& x : p) x /= sum;
  return p;
}

std::vector<double> Frequencies(Sampler& s, const std::vector<float>& logits, int draws) {
  std::vector<double> f(logits.size(), 0.0);
  for (int i = 0; i < draws; ++i) f[s.Sample(logits)] += 1.0 / draws;
  return f;
}

TEST(SamplerTest, GreedyIsArgmax) {
  Sampler s = Make(0.0f);
  EXPECT_EQ(s.Sample(std::vector<float>{0.1f, 3.0f, -2.0f, 2.9f}), 1);
  EXPECT_EQ(s.Sample(std::vector<float>{5.0f, 1.0f, 5.0f}), 0);  // lowest index on ties
  EXPECT_EQ(s.Sample(std::vector<float>{-7.0f}), 0);
  for (uint32_t seed = 0; seed < 20; ++seed) {
    std::vector<float> l = RandomLogits(1000, seed);
    const int32_t want = static_cast<int32_t>(std::max_element(l.begin(), l.end()) - l.begin());
    EXPECT_EQ(s.Sample(l), want);
    EXPECT_EQ(ArgMax(l), want);
  }
}

TEST(SamplerTest, TopK1AndTinyTopPAreGreedy) {
  Sampler k1 = Make(1.0f, 1, 1.0f, 3);
  Sampler p_tiny = Make(1.0f, 0, 1e-6f, 4);
  Sampler both = Make(2.5f, 5, 1e-6f, 5);
  for (uint32_t seed = 0; seed < 50; ++seed) {
    std::vector<float> l = RandomLogits(500, 100 + seed);
    const int32_t want = ArgMax(l);
    EXPECT_EQ(k1.Sample(l), want);
    EXPECT_EQ(p_tiny.Sample(l), want);
    EXPECT_EQ(both.Sample(l), want);
  }
}

TEST(SamplerTest, FrequenciesMatchSoftmax) {
  const std::vector<float> logits = {1.0f, 2.0f, 0.5f, -1.0f, 1.5f, 0.0f};
  const int draws = 200000;
  for (double temperature : {1.0, 0.5, 2.0}) {
    Sampler s = Make(static_cast<float>(temperature), 0, 1.0f, 42);
    std::vector<double> f = Frequencies(s, logits, draws);
    std::vector<double> p = RefSoftmax(logits, temperature);
    for (size_t i = 0; i < p.size(); ++i) {
      // 5 standard deviations of a binomial proportion.
      const double tol = 5 * std::sqrt(p[i] * (1 - p[i]) / draws) + 1e-4;
      EXPECT_NEAR(f[i], p[i], tol) << "token " << i << " temperature " << temperature;
    }
  }
}

TEST(SamplerTest, TopKRestrictsAndRenormalises) {
  const std::vector<float> logits = {1.0f, 3.0f, 0.0f, 2.0f, -1.0f};
  Sampler s = Make(1.0f, 2, 1.0f, 7);
  const int draws = 100000;
  std::vector<double> f = Frequencies(s, logits, draws);
  // Kept: tokens 1 and 3, with probabilities e^3/(e^3+e^2) and e^2/(e^3+e^2).
  const double p1 = std::exp(3.0) / (std::exp(3.0) + std::exp(2.0));
  EXPECT_NEAR(f[1], p1, 0.01);
  EXPECT_NEAR(f[3], 1 - p1, 0.01);
  EXPECT_EQ(f[0] + f[2] + f[4], 0.0);
}

TEST(SamplerTest, TopPKeepsSmallestNucleus) {
  // Probabilities 0.5, 0.3, 0.15, 0.05 (logits = log p).
  const std::vector<float> logits = {std::log(0.15f), std::log(0.5f), std::log(0.05f),
                                     std::log(0.3f)};
  const int draws = 100000;
  {
    Sampler s = Make(1.0f, 0, 0.7f, 8);  // 0.5 < 0.7 <= 0.8: keep {1, 3}
    std::vector<double> f = Frequencies(s, logits, draws);
    EXPECT_NEAR(f[1], 0.5 / 0.8, 0.01);
    EXPECT_NEAR(f[3], 0.3 / 0.8, 0.01);
    EXPECT_EQ(f[0] + f[2], 0.0);
  }
  {
    Sampler s = Make(1.0f, 0, 0.9f, 9);  // 0.8 < 0.9 <= 0.95: keep {1, 3, 0}
    std::vector<double> f = Frequencies(s, logits, draws);
    EXPECT_NEAR(f[0], 0.15 / 0.95, 0.01);
    EXPECT_EQ(f[2], 0.0);
  }
  {
    Sampler s = Make(1.0f, 3, 0.75f, 10);  // top-3 mass 0.95; need 0.75*0.95 = 0.7125 -> {1, 3}
    std::vector<double> f = Frequencies(s, logits, draws);
    EXPECT_EQ(f[0] + f[2], 0.0);
    EXPECT_NEAR(f[1], 0.5 / 0.8, 0.01);
  }
}

TEST(SamplerTest, TopPOverLargeVocabularyMatchesBruteForce) {
  // A flat-ish distribution whose nucleus needs several growth rounds.
  std::vector<float> logits = RandomLogits(2000, 77);
  for (float& l : logits) l *= 0.1f;
  const float top_p = 0.6f;
  std::vector<double> p = RefSoftmax(logits, 1.0);
  std::vector<int> order(p.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return p[a] > p[b]; });
  double acc = 0;
  size_t cut = 0;
  while (acc < top_p) acc += p[order[cut++]];
  std::vector<bool> allowed(p.size(), false);
  for (size_t i = 0; i < cut; ++i) allowed[order[i]] = true;
  Sampler s = Make(1.0f, 0, top_p, 11);
  std::map<int, int> seen;
  for (int i = 0; i < 8000; ++i) {
    const int t = s.Sample(logits);
    ASSERT_TRUE(allowed[t]) << "token " << t << " is outside the nucleus of " << cut;
    ++seen[t];
  }
  // Almost all of the nucleus is reachable.
  EXPECT_GT(seen.size(), cut * 8 / 10);
}

TEST(SamplerTest, SameSeedSameSequenceDifferentSeedDifferent) {
  std::vector<float> logits = RandomLogits(300, 5);
  for (float& l : logits) l *= 0.3f;
  auto run = [&](uint64_t seed, int32_t top_k, float top_p) {
    Sampler s = Make(0.9f, top_k, top_p, seed);
    std::vector<int32_t> out;
    for (int i = 0; i < 200; ++i) out.push_back(s.Sample(logits));
    return out;
  };
  EXPECT_EQ(run(123, 0, 1.0f), run(123, 0, 1.0f));
  EXPECT_EQ(run(123, 40, 0.9f), run(123, 40, 0.9f));
  EXPECT_NE(run(123, 0, 1.0f), run(124, 0, 1.0f));
  // Reseed restarts the stream.
  Sampler s = Make(0.9f, 0, 1.0f, 123);
  std::vector<int32_t> first;
  for (int i = 0; i < 200; ++i) first.push_back(s.Sample(logits));
  s.Reseed(123);
  std::vector<int32_t> again;
  for (int i = 0; i < 200; ++i) again.push_back(s.Sample(logits));
  EXPECT_EQ(first, again);
}

TEST(SamplerTest, RngIsPortable) {
  // Same seed => same stream; uniforms lie in [0, 1).
  Rng a(7), b(7);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(a.NextU64(), b.NextU64());
  for (int i = 0; i < 1000; ++i) {
    const double u = a.NextUniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
}

TEST(SamplerTest, InvalidOptions) {
  auto bad = [](float t, int32_t k, float p) {
    SamplerOptions o;
    o.temperature = t;
    o.top_k = k;
    o.top_p = p;
    absl::Status s = o.Validate();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << t << " " << k << " " << p;
    EXPECT_EQ(Sampler::Create(o).status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(s.message());
  };
  EXPECT_NE(bad(-0.1f, 0, 1.0f).find("temperature"), std::string::npos);
  EXPECT_NE(bad(NAN, 0, 1.0f).find("temperature"), std::string::npos);
  EXPECT_NE(bad(1.0f, -1, 1.0f).find("top_k"), std::string::npos);
  EXPECT_NE(bad(1.0f, 0, 0.0f).find("top_p"), std::string::npos);
  EXPECT_NE(bad(1.0f, 0, 1.5f).find("top_p"), std::string::npos);
  EXPECT_NE(bad(1.0f, 0, -0.5f).find("top_p"), std::string::npos);
  SamplerOptions ok;
  ok.temperature = 0.0f;
  ok.top_k = 1000000;  // larger than the vocabulary is allowed (no-op)
  EXPECT_TRUE(ok.Validate().ok());
  Sampler s = *Sampler::Create(ok);
  EXPECT_EQ(s.Sample(std::vector<float>{1, 2}), 1);
}

}  // namespace
}  // namespace llm
