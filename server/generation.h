// One Complete call as the scheduler sees it: the validated request, a
// cancellation flag, and an outbox of generated output that the transport
// (the gRPC reactor) drains at its own pace.
//
// The scheduler thread produces (Emit / Finish / Fail); the transport
// consumes (Take) and may Cancel at any time. Output is coalesced: if the
// client reads slowly, consecutive tokens are merged into one message rather
// than queued one per token, so memory stays bounded by the generation
// itself (max_tokens tokens).
#ifndef LLM_SERVER_GENERATION_H_
#define LLM_SERVER_GENERATION_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "core/model/inference.h"

namespace llm {

enum class FinishReason { kNone = 0, kLength = 1, kStop = 2, kCancelled = 3 };

// A validated generation request (the service checks every field first).
struct GenerationParams {
  std::vector<int32_t> prompt;   // 1..context tokens, valid ids
  bool prompt_truncated = false;  // prompt was cut to its last `context` tokens
  SequenceOptions sequence;       // sampler options + window overflow policy
  int32_t max_tokens = 1;         // >= 1
  std::vector<std::string> stop;  // non-empty byte strings
  // Generation ends with DEADLINE_EXCEEDED once this passes.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  uint64_t id = 0;  // for logs
};

class Generation {
 public:
  explicit Generation(GenerationParams params) : params_(std::move(params)) {}
  Generation(const Generation&) = delete;
  Generation& operator=(const Generation&) = delete;

  const GenerationParams& params() const { return params_; }

  // ---- transport side (thread-safe) ----

  // The client went away (or the call was cancelled): the scheduler drops
  // the sequence at its next step and frees the slot.
  void Cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

  // Everything produced since the previous Take, coalesced.
  struct Output {
    std::string text;
    std::vector<int32_t> ids;
    bool done = false;    // this is the last output of the call
    absl::Status status;  // when done: non-OK ends the call with this error
    FinishReason finish = FinishReason::kNone;
    int32_t prompt_tokens = 0;
    int32_t completion_tokens = 0;
    bool prompt_truncated = false;
  };
  // Moves pending output into *out (overwriting it). Returns false when there
  // is nothing new (and nothing more will come once `done` was returned).
  bool Take(Output* out);

  // Called by the producer (without internal locks held) whenever new output
  // is pending. Set before submitting; reset to nullptr before the listener
  // is destroyed: the reset waits for a running invocation to return.
  void SetListener(std::function<void()> listener);

  // ---- scheduler side ----

  // Appends one token's output. With notify = false the listener is not
  // called (the output waits, coalesced, for the next notifying call or for
  // a Take the transport makes on its own, e.g. when a write completes).
  void Emit(std::string_view text, int32_t id, bool notify = true);
  // Final output: finish reason and usage (an OK end of the stream).
  void Finish(FinishReason reason, int32_t completion_tokens, std::string_view tail_text = {});
  // Ends the call with an error (e.g. DEADLINE_EXCEEDED, CANCELLED).
  void Fail(absl::Status status);
  bool finished() const;

 private:
  void Notify();

  const GenerationParams params_;
  std::atomic<bool> cancelled_{false};

  mutable std::mutex mu_;
  Output pending_;             // guarded by mu_
  bool has_pending_ = false;   // guarded by mu_
  bool finished_ = false;      // guarded by mu_: Finish/Fail was called
  bool delivered_done_ = false;  // guarded by mu_

  std::mutex listener_mu_;  // held while the listener runs
  std::function<void()> listener_;
};

}  // namespace llm

#endif  // LLM_SERVER_GENERATION_H_
