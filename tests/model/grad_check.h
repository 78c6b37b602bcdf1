// Finite-difference gradient checking helpers for the model tests.
#ifndef LLM_TESTS_MODEL_GRAD_CHECK_H_
#define LLM_TESTS_MODEL_GRAD_CHECK_H_

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace llm::testing {

// Deterministic pseudo-random floats in [-scale, scale).
inline std::vector<float> RandomVector(size_t n, uint64_t seed, float scale = 1.0f) {
  std::vector<float> v(n);
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 12345;
  for (float& x : v) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    x = scale * (static_cast<float>((s >> 40) & 0xFFFFFF) / 8388608.0f - 1.0f);
  }
  return v;
}

// Compares `analytic[i]` with the central difference
//   (loss(x_i + h) - loss(x_i - h)) / 2h
// for i in `indices` (all of [0, n) if empty).
//
// Tolerance: the loss is evaluated in float32 internally (the layer code) and
// summed in double. Central differences have O(h^2) truncation error, tiny at
// h = 1e-3 for these smooth functions, but the float32 rounding of the forward
// pass (~1e-7 relative per value, amplified by 1/(2h) = 500) gives absolute
// errors of roughly |loss| * 1e-7 * 500 ~ 1e-4 * |loss|. We therefore use
//   |a - n| <= atol + rtol * max(|a|, |n|)
// with rtol ~1e-2 and an absolute floor atol chosen per test relative to the
// loss scale.
inline void ExpectGradientsMatch(const std::string& what, float* x, const float* analytic, size_t n,
                                 const std::function<double()>& loss, double h, double rtol,
                                 double atol, std::vector<size_t> indices = {}) {
  if (indices.empty()) {
    for (size_t i = 0; i < n; ++i) indices.push_back(i);
  }
  int failures = 0;
  for (size_t i : indices) {
    const float orig = x[i];
    x[i] = static_cast<float>(orig + h);
    const double up = loss();
    x[i] = static_cast<float>(orig - h);
    const double down = loss();
    x[i] = orig;
    // Use the actually-representable step.
    const double step = static_cast<double>(static_cast<float>(orig + h)) -
                        static_cast<double>(static_cast<float>(orig - h));
    const double numeric = (up - down) / step;
    const double a = analytic[i];
    const double tol = atol + rtol * std::max(std::fabs(a), std::fabs(numeric));
    if (std::fabs(a - numeric) > tol && failures++ < 10) {
      ADD_FAILURE() << what << "[" << i << "]: analytic " << a << " vs numeric " << numeric;
    }
  }
  EXPECT_EQ(failures, 0) << what;
}

}  // namespace llm::testing

#endif  // LLM_TESTS_MODEL_GRAD_CHECK_H_
