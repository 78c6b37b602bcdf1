// No code here relies on floating-point exception flags; without this GCC
// refuses to if-convert the clamps in ExpKernel and the exp loop stays scalar.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include "core/model/fast_math.h"

#include <cstdint>
#include <cstring>

namespace llm {

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LLM_MULTIVERSION __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define LLM_MULTIVERSION
#endif

namespace {
constexpr int kLanes = 16;
}

// exp(v) = 2^k exp(r), k = round(v / ln 2), |r| <= ln(2) / 2, with the
// Cephes degree-6 polynomial for exp(r). Branch-free so loops vectorise.
static inline float ExpKernel(float v) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;
  constexpr float kLn2Lo = -2.12194440e-4f;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float v0 = v;
  v = v < 88.0f ? v : 88.0f;
  v = v > -87.0f ? v : -87.0f;
  const float t = v * kLog2e + kRound;
  const float k = t - kRound;
  const float r = v - k * kLn2Hi - k * kLn2Lo;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float er = p * r * r + r + 1.0f;
  // 2^k from the low bits of t (t = 1.5 * 2^23 + k exactly), k in [-126, 127].
  uint32_t tbits;
  std::memcpy(&tbits, &t, sizeof(tbits));
  const uint32_t bits = (tbits + 127u) << 23;
  float two_k;
  std::memcpy(&two_k, &bits, sizeof(two_k));
  float e = er * two_k;
  // Flush to 0 below -87 with a bit mask (a select here blocks vectorisation).
  uint32_t ebits;
  std::memcpy(&ebits, &e, sizeof(ebits));
  ebits &= static_cast<uint32_t>(-static_cast<int32_t>(v0 >= -87.0f));
  std::memcpy(&e, &ebits, sizeof(e));
  return e;
}

LLM_MULTIVERSION
float ExpShiftScaleSum(const float* x, size_t n, float shift, float scale, float* out) {
  float acc[kLanes] = {};
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      const float e = ExpKernel((x[i + l] - shift) * scale);
      out[i + l] = e;
      acc[l] += e;
    }
  }
  float sum = 0.0f;
  for (; i < n; ++i) {
    const float e = ExpKernel((x[i] - shift) * scale);
    out[i] = e;
    sum += e;
  }
  for (int l = 0; l < kLanes; ++l) sum += acc[l];
  return sum;
}

LLM_MULTIVERSION
float MaxOf(const float* x, size_t n) {
  float m[kLanes];
  for (int l = 0; l < kLanes; ++l) m[l] = x[0];
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) m[l] = x[i + l] > m[l] ? x[i + l] : m[l];
  float r = x[0];
  for (; i < n; ++i) r = x[i] > r ? x[i] : r;
  for (int l = 0; l < kLanes; ++l) r = m[l] > r ? m[l] : r;
  return r;
}

LLM_MULTIVERSION
float SumOf(const float* x, size_t n) {
  float acc[kLanes] = {};
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += x[i + l];
  float s = 0.0f;
  for (; i < n; ++i) s += x[i];
  for (int l = 0; l < kLanes; ++l) s += acc[l];
  return s;
}

LLM_MULTIVERSION
float Dot(const float* a, const float* b, size_t n) {
  float acc[kLanes] = {};
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += a[i + l] * b[i + l];
  float s = 0.0f;
  for (; i < n; ++i) s += a[i] * b[i];
  for (int l = 0; l < kLanes; ++l) s += acc[l];
  return s;
}

LLM_MULTIVERSION
void Axpy(float a, const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] += a * x[i];
}

LLM_MULTIVERSION
void Scale(float a, float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] *= a;
}

