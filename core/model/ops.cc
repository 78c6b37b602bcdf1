#include "core/model/ops.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "core/model/thread_pool.h"

// Hot element-wise loops are compiled three times (AVX-512, AVX2+FMA,
// baseline SSE2) and picked at load time for the running CPU.
#define LLM_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define LLM_INLINE inline __attribute__((always_inline))

namespace llm {
namespace {

// Cephes-style expf: exp(x) = 2^n * exp(r), n = round(x / ln2), |r| <= ln2/2,
// exp(r) by a degree-6 polynomial. Branch-free so loops calling it
// vectorise. Measured |rel err| < 2e-7 against std::exp (see ops_test).
LLM_INLINE float ExpInline(float x) {
  const float kHi = 88.0f, kLo = -87.33f;
  const bool underflow = x < kLo;
  x = x > kHi ? kHi : x;
  x = x < kLo ? kLo : x;
  // Round x*log2(e) to the nearest integer with the 1.5*2^23 trick.
  const float kMagic = 12582912.0f;
  float t = x * 1.44269504088896341f + kMagic;
  const float n = t - kMagic;
  int32_t ti, magic_i;
  std::memcpy(&ti, &t, 4);
  std::memcpy(&magic_i, &kMagic, 4);
  const int32_t ni = ti - magic_i;
  // r = x - n ln2 with ln2 split in two for accuracy.
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (ni + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, 4);
  const float y = p * scale;
  return underflow ? 0.0f : y;
}

LLM_INLINE float Dot(const float* a, const float* b, int n) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

constexpr float kGeluK0 = 0.7978845608028654f;  // sqrt(2/pi)
constexpr float kGeluK1 = 0.044715f;

}  // namespace

void EnableFlushDenormals() {
#if defined(__SSE__)
  _mm_setcsr(_mm_getcsr() | 0x8040);  // FTZ (bit 15) | DAZ (bit 6)
#endif
}

float FastExp(float x) { return ExpInline(x); }

// --- embedding -----------------------------------------------------------------

void embedding_forward(float* out, const int32_t* tokens, const float* wte, const float* wpe, int B,
                       int T, int C) {
  for (int b = 0; b < B; ++b) {
    for (int t = 0; t < T; ++t) {
      float* o = out + (static_cast<size_t>(b) * T + t) * C;                // (C)
      const float* te = wte + static_cast<size_t>(tokens[b * T + t]) * C;  // (C)
      const float* pe = wpe + static_cast<size_t>(t) * C;                  // (C)
      for (int c = 0; c < C; ++c) o[c] = te[c] + pe[c];
    }
  }
}

void embedding_backward(float* dwte, float* dwpe, const float* dout, const int32_t* tokens, int B,
                        int T, int C) {
  for (int b = 0; b < B; ++b) {
    for (int t = 0; t < T; ++t) {
      const float* d = dout + (static_cast<size_t>(b) * T + t) * C;           // (C)
      float* dte = dwte + static_cast<size_t>(tokens[b * T + t]) * C;         // (C)
      float* dpe = dwpe + static_cast<size_t>(t) * C;                         // (C)
      for (int c = 0; c < C; ++c) {
        dte[c] += d[c];
        dpe[c] += d[c];
      }
    }
  }
}

// --- LayerNorm ---------------------------------------------------------------------

LLM_MULTIVERSION
void layernorm_forward(float* out, float* mean, float* rstd, const float* x, const float* g,
                       const float* b, int N, int C) {
  for (int i = 0; i < N; ++i) {
    const float* xi = x + static_cast<size_t>(i) * C;  // (C)
    float* oi = out + static_cast<size_t>(i) * C;      // (C)
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int c = 0; c < C; ++c) s += xi[c];
    const float m = s / C;
    float v = 0.0f;
#pragma omp simd reduction(+ : v)
    for (int c = 0; c < C; ++c) v += (xi[c] - m) * (xi[c] - m);
    const float r = 1.0f / std::sqrt(v / C + kLayerNormEps);
    for (int c = 0; c < C; ++c) oi[c] = (xi[c] - m) * r * g[c] + b[c];
    mean[i] = m;
    rstd[i] = r;
  }
}

