// Next-token sampling from a logits vector: temperature, top-k, top-p
// (nucleus) and a seeded, platform-independent random number generator.
//
// Semantics of Sampler::Sample(logits):
//   - temperature == 0: greedy, returns argmax(logits) (lowest index on
//     ties); top_k / top_p are ignored and no randomness is consumed.
//   - otherwise p = softmax(logits / temperature);
//     top_k > 0 keeps only the k most likely tokens (ties broken by lower
//     index); top_p < 1 then keeps the smallest prefix of the remaining
//     tokens, sorted by decreasing probability, whose probability mass
//     (renormalised after top-k) reaches top_p; one token is drawn from the
//     kept set in proportion to p. Each draw consumes exactly one uniform
//     number, so the stream of tokens is a deterministic function of the seed
//     and the logits.
#ifndef LLM_CORE_MODEL_SAMPLER_H_
#define LLM_CORE_MODEL_SAMPLER_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace llm {

struct SamplerOptions {
  float temperature = 1.0f;  // >= 0; 0 means greedy (argmax)
  int32_t top_k = 0;         // >= 0; 0 disables top-k
  float top_p = 1.0f;        // in (0, 1]; 1 disables nucleus filtering
  uint64_t seed = 0;

  // InvalidArgument naming the bad option: negative or non-finite
  // temperature, top_k < 0, top_p outside (0, 1].
  absl::Status Validate() const;
};

// A small, fast, portable PRNG (xoshiro256**, seeded through splitmix64).
// Same seed => same stream on every platform.
class Rng {
 public:
  explicit Rng(uint64_t seed = 0) { Seed(seed); }
  void Seed(uint64_t seed);
  uint64_t NextU64();
  // Uniform in [0, 1) with 24 random bits (exactly representable as float).
  double NextUniform();

 private:
  uint64_t s_[4];
};

// Stateful sampler: owns its RNG and scratch buffers (so sampling does not
// allocate once warmed up). Not thread-safe; use one per sequence. Copyable
// (copies the RNG state: the copy continues the same stream).
class Sampler {
 public:
  // InvalidArgument when options.Validate() fails.
  static absl::StatusOr<Sampler> Create(const SamplerOptions& options);

  // Picks the next token from `logits` (V finite floats, V >= 1) following
  // the semantics at the top of this file. Returns an index in [0, V).
  int32_t Sample(absl::Span<const float> logits);

  const SamplerOptions& options() const { return options_; }
  // Re-seeds the RNG (the options keep their other values).
  void Reseed(uint64_t seed);

 private:
  explicit Sampler(const SamplerOptions& options) : options_(options), rng_(options.seed) {}
  SamplerOptions options_;
  Rng rng_;
  std::vector<float> probs_;      // (V) scratch: exp weights
  std::vector<int32_t> order_;    // candidate tokens, best first
  std::vector<float> weights_;    // exp weights of the candidates
};

// Index of the largest value (lowest index on ties). `x` must be non-empty.
int32_t ArgMax(absl::Span<const float> x);

// Writes softmax(x / temperature) into `out` (same size as x), computed
// stably (max subtracted first). temperature must be > 0.
void Softmax(absl::Span<const float> x, float temperature, absl::Span<float> out);

}  // namespace llm

#endif  // LLM_CORE_MODEL_SAMPLER_H_
