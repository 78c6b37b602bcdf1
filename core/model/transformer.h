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
// internal activation buffers). Internally it uses OpenBLAS's threads for
// sgemm and, for its own loops (attention, softmax), a pool of
// openblas_get_num_threads() std::threads (read at every entry point); never
// OpenMP. Results are deterministic for a fixed thread count.
#ifndef LLM_CORE_MODEL_TRANSFORMER_H_
#define LLM_CORE_MODEL_TRANSFORMER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/model/config.h"

namespace llm {

class ThreadPool;

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
    // the original's scheme:
  //   wte, wpe: standard normal N(0, 1);
  //   wq, wk, wv, w1, b1, wu, bu: uniform(-1/sqrt(C), 1/sqrt(C));
  //   wo: uniform(+-1/sqrt(H*D));  w2, b2: uniform(+-1/sqrt(F));
  //   LayerNorm gains 1, LayerNorm shifts 0.
  // Values are drawn in ParamLayout order from one splitmix64 stream
  // (normals by Box-Muller in double).
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
  // Unembedding + softmax cross-entropy in row chunks; with `backward`, also
  // fills the unembedding gradients and acts_->dlnf.
  float LossHead(const int32_t* targets, int B, int T, bool backward);
  void BackwardTrunk(const int32_t* inputs, int B, int T);

  ModelConfig config_;
  ParamLayout layout_;
  std::vector<float> params_;
  std::vector<float> grads_;
  std::unique_ptr<Acts> acts_;
  std::unique_ptr<ThreadPool> pool_;
  ThreadPool* Pool();  // sized to openblas_get_num_threads()
};

}  // namespace llm

#endif  // LLM_CORE_MODEL_TRANSFORMER_H_
