// Small vectorisable math kernels used by inference (softmax in attention and
// in the sampler). Plain loops written so that the compiler auto-vectorises
// them; no intrinsics.
#ifndef LLM_CORE_MODEL_FAST_MATH_H_
#define LLM_CORE_MODEL_FAST_MATH_H_

#include <bit>
#include <cstddef>
#include <cstdint>

namespace llm {

// x[i] = exp(x[i]) for i < n. Relative error < 2e-7 for x in [-87, 88];
// results below exp(-87) flush to 0 (no denormals), x > 88 saturates at
// exp(88). Cephes-style: exp(x) = 2^k * exp(r), |r| <= ln(2)/2, with a
// degree-6 polynomial for exp(r).
inline void ExpInPlace(float* x, size_t n) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;
  constexpr float kLn2Lo = -2.12194440e-4f;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  for (size_t i = 0; i < n; ++i) {
    float v = x[i];
    const bool tiny = v < -87.0f;
    v = v > 88.0f ? 88.0f : v;
    v = v < -87.0f ? -87.0f : v;
    const float t = v * kLog2e + kRound;
    const float k = t - kRound;  // round(v / ln 2)
    const float r = v - k * kLn2Hi - k * kLn2Lo;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const float er = p * r * r + r + 1.0f;
    // 2^k via the exponent bits; k in [-126, 127] after the clamps above.
    const int32_t ki = static_cast<int32_t>(k);
    const float scale = std::bit_cast<float>(static_cast<uint32_t>(ki + 127) << 23);
    x[i] = tiny ? 0.0f : er * scale;
  }
}

}  // namespace llm

#endif  // LLM_CORE_MODEL_FAST_MATH_H_
