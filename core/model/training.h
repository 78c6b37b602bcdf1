// The training step loop shared by the train_model tool and its tests:
// a Transformer, its Adam state and the global step counter, with exact
// save/resume through checkpoints.
//
// Step k (counting from 0 = the first step ever taken on this model):
//   1. inputs/targets = BatchSampler(train, context, batch, seed).Fill(k)
//   2. loss = model.ForwardBackward(...)
//   3. ClipGradNorm(grads, grad_clip)            (if grad_clip > 0)
//   4. adam.Step(params, grads, schedule.At(k))
// Every input of step k is a function of (checkpointed state, seed, k), so
// resuming from a checkpoint written after step N and running M more steps
// gives bitwise the same parameters as running N+M steps at once, provided
// the seed, batch size, schedule (including total_steps) and Adam options are
// the same. The BLAS thread count does not need to match only if the BLAS
// kernels are deterministic for a fixed thread count; use the same
// --threads for bit-exact comparisons.
#ifndef LLM_CORE_MODEL_TRAINING_H_
#define LLM_CORE_MODEL_TRAINING_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/model/batch_sampler.h"
#include "core/model/checkpoint.h"
#include "core/model/config.h"
#include "core/model/optimizer.h"
#include "core/model/transformer.h"

namespace llm {

struct TrainOptions {
  int batch_size = 32;
  uint64_t seed = 0;        // batch sampling (and init, for fresh models)
  LrSchedule schedule;      // evaluated at the global step
  AdamOptions adam;
  float grad_clip = 0.0f;   // <= 0 disables clipping
};

// Statistics of one training step.
struct StepResult {
  float loss;
  float grad_norm;  // before clipping
  float lr;
};

// Not thread-safe.
class Trainer {
 public:
  // A freshly initialised model (Transformer::InitParameters(options.seed)),
  // step 0.
  Trainer(const ModelConfig& config, const TrainOptions& options);

  // Continues from a checkpoint: copies params, and the Adam moments and
  // counters when the checkpoint has them (otherwise Adam starts from zero
  // moments with its step counter at 0). InvalidArgument if the checkpoint's
  // config differs from this trainer's.
  absl::Status Restore(const CheckpointData& ckpt);

  // Runs global step step() on batch step() of `sampler`, then increments
  // step(). The sampler's context must equal the model's and its batch size
  // options().batch_size.
  StepResult Step(const BatchSampler& sampler);

  // Mean per-token loss over the given evaluation windows of `tokens`
  // (full-length windows are batched `batch_size` at a time; shorter ones run
  // alone). Calls progress(done_windows) after each batch if set. Requires
  // non-empty `windows`.
  double EvalLoss(const int32_t* tokens, const std::vector<EvalWindow>& windows, int batch_size,
                  const std::function<void(size_t)>& progress = nullptr);

  // The full training state (params, Adam state, step, seed) ready to save;
  // the caller fills the tokenizer fields and `extra`.
  CheckpointData Snapshot() const;

  int64_t step() const { return step_; }
  Transformer& model() { return *model_; }
  Adam& adam() { return *adam_; }
  const TrainOptions& options() const { return options_; }

 private:
  TrainOptions options_;
  std::unique_ptr<Transformer> model_;
  std::unique_ptr<Adam> adam_;
  int64_t step_ = 0;
  std::vector<int32_t> inputs_, targets_;
};

// Loss-weighted mean of EvalLoss over all of `tokens` for a model; exposed for
// evaluate_model. Same contract as Trainer::EvalLoss.
double EvaluateLoss(Transformer& model, const int32_t* tokens,
                    const std::vector<EvalWindow>& windows, int batch_size,
                    const std::function<void(size_t)>& progress = nullptr);

}  // namespace llm

#endif  // LLM_CORE_MODEL_TRAINING_H_
