// Per-layer tests of core/model/ops.h: finite-difference gradient checks of
// every backward function in isolation, plus forward values computed by hand.
#include "core/model/ops.h"

#include <cmath>
#include <numeric>
#include <string>
#include <tuple>
#include <vector>

#include "core/model/thread_pool.h"
#include "gtest/gtest.h"
#include "tests/model/grad_check.h"

namespace llm {
namespace {

using ::llm::testing::ExpectGradientsMatch;
using ::llm::testing::RandomVector;

// Scalar test loss: L = sum_i out[i] * w[i] with fixed random weights w, so
// dL/dout = w. Summed in double.
double WeightedSum(const std::vector<float>& out, const std::vector<float>& w) {
  double s = 0.0;
  for (size_t i = 0; i < out.size(); ++i) s += static_cast<double>(out[i]) * w[i];
  return s;
}

TEST(FastExpTest, RelativeErrorBelow3e7) {
  double worst = 0.0;
  for (float x = -87.0f; x <= 88.0f; x += 0.001f) {
    const double ref = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::fabs(FastExp(x) - ref) / ref);
  }
  EXPECT_LT(worst, 3e-7);
  EXPECT_EQ(FastExp(-1000.0f), 0.0f);
  EXPECT_EQ(FastExp(-INFINITY), 0.0f);
  EXPECT_EQ(FastExp(0.0f), 1.0f);
}

TEST(LayerNormTest, ForwardByHand) {
  // Row (1, 2, 3, 4): mean 2.5, biased var 1.25.
  const std::vector<float> x = {1, 2, 3, 4}, g = {1, 2, 1, 1}, b = {0, 0, 1, 0};
  std::vector<float> out(4), mean(1), rstd(1);
  layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), g.data(), b.data(), 1, 4);
  const double r = 1.0 / std::sqrt(1.25 + 1e-5);
  EXPECT_FLOAT_EQ(mean[0], 2.5f);
  EXPECT_NEAR(rstd[0], r, 1e-6);
  EXPECT_NEAR(out[0], -1.5 * r, 1e-6);
  EXPECT_NEAR(out[1], 2 * -0.5 * r, 1e-6);
  EXPECT_NEAR(out[2], 0.5 * r + 1, 1e-6);
  EXPECT_NEAR(out[3], 1.5 * r, 1e-6);
}

TEST(LayerNormTest, GradientCheck) {
  const int N = 3, C = 7;
  std::vector<float> x = RandomVector(N * C, 1, 2.0f), g = RandomVector(C, 2), b = RandomVector(C, 3);
  const std::vector<float> w = RandomVector(N * C, 4);
  std::vector<float> out(N * C), mean(N), rstd(N);
  auto loss = [&] {
    layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), g.data(), b.data(), N, C);
    return WeightedSum(out, w);
  };
  loss();
  std::vector<float> dx(N * C, 0.0f), dg(C, 0.0f), db(C, 0.0f);
  layernorm_backward(dx.data(), dg.data(), db.data(), w.data(), x.data(), mean.data(), rstd.data(),
                     g.data(), N, C);
  ExpectGradientsMatch("dx", x.data(), dx.data(), x.size(), loss, 1e-3, 1e-2, 1e-4);
  ExpectGradientsMatch("dg", g.data(), dg.data(), g.size(), loss, 1e-3, 1e-2, 1e-4);
  ExpectGradientsMatch("db", b.data(), db.data(), b.size(), loss, 1e-3, 1e-2, 1e-4);
}

TEST(LayerNormTest, BackwardAccumulates) {
  const int N = 2, C = 4;
  std::vector<float> x = RandomVector(N * C, 5), g(C, 1.0f), b(C, 0.0f), dout = RandomVector(N * C, 6);
  std::vector<float> out(N * C), mean(N), rstd(N);
  layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), g.data(), b.data(), N, C);
  std::vector<float> dx1(N * C, 0.0f), dx2(N * C, 1.0f), dg(C, 0.0f), db(C, 0.0f);
  layernorm_backward(dx1.data(), dg.data(), db.data(), dout.data(), x.data(), mean.data(),
                     rstd.data(), g.data(), N, C);
  layernorm_backward(dx2.data(), dg.data(), db.data(), dout.data(), x.data(), mean.data(),
                     rstd.data(), g.data(), N, C);
  for (int i = 0; i < N * C; ++i) EXPECT_NEAR(dx2[i], dx1[i] + 1.0f, 1e-6);
}

