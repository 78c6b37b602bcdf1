#include "server/generation.h"

#include <utility>

namespace llm {

bool Generation::Take(Output* out) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!has_pending_ || delivered_done_) return false;
  *out = std::move(pending_);
  pending_ = Output();
  has_pending_ = false;
  if (out->done) delivered_done_ = true;
  return true;
}

void Generation::SetListener(std::function<void()> listener) {
  std::lock_guard<std::mutex> lock(listener_mu_);
  listener_ = std::move(listener);
}

void Generation::Notify() {
  std::lock_guard<std::mutex> lock(listener_mu_);
  if (listener_) listener_();
}

void Generation::Emit(std::string_view text, int32_t id, bool notify) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    pending_.text.append(text.data(), text.size());
    pending_.ids.push_back(id);
    has_pending_ = true;
  }
  if (notify) Notify();
}

void Generation::Finish(FinishReason reason, int32_t completion_tokens, std::string_view tail_text) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    finished_ = true;
    pending_.text.append(tail_text.data(), tail_text.size());
    pending_.done = true;
    pending_.finish = reason;
    pending_.prompt_tokens = static_cast<int32_t>(params_.prompt.size());
    pending_.completion_tokens = completion_tokens;
    pending_.prompt_truncated = params_.prompt_truncated;
    has_pending_ = true;
  }
  Notify();
}

void Generation::Fail(absl::Status status) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    finished_ = true;
    // Undelivered text is dropped: the call ends with an error status.
    pending_ = Output();
    pending_.done = true;
    pending_.status = std::move(status);
    has_pending_ = true;
  }
  Notify();
}

bool Generation::finished() const {
  std::lock_guard<std::mutex> lock(mu_);
  return finished_;
}

}  // namespace llm
