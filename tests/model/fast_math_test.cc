// Kernels of core/model/fast_math.h against direct double-precision loops.
#include "core/model/fast_math.h"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace llm {
namespace {

std::vector<float> Random(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// y = x W + b computed in double, W (K, N) row-major.
std::vector<double> NaiveLinear(const std::vector<float>& x, int M, int K, const std::vector<float>& W,
                                int N, const float* bias) {
  std::vector<double> y(static_cast<size_t>(M) * N);
  for (int r = 0; r < M; ++r)
    for (int j = 0; j < N; ++j) {
      double s = bias ? bias[j] : 0.0;
      for (int k = 0; k < K; ++k)
        s += static_cast<double>(x[static_cast<size_t>(r) * K + k]) * W[static_cast<size_t>(k) * N + j];
      y[static_cast<size_t>(r) * N + j] = s;
    }
  return y;
}

TEST(FastMathTest, GemmPackedMatchesNaiveForAllRowCountsAndShapes) {
  // N values cover exact panels, a partial last panel and N < 16; K covers
  // 1 and odd sizes; M covers every row-group size and several groups.
  for (int K : {1, 7, 64}) {
    for (int N : {5, 16, 37, 80}) {
      const std::vector<float> W = Random(static_cast<size_t>(K) * N, 1 + K * 100 + N);
      const std::vector<float> bias = Random(N, 2 + K + N);
      const PackedMatrix P(W.data(), K, N, N);
      EXPECT_EQ(P.K(), K);
      EXPECT_EQ(P.N(), N);
      for (int M : {1, 2, 3, 4, 5, 6, 7, 13, 16, 33}) {
        const std::vector<float> x = Random(static_cast<size_t>(M) * K, 3 + M);
        const std::vector<double> want = NaiveLinear(x, M, K, W, N, bias.data());
        const std::vector<double> want_nb = NaiveLinear(x, M, K, W, N, nullptr);
        // Store with bias; ReLU; accumulate onto a known y; row pointers.
        std::vector<float> y(static_cast<size_t>(M) * N, -7.0f);
        GemmPacked(M, x.data(), K, P, bias.data(), GemmOutput::kStore, y.data(), N);
        std::vector<float> relu(y.size());
        GemmPacked(M, x.data(), K, P, bias.data(), GemmOutput::kStoreRelu, relu.data(), N);
        std::vector<float> acc(y.size(), 0.5f);
        GemmPacked(M, x.data(), K, P, nullptr, GemmOutput::kAccumulate, acc.data(), N);
        std::vector<std::vector<float>> rows(M, std::vector<float>(N));
        std::vector<float*> ptrs;
        for (auto& r : rows) ptrs.push_back(r.data());
        GemmPackedRows(M, x.data(), K, P, bias.data(), GemmOutput::kStore, ptrs.data());
        for (int r = 0; r < M; ++r)
          for (int j = 0; j < N; ++j) {
            const size_t i = static_cast<size_t>(r) * N + j;
            const double tol = 1e-5 * (1.0 + std::sqrt(static_cast<double>(K)));
            ASSERT_NEAR(y[i], want[i], tol) << "K=" << K << " N=" << N << " M=" << M << " r=" << r;
            ASSERT_NEAR(relu[i], std::max(0.0, want[i]), tol);
            ASSERT_NEAR(acc[i], 0.5 + want_nb[i], tol);
            ASSERT_EQ(rows[r][j], y[i]);  // same kernel, same bits
          }
      }
    }
  }
}

TEST(FastMathTest, GemmPackedRowDoesNotDependOnBatch) {
  const int K = 64, N = 200;
  const std::vector<float> W = Random(static_cast<size_t>(K) * N, 11);
  const PackedMatrix P(W.data(), K, N, N);
  const std::vector<float> x = Random(static_cast<size_t>(16) * K, 12);
  std::vector<float> all(static_cast<size_t>(16) * N);
  GemmPacked(16, x.data(), K, P, nullptr, GemmOutput::kStore, all.data(), N);
  for (int r = 0; r < 16; ++r) {
    std::vector<float> one(N);
    GemmPacked(1, x.data() + static_cast<size_t>(r) * K, K, P, nullptr, GemmOutput::kStore,
               one.data(), N);
    for (int j = 0; j < N; ++j) ASSERT_EQ(one[j], all[static_cast<size_t>(r) * N + j]);
  }
}

TEST(FastMathTest, PackedMatrixCopyKeepsContents) {
  const std::vector<float> W = Random(3 * 20, 5);
  PackedMatrix a(W.data(), 3, 20, 20);
  PackedMatrix b = a;
  PackedMatrix c;
  c = b;
  const std::vector<float> x = {1.0f, -2.0f, 0.5f};
  std::vector<float> ya(20), yc(20);
  GemmPacked(1, x.data(), 3, a, nullptr, GemmOutput::kStore, ya.data(), 20);
  GemmPacked(1, x.data(), 3, c, nullptr, GemmOutput::kStore, yc.data(), 20);
  EXPECT_EQ(ya, yc);
}

// Attention of one query over `len` positions for every head, in double, from
// plain (position, channel) arrays k[p][h*D+d], v[p][h*D+d].
std::vector<double> NaiveAttention(const std::vector<float>& q, const std::vector<float>& k,
                                   const std::vector<float>& v, int len, int H, int D,
                                   double scale) {
  const int HD = H * D;
  std::vector<double> out(HD);
  for (int h = 0; h < H; ++h) {
    std::vector<double> s(len);
    double mx = -1e300;
    for (int p = 0; p < len; ++p) {
      double a = 0;
      for (int d = 0; d < D; ++d) a += static_cast<double>(q[h * D + d]) * k[static_cast<size_t>(p) * HD + h * D + d];
      s[p] = a * scale;
      mx = std::max(mx, s[p]);
    }
    double sum = 0;
    for (int p = 0; p < len; ++p) sum += (s[p] = std::exp(s[p] - mx));
    for (int d = 0; d < D; ++d) {
      double o = 0;
      for (int p = 0; p < len; ++p) o += s[p] * v[static_cast<size_t>(p) * HD + h * D + d];
      out[h * D + d] = o / sum;
    }
  }
  return out;
}

TEST(FastMathTest, AttentionRowMatchesNaiveAndIgnoresStalePositions) {
  for (int D : {3, 4, 8, 16}) {
    const int H = 3, HD = H * D, capacity = 21, tiles = (capacity + 7) / 8;
    const std::vector<float> q = Random(HD, 20 + D, 2.0f);
    const std::vector<float> k = Random(static_cast<size_t>(capacity) * HD, 21 + D);
    const std::vector<float> v = Random(static_cast<size_t>(capacity) * HD, 22 + D);
    for (int len = 1; len <= capacity; ++len) {
      // Cache in the tiled layout; positions >= len hold NaN (stale garbage).
      const float nan = std::numeric_limits<float>::quiet_NaN();
      std::vector<float> K(static_cast<size_t>(H) * tiles * D * 8, nan), V(K.size(), nan);
      for (int p = 0; p < len; ++p)
        for (int h = 0; h < H; ++h)
          for (int d = 0; d < D; ++d) {
            K[KvCacheIndex(h, d, p, D, tiles)] = k[static_cast<size_t>(p) * HD + h * D + d];
            V[KvCacheIndex(h, d, p, D, tiles)] = v[static_cast<size_t>(p) * HD + h * D + d];
          }
      const float scale = 1.0f / std::sqrt(static_cast<float>(D));
      std::vector<float> scores(tiles * 8), out(HD);
      AttentionRow(q.data(), K.data(), V.data(), tiles, len, H, D, scale, scores.data(),
                   out.data());
      const std::vector<double> want = NaiveAttention(q, k, v, len, H, D, scale);
      for (int i = 0; i < HD; ++i)
        ASSERT_NEAR(out[i], want[i], 2e-6 * (1.0 + std::fabs(want[i])))
            << "D=" << D << " len=" << len << " i=" << i;
    }
  }
}

TEST(FastMathTest, LayerNormRowsMatchesNaive) {
  for (int C : {5, 8, 64, 67}) {
    const int rows = 3;
    const std::vector<float> x = Random(static_cast<size_t>(rows) * C, 30 + C, 3.0f);
    const std::vector<float> g = Random(C, 31 + C), b = Random(C, 32 + C);
    std::vector<float> out(x.size());
    LayerNormRows(x.data(), rows, C, g.data(), b.data(), 1e-5f, out.data());
    for (int r = 0; r < rows; ++r) {
      double mean = 0, var = 0;
      for (int i = 0; i < C; ++i) mean += x[static_cast<size_t>(r) * C + i];
      mean /= C;
      for (int i = 0; i < C; ++i) {
        const double d = x[static_cast<size_t>(r) * C + i] - mean;
        var += d * d;
      }
      var /= C;
      for (int i = 0; i < C; ++i) {
        const double want =
            (x[static_cast<size_t>(r) * C + i] - mean) / std::sqrt(var + 1e-5) * g[i] + b[i];
        ASSERT_NEAR(out[static_cast<size_t>(r) * C + i], want, 1e-5 * (1 + std::fabs(want)));
      }
    }
  }
}

TEST(FastMathTest, ArgMaxOfFindsFirstMaximumAcrossBlocks) {
  std::vector<float> x = Random(3000, 40);
  x[1700] = 100.0f;
  x[2900] = 100.0f;  // tie later: the first one wins
  EXPECT_EQ(ArgMaxOf(x.data(), x.size()), 1700u);
  x[3] = 100.0f;
  EXPECT_EQ(ArgMaxOf(x.data(), x.size()), 3u);
  const float one[] = {-5.0f};
  EXPECT_EQ(ArgMaxOf(one, 1), 0u);
}

}  // namespace
}  // namespace llm