TEST(MatmulTest, ForwardByHand) {
  // x (2,3) . w (3,2) + b
  const std::vector<float> x = {1, 2, 3, 4, 5, 6}, w = {1, 0, 0, 1, 1, 1}, b = {10, 20};
  std::vector<float> out(4, 0.0f);
  matmul_forward(out.data(), x.data(), w.data(), b.data(), 2, 3, 2);
  EXPECT_EQ(out, (std::vector<float>{14, 25, 20, 31}));
  matmul_forward(out.data(), x.data(), w.data(), nullptr, 2, 3, 2, /*accumulate=*/true);
  EXPECT_EQ(out, (std::vector<float>{18, 30, 30, 42}));
}

TEST(MatmulTest, BackwardAccumulatesOrOverwritesDx) {
  // dout (1,2) = (1, 2), w (2,2) = [[1, 0], [3, 1]]: dout w^T = (1, 5).
  const std::vector<float> dout = {1, 2}, x = {0, 0}, w = {1, 0, 3, 1};
  std::vector<float> dx = {100, 100};
  matmul_backward(dx.data(), nullptr, nullptr, dout.data(), x.data(), w.data(), 1, 2, 2);
  EXPECT_EQ(dx, (std::vector<float>{101, 105}));
  dx = {100, NAN};  // overwritten, even a NaN
  matmul_backward(dx.data(), nullptr, nullptr, dout.data(), x.data(), w.data(), 1, 2, 2,
                  /*overwrite_dx=*/true);
  EXPECT_EQ(dx, (std::vector<float>{1, 5}));
}

TEST(MatmulTest, GradientCheck) {
  const int N = 5, IC = 4, OC = 3;
  std::vector<float> x = RandomVector(N * IC, 7), wt = RandomVector(IC * OC, 8),
                     bias = RandomVector(OC, 9);
  const std::vector<float> w = RandomVector(N * OC, 10);
  std::vector<float> out(N * OC);
  auto loss = [&] {
    matmul_forward(out.data(), x.data(), wt.data(), bias.data(), N, IC, OC);
    return WeightedSum(out, w);
  };
  std::vector<float> dx(N * IC, 0.0f), dw(IC * OC, 0.0f), db(OC, 0.0f);
  matmul_backward(dx.data(), dw.data(), db.data(), w.data(), x.data(), wt.data(), N, IC, OC);
  ExpectGradientsMatch("dx", x.data(), dx.data(), dx.size(), loss, 1e-3, 1e-2, 1e-4);
  ExpectGradientsMatch("dw", wt.data(), dw.data(), dw.size(), loss, 1e-3, 1e-2, 1e-4);
  ExpectGradientsMatch("db", bias.data(), db.data(), db.size(), loss, 1e-3, 1e-2, 1e-4);
}

TEST(EmbeddingTest, ForwardAndGradient) {
  const int B = 2, T = 3, C = 2, V = 4;
  const std::vector<int32_t> tokens = {3, 1, 3, 0, 0, 2};
  std::vector<float> wte = RandomVector(V * C, 11), wpe = RandomVector(5 * C, 12);
  std::vector<float> out(B * T * C);
  embedding_forward(out.data(), tokens.data(), wte.data(), wpe.data(), B, T, C);
  EXPECT_FLOAT_EQ(out[(1 * T + 2) * C + 1], wte[2 * C + 1] + wpe[2 * C + 1]);
  const std::vector<float> w = RandomVector(B * T * C, 13);
  auto loss = [&] {
    embedding_forward(out.data(), tokens.data(), wte.data(), wpe.data(), B, T, C);
    return WeightedSum(out, w);
  };
  std::vector<float> dwte(V * C, 0.0f), dwpe(5 * C, 0.0f);
  embedding_backward(dwte.data(), dwpe.data(), w.data(), tokens.data(), B, T, C);
  ExpectGradientsMatch("dwte", wte.data(), dwte.data(), dwte.size(), loss, 1e-3, 1e-2, 1e-4);
  ExpectGradientsMatch("dwpe", wpe.data(), dwpe.data(), dwpe.size(), loss, 1e-3, 1e-2, 1e-4);
  // Rows of wpe beyond T get no gradient.
  for (int i = T * C; i < 5 * C; ++i) EXPECT_EQ(dwpe[i], 0.0f);
}

