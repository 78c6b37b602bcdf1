// What the server serves: one tokenizer and one model, loaded once at
// startup and shared read-only by every call.
#ifndef LLM_SERVER_ASSETS_H_
#define LLM_SERVER_ASSETS_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/model/inference.h"
#include "core/tokenizer/tokenizer.h"

namespace llm {

struct ServingAssets {
  std::string tokenizer_name;
  std::unique_ptr<Tokenizer> tokenizer;
  std::string model_name;
  int64_t iteration = 0;
  std::shared_ptr<const InferenceModel> model;
};

// Loads tokenizer TokenizerDir(tokenizer_name) and checkpoint
// CheckpointPath(model_name, iteration) (both under AssetsDir()) and checks
// they belong together. Errors say which command creates a missing asset:
//   NotFound "tokenizer 'X' not found at DIR: create it with `train_tokenizer -n X`"
//   NotFound "model checkpoint ... not found ... `train_model -n NAME -t X ...`"
//     (listing the iterations that do exist, if any)
//   FailedPrecondition when the checkpoint's vocabulary does not match.
absl::StatusOr<ServingAssets> LoadServingAssets(const std::string& tokenizer_name,
                                                const std::string& model_name, int64_t iteration);

}  // namespace llm

#endif  // LLM_SERVER_ASSETS_H_
