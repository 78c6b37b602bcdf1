#include "server/scheduler.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/text_stream.h"
#include "spdlog/spdlog.h"

namespace llm {

struct Scheduler::Slot {
  std::shared_ptr<Generation> gen;
  std::unique_ptr<Sequence> seq;
  std::unique_ptr<TextStream> text;
  int32_t generated = 0;
  std::chrono::steady_clock::time_point last_delivery;  // last Emit that notified
};

// One decode thread and the sequences it owns.
struct Scheduler::Worker {
  std::condition_variable cv;  // with mu_: this worker has something to do
  int held = 0;               // guarded by mu_: slots taken by this worker
  uint64_t cancel_epoch = 0;  // guarded by mu_: last CancelAll handled
  std::vector<std::unique_ptr<Slot>> slots;  // this worker's thread only
  Workspace workspace;                       // this worker's thread only
  std::thread thread;
};

Scheduler::Scheduler(std::shared_ptr<const InferenceModel> model, const Tokenizer* tokenizer,
                     SchedulerOptions options)
    : model_(std::move(model)),
      tokenizer_(tokenizer),
      options_([&] {
        options.max_slots = std::max(options.max_slots, 1);
        options.max_queue = std::max(options.max_queue, 0);
        options.workers = std::clamp(options.workers, 1, options.max_slots);
        options.stream_interval = std::max(options.stream_interval, std::chrono::microseconds(0));
        return options;
      }()),
      per_worker_slots_((options_.max_slots + options_.workers - 1) / options_.workers) {
  for (int i = 0; i < options_.workers; ++i) workers_.push_back(std::make_unique<Worker>());
  for (auto& w : workers_) {
    Worker* worker = w.get();
    worker->thread = std::thread([this, worker] { Loop(*worker); });
  }
}

Scheduler::~Scheduler() { Stop(); }

absl::Status Scheduler::Submit(std::shared_ptr<Generation> generation) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!accepting_ || stop_) {
      ++stats_.rejected;
      return absl::UnavailableError("the server is shutting down and accepts no new completions");
    }
    const int capacity = options_.max_slots + options_.max_queue;
    if (active_ + static_cast<int>(queue_.size()) >= capacity) {
      ++stats_.rejected;
      return absl::ResourceExhaustedError(absl::StrCat(
          "server is at capacity: ", active_, " completions running and ", queue_.size(),
          " waiting (limit ", options_.max_slots, " slots + ", options_.max_queue,
          " queue places; server flags --max_slots, --max_queue); retry later"));
    }
    queue_.push_back(std::move(generation));
    WakeNextTaker();
  }
  return absl::OkStatus();
}

void Scheduler::StopAccepting() {
  std::lock_guard<std::mutex> lock(mu_);
  accepting_ = false;
}

void Scheduler::CancelAll() {
  std::deque<std::shared_ptr<Generation>> queued;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++cancel_epoch_;  // each worker ends its active sequences when it sees this
    queued.swap(queue_);
    stats_.completed += static_cast<int64_t>(queued.size());
  }
  for (auto& w : workers_) w->cv.notify_one();
  // Queued calls never started: they end right here with zero tokens, so a
  // call submitted after CancelAll returns is never affected by it.
  for (auto& g : queued) g->Finish(FinishReason::kCancelled, 0);
}

bool Scheduler::Idle() const {
  std::lock_guard<std::mutex> lock(mu_);
  return active_ == 0 && queue_.empty();
}

void Scheduler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    accepting_ = false;
    stop_ = true;
  }
  CancelAll();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  SchedulerStats s = stats_;
  s.active = active_;
  s.queued = static_cast<int>(queue_.size());
  return s;
}

Scheduler::Worker* Scheduler::NextTaker() const {
  if (active_ >= options_.max_slots) return nullptr;
  Worker* best = nullptr;
  for (const auto& w : workers_) {  // in index order: ties go to the lower index
    if (w->held < per_worker_slots_ && (best == nullptr || w->held < best->held)) best = w.get();
  }
  return best;
}

void Scheduler::WakeNextTaker() {
  if (queue_.empty()) return;
  if (Worker* w = NextTaker(); w != nullptr) w->cv.notify_one();
}

bool Scheduler::Admit(const std::shared_ptr<Generation>& g, Slot* slot, Workspace* ws) {
  const GenerationParams& p = g->params();
  auto seq = model_->NewSequence(p.sequence);
  if (!seq.ok()) {
    g->Fail(seq.status());
    return false;
  }
  if (absl::Status s = model_->Prefill(**seq, p.prompt, ws); !s.ok()) {
    g->Fail(s);
    return false;
  }
  slot->gen = g;
  slot->seq = std::move(*seq);
  slot->text = std::make_unique<TextStream>(p.stop);
  slot->generated = 0;
  slot->last_delivery = std::chrono::steady_clock::now();
  return true;
}

bool Scheduler::CheckEnded(Slot& slot, std::chrono::steady_clock::time_point now, bool cancel_all) {
  Generation& g = *slot.gen;
  if (g.cancelled()) {
    g.Fail(absl::CancelledError("the call was cancelled"));
    return true;
  }
  if (now >= g.params().deadline) {
    g.Fail(absl::DeadlineExceededError(absl::StrCat(
        "deadline exceeded after generating ", slot.generated, " of ", g.params().max_tokens,
        " tokens")));
    return true;
  }
  if (cancel_all) {
    g.Finish(FinishReason::kCancelled, slot.generated, slot.text ? slot.text->Flush() : "");
    return true;
  }
  return false;
}