TEST(ActivationTest, ReluForwardAndGradient) {
  // Points away from the kink at 0, where the derivative is undefined.
  std::vector<float> x = {-2.0f, -0.5f, 0.3f, 1.7f, -0.01f, 0.02f};
  std::vector<float> out(x.size());
  relu_forward(out.data(), x.data(), x.size());
  EXPECT_EQ(out, (std::vector<float>{0, 0, 0.3f, 1.7f, 0, 0.02f}));
  const std::vector<float> w = RandomVector(x.size(), 14);
  auto loss = [&] {
    relu_forward(out.data(), x.data(), x.size());
    return WeightedSum(out, w);
  };
  std::vector<float> dx(x.size(), 0.0f);
  relu_backward(dx.data(), w.data(), x.data(), x.size());
  ExpectGradientsMatch("dx", x.data(), dx.data(), dx.size(), loss, 1e-3, 1e-3, 1e-6);
}

TEST(ActivationTest, GeluForwardAndGradient) {
  std::vector<float> x = RandomVector(50, 15, 4.0f);
  std::vector<float> out(x.size());
  gelu_forward(out.data(), x.data(), x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double xi = x[i];
    const double ref = 0.5 * xi * (1 + std::tanh(std::sqrt(2 / M_PI) * (xi + 0.044715 * xi * xi * xi)));
    EXPECT_NEAR(out[i], ref, 1e-6 + 1e-6 * std::fabs(ref)) << xi;
  }
  const std::vector<float> w = RandomVector(x.size(), 16);
  auto loss = [&] {
    gelu_forward(out.data(), x.data(), x.size());
    return WeightedSum(out, w);
  };
  std::vector<float> dx(x.size(), 0.0f);
  gelu_backward(dx.data(), w.data(), x.data(), x.size());
  ExpectGradientsMatch("dx", x.data(), dx.data(), dx.size(), loss, 1e-3, 1e-2, 1e-4);
}

// Straightforward double-precision attention for comparison.
void ReferenceAttention(std::vector<double>* out, const std::vector<float>& q,
                        const std::vector<float>& k, const std::vector<float>& v, int B, int T,
                        int H, int D) {
  const int HD = H * D;
  out->assign(static_cast<size_t>(B) * T * HD, 0.0);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int t = 0; t < T; ++t) {
        std::vector<double> s(t + 1);
        double mx = -1e300;
        for (int j = 0; j <= t; ++j) {
          double d = 0;
          for (int e = 0; e < D; ++e)
            d += static_cast<double>(q[(b * T + t) * HD + h * D + e]) * k[(b * T + j) * HD + h * D + e];
          s[j] = d / std::sqrt(static_cast<double>(D));
          mx = std::max(mx, s[j]);
        }
        double z = 0;
        for (double& e : s) z += (e = std::exp(e - mx));
        for (int j = 0; j <= t; ++j)
          for (int e = 0; e < D; ++e)
            (*out)[(b * T + t) * HD + h * D + e] += s[j] / z * v[(b * T + j) * HD + h * D + e];
      }
}

