// Training batches and evaluation windows over a token sequence.
//
// Training (as the original's train_model.py get_batch): each row of a batch is
// a random window of context+1 consecutive tokens; inputs are its first
// `context` tokens and targets the last `context` (shifted by one). The start
// is uniform over [0, n - context), i.e. every full window.
//
// Unlike the original (which draws from numpy's global RNG), the starts of
// batch k are a PURE FUNCTION of (seed, k): row r uses
// SplitMix64(seed, k, r) mapped to the range by a 128-bit multiply. So
// training can resume from any step and draw exactly the batches an
// uninterrupted run would have drawn.
//
// Evaluation: the split is cut into consecutive non-overlapping windows of
// `context` predictions (window i has inputs tokens[i*T, i*T+T) and targets
// tokens[i*T+1, i*T+T+1)); a final shorter window covers the remainder, so
// every token but the first is predicted exactly once, each with the context
// available inside its own window only.
#ifndef LLM_CORE_MODEL_BATCH_SAMPLER_H_
#define LLM_CORE_MODEL_BATCH_SAMPLER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"

namespace llm {

// Deterministic random-window batches. The token buffer is borrowed and must
// outlive the sampler. Thread-safe (const methods only).
class BatchSampler {
 public:
  // Requires n_tokens >= context + 1 (checked by Validate()).
  BatchSampler(const int32_t* tokens, size_t n_tokens, int context, int batch_size, uint64_t seed);

  // FailedPrecondition if the sequence is too short for one window.
  absl::Status Validate() const;

  // Start offset of row `row` of batch `batch_index`, in [0, n - context).
  size_t WindowStart(int64_t batch_index, int row) const;

  // Fills inputs and targets, each (batch_size, context) row-major.
  void Fill(int64_t batch_index, int32_t* inputs, int32_t* targets) const;

  int context() const { return context_; }
  int batch_size() const { return batch_size_; }

 private:
  const int32_t* tokens_;
  size_t n_;
  int context_;
  int batch_size_;
  uint64_t seed_;
};

// One evaluation window: predictions tokens[start+1 .. start+length].
struct EvalWindow {
  size_t start;
  int length;  // 1..context
};

// The evaluation windows described above for a sequence of n_tokens (empty if
// n_tokens < 2). If max_windows > 0, only the first max_windows are returned.
std::vector<EvalWindow> EvalWindows(size_t n_tokens, int context, int64_t max_windows = 0);

// SplitMix64 finaliser (Steele et al.), exposed for tests.
uint64_t SplitMix64(uint64_t x);

}  // namespace llm

#endif  // LLM_CORE_MODEL_BATCH_SAMPLER_H_
