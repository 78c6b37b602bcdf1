#include "core/model/ops.h"

#include <cblas.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "core/model/thread_pool.h"

// The kernels below pass 64-byte vectors between always-inlined helpers only;
// the ABI note GCC emits for them is irrelevant.
#pragma GCC diagnostic ignored "-Wpsabi"

// Hot element-wise loops are compiled three times (AVX-512, AVX2+FMA,
// baseline SSE2) and picked at load time for the running CPU.
// (GCC only: clang 14, used for the fuzz build, rejects target_clones on
// templates; there the baseline version is compiled.)
#if defined(__GNUC__) && !defined(__clang__)
#define LLM_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LLM_MULTIVERSION
#endif
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
                     const float* w, int N, int IC, int OC, bool overwrite_dx) {
  if (dx != nullptr) {
    // dx (N,IC) (+)= dout (N,OC) . w^T (OC,IC)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, IC, OC, 1.0f, dout, OC, w, OC,
                overwrite_dx ? 0.0f : 1.0f, dx, IC);
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
// One work item = one (batch, head) pair; items write disjoint columns, so the
// result does not depend on the number of threads.
//
// Fast path (head size D in {4, 8, 16}): every product is written as a small
// register-blocked matrix product over 16-float vectors (GCC vector
// extensions, compiled per ISA by LLM_MULTIVERSION), with the vector running
// over 16 consecutive QUERY positions t. Scores and probabilities are kept
// transposed, pt[j][t] (key j, query t), so the softmax over keys j of a
// block of 16 queries needs only element-wise max/add across rows: no
// horizontal reductions. The causal mask is applied by computing, for the
// query block [t0, t0+16), only keys j < t0+16 and masking j > t inside the
// diagonal block. Sequence lengths are padded to Tp = a multiple of 16 with
// zero rows (padded keys are always masked; padded queries are discarded).
// The probabilities of query block tb are stored as one contiguous "panel"
// of (tb+1)*16 key rows x 16 queries, panels one after the other: only the
// lower block triangle is stored, and every pass reads memory sequentially.
//
// Generic path (any other D): per query row, vectorised over keys.

namespace {

typedef float V16 __attribute__((vector_size(64)));
typedef int32_t I16 __attribute__((vector_size(64)));
constexpr int kLanes = 16;
// A vector of exactly N floats (one head-size row).
template <int N>
struct FloatVec;
template <>
struct FloatVec<4> {
  typedef float Type __attribute__((vector_size(16)));
};
template <>
struct FloatVec<8> {
  typedef float Type __attribute__((vector_size(32)));
};
template <>
struct FloatVec<16> {
  typedef V16 Type;
};

LLM_INLINE V16 Load16(const float* p) {
  V16 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
LLM_INLINE void Store16(float* p, V16 v) { std::memcpy(p, &v, sizeof(v)); }

// ExpInline on 16 lanes (same operations, lane by lane).
LLM_INLINE V16 ExpV16(V16 x) {
  const float kHi = 88.0f, kLo = -87.33f;
  const I16 underflow = x < kLo;
  x = x > kHi ? V16{} + kHi : x;
  x = x < kLo ? V16{} + kLo : x;
  const float kMagic = 12582912.0f;
  const V16 t = x * 1.44269504088896341f + kMagic;
  const V16 n = t - kMagic;
  int32_t magic_i;
  std::memcpy(&magic_i, &kMagic, 4);
  const I16 ni = std::bit_cast<I16>(t) - magic_i;
  V16 r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  V16 p = V16{} + 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const I16 bits = (ni + 127) << 23;
  const V16 y = p * std::bit_cast<V16>(bits);
  return underflow ? V16{} : y;
}

int PadTo16(int T) { return (T + kLanes - 1) / kLanes * kLanes; }

// Start of panel tb (query block [16 tb, 16 tb + 16)), in floats: panels
// 0..tb-1 hold (1 + 2 + ... + tb) * 16 rows of 16.
size_t PanelOffset(int tb) { return static_cast<size_t>(kLanes) * kLanes * tb * (tb + 1) / 2; }

bool HasFastAttention(int D) { return D == 4 || D == 8 || D == 16; }

// Floats of probabilities stored per (batch, head).
size_t HeadProbsFloats(int T, int D) {
  return HasFastAttention(D) ? PanelOffset(PadTo16(T) / kLanes) : static_cast<size_t>(T) * T;
}

// Per-thread scratch of the fast path, in floats.
size_t FastScratchFloats(int Tp, int D) {
  return 6 * static_cast<size_t>(Tp) * D + PanelOffset(Tp / kLanes);
}

// Copies the head's rows x[t*HD + d] (t < T) into rows (Tp, D) and/or the
// transpose (D, Tp), zero-padding rows T..Tp-1. Either output may be null.
void GatherHead(const float* x, int T, int Tp, int HD, int D, float* rows, float* cols) {
  for (int t = 0; t < Tp; ++t) {
    for (int d = 0; d < D; ++d) {
      const float val = t < T ? x[static_cast<size_t>(t) * HD + d] : 0.0f;
      if (rows != nullptr) rows[t * D + d] = val;
      if (cols != nullptr) cols[d * Tp + t] = val;
    }
  }
}

// Forward of one head. q/k/v/out point at column h*D of batch b (row t at
// [t*HD]); pt (panels, HeadProbsFloats) receives the probabilities
// transposed: p[t][j] at pt[PanelOffset(t/16) + j*16 + t%16] for
// j < (t/16+1)*16 (zero for j > t).
template <int kD>
LLM_MULTIVERSION void AttentionForwardFast(float* out, float* pt, const float* q, const float* k,
                                           const float* v, int T, int HD, float* scratch) {
  const int Tp = PadTo16(T);
  float* qt = scratch;                           // (kD,Tp) queries, transposed
  float* kr = qt + static_cast<size_t>(kD) * Tp;  // (Tp,kD) keys
  float* vr = kr + static_cast<size_t>(kD) * Tp;  // (Tp,kD) values
  GatherHead(q, T, Tp, HD, kD, nullptr, qt);
  GatherHead(k, T, Tp, HD, kD, kr, nullptr);
  GatherHead(v, T, Tp, HD, kD, vr, nullptr);
  const float scale = 1.0f / std::sqrt(static_cast<float>(kD));
  I16 lane;
  for (int l = 0; l < kLanes; ++l) lane[l] = l;
  const V16 neg_inf = V16{} - std::numeric_limits<float>::infinity();
  for (int t0 = 0; t0 < Tp; t0 += kLanes) {
    const int jend = t0 + kLanes;  // keys 0..t0+15 (j > t masked)
    const I16 tq = lane + t0;      // query position of each lane
    float* panel = pt + PanelOffset(t0 / kLanes);  // (jend,16)
    V16 qv[kD];
    for (int d = 0; d < kD; ++d) qv[d] = Load16(qt + d * Tp + t0) * scale;
    // Scores s[t][j] = (scale q_t) . k_j, and their running max per query.
    V16 mx = neg_inf;
    for (int j = 0; j < jend; ++j) {
      const float* kj = kr + j * kD;
      V16 s = kj[0] * qv[0];
      for (int d = 1; d < kD; ++d) s += kj[d] * qv[d];
      if (j > t0) s = tq < j ? neg_inf : s;
      mx = s > mx ? s : mx;
      Store16(panel + j * kLanes, s);
    }
    V16 sum = V16{};
    for (int j = 0; j < jend; ++j) {
      float* pj = panel + j * kLanes;
      const V16 e = ExpV16(Load16(pj) - mx);
      sum += e;
      Store16(pj, e);
    }
    const V16 inv = 1.0f / sum;
    // p = e / sum; out_t = sum_j p[t][j] v_j.
    V16 o[kD];
    for (int d = 0; d < kD; ++d) o[d] = V16{};
    for (int j = 0; j < jend; ++j) {
      float* pj = panel + j * kLanes;
      const V16 p = Load16(pj) * inv;
      Store16(pj, p);
      const float* vj = vr + j * kD;
      for (int d = 0; d < kD; ++d) o[d] += vj[d] * p;
    }
    for (int l = 0; l < kLanes && t0 + l < T; ++l)
      for (int d = 0; d < kD; ++d) out[static_cast<size_t>(t0 + l) * HD + d] = o[d][l];
  }
}

// Backward of one head (same pointer conventions; pt as written by the
// forward). With dp[t][j] = dout_t . v_j, delta_t = sum_j p[t][j] dp[t][j]
// and ds = p (dp - delta) (softmax backward):
//   dq_t += scale sum_j ds[t][j] k_j     (vectorised over t: 16 queries)
//   dk_j += scale sum_t ds[t][j] q_t     (vectorised over the kD channels)
//   dv_j += sum_t p[t][j] dout_t         (vectorised over the kD channels)
template <int kD>
LLM_MULTIVERSION void AttentionBackwardFast(float* dq, float* dk, float* dv, const float* dout,
                                            const float* q, const float* k, const float* v,
                                            const float* pt, int T, int HD, float* scratch) {
  using VD = typename FloatVec<kD>::Type;
  const int Tp = PadTo16(T);
  const size_t TD = static_cast<size_t>(Tp) * kD;
  float* qr = scratch;      // (Tp,kD)
  float* kr = qr + TD;      // (Tp,kD)
  float* vr = kr + TD;      // (Tp,kD)
  float* gr = vr + TD;      // (Tp,kD) dout rows
  float* gt = gr + TD;      // (kD,Tp) dout transposed
  float* dst = gt + TD;     // (panels) dp, then ds, laid out like pt
  GatherHead(q, T, Tp, HD, kD, qr, nullptr);
  GatherHead(k, T, Tp, HD, kD, kr, nullptr);
  GatherHead(v, T, Tp, HD, kD, vr, nullptr);
  GatherHead(dout, T, Tp, HD, kD, gr, gt);
  const float scale = 1.0f / std::sqrt(static_cast<float>(kD));
  // Phase 1, per block of 16 queries: dp, delta, ds (stored in dst) and dq.
  for (int t0 = 0; t0 < Tp; t0 += kLanes) {
    const int jend = t0 + kLanes;
    const float* p_panel = pt + PanelOffset(t0 / kLanes);  // (jend,16)
    float* ds_panel = dst + PanelOffset(t0 / kLanes);       // (jend,16)
    V16 g[kD];
    for (int d = 0; d < kD; ++d) g[d] = Load16(gt + d * Tp + t0);
    V16 delta = V16{};
    for (int j = 0; j < jend; ++j) {
      const float* vj = vr + j * kD;
      V16 dp = vj[0] * g[0];
      for (int d = 1; d < kD; ++d) dp += vj[d] * g[d];
      delta += Load16(p_panel + j * kLanes) * dp;
      Store16(ds_panel + j * kLanes, dp);
    }
    V16 a[kD];
    for (int d = 0; d < kD; ++d) a[d] = V16{};
    for (int j = 0; j < jend; ++j) {
      float* dsj = ds_panel + j * kLanes;
      const V16 ds = Load16(p_panel + j * kLanes) * (Load16(dsj) - delta);
      Store16(dsj, ds);
      const float* kj = kr + j * kD;
      for (int d = 0; d < kD; ++d) a[d] += kj[d] * ds;
    }
    for (int l = 0; l < kLanes && t0 + l < T; ++l)
      for (int d = 0; d < kD; ++d) dq[static_cast<size_t>(t0 + l) * HD + d] += scale * a[d][l];
  }
  // Phase 2, per group of 4 keys: dk and dv. Key row j is stored (zero for
  // t < j) in the panels of query blocks j/16 onwards.
  constexpr int kRows = 4;
  for (int j0 = 0; j0 < T; j0 += kRows) {
    VD ak[kRows], av[kRows];
    for (int r = 0; r < kRows; ++r) ak[r] = av[r] = VD{};
    for (int t0 = j0 / kLanes * kLanes; t0 < T; t0 += kLanes) {
      const float* ds_rows = dst + PanelOffset(t0 / kLanes) + j0 * kLanes;  // (kRows,16)
      const float* p_rows = pt + PanelOffset(t0 / kLanes) + j0 * kLanes;    // (kRows,16)
      const int lend = std::min(kLanes, T - t0);
      for (int l = 0; l < lend; ++l) {
        VD qv, gv;
        std::memcpy(&qv, qr + (t0 + l) * kD, sizeof(qv));
        std::memcpy(&gv, gr + (t0 + l) * kD, sizeof(gv));
        for (int r = 0; r < kRows; ++r) {
          ak[r] += ds_rows[r * kLanes + l] * qv;
          av[r] += p_rows[r * kLanes + l] * gv;
        }
      }
    }
    for (int r = 0; r < kRows && j0 + r < T; ++r) {
      float* dkj = dk + static_cast<size_t>(j0 + r) * HD;
      float* dvj = dv + static_cast<size_t>(j0 + r) * HD;
      for (int d = 0; d < kD; ++d) {
        dkj[d] += scale * ak[r][d];
        dvj[d] += av[r][d];
      }
    }
  }
}

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

size_t attention_probs_size(int B, int H, int T, int D) {
  return static_cast<size_t>(B) * H * HeadProbsFloats(T, D);
}

void attention_forward(float* out, float* probs, const float* q, const float* k, const float* v,
                       int B, int T, int H, int D, ThreadPool* pool) {
  const int HD = H * D;
  const size_t head_probs = HeadProbsFloats(T, D);
  RunItems(pool, static_cast<int64_t>(B) * H, [&](int64_t begin, int64_t end, int) {
    const bool fast = HasFastAttention(D);
    std::vector<float> scratch(fast ? FastScratchFloats(PadTo16(T), D)
                                    : static_cast<size_t>(2 * D + 1) * T);
    for (int64_t item = begin; item < end; ++item) {
      const int b = static_cast<int>(item / H), h = static_cast<int>(item % H);
      const size_t off = static_cast<size_t>(b) * T * HD + static_cast<size_t>(h) * D;
      float* p = probs + static_cast<size_t>(item) * head_probs;
      switch (fast ? D : 0) {
        case 4:
          AttentionForwardFast<4>(out + off, p, q + off, k + off, v + off, T, HD, scratch.data());
          break;
        case 8:
          AttentionForwardFast<8>(out + off, p, q + off, k + off, v + off, T, HD, scratch.data());
          break;
        case 16:
          AttentionForwardFast<16>(out + off, p, q + off, k + off, v + off, T, HD, scratch.data());
          break;
        default: {
          float* kt = scratch.data();                   // (D,T)
          float* vt = kt + static_cast<size_t>(D) * T;  // (D,T)
          float* s = vt + static_cast<size_t>(D) * T;   // (T)
          AttentionForwardItem(out + off, p, q + off, k + off, v + off, T, HD, D, kt, vt, s);
        }
      }
    }
  });
}

void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q,
                        const float* k, const float* v, const float* probs, int B, int T, int H,
                        int D, ThreadPool* pool) {
  const int HD = H * D;
  const size_t head_probs = HeadProbsFloats(T, D);
  RunItems(pool, static_cast<int64_t>(B) * H, [&](int64_t begin, int64_t end, int) {
    const bool fast = HasFastAttention(D);
    std::vector<float> scratch(fast ? FastScratchFloats(PadTo16(T), D)
                                    : static_cast<size_t>(4 * D + 1) * T);
    for (int64_t item = begin; item < end; ++item) {
      const int b = static_cast<int>(item / H), h = static_cast<int>(item % H);
      const size_t off = static_cast<size_t>(b) * T * HD + static_cast<size_t>(h) * D;
      const float* p = probs + static_cast<size_t>(item) * head_probs;
      switch (fast ? D : 0) {
        case 4:
          AttentionBackwardFast<4>(dq + off, dk + off, dv + off, dout + off, q + off, k + off,
                                   v + off, p, T, HD, scratch.data());
          break;
        case 8:
          AttentionBackwardFast<8>(dq + off, dk + off, dv + off, dout + off, q + off, k + off,
                                   v + off, p, T, HD, scratch.data());
          break;
        case 16:
          AttentionBackwardFast<16>(dq + off, dk + off, dv + off, dout + off, q + off, k + off,
                                    v + off, p, T, HD, scratch.data());
          break;
        default: {
          float* kt = scratch.data();                     // (D,T)
          float* vt = kt + static_cast<size_t>(D) * T;    // (D,T)
          float* dkt = vt + static_cast<size_t>(D) * T;   // (D,T)
          float* dvt = dkt + static_cast<size_t>(D) * T;  // (D,T)
          float* dp = dvt + static_cast<size_t>(D) * T;   // (T)
          AttentionBackwardItem(dq + off, dk + off, dv + off, dout + off, q + off, k + off, v + off,
                                p, T, HD, D, kt, vt, dkt, dvt, dp);
        }
      }
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

// Rows vectorised 16 floats at a time with independent lanes (a plain
// max/sum reduction loop would be a serial dependency chain).
LLM_MULTIVERSION
double SoftmaxXentRows(float* logits, const int32_t* targets, int64_t begin, int64_t end, int V,
                       float dscale, bool backward) {
  const int V16end = V / kLanes * kLanes;
  double loss = 0.0;
  for (int64_t i = begin; i < end; ++i) {
    float* row = logits + static_cast<size_t>(i) * V;  // (V)
    const int32_t target = targets[i];
    // Pass 1: max.
    V16 m0 = V16{} - std::numeric_limits<float>::infinity(), m1 = m0;
    int j = 0;
    for (; j + 2 * kLanes <= V; j += 2 * kLanes) {
      const V16 a = Load16(row + j), b = Load16(row + j + kLanes);
      m0 = a > m0 ? a : m0;
      m1 = b > m1 ? b : m1;
    }
    m0 = m1 > m0 ? m1 : m0;
    float mx = -std::numeric_limits<float>::infinity();
    for (int l = 0; l < kLanes; ++l) mx = std::max(mx, m0[l]);
    for (; j < V; ++j) mx = std::max(mx, row[j]);
    const float target_logit = row[target];
    // Pass 2: e = exp(x - max) in place, and their sum.
    V16 s0 = V16{}, s1 = V16{};
    j = 0;
    for (; j + 2 * kLanes <= V; j += 2 * kLanes) {
      const V16 a = ExpV16(Load16(row + j) - mx), b = ExpV16(Load16(row + j + kLanes) - mx);
      Store16(row + j, a);
      Store16(row + j + kLanes, b);
      s0 += a;
      s1 += b;
    }
    for (; j < V16end; j += kLanes) {
      const V16 a = ExpV16(Load16(row + j) - mx);
      Store16(row + j, a);
      s0 += a;
    }
    s0 += s1;
    float sum = 0.0f;
    for (int l = 0; l < kLanes; ++l) sum += s0[l];
    for (; j < V; ++j) {
      row[j] = ExpInline(row[j] - mx);
      sum += row[j];
    }
    loss += std::log(static_cast<double>(sum)) + mx - target_logit;
    if (backward) {
      // Pass 3: dlogits = softmax * dscale - onehot * dscale.
      const float k = dscale / sum;
      j = 0;
      for (; j < V16end; j += kLanes) Store16(row + j, Load16(row + j) * k);
      for (; j < V; ++j) row[j] *= k;
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
