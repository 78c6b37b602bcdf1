// Optimiser pieces for training: Adam / AdamW, global gradient-norm clipping
// and the learning-rate schedule.
#ifndef LLM_CORE_MODEL_OPTIMIZER_H_
#define LLM_CORE_MODEL_OPTIMIZER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace llm {

struct AdamOptions {
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  // > 0 turns Adam into AdamW: decoupled decay p -= lr * weight_decay * p,
  // applied to every parameter before the Adam update.
  float weight_decay = 0.0f;
};

// Adam with the original's bias correction:
//   t += 1; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2
//   m_hat = m / (1 - b1^t); v_hat = v / (1 - b2^t)
//   p -= lr * m_hat / (sqrt(v_hat) + eps)
// m and v are one contiguous buffer each, same layout as the parameters.
// Not thread-safe.
class Adam {
 public:
  explicit Adam(size_t n, AdamOptions opts = {});

  // Applies one update to params[0..n) using grads[0..n). Increments step()
  // first, so the first call uses t = 1 for bias correction.
  void Step(float* params, const float* grads, float lr);

  int64_t step() const { return step_; }
  void set_step(int64_t step) { step_ = step; }
  const AdamOptions& options() const { return opts_; }
  float* m() { return m_.data(); }
  float* v() { return v_.data(); }
  const float* m() const { return m_.data(); }
  const float* v() const { return v_.data(); }
  size_t size() const { return m_.size(); }

 private:
  AdamOptions opts_;
  int64_t step_ = 0;
  std::vector<float> m_, v_;
};

// sqrt(sum g^2), accumulated in double.
float GlobalGradNorm(const float* grads, size_t n);

// If the global norm exceeds max_norm (> 0), scales grads by max_norm / norm.
// Returns the norm before clipping. max_norm <= 0 disables clipping.
float ClipGradNorm(float* grads, size_t n, float max_norm);

// Learning rate as a function of the step (counting from 0):
//   kConstant: lr.
//   kCosine / kLinear: linear warm-up lr*(step+1)/warmup_steps for
//     step < warmup_steps, then decay from lr to min_lr over the remaining
//     total_steps - warmup_steps steps (cosine or linear); min_lr after
//     total_steps.
struct LrSchedule {
  enum Kind { kConstant, kCosine, kLinear } kind = kConstant;
  float lr = 1e-3f;
  int64_t warmup_steps = 0;
  int64_t total_steps = 0;
  float min_lr = 0.0f;
  float At(int64_t step) const;
};

}  // namespace llm

#endif  // LLM_CORE_MODEL_OPTIMIZER_H_