// One head of AttentionRow with the head size D known at compile time: the
// score loop then runs over positions with all D query values in registers
// (one store per score instead of D read-modify-writes), and the value sums
// keep D x 8 partial sums.
template <int D>
static inline void AttentionHeadFixed(const float* qh, const float* Kh, const float* Vh, int stride,
                                      int len, float scale, float* scores, float* out) {
  float qs[D];
  for (int d = 0; d < D; ++d) qs[d] = qh[d] * scale;
  for (int p = 0; p < len; ++p) {
    float acc = 0.0f;
    for (int d = 0; d < D; ++d) acc += qs[d] * Kh[static_cast<size_t>(d) * stride + p];
    scores[p] = acc;
  }
  float mx = scores[0];
  for (int p = 1; p < len; ++p) mx = scores[p] > mx ? scores[p] : mx;
  constexpr int kL = 8;
  float eacc[kL] = {};
  int p = 0;
  for (; p + kL <= len; p += kL) {
    for (int l = 0; l < kL; ++l) {
      const float e = ExpKernel(scores[p + l] - mx);
      scores[p + l] = e;
      eacc[l] += e;
    }
  }
  float sum = 0.0f;
  for (; p < len; ++p) {
    const float e = ExpKernel(scores[p] - mx);
    scores[p] = e;
    sum += e;
  }
  for (int l = 0; l < kL; ++l) sum += eacc[l];
  const float inv = 1.0f / sum;
  for (int d = 0; d < D; ++d) {
    const float* v = Vh + static_cast<size_t>(d) * stride;
    float vacc[kL] = {};
    int j = 0;
    for (; j + kL <= len; j += kL)
      for (int l = 0; l < kL; ++l) vacc[l] += scores[j + l] * v[j + l];
    float s = 0.0f;
    for (; j < len; ++j) s += scores[j] * v[j];
    for (int l = 0; l < kL; ++l) s += vacc[l];
    out[d] = s * inv;
  }
}

LLM_MULTIVERSION
void AttentionRow(const float* q, const float* Kt, const float* Vt, int stride, int len, int H,
                  int D, float scale, float* scores, float* out) {
  if (D == 8) {
    for (int h = 0; h < H; ++h)
      AttentionHeadFixed<8>(q + h * 8, Kt + static_cast<size_t>(h * 8) * stride,
                            Vt + static_cast<size_t>(h * 8) * stride, stride, len, scale, scores,
                            out + h * 8);
    return;
  }
  for (int h = 0; h < H; ++h) {
    // scores[p] = scale * sum_d q[h,d] Kt[h*D+d][p]: D axpys over contiguous rows.
    const float* qh = q + h * D;
    {
      const float a = qh[0] * scale;
      const float* k = Kt + static_cast<size_t>(h * D) * stride;
      for (int p = 0; p < len; ++p) scores[p] = a * k[p];
    }
    for (int d = 1; d < D; ++d) {
      const float a = qh[d] * scale;
      const float* k = Kt + static_cast<size_t>(h * D + d) * stride;
      for (int p = 0; p < len; ++p) scores[p] += a * k[p];
    }
    // Softmax over positions.
    float mx = scores[0];
    for (int p = 1; p < len; ++p) mx = scores[p] > mx ? scores[p] : mx;
    float acc[kLanes] = {};
    int p = 0;
    for (; p + kLanes <= len; p += kLanes) {
      for (int l = 0; l < kLanes; ++l) {
        const float e = ExpKernel(scores[p + l] - mx);
        scores[p + l] = e;
        acc[l] += e;
      }
    }
    float sum = 0.0f;
    for (; p < len; ++p) {
      const float e = ExpKernel(scores[p] - mx);
      scores[p] = e;
      sum += e;
    }
    for (int l = 0; l < kLanes; ++l) sum += acc[l];
    const float inv = 1.0f / sum;
    // out[h*D+d] = (scores . Vt[h*D+d]) / sum.
    for (int d = 0; d < D; ++d) {
      const float* v = Vt + static_cast<size_t>(h * D + d) * stride;
      float dacc[kLanes] = {};
      int j = 0;
      for (; j + kLanes <= len; j += kLanes)
        for (int l = 0; l < kLanes; ++l) dacc[l] += scores[j + l] * v[j + l];
      float s = 0.0f;
      for (; j < len; ++j) s += scores[j] * v[j];
      for (int l = 0; l < kLanes; ++l) s += dacc[l];
      out[h * D + d] = s * inv;
    }
  }
}

}  // namespace llm
