#include "server/assets.h"

#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/model/checkpoint.h"
#include "core/util/paths.h"
#include "core/util/status_macros.h"

namespace llm {

absl::StatusOr<ServingAssets> LoadServingAssets(const std::string& tokenizer_name,
                                                const std::string& model_name, int64_t iteration) {
  ServingAssets assets;
  assets.tokenizer_name = tokenizer_name;
  assets.model_name = model_name;
  assets.iteration = iteration;

  const std::string tok_dir = TokenizerDir(tokenizer_name);
  std::error_code ec;
  if (!std::filesystem::is_directory(tok_dir, ec)) {
    return absl::NotFoundError(absl::StrCat("tokenizer '", tokenizer_name, "' not found at ",
                                            tok_dir, ": create it with `train_tokenizer -n ",
                                            tokenizer_name, "` (assets dir: ", AssetsDir(), ")"));
  }
  ASSIGN_OR_RETURN(assets.tokenizer, Tokenizer::Load(tok_dir));

  const std::string ckpt_path = CheckpointPath(model_name, iteration);
  if (!std::filesystem::exists(ckpt_path, ec)) {
    std::string have;
    const std::vector<int64_t> iters = ListCheckpointIterations(model_name);
    if (!iters.empty()) have = absl::StrCat("; available iterations: ", absl::StrJoin(iters, ", "));
    return absl::NotFoundError(absl::StrCat(
        "model checkpoint '", model_name, "' iteration ", iteration, " not found at ", ckpt_path,
        have, ": create it with `train_model -n ", model_name, " -t ", tokenizer_name, " ...`"));
  }
  ASSIGN_OR_RETURN(CheckpointData ckpt, LoadCheckpoint(ckpt_path));
  RETURN_IF_ERROR(CheckCompatible(ckpt, assets.tokenizer->vocab_size(), assets.tokenizer->Fingerprint()));
  ASSIGN_OR_RETURN(assets.model, InferenceModel::Create(ckpt.config, std::move(ckpt.params)));
  return assets;
}

}  // namespace llm
