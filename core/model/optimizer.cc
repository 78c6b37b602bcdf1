#include "core/model/optimizer.h"

#include <cmath>

// The loops below are compiled for AVX-512 / AVX2+FMA / baseline and picked
// at load time (GCC function multi-versioning).
#define LLM_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

namespace llm {
namespace {

// One Adam update of n values (the loop vectorises: no branches inside).
// Vectorises only with -fno-math-errno (set for this file in CMakeLists.txt;
// v_hat >= 0, so sqrt never sets errno anyway).
LLM_MULTIVERSION
void AdamKernel(float* params, const float* grads, float* m, float* v, size_t n, float b1, float b2,
                float eps, float inv_bc1, float inv_bc2, float lr, float decay) {
  for (size_t i = 0; i < n; ++i) {
    const float g = grads[i];
    m[i] = b1 * m[i] + (1.0f - b1) * g;
    v[i] = b2 * v[i] + (1.0f - b2) * g * g;
    const float m_hat = m[i] * inv_bc1;
    const float v_hat = v[i] * inv_bc2;
    float p = params[i];
    p -= decay * p;  // AdamW (decay = 0 leaves p unchanged)
    params[i] = p - lr * m_hat / (std::sqrt(v_hat) + eps);
  }
}

// sum g^2 in double, in 16 independent lanes (a single accumulator is a
// serial chain of dependent adds).
LLM_MULTIVERSION
double SumSquares(const float* g, size_t n) {
  constexpr int kLanes = 16;
  double acc[kLanes] = {};
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += static_cast<double>(g[i + l]) * g[i + l];
  double s = 0.0;
  for (; i < n; ++i) s += static_cast<double>(g[i]) * g[i];
  for (int l = 0; l < kLanes; ++l) s += acc[l];
  return s;
}

LLM_MULTIVERSION
void ScaleInPlace(float* x, size_t n, float a) {
  for (size_t i = 0; i < n; ++i) x[i] *= a;
}

}  // namespace

Adam::Adam(size_t n, AdamOptions opts) : opts_(opts), m_(n, 0.0f), v_(n, 0.0f) {}

void Adam::Step(float* params, const float* grads, float lr) {
  ++step_;
  const double bc1 = 1.0 - std::pow(static_cast<double>(opts_.beta1), static_cast<double>(step_));
  const double bc2 = 1.0 - std::pow(static_cast<double>(opts_.beta2), static_cast<double>(step_));
  const float b1 = opts_.beta1, b2 = opts_.beta2, eps = opts_.eps;
  const float inv_bc1 = static_cast<float>(1.0 / bc1), inv_bc2 = static_cast<float>(1.0 / bc2);
  const float decay = lr * opts_.weight_decay;
  AdamKernel(params, grads, m_.data(), v_.data(), m_.size(), b1, b2, eps, inv_bc1, inv_bc2, lr,
             decay);
}

float GlobalGradNorm(const float* grads, size_t n) {
  return static_cast<float>(std::sqrt(SumSquares(grads, n)));
}

float ClipGradNorm(float* grads, size_t n, float max_norm) {
  const float norm = GlobalGradNorm(grads, n);
  if (max_norm > 0.0f && norm > max_norm) {
    ScaleInPlace(grads, n, max_norm / norm);
  }
  return norm;
}

float LrSchedule::At(int64_t step) const {
  if (kind == kConstant) return lr;
  if (step < warmup_steps) return lr * static_cast<float>(step + 1) / static_cast<float>(warmup_steps);
  const int64_t decay_steps = total_steps - warmup_steps;
  if (decay_steps <= 0 || step >= total_steps) return min_lr;
  const double frac = static_cast<double>(step - warmup_steps) / static_cast<double>(decay_steps);
  double coeff;
  if (kind == kCosine) {
    coeff = 0.5 * (1.0 + std::cos(M_PI * frac));
  } else {
    coeff = 1.0 - frac;
  }
  return static_cast<float>(min_lr + coeff * (lr - min_lr));
}

}  // namespace llm