// Double-precision attention backward for L = sum(out * w): fills dq, dk, dv
// (overwritten) from the textbook formulas, recomputing the softmax.
void ReferenceAttentionBackward(std::vector<double>* dq, std::vector<double>* dk,
                                std::vector<double>* dv, const std::vector<float>& w,
                                const std::vector<float>& q, const std::vector<float>& k,
                                const std::vector<float>& v, int B, int T, int H, int D) {
  const int HD = H * D;
  const size_t n = static_cast<size_t>(B) * T * HD;
  dq->assign(n, 0.0);
  dk->assign(n, 0.0);
  dv->assign(n, 0.0);
  const double scale = 1.0 / std::sqrt(static_cast<double>(D));
  auto at = [&](int b, int t, int h, int e) { return (static_cast<size_t>(b) * T + t) * HD + h * D + e; };
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int t = 0; t < T; ++t) {
        std::vector<double> p(t + 1), dp(t + 1);
        double mx = -1e300, z = 0, delta = 0;
        for (int j = 0; j <= t; ++j) {
          double s = 0;
          for (int e = 0; e < D; ++e) s += static_cast<double>(q[at(b, t, h, e)]) * k[at(b, j, h, e)];
          p[j] = s * scale;
          mx = std::max(mx, p[j]);
        }
        for (double& e : p) z += (e = std::exp(e - mx));
        for (int j = 0; j <= t; ++j) {
          p[j] /= z;
          dp[j] = 0;
          for (int e = 0; e < D; ++e) {
            dp[j] += static_cast<double>(w[at(b, t, h, e)]) * v[at(b, j, h, e)];
            (*dv)[at(b, j, h, e)] += p[j] * w[at(b, t, h, e)];
          }
          delta += p[j] * dp[j];
        }
        for (int j = 0; j <= t; ++j) {
          const double ds = p[j] * (dp[j] - delta) * scale;
          for (int e = 0; e < D; ++e) {
            (*dq)[at(b, t, h, e)] += ds * k[at(b, j, h, e)];
            (*dk)[at(b, j, h, e)] += ds * q[at(b, t, h, e)];
          }
        }
      }
}

// Params: (threads, head size D, sequence length T). D in {4, 8, 16} takes the
// vectorised path (blocks of 16 queries; T not a multiple of 16 exercises the
// padding), other D the generic per-row path.
class AttentionTest : public ::testing::TestWithParam<std::tuple<int, int, int>> {};

TEST_P(AttentionTest, ForwardMatchesReferenceAndIsCausal) {
  const auto [threads, D, T] = GetParam();
  const int B = 2, H = 3, HD = H * D;
  std::vector<float> q = RandomVector(B * T * HD, 17, 2.0f), k = RandomVector(B * T * HD, 18, 2.0f),
                     v = RandomVector(B * T * HD, 19);
  std::vector<float> out(B * T * HD), probs(attention_probs_size(B, H, T, D));
  ThreadPool pool(threads);
  attention_forward(out.data(), probs.data(), q.data(), k.data(), v.data(), B, T, H, D, &pool);
  std::vector<double> ref;
  ReferenceAttention(&ref, q, k, v, B, T, H, D);
  for (size_t i = 0; i < out.size(); ++i) EXPECT_NEAR(out[i], ref[i], 1e-5) << i;
  // Causality: changing the last position's key/value leaves earlier outputs unchanged.
  std::vector<float> out2(out.size());
  for (int e = 0; e < HD; ++e) {
    k[(0 * T + T - 1) * HD + e] += 5.0f;
    v[(0 * T + T - 1) * HD + e] -= 3.0f;
  }
  attention_forward(out2.data(), probs.data(), q.data(), k.data(), v.data(), B, T, H, D, &pool);
  for (int t = 0; t < T - 1; ++t)
    for (int e = 0; e < HD; ++e) EXPECT_EQ(out2[t * HD + e], out[t * HD + e]);
}