void Scheduler::Loop(Worker& w) {
  std::vector<Sequence*> batch_seqs;
  std::vector<int32_t> batch_tokens;
  std::vector<std::shared_ptr<Generation>> to_admit;
  std::vector<std::unique_ptr<Slot>>& slots = w.slots;
  for (;;) {
    bool cancel_all = false;
    bool others_active = false;  // another sequence is active (any worker)
    to_admit.clear();
    {
      std::unique_lock<std::mutex> lock(mu_);
      w.cv.wait(lock, [&] {
        return stop_ || cancel_epoch_ != w.cancel_epoch || !slots.empty() ||
               (!queue_.empty() && NextTaker() == &w);
      });
      // A CancelAll since the last step ends this worker's active sequences
      // (it ended the queued calls itself).
      cancel_all = cancel_epoch_ != w.cancel_epoch;
      w.cancel_epoch = cancel_epoch_;
      if (stop_ && slots.empty()) return;
      while (!queue_.empty() && NextTaker() == &w) {
        to_admit.push_back(std::move(queue_.front()));
        queue_.pop_front();
        ++w.held;   // the slot is taken from now on
        ++active_;
      }
      WakeNextTaker();  // calls left over are another worker's to take
      others_active = active_ > 1;
    }

    const auto now = std::chrono::steady_clock::now();
    int64_t ended = 0;
    // 1. Leave: cancelled, expired, or everything on shutdown.
    for (size_t i = 0; i < slots.size();) {
      if (CheckEnded(*slots[i], now, cancel_all)) {
        slots.erase(slots.begin() + static_cast<std::ptrdiff_t>(i));
        ++ended;
      } else {
        ++i;
      }
    }
    // 2. Admit into free slots (prefill).
    for (auto& g : to_admit) {
      auto slot = std::make_unique<Slot>();
      slot->gen = g;
      if (g->cancelled() || now >= g->params().deadline) {
        CheckEnded(*slot, now, false);
        ++ended;
        continue;
      }
      if (!Admit(g, slot.get(), &w.workspace)) {
        ++ended;
        continue;
      }
      slots.push_back(std::move(slot));
    }
    // 3. Sample one token per sequence; stream it; retire finished ones.
    batch_seqs.clear();
    batch_tokens.clear();
    int64_t new_tokens = 0, deliveries = 0;
    const auto sample_time = std::chrono::steady_clock::now();
    for (size_t i = 0; i < slots.size();) {
      Slot& s = *slots[i];
      const int32_t token = s.seq->SampleNext();
      ++s.generated;
      ++new_tokens;
      // The checkpoint was checked against the tokenizer's vocabulary at
      // startup, so every sampled id has bytes.
      std::string text =
          s.text->Append(tokenizer_->IsValidToken(token) ? std::string_view(tokenizer_->TokenBytes(token))
                                                         : std::string_view());
      bool done = false;
      if (s.text->stopped()) {
        s.gen->Emit(text, token, /*notify=*/false);
        s.gen->Finish(FinishReason::kStop, s.generated);
        done = true;
      } else if (s.generated >= s.gen->params().max_tokens) {
        s.gen->Emit(text, token, /*notify=*/false);
        s.gen->Finish(FinishReason::kLength, s.generated, s.text->Flush());
        done = true;
      } else {
        const bool notify = s.generated == 1 || !others_active ||
                            sample_time - s.last_delivery >= options_.stream_interval;
        s.gen->Emit(text, token, notify);
        if (notify) {
          s.last_delivery = sample_time;
          ++deliveries;
        }
      }
      if (done) {
        ++deliveries;
        slots.erase(slots.begin() + static_cast<std::ptrdiff_t>(i));
        ++ended;
        continue;
      }
      batch_seqs.push_back(s.seq.get());
      batch_tokens.push_back(token);
      ++i;
    }
    // 4. One batched decode step for everyone still generating.
    if (!batch_seqs.empty()) {
      absl::Status st = model_->DecodeStep(batch_seqs, batch_tokens, &w.workspace);
      if (!st.ok()) {
        // Broken invariant (tokens come from the model's own vocabulary):
        // fail these calls rather than the process.
        spdlog::error("DecodeStep failed: {}", std::string(st.message()));
        for (auto& s : slots) s->gen->Fail(absl::InternalError(absl::StrCat("decode failed: ", st.message())));
        ended += static_cast<int64_t>(slots.size());
        slots.clear();
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      w.held -= static_cast<int>(ended);
      active_ -= static_cast<int>(ended);
      stats_.completed += ended;
      stats_.tokens += new_tokens;
      stats_.deliveries += deliveries;
      if (!batch_seqs.empty()) {
        ++stats_.steps;
        stats_.max_batch = std::max(stats_.max_batch, static_cast<int>(batch_seqs.size()));
      }
      // Freed slots may let a waiting worker take queued calls.
      if (ended > 0) WakeNextTaker();
    }
  }
}

}  // namespace llm
