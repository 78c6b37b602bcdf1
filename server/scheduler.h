// Continuous batching of Complete calls over one shared InferenceModel.
//
// One scheduler thread owns up to `max_slots` active sequences. Each loop
// iteration ("step"):
//   1. drops sequences whose call was cancelled or whose deadline passed
//      (their slot is free again within one step);
//   2. admits queued calls into free slots: creates the Sequence and runs
//      its prompt Prefill;
//   3. samples one token for every active sequence from its logits, streams
//      the new text to its call, and retires sequences that reached
//      max_tokens or a stop sequence;
//   4. advances every remaining sequence by one token with ONE batched
//      InferenceModel::DecodeStep.
// Calls beyond the free slots wait in a FIFO queue of at most `max_queue`
// entries; once slots + queue are full, Submit fails fast with
// RESOURCE_EXHAUSTED, so memory is bounded by (slots + queue) requests.
#ifndef LLM_SERVER_SCHEDULER_H_
#define LLM_SERVER_SCHEDULER_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "core/model/inference.h"
#include "core/tokenizer/tokenizer.h"
#include "server/generation.h"

namespace llm {

struct SchedulerOptions {
  int max_slots = 8;   // sequences decoded together (>= 1)
  int max_queue = 32;  // calls waiting for a slot (>= 0)
};

struct SchedulerStats {
  int active = 0;               // sequences holding a slot
  int queued = 0;               // calls waiting for a slot
  int64_t steps = 0;            // batched decode steps run
  int64_t tokens = 0;           // tokens generated
  int64_t completed = 0;        // generations that ended (any reason)
  int64_t rejected = 0;         // Submit calls refused (full or stopping)
  int max_batch = 0;            // largest batch seen in one DecodeStep
};

class Scheduler {
 public:
  // `model` and `tokenizer` must outlive the scheduler. Starts the thread.
  Scheduler(std::shared_ptr<const InferenceModel> model, const Tokenizer* tokenizer,
            SchedulerOptions options);
  // Stop()s.
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a validated generation. Thread-safe. Errors (nothing queued):
  // RESOURCE_EXHAUSTED when all slots and queue places are taken;
  // UNAVAILABLE after StopAccepting().
  absl::Status Submit(std::shared_ptr<Generation> generation);

  // Refuses new submissions (UNAVAILABLE); queued and active calls go on.
  void StopAccepting();
  // Ends every queued and active generation at the next step with
  // FinishReason::kCancelled (an OK end of stream with usage).
  void CancelAll();
  // True when nothing is queued or active.
  bool Idle() const;
  // Ends everything remaining (as CancelAll) and joins the thread. Idempotent.
  void Stop();

  SchedulerStats stats() const;

 private:
  struct Slot;
  void Loop();
  // Creates the sequence and prefills the prompt; false if the generation
  // ended instead (error or cancelled).
  bool Admit(const std::shared_ptr<Generation>& g, Slot* slot);
  // Returns true if the sequence must leave (and has been told so).
  bool CheckEnded(Slot& slot, std::chrono::steady_clock::time_point now, bool cancel_all);

  const std::shared_ptr<const InferenceModel> model_;
  const Tokenizer* const tokenizer_;
  const SchedulerOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Generation>> queue_;  // guarded by mu_
  int active_ = 0;                                 // guarded by mu_
  bool accepting_ = true;                          // guarded by mu_
  bool cancel_all_ = false;                        // guarded by mu_
  bool stop_ = false;                              // guarded by mu_
  SchedulerStats stats_;                           // guarded by mu_ (active/queued derived)

  std::vector<std::unique_ptr<Slot>> slots_;  // scheduler thread only
  Workspace workspace_;      // scheduler thread only
  std::thread thread_;
};

}  // namespace llm

#endif  // LLM_SERVER_SCHEDULER_H_