LLM_MULTIVERSION
void layernorm_backward(float* dx, float* dg, float* db, const float* dout, const float* x,
                        const float* mean, const float* rstd, const float* g, int N, int C) {
  // With xhat = (x - mean) * rstd and dnorm = dout * g:
  //   dx = rstd * (dnorm - mean(dnorm) - xhat * mean(dnorm * xhat)).
  for (int i = 0; i < N; ++i) {
    const float* xi = x + static_cast<size_t>(i) * C;     // (C)
    const float* di = dout + static_cast<size_t>(i) * C;  // (C)
    float* dxi = dx + static_cast<size_t>(i) * C;         // (C)
    const float m = mean[i], r = rstd[i];
    float sum_dn = 0.0f, sum_dn_xhat = 0.0f;
#pragma omp simd reduction(+ : sum_dn, sum_dn_xhat)
    for (int c = 0; c < C; ++c) {
      const float xhat = (xi[c] - m) * r;
      const float dn = di[c] * g[c];
      sum_dn += dn;
      sum_dn_xhat += dn * xhat;
    }
    const float mean_dn = sum_dn / C, mean_dn_xhat = sum_dn_xhat / C;
    for (int c = 0; c < C; ++c) {
      const float xhat = (xi[c] - m) * r;
      dg[c] += di[c] * xhat;
      db[c] += di[c];
      dxi[c] += r * (di[c] * g[c] - mean_dn - xhat * mean_dn_xhat);
    }
  }
}

// --- linear ----------------------------------------------------------------------------

void matmul_forward(float* out, const float* x, const float* w, const float* bias, int N, int IC,
                    int OC, bool accumulate) {
  float beta = accumulate ? 1.0f : 0.0f;
  if (bias != nullptr) {
    for (int i = 0; i < N; ++i) {
      float* o = out + static_cast<size_t>(i) * OC;  // (OC)
      if (accumulate) {
        for (int j = 0; j < OC; ++j) o[j] += bias[j];
      } else {
        std::memcpy(o, bias, sizeof(float) * OC);
      }
    }
    beta = 1.0f;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, OC, IC, 1.0f, x, IC, w, OC, beta, out,
              OC);
}

void matmul_backward(float* dx, float* dw, float* db, const float* dout, const float* x,
                     const float* w, int N, int IC, int OC) {
  if (dx != nullptr) {
    // dx (N,IC) += dout (N,OC) . w^T (OC,IC)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, IC, OC, 1.0f, dout, OC, w, OC, 1.0f, dx,
                IC);
  }
  if (dw != nullptr) {
    // dw (IC,OC) += x^T (IC,N) . dout (N,OC)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, IC, OC, N, 1.0f, x, IC, dout, OC, 1.0f, dw,
                OC);
  }
  if (db != nullptr) {
    for (int i = 0; i < N; ++i) {
      const float* d = dout + static_cast<size_t>(i) * OC;  // (OC)
      for (int j = 0; j < OC; ++j) db[j] += d[j];
    }
  }
}

// --- attention ----------------------------------------------------------------------------
//
// One work item = one (batch, head) pair. The item's keys and values are first
// gathered transposed, kt/vt (D,T), so that every inner loop runs over the
// key position j with unit stride (head size D = 8 is far too small for sgemm
// or for vectorising over D).

namespace {

LLM_MULTIVERSION
void AttentionForwardItem(float* out, float* probs, const float* q, const float* k, const float* v,
                          int T, int HD, int D, float* kt, float* vt, float* s) {
  // out/q/k/v point at column h*D of batch b: row t at [t*HD]. probs: (T,T).
  for (int j = 0; j < T; ++j) {
    for (int d = 0; d < D; ++d) {
      kt[d * T + j] = k[static_cast<size_t>(j) * HD + d];
      vt[d * T + j] = v[static_cast<size_t>(j) * HD + d];
    }
  }
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  for (int t = 0; t < T; ++t) {
    const int L = t + 1;  // causal: keys 0..t
    const float* qt = q + static_cast<size_t>(t) * HD;  // (D)
    for (int j = 0; j < L; ++j) s[j] = 0.0f;
    for (int d = 0; d < D; ++d) {
      const float qd = qt[d] * scale;
      const float* kd = kt + d * T;
      for (int j = 0; j < L; ++j) s[j] += qd * kd[j];
    }
    float mx = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : mx)
    for (int j = 0; j < L; ++j) mx = std::max(mx, s[j]);
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < L; ++j) {
      s[j] = ExpInline(s[j] - mx);
      sum += s[j];
    }
    const float inv = 1.0f / sum;
    float* pt = probs + static_cast<size_t>(t) * T;  // (T), first L valid
    for (int j = 0; j < L; ++j) pt[j] = s[j] * inv;
    float* ot = out + static_cast<size_t>(t) * HD;  // (D)
    for (int d = 0; d < D; ++d) ot[d] = Dot(pt, vt + d * T, L);
  }
}

