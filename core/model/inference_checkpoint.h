// Loading an InferenceModel from a training checkpoint (core/model/checkpoint.h).
// Kept apart from inference.h so the inference core does not depend on the
// checkpoint format.
#ifndef LLM_CORE_MODEL_INFERENCE_CHECKPOINT_H_
#define LLM_CORE_MODEL_INFERENCE_CHECKPOINT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/model/checkpoint.h"
#include "core/model/inference.h"

namespace llm {

// Reads the checkpoint at `path` and builds a model from its config and
// parameters (optimizer state is dropped). Errors are LoadCheckpoint's
// (NotFound / DataLoss / InvalidArgument naming the file) or Create's.
// If `info` is non-null it receives the checkpoint's metadata (everything
// except params and optimizer buffers).
absl::StatusOr<std::shared_ptr<const InferenceModel>> LoadInferenceModel(
    const std::string& path, CheckpointData* info = nullptr);

}  // namespace llm

#endif  // LLM_CORE_MODEL_INFERENCE_CHECKPOINT_H_
