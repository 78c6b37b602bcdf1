// Small vectorised math kernels used by inference: softmax pieces for
// attention and for the sampler, dot products and axpy. Plain loops that the
// compiler auto-vectorises; each is compiled twice (baseline x86-64 and
// x86-64-v3 = AVX2 + FMA) and the best version is picked at load time
// (GCC function multi-versioning), so the library stays portable.
//
// Sums are accumulated in 16 independent lanes (not strictly left to right),
// so results may differ from a naive loop in the last bits.
#ifndef LLM_CORE_MODEL_FAST_MATH_H_
#define LLM_CORE_MODEL_FAST_MATH_H_

#include <cstddef>

namespace llm {

// out[i] = exp((x[i] - shift) * scale) for i < n; returns the sum of out.
// Relative error < 3e-7 for arguments in [-87, 88]; arguments below -87
// give exactly 0 (no denormals); above 88 saturate at exp(88). `out` may
// alias `x`.
float ExpShiftScaleSum(const float* x, size_t n, float shift, float scale, float* out);

// x[i] = exp(x[i]) (same accuracy as above).
inline void ExpInPlace(float* x, size_t n) { ExpShiftScaleSum(x, n, 0.0f, 1.0f, x); }

// max_i x[i]; n >= 1.
float MaxOf(const float* x, size_t n);
// sum_i x[i].
float SumOf(const float* x, size_t n);
// sum_i a[i] b[i].
float Dot(const float* a, const float* b, size_t n);
// y[i] += a x[i].
void Axpy(float a, const float* x, float* y, size_t n);
// x[i] *= a.
void Scale(float a, float* x, size_t n);

// Causal attention of one query row against `len` cached positions, for
// every head, with the cache stored transposed (one row per channel):
//   q       (H*D)            query
//   Kt, Vt  (H*D, stride)    keys / values; entry (c, p) at c * stride + p,
//                            positions 0..len-1 are used
//   scores  (len)            scratch
//   out     (H*D)            concatenated head outputs:
//   out[h*D+d] = sum_p softmax_p(scale * q_h . k_h[p]) v[h*D+d][p]
void AttentionRow(const float* q, const float* Kt, const float* Vt, int stride, int len, int H,
                  int D, float scale, float* scores, float* out);

}  // namespace llm

#endif  // LLM_CORE_MODEL_FAST_MATH_H_
