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
// internal activation buffers). Threads: at every entry point it reads
// n = openblas_get_num_threads() and runs the step on a pool of n std::threads
// (never OpenMP), each handling a contiguous share of the batch rows end to
// end (forward, loss, backward) with its own gradient buffer; the buffers are
// summed in a fixed order at the end. While the pool runs, OpenBLAS is set to
// 1 thread (restored to n on return) so BLAS threads never compete with the
// pool: other threads of the process calling BLAS meanwhile run
// single-threaded. Results are deterministic for a fixed thread count.
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
  struct Part;
  enum class Mode { kForwardBackward, kForwardLoss, kLogits };
  void EnsureActs(int B, int T);
  void EnsureParts(int n);
  // CHECKs shape and token ids (`what` names the array in the message).
  void CheckTokens(const int32_t* tokens, int B, int T, const char* what) const;
  // The whole step, split by batch rows over the pool; returns the mean loss
  // (0 for kLogits, which writes logits_out (B,T,V) instead).
  float Run(const int32_t* inputs, const int32_t* targets, int B, int T, Mode mode,
            float* logits_out);
  // Embeddings + blocks + final LayerNorm for batch rows [b0, b1) into acts_.
  void ForwardRows(const int32_t* inputs, int b0, int b1, int T);
  // Unembedding + softmax cross-entropy for rows [row0, row1) (of B*T) in
  // chunks; returns the summed loss. With `backward`, adds the unembedding
  // gradients into G and writes acts_->dlnf for those rows.
  double LossRows(Part& part, float* G, const int32_t* targets, int row0, int row1, float dscale,
                  bool backward);
  // Backward through the trunk for batch rows [b0, b1), adding into G.
  void BackwardRows(float* G, const int32_t* inputs, int b0, int b1, int T);

  ModelConfig config_;
  ParamLayout layout_;
  std::vector<float> params_;
  std::vector<float> grads_;
  std::unique_ptr<Acts> acts_;
  std::vector<Part> parts_;  // one per pool thread
  std::unique_ptr<ThreadPool> pool_;
  ThreadPool* Pool();  // sized to openblas_get_num_threads()
};

}  // namespace llm

#endif  // LLM_CORE_MODEL_TRANSFORMER_H_