LLM_MULTIVERSION
void AttentionBackwardItem(float* dq, float* dk, float* dv, const float* dout, const float* q,
                           const float* k, const float* v, const float* probs, int T, int HD, int D,
                           float* kt, float* vt, float* dkt, float* dvt, float* dp) {
  for (int j = 0; j < T; ++j) {
    for (int d = 0; d < D; ++d) {
      kt[d * T + j] = k[static_cast<size_t>(j) * HD + d];
      vt[d * T + j] = v[static_cast<size_t>(j) * HD + d];
    }
  }
  std::fill(dkt, dkt + static_cast<size_t>(D) * T, 0.0f);
  std::fill(dvt, dvt + static_cast<size_t>(D) * T, 0.0f);
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  for (int t = 0; t < T; ++t) {
    const int L = t + 1;
    const float* pt = probs + static_cast<size_t>(t) * T;  // (T), first L valid
    const float* dot = dout + static_cast<size_t>(t) * HD;  // (D)
    const float* qt = q + static_cast<size_t>(t) * HD;      // (D)
    float* dqt = dq + static_cast<size_t>(t) * HD;          // (D)
    // dp[j] = dout_t . v_j ; dv_j += p[t,j] dout_t
    for (int j = 0; j < L; ++j) dp[j] = 0.0f;
    for (int d = 0; d < D; ++d) {
      const float g = dot[d];
      const float* vd = vt + d * T;
      float* dvd = dvt + d * T;
      for (int j = 0; j < L; ++j) {
        dp[j] += g * vd[j];
        dvd[j] += g * pt[j];
      }
    }
    // softmax backward: ds_j = p_j (dp_j - sum_i p_i dp_i), stored in dp.
    const float pdp = Dot(pt, dp, L);
    for (int j = 0; j < L; ++j) dp[j] = pt[j] * (dp[j] - pdp);
    // s = scale q_t . k_j  =>  dq_t += scale sum_j ds_j k_j ; dk_j += scale ds_j q_t
    for (int d = 0; d < D; ++d) {
      dqt[d] += scale * Dot(dp, kt + d * T, L);
      const float sq = scale * qt[d];
      float* dkd = dkt + d * T;
      for (int j = 0; j < L; ++j) dkd[j] += sq * dp[j];
    }
  }
  for (int j = 0; j < T; ++j) {
    for (int d = 0; d < D; ++d) {
      dk[static_cast<size_t>(j) * HD + d] += dkt[d * T + j];
      dv[static_cast<size_t>(j) * HD + d] += dvt[d * T + j];
    }
  }
}

void RunItems(ThreadPool* pool, int64_t n, const ThreadPool::RangeFn& fn) {
  if (pool != nullptr) {
    pool->ParallelFor(n, fn);
  } else {
    fn(0, n, 0);
  }
}

}  // namespace

void attention_forward(float* out, float* probs, const float* q, const float* k, const float* v,
                       int B, int T, int H, int D, ThreadPool* pool) {
  const int HD = H * D;
  RunItems(pool, static_cast<int64_t>(B) * H, [&](int64_t begin, int64_t end, int) {
    std::vector<float> scratch(static_cast<size_t>(2 * D + 1) * T);
    float* kt = scratch.data();                        // (D,T)
    float* vt = kt + static_cast<size_t>(D) * T;       // (D,T)
    float* s = vt + static_cast<size_t>(D) * T;        // (T)
    for (int64_t item = begin; item < end; ++item) {
      const int b = static_cast<int>(item / H), h = static_cast<int>(item % H);
      const size_t off = static_cast<size_t>(b) * T * HD + static_cast<size_t>(h) * D;
      AttentionForwardItem(out + off, probs + static_cast<size_t>(item) * T * T, q + off, k + off,
                           v + off, T, HD, D, kt, vt, s);
    }
  });
}

