// Training-time GPT-style decoder transformer with hand-written backward pass.
//
// Architecture (matches the original davidtag/llm `Transformer`):
//   x = wte[tokens] + wpe[0..T)                                  (B,T,C)
//   for each block:  x = x + MHA(LN1(x));  x = x + FFN(LN2(x))   (pre-LN)
//     MHA: per-head causal softmax(q k^T / sqrt(D)) v, heads concatenated, then x Wo (no biases)
//     FFN: Linear(C,F)+b1 -> ReLU (or GELU, tanh approximation) -> Linear(F,C)+b2
//   logits = LNf(x) Wu + bu                                       (B,T,V)
//   loss   = mean over B*T of cross-entropy(softmax(logits), targets)
//
// Parameters and gradients each live in ONE contiguous float buffer laid out
// as described in core/model/config.h (ParamLayout). Activations needed by the
// backward pass are allocated once per (B, T) shape and reused across steps.
// All matrix products go through cblas_sgemm (OpenBLAS).
//
// Thread-safety: a Transformer is NOT thread-safe (forward/backward write into
// internal activation buffers). Internally it may use OpenBLAS threads and
// std::threads; it never uses OpenMP.
#ifndef LLM_CORE_MODEL_TRANSFORMER_H_
#define LLM_CORE_MODEL_TRANSFORMER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/model/config.h"

namespace llm {

class Transformer {
 public:
  // CHECK-fails if config.Validate() is not OK. Parameters are zeroed; call
  // InitParameters (or write params()) before use.
  explicit Transformer(const ModelConfig& config);
  ~Transformer();
  Transformer(const Transformer&) = delete;
  Transformer& operator=(const Transformer&) = delete;

  // Deterministic initialisation from `seed` (same seed => bitwise identical
  // parameters on every machine; uses its own portable generator):
  //   weight matrices (wte, wpe, wq, wk, wv, wo, w1, w2, wu): N(0, 1) / sqrt(fan_in)
  //     (the original's scheme: standard normal scaled by 1/sqrt(rows); for the
  //      embeddings fan_in is the row count V / T as in the original),
  //   LayerNorm gains 1, every bias and LayerNorm shift 0.
  void InitParameters(uint64_t seed);

  const ModelConfig& config() const { return config_; }
  const ParamLayout& layout() const { return layout_; }
  size_t num_params() const { return layout_.total; }
  float* params() { return params_.data(); }
  const float* params() const { return params_.data(); }
  float* grads() { return grads_.data(); }
  const float* grads() const { return grads_.data(); }

  // Mean cross-entropy of `targets` (B,T) given `inputs` (B,T), with
  // 1 <= T <= context, B >= 1, token ids in [0, vocab_size) (CHECKed).
  // Zeroes then fills grads(). Returns the loss.
  float ForwardBackward(const int32_t* inputs, const int32_t* targets, int B, int T);

  // Mean loss only (no gradients), for evaluation. Same preconditions.
  float ForwardLoss(const int32_t* inputs, const int32_t* targets, int B, int T);

  // Full logits (B,T,V) into `logits` (caller-owned, B*T*V floats). Reference
  // path for tests and simple generation.
  void ForwardLogits(const int32_t* inputs, int B, int T, float* logits);

  // Bytes currently held by activation buffers (for memory reporting).
  size_t activation_bytes() const;

 private:
  struct Acts;
  void EnsureActs(int B, int T);
  // Runs embeddings + blocks + final LayerNorm into acts (the part shared by
  // all entry points).
  void ForwardTrunk(const int32_t* inputs, int B, int T);
  float LossHead(const int32_t* targets, int B, int T, bool backward);

  ModelConfig config_;
  ParamLayout layout_;
  std::vector<float> params_;
  std::vector<float> grads_;
  std::unique_ptr<Acts> acts_;
};

}  // namespace llm

#endif  // LLM_CORE_MODEL_TRANSFORMER_H_
