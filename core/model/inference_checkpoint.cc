#include "core/model/inference_checkpoint.h"

#include <utility>

namespace llm {

absl::StatusOr<std::shared_ptr<const InferenceModel>> LoadInferenceModel(const std::string& path,
                                                                         CheckpointData* info) {
  absl::StatusOr<CheckpointData> data = LoadCheckpoint(path);
  if (!data.ok()) return data.status();
  std::vector<float> params = std::move(data->params);
  data->params.clear();
  data->adam_m.clear();
  data->adam_v.clear();
  absl::StatusOr<std::shared_ptr<const InferenceModel>> model =
      InferenceModel::Create(data->config, std::move(params));
  if (!model.ok())
    return absl::Status(model.status().code(),
                        std::string(model.status().message()) + " (checkpoint " + path + ")");
  if (info != nullptr) *info = std::move(*data);
  return model;
}

}  // namespace llm
