// Autoregressive inference with a KV cache, for one or many sequences.
//
//   auto model = InferenceModel::Create(config, std::move(params)).value();
//   auto seq = model->NewSequence({.sampler = {.temperature = 0.8f, .seed = 1}}).value();
//   RETURN_IF_ERROR(model->Prefill(*seq, prompt));          // logits of the last prompt token
//   int32_t next = seq->SampleNext();
//   RETURN_IF_ERROR(model->DecodeStep({seq.get()}, {next}));  // append + logits of `next`
//
// The maths is the training model's (core/model/transformer.h): token +
// position embeddings, pre-LN blocks x += MHA(LN1(x)); x += FFN(LN2(x)), causal
// attention scaled by 1/sqrt(d_head), final LN, unembedding with bias.
//
// Roles and thread-safety:
//   - InferenceModel: immutable weights, shared (std::shared_ptr<const>) by
//     every sequence; all its methods are const and safe to call concurrently
//     from many threads as long as each call touches different Sequences and,
//     when given explicitly, different Workspaces.
//   - Sequence: per-sequence state (KV cache, token history, logits, sampler).
//     Not thread-safe; not copyable by accident (use Copy()); movable.
//   - Workspace: scratch activations for one call at a time. Calls without an
//     explicit Workspace use a thread_local one.
//
// Context window. The cache holds a "window": the most recent tokens, at
// positions 0..window_size()-1 (absolute position embeddings are relative to
// the window start). Appending n tokens to a window of W tokens when
// W + n > context re-bases the window to the last
//     L = max(context + 1 - overflow_drop, min(n, context))
// tokens of the history and recomputes the cache over them with one prefill
// (overflow_drop is a SequenceOptions field, 1..context; default context/2).
// With overflow_drop = 1 this is exactly the original's sliding window (the
// last `context` tokens, recomputed on every token); larger values recompute
// only once every overflow_drop tokens. INVARIANT: after any Prefill or
// DecodeStep, seq.logits() equals the last row of a full forward pass over
// exactly seq.window() (up to float rounding).
#ifndef LLM_CORE_MODEL_INFERENCE_H_
#define LLM_CORE_MODEL_INFERENCE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/model/config.h"
#include "core/model/fast_math.h"
#include "core/model/sampler.h"

namespace llm {

class InferenceModel;

struct SequenceOptions {
  SamplerOptions sampler;
  // Tokens dropped from a full window when it overflows (see file comment).
  // 0 means context / 2 (at least 1). Must be in [0, context].
  int32_t overflow_drop = 0;
};

// Per-sequence decoding state. Created by InferenceModel::NewSequence; its KV
// cache is preallocated for `context` positions, so decoding never allocates.
class Sequence {
 public:
  // Copies are explicit (Copy()); the copy constructor is private.
  Sequence& operator=(const Sequence&) = delete;
  Sequence(Sequence&&) = default;
  Sequence& operator=(Sequence&&) = default;

  // Deep copy (KV cache, history, logits, sampler state): the copy continues
  // exactly where this one is. Costs O(context * n_blocks * d_model).
  std::unique_ptr<Sequence> Copy() const;

  // Every token appended so far (prompt and generated), oldest first.
  const std::vector<int32_t>& history() const { return history_; }
  // The tokens currently in the KV cache: the last window_size() of history().
  absl::Span<const int32_t> window() const;
  int32_t window_size() const { return window_; }
  // Logits (vocab_size) for the token after the last appended one; empty
  // before the first Prefill.
  absl::Span<const float> logits() const;
  bool has_logits() const { return has_logits_; }

  // Samples the next token from logits() with this sequence's sampler.
  // Requires has_logits(). Does not append the token (DecodeStep does).
  int32_t SampleNext();
  Sampler& sampler() { return sampler_; }
  int32_t overflow_drop() const { return overflow_drop_; }
  // Number of times the window overflowed and the cache was rebuilt.
  int64_t num_rebuilds() const { return num_rebuilds_; }

  // Forgets all tokens (keeps the allocation and the sampler state).
  void Reset();

 private:
  friend class InferenceModel;
  Sequence(const InferenceModel* model, const ModelConfig& config, int32_t overflow_drop,
           Sampler sampler);
  Sequence(const Sequence&) = default;  // used by Copy()

  const InferenceModel* model_;  // identity check only; not owned
  int32_t context_, n_blocks_, hd_;
  int32_t tiles_;  // tiles of 8 positions per head: ceil(context / 8)
  int32_t overflow_drop_;
  int32_t window_ = 0;  // tokens in the cache
  // Keys and values of window positions, per model block in the tiled
  // layout of fast_math.h (KvCacheIndex), so attention reads them
  // sequentially. Positions >= window_ hold stale values that the attention
  // kernel reads but ignores.
  std::vector<float> k_;  // (n_blocks, H, tiles_, D, 8)
  std::vector<float> v_;  // (n_blocks, H, tiles_, D, 8)
  std::vector<int32_t> history_;
  std::vector<float> logits_;  // (V)
  bool has_logits_ = false;
  int64_t num_rebuilds_ = 0;
  Sampler sampler_;
};

// Scratch activations for Prefill / DecodeStep. Grows to the largest batch
// (and model shape) seen and is then reused without allocation. May be used
// with several models, one call at a time. One per thread.
class Workspace {
 public:
  Workspace() = default;
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