void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q,
                        const float* k, const float* v, const float* probs, int B, int T, int H,
                        int D, ThreadPool* pool) {
  const int HD = H * D;
  RunItems(pool, static_cast<int64_t>(B) * H, [&](int64_t begin, int64_t end, int) {
    std::vector<float> scratch(static_cast<size_t>(4 * D + 1) * T);
    float* kt = scratch.data();                     // (D,T)
    float* vt = kt + static_cast<size_t>(D) * T;    // (D,T)
    float* dkt = vt + static_cast<size_t>(D) * T;   // (D,T)
    float* dvt = dkt + static_cast<size_t>(D) * T;  // (D,T)
    float* dp = dvt + static_cast<size_t>(D) * T;   // (T)
    for (int64_t item = begin; item < end; ++item) {
      const int b = static_cast<int>(item / H), h = static_cast<int>(item % H);
      const size_t off = static_cast<size_t>(b) * T * HD + static_cast<size_t>(h) * D;
      AttentionBackwardItem(dq + off, dk + off, dv + off, dout + off, q + off, k + off, v + off,
                            probs + static_cast<size_t>(item) * T * T, T, HD, D, kt, vt, dkt, dvt,
                            dp);
    }
  });
}

// --- activations ----------------------------------------------------------------------------

LLM_MULTIVERSION
void relu_forward(float* out, const float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

LLM_MULTIVERSION
void relu_backward(float* dx, const float* dout, const float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) dx[i] += x[i] > 0.0f ? dout[i] : 0.0f;
}

LLM_MULTIVERSION
void gelu_forward(float* out, const float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const float xi = x[i];
    const float u = kGeluK0 * (xi + kGeluK1 * xi * xi * xi);
    const float th = 1.0f - 2.0f / (ExpInline(2.0f * u) + 1.0f);  // tanh(u)
    out[i] = 0.5f * xi * (1.0f + th);
  }
}

LLM_MULTIVERSION
void gelu_backward(float* dx, const float* dout, const float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const float xi = x[i];
    const float u = kGeluK0 * (xi + kGeluK1 * xi * xi * xi);
    const float th = 1.0f - 2.0f / (ExpInline(2.0f * u) + 1.0f);
    const float du = kGeluK0 * (1.0f + 3.0f * kGeluK1 * xi * xi);
    const float grad = 0.5f * (1.0f + th) + 0.5f * xi * (1.0f - th * th) * du;
    dx[i] += dout[i] * grad;
  }
}

// --- softmax cross-entropy ------------------------------------------------------------------

namespace {

LLM_MULTIVERSION
double SoftmaxXentRows(float* logits, const int32_t* targets, int64_t begin, int64_t end, int V,
                       float dscale, bool backward) {
  double loss = 0.0;
  for (int64_t i = begin; i < end; ++i) {
    float* row = logits + static_cast<size_t>(i) * V;  // (V)
    const int32_t target = targets[i];
    float mx = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : mx)
    for (int j = 0; j < V; ++j) mx = std::max(mx, row[j]);
    const float target_logit = row[target];
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < V; ++j) {
      row[j] = ExpInline(row[j] - mx);
      sum += row[j];
    }
    loss += std::log(static_cast<double>(sum)) + mx - target_logit;
    if (backward) {
      const float k = dscale / sum;
      for (int j = 0; j < V; ++j) row[j] *= k;
      row[target] -= dscale;
    }
  }
  return loss;
}

}  // namespace

double softmax_xent_forward_backward(float* logits, const int32_t* targets, int N, int V,
                                     float dscale, bool backward, ThreadPool* pool) {
  const int n_parts = pool != nullptr ? pool->size() : 1;
  std::vector<double> partial(n_parts, 0.0);
  if (n_parts == 1) {
    return SoftmaxXentRows(logits, targets, 0, N, V, dscale, backward);
  }
  // Each range's loss goes to its own slot; summed in a fixed order so the
  // result does not depend on thread timing.
  pool->ParallelFor(N, [&](int64_t begin, int64_t end, int part) {
    partial[part] = SoftmaxXentRows(logits, targets, begin, end, V, dscale, backward);
  });
  double total = 0.0;
  for (double p : partial) total += p;
  return total;
}

}  // namespace llm