TEST_P(AttentionTest, GradientCheck) {
  const auto [threads, D, T] = GetParam();
  const int B = 2, H = 2, HD = H * D;
  std::vector<float> q = RandomVector(B * T * HD, 20, 1.5f), k = RandomVector(B * T * HD, 21, 1.5f),
                     v = RandomVector(B * T * HD, 22);
  const std::vector<float> w = RandomVector(B * T * HD, 23);
  std::vector<float> out(B * T * HD), probs(attention_probs_size(B, H, T, D));
  ThreadPool pool(threads);
  auto loss = [&] {
    attention_forward(out.data(), probs.data(), q.data(), k.data(), v.data(), B, T, H, D, &pool);
    return WeightedSum(out, w);
  };
  loss();
  // Gradients are accumulated (+=) into what is already there.
  const float kStart = 0.25f;
  std::vector<float> dq(q.size(), kStart), dk(k.size(), kStart), dv(v.size(), kStart);
  attention_backward(dq.data(), dk.data(), dv.data(), w.data(), q.data(), k.data(), v.data(),
                     probs.data(), B, T, H, D, &pool);
  for (std::vector<float>* g : {&dq, &dk, &dv})
    for (float& x : *g) x -= kStart;
  std::vector<double> rdq, rdk, rdv;
  ReferenceAttentionBackward(&rdq, &rdk, &rdv, w, q, k, v, B, T, H, D);
  for (size_t i = 0; i < dq.size(); ++i) {
    EXPECT_NEAR(dq[i], rdq[i], 2e-6) << "dq " << i;
    EXPECT_NEAR(dk[i], rdk[i], 2e-6) << "dk " << i;
    EXPECT_NEAR(dv[i], rdv[i], 2e-6) << "dv " << i;
  }
  // Finite differences of the float32 forward: their noise grows with the
  // loss (a sum over B*T*H*D outputs), hence the larger floor for long T.
  const double atol = T <= 6 ? 1e-4 : 5e-4;
  ExpectGradientsMatch("dq", q.data(), dq.data(), dq.size(), loss, 1e-3, 1e-2, atol);
  ExpectGradientsMatch("dk", k.data(), dk.data(), dk.size(), loss, 1e-3, 1e-2, atol);
  ExpectGradientsMatch("dv", v.data(), dv.data(), dv.size(), loss, 1e-3, 1e-2, atol);
  // The first query attends only to itself: its softmax is constant 1, so dq there is 0.
  for (int b = 0; b < B; ++b)
    for (int e = 0; e < HD; ++e) EXPECT_EQ(dq[(b * T) * HD + e], 0.0f);
}

INSTANTIATE_TEST_SUITE_P(
    ThreadsHeadSizeLength, AttentionTest,
    ::testing::Values(std::make_tuple(1, 3, 5), std::make_tuple(2, 3, 6), std::make_tuple(1, 4, 6),
                      std::make_tuple(2, 4, 5), std::make_tuple(1, 8, 21),
                      std::make_tuple(2, 8, 32), std::make_tuple(1, 8, 1),
                      std::make_tuple(2, 16, 17)),
    [](const ::testing::TestParamInfo<std::tuple<int, int, int>>& info) {
      return "threads" + std::to_string(std::get<0>(info.param)) + "_D" +
             std::to_string(std::get<1>(info.param)) + "_T" +
             std::to_string(std::get<2>(info.param));
    });

TEST(SoftmaxXentTest, ForwardByHandAndGradient) {
  // Row (0, ln 3): softmax (1/4, 3/4); target 1 => loss -ln(3/4).
  std::vector<float> logits = {0.0f, std::log(3.0f)};
  const std::vector<int32_t> targets = {1};
  const double l = softmax_xent_forward_backward(logits.data(), targets.data(), 1, 2, 1.0f, true,
                                                 nullptr);
  EXPECT_NEAR(l, -std::log(0.75), 1e-6);
  EXPECT_NEAR(logits[0], 0.25, 1e-6);
  EXPECT_NEAR(logits[1], -0.25, 1e-6);
}

TEST(SoftmaxXentTest, GradientCheck) {
  const int N = 4, V = 9;
  std::vector<float> logits = RandomVector(N * V, 24, 3.0f);
  const std::vector<int32_t> targets = {0, 8, 3, 3};
  const float dscale = 1.0f / N;
  auto loss = [&] {
    std::vector<float> tmp = logits;
    return softmax_xent_forward_backward(tmp.data(), targets.data(), N, V, dscale, false, nullptr) *
           dscale;
  };
  std::vector<float> grad = logits;
  ThreadPool pool(2);
  const double l2 =
      softmax_xent_forward_backward(grad.data(), targets.data(), N, V, dscale, true, &pool) * dscale;
  EXPECT_NEAR(l2, loss(), 1e-7);
  ExpectGradientsMatch("dlogits", logits.data(), grad.data(), grad.size(), loss, 1e-3, 1e-2, 1e-5);
}

}  // namespace
}  // namespace llm
