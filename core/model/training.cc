#include "core/model/training.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace llm {

Trainer::Trainer(const ModelConfig& config, const TrainOptions& options)
    : options_(options),
      model_(std::make_unique<Transformer>(config)),
      adam_(std::make_unique<Adam>(model_->num_params(), options.adam)) {
  model_->InitParameters(options.seed);
}

absl::Status Trainer::Restore(const CheckpointData& ckpt) {
  if (!(ckpt.config == model_->config()))
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint '", ckpt.path, "' has config (", ckpt.config.DebugString(),
                     ") but the trainer was built for (", model_->config().DebugString(), ")"));
  const size_t n = model_->num_params();
  if (ckpt.params.size() != n)
    return absl::InvalidArgumentError(absl::StrCat("checkpoint '", ckpt.path, "' has ",
                                                   ckpt.params.size(), " params, expected ", n));
  std::memcpy(model_->params(), ckpt.params.data(), n * sizeof(float));
  if (ckpt.has_optimizer) {
    std::memcpy(adam_->m(), ckpt.adam_m.data(), n * sizeof(float));
    std::memcpy(adam_->v(), ckpt.adam_v.data(), n * sizeof(float));
    adam_->set_step(ckpt.adam_step);
  } else {
    std::fill(adam_->m(), adam_->m() + n, 0.0f);
    std::fill(adam_->v(), adam_->v() + n, 0.0f);
    adam_->set_step(0);
  }
  step_ = ckpt.step;
  return absl::OkStatus();
}

StepResult Trainer::Step(const BatchSampler& sampler) {
  const int B = sampler.batch_size(), T = sampler.context();
  inputs_.resize(static_cast<size_t>(B) * T);
  targets_.resize(inputs_.size());
  sampler.Fill(step_, inputs_.data(), targets_.data());
  StepResult r;
  r.loss = model_->ForwardBackward(inputs_.data(), targets_.data(), B, T);
  r.grad_norm = ClipGradNorm(model_->grads(), model_->num_params(), options_.grad_clip);
  r.lr = options_.schedule.At(step_);
  adam_->Step(model_->params(), model_->grads(), r.lr);
  ++step_;
  return r;
}

double EvaluateLoss(Transformer& model, const int32_t* tokens,
                    const std::vector<EvalWindow>& windows, int batch_size,
                    const std::function<void(size_t)>& progress) {
  const int T = model.config().context;
  std::vector<int32_t> in, tg;
  double loss_sum = 0.0;  // sum of per-token losses
  double count = 0.0;
  size_t i = 0;
  while (i < windows.size()) {
    // Group consecutive full-length windows into one batch.
    size_t j = i;
    const int len = windows[i].length;
    while (j < windows.size() && j - i < static_cast<size_t>(batch_size) &&
           windows[j].length == len && (len == T || j == i))
      ++j;
    const int B = static_cast<int>(j - i);
    in.resize(static_cast<size_t>(B) * len);
    tg.resize(in.size());
    for (int b = 0; b < B; ++b) {
      const size_t s = windows[i + b].start;
      std::memcpy(&in[static_cast<size_t>(b) * len], tokens + s, len * sizeof(int32_t));
      std::memcpy(&tg[static_cast<size_t>(b) * len], tokens + s + 1, len * sizeof(int32_t));
    }
    const double n = static_cast<double>(B) * len;
    loss_sum += static_cast<double>(model.ForwardLoss(in.data(), tg.data(), B, len)) * n;
    count += n;
    i = j;
    if (progress) progress(i);
  }
  return count > 0 ? loss_sum / count : 0.0;
}

double Trainer::EvalLoss(const int32_t* tokens, const std::vector<EvalWindow>& windows,
                         int batch_size, const std::function<void(size_t)>& progress) {
  return EvaluateLoss(*model_, tokens, windows, batch_size, progress);
}

CheckpointData Trainer::Snapshot() const {
  CheckpointData d;
  d.config = model_->config();
  d.step = step_;
  d.seed = options_.seed;
  const size_t n = model_->num_params();
  d.params.assign(model_->params(), model_->params() + n);
  d.has_optimizer = true;
  d.adam_m.assign(adam_->m(), adam_->m() + n);
  d.adam_v.assign(adam_->v(), adam_->v() + n);
  d.adam_step = adam_->step();
  return d;
}

}  // namespace llm