 private:
  friend class InferenceModel;
  void Reserve(const ModelConfig& c, int rows);
  std::vector<float> x_;       // (rows, C) residual stream
  std::vector<float> ln_;      // (rows, C) LayerNorm output
  std::vector<float> qkv_;     // (rows, 3 HD) query | key | value
  std::vector<float> att_;     // (rows, HD) concatenated head outputs
  std::vector<float> ff_;      // (rows, F)
  std::vector<float> scores_;  // (context rounded up to 8) attention scores of one head
  std::vector<float*> logit_rows_;     // DecodeStep: each sequence's logits buffer
  std::vector<Sequence*> batch_seqs_;  // DecodeStep: sequences run batched
  std::vector<int32_t> batch_tokens_;
};

class InferenceModel {
 public:
  // Takes ownership of `params` (ParamLayout(config).total floats).
  // InvalidArgument if the config is invalid or the size is wrong.
  static absl::StatusOr<std::shared_ptr<const InferenceModel>> Create(const ModelConfig& config,
                                                                      std::vector<float> params);

  const ModelConfig& config() const { return config_; }
  const ParamLayout& layout() const { return layout_; }
  const float* params() const { return params_.data(); }

  // A fresh, empty sequence bound to this model. InvalidArgument for bad
  // sampler options or overflow_drop outside [0, context].
  absl::StatusOr<std::unique_ptr<Sequence>> NewSequence(const SequenceOptions& options = {}) const;

  // Appends `tokens` (n >= 1, each in [0, vocab_size)) to `seq` and computes
  // the logits after the last one with a single batched pass over the new
  // tokens (re-basing the window first if it would overflow, see above).
  // InvalidArgument for an empty span, an out-of-range token or a sequence
  // from another model; `seq` is unchanged on error.
  absl::Status Prefill(Sequence& seq, absl::Span<const int32_t> tokens,
                       Workspace* ws = nullptr) const;

  // For each i, appends tokens[i] to *seqs[i] (which must already hold at
  // least one token, i.e. have been prefilled) and computes its next logits.
  // All sequences are advanced in one batched step: the projections, FFN and
  // unembedding are single matrix products over the stacked rows, which read
  // each weight matrix once per step (decoding is bound by streaming the
  // weights, so a step over m sequences costs far less than m steps);
  // attention runs per sequence against its own cache. Sequences whose window
  // is full are re-based (one prefill each). Same results, bit for bit, as
  // calling it for each sequence alone (every kernel computes a row the same
  // way whatever the batch). InvalidArgument (nothing modified) for mismatched sizes,
  // an empty sequence, a repeated sequence, an out-of-range token or a
  // sequence from another model.
  absl::Status DecodeStep(absl::Span<Sequence* const> seqs, absl::Span<const int32_t> tokens,
                          Workspace* ws = nullptr) const;

 private:
  InferenceModel(const ModelConfig& config, std::vector<float> params);
  absl::Status CheckTokens(absl::Span<const int32_t> tokens) const;
  // Runs the blocks over `n` new tokens appended at window position
  // seq.window_ and writes the last row's logits into seq.logits_.
  void PrefillUnchecked(Sequence& seq, const int32_t* tokens, int n, Workspace& ws) const;
  // One batched decode step over sequences whose windows have room.
  void DecodeBatchUnchecked(Sequence* const* seqs, const int32_t* tokens, int m,
                            Workspace& ws) const;
  // x (d_model) = wte[token] + wpe[position]: a token's input row.
  void Embed(int32_t token, int position, float* x) const;

  // The weight matrices of one block, packed for GemmPacked (the query, key
  // and value projections side by side: one product gives all three).
  struct PackedBlock {
    PackedMatrix wqkv;  // (C, 3 HD)
    PackedMatrix wo;    // (HD, C)
    PackedMatrix w1;    // (C, F)
    PackedMatrix w2;    // (F, C)
  };

  ModelConfig config_;
  ParamLayout layout_;
  std::vector<float> params_;
  std::vector<PackedBlock> packed_blocks_;
  PackedMatrix packed_wu_;  // (C, V)
};

// Streams tokens from a prompt: Prefill, then sample / DecodeStep up to
// max_tokens times. For tools and tests; servers drive the model directly.
class Generator {
 public:
  explicit Generator(std::shared_ptr<const InferenceModel> model) : model_(std::move(model)) {}

  // Called with each generated token as soon as it is sampled; return false
  // to stop early.
  using TokenCallback = std::function<bool(int32_t token)>;

  // Generates up to `max_tokens` (>= 0) tokens after `prompt` (non-empty).
  // Returns the generated tokens (also streamed to `on_token` if set).
  // InvalidArgument for an empty prompt, negative max_tokens, bad options or
  // out-of-range prompt tokens.
  absl::StatusOr<std::vector<int32_t>> Generate(absl::Span<const int32_t> prompt,
                                                int64_t max_tokens, const SequenceOptions& options,
                                                const TokenCallback& on_token = nullptr) const;

 private:
  std::shared_ptr<const InferenceModel> model_;
};

}  // namespace llm

#endif  // LLM_CORE_MODEL_INFERENCE_H_
