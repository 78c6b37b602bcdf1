#include "core/model/optimizer.h"

#include <cmath>

namespace llm {

Adam::Adam(size_t n, AdamOptions opts) : opts_(opts), m_(n, 0.0f), v_(n, 0.0f) {}

void Adam::Step(float* params, const float* grads, float lr) {
  ++step_;
  const double bc1 = 1.0 - std::pow(static_cast<double>(opts_.beta1), static_cast<double>(step_));
  const double bc2 = 1.0 - std::pow(static_cast<double>(opts_.beta2), static_cast<double>(step_));
  const float b1 = opts_.beta1, b2 = opts_.beta2, eps = opts_.eps;
  const float inv_bc1 = static_cast<float>(1.0 / bc1), inv_bc2 = static_cast<float>(1.0 / bc2);
  const float decay = lr * opts_.weight_decay;
  float* m = m_.data();
  float* v = v_.data();
  const size_t n = m_.size();
  for (size_t i = 0; i < n; ++i) {
    const float g = grads[i];
    m[i] = b1 * m[i] + (1.0f - b1) * g;
    v[i] = b2 * v[i] + (1.0f - b2) * g * g;
    const float m_hat = m[i] * inv_bc1;
    const float v_hat = v[i] * inv_bc2;
    float p = params[i];
    if (decay != 0.0f) p -= decay * p;
    params[i] = p - lr * m_hat / (std::sqrt(v_hat) + eps);
  }
}

float GlobalGradNorm(const float* grads, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; ++i) s += static_cast<double>(grads[i]) * grads[i];
  return static_cast<float>(std::sqrt(s));
}

float ClipGradNorm(float* grads, size_t n, float max_norm) {
  const float norm = GlobalGradNorm(grads, n);
  if (max_norm > 0.0f && norm > max_norm) {
    const float scale = max_norm / norm;
    for (size_t i = 0; i < n; ++i) grads[i] *= scale;
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
