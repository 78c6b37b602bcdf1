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
  std::chrono::steady_clock::time_point admitted;
};

Scheduler::Scheduler(std::shared_ptr<const InferenceModel> model, const Tokenizer* tokenizer,
                     SchedulerOptions options)
    : model_(std::move(model)), tokenizer_(tokenizer), options_(options) {
  thread_ = std::thread([this] { Loop(); });
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
  }
  cv_.notify_one();
  return absl::OkStatus();
}

void Scheduler::StopAccepting() {
  std::lock_guard<std::mutex> lock(mu_);
  accepting_ = false;
}

void Scheduler::CancelAll() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancel_all_ = true;
  }
  cv_.notify_one();
}

bool Scheduler::Idle() const {
  std::lock_guard<std::mutex> lock(mu_);
  return active_ == 0 && queue_.empty();
}

void Scheduler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    accepting_ = false;
    cancel_all_ = true;
    stop_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  SchedulerStats s = stats_;
  s.active = active_;
  s.queued = static_cast<int>(queue_.size());
  return s;
}

bool Scheduler::Admit(const std::shared_ptr<Generation>& g, Slot* slot) {
  const GenerationParams& p = g->params();
  auto seq = model_->NewSequence(p.sequence);
  if (!seq.ok()) {
    g->Fail(seq.status());
    return false;
  }
  if (absl::Status s = model_->Prefill(**seq, p.prompt, &workspace_); !s.ok()) {
    g->Fail(s);
    return false;
  }
  slot->gen = g;
  slot->seq = std::move(*seq);
  slot->text = std::make_unique<TextStream>(p.stop);
  slot->generated = 0;
  slot->admitted = std::chrono::steady_clock::now();
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

void Scheduler::Loop() {
  std::vector<Sequence*> batch_seqs;
  std::vector<int32_t> batch_tokens;
  std::vector<std::shared_ptr<Generation>> to_admit;
  for (;;) {
    bool cancel_all = false;
    int free_slots = 0;
    to_admit.clear();
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || cancel_all_ || !queue_.empty() || !slots_.empty(); });
      cancel_all = cancel_all_;
      if (cancel_all) {
        // Queued calls never started: they end now with zero tokens.
        for (auto& g : queue_) g->Finish(FinishReason::kCancelled, 0);
        stats_.completed += static_cast<int64_t>(queue_.size());
        queue_.clear();
      }
      if (stop_ && slots_.empty()) return;
      free_slots = options_.max_slots - static_cast<int>(slots_.size());
      while (free_slots > 0 && !queue_.empty()) {
        to_admit.push_back(std::move(queue_.front()));
        queue_.pop_front();
        --free_slots;
        ++active_;  // the slot is taken from now on
      }
    }

    const auto now = std::chrono::steady_clock::now();
    int64_t ended = 0;
    // 1. Leave: cancelled, expired, or everything on shutdown.
    for (size_t i = 0; i < slots_.size();) {
      if (CheckEnded(*slots_[i], now, cancel_all)) {
        slots_.erase(slots_.begin() + static_cast<std::ptrdiff_t>(i));
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
      if (!Admit(g, slot.get())) {
        ++ended;
        continue;
      }
      slots_.push_back(std::move(slot));
    }
    // 3. Sample one token per sequence; stream it; retire finished ones.
    batch_seqs.clear();
    batch_tokens.clear();
    int64_t new_tokens = 0;
    for (size_t i = 0; i < slots_.size();) {
      Slot& s = *slots_[i];
      const int32_t token = s.seq->SampleNext();
      ++s.generated;
      ++new_tokens;
      // The checkpoint was checked against the tokenizer's vocabulary at
      // startup, so every sampled id has bytes.
      std::string text =
          s.text->Append(tokenizer_->IsValidToken(token) ? std::string_view(tokenizer_->TokenBytes(token))
                                                         : std::string_view());
      s.gen->Emit(text, token);
      bool done = false;
      if (s.text->stopped()) {
        s.gen->Finish(FinishReason::kStop, s.generated);
        done = true;
      } else if (s.generated >= s.gen->params().max_tokens) {
        s.gen->Finish(FinishReason::kLength, s.generated, s.text->Flush());
        done = true;
      }
      if (done) {
        slots_.erase(slots_.begin() + static_cast<std::ptrdiff_t>(i));
        ++ended;
        continue;
      }
      batch_seqs.push_back(s.seq.get());
      batch_tokens.push_back(token);
      ++i;
    }
    // 4. One batched decode step for everyone still generating.
    if (!batch_seqs.empty()) {
      absl::Status st = model_->DecodeStep(batch_seqs, batch_tokens, &workspace_);
      if (!st.ok()) {
        // Broken invariant (tokens come from the model's own vocabulary):
        // fail these calls rather than the process.
        spdlog::error("DecodeStep failed: {}", std::string(st.message()));
        for (auto& s : slots_) s->gen->Fail(absl::InternalError(absl::StrCat("decode failed: ", st.message())));
        ended += static_cast<int64_t>(slots_.size());
        slots_.clear();
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      active_ -= static_cast<int>(ended);
      stats_.completed += ended;
      stats_.tokens += new_tokens;
      if (!batch_seqs.empty()) {
        ++stats_.steps;
        stats_.max_batch = std::max(stats_.max_batch, static_cast<int>(batch_seqs.size()));
      }
      if (cancel_all && queue_.empty()) cancel_all_ = false;
    }
  }
}

}  // namespace llm
