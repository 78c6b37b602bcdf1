// Concurrency tests of the server's own threaded code, with no gRPC
// transport: the continuous-batching Scheduler, the Generation outbox shared
// by the scheduler's decode workers and the transport, and the unary ThreadPool. Many
// threads submit, drain, cancel and shut down at once, the way gRPC's threads
// would. This is the server test that scripts/test_sanitizers.sh runs under
// ThreadSanitizer (the gRPC integration tests cannot: Debian's gRPC and
// Abseil are not TSan-instrumented).
//
// Every scenario checks results, not just "no crash":
//   * each generation ends exactly once (one Output with done = true, nothing
//     after it), with the token ids of the same request decoded alone by the
//     model (computed independently with InferenceModel, no scheduler), so
//     batching, interleaving and retries cannot change what a client gets;
//   * error endings only for a reason the test caused (CANCELLED after
//     Generation::Cancel, DEADLINE_EXCEEDED after the deadline,
//     RESOURCE_EXHAUSTED only when slots + queue are full, UNAVAILABLE after
//     StopAccepting / Stop);
//   * the scheduler's accounting: Idle(), active / queued back to 0,
//     completed + rejected == Submit calls, tokens == tokens delivered.
// Every wait is bounded; a hang aborts with a message naming the scenario.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <future>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/model/inference.h"
#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/utf8.h"
#include "server/generation.h"
#include "server/scheduler.h"
#include "server/thread_pool.h"
#include "tests/server/test_util.h"

namespace llm {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Generous bounds: TSan on 2 shared cores is 5-15x slower than Release.
constexpr seconds kWaitLimit{60};
constexpr seconds kHangLimit{150};
// max_tokens of a generation that only ends when cancelled / expired.
constexpr int32_t kEndless = 2'000'000;
// Reference length kept for endless generations (their ids are checked as a
// prefix of it).
constexpr int32_t kEndlessReference = 64;

// Aborts the process with a clear message if a scenario runs longer than
// `limit` (a deadlock would otherwise hang ctest until its timeout with no
// hint of where).
class Watchdog {
 public:
  Watchdog(std::string what, seconds limit)
      : thread_([this, what = std::move(what), limit] {
          std::unique_lock<std::mutex> lock(mu_);
          if (!cv_.wait_for(lock, limit, [&] { return done_; })) {
            std::fprintf(stderr, "HANG: '%s' did not finish within %lld s; aborting\n", what.c_str(),
                         static_cast<long long>(limit.count()));
            std::fflush(stderr);
            std::abort();
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// Polls `pred` every millisecond for up to `limit`; true if it became true.
template <typename Pred>
bool WaitUntil(Pred pred, std::chrono::milliseconds limit = kWaitLimit) {
  const auto end = Clock::now() + limit;
  while (!pred()) {
    if (Clock::now() >= end) return false;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return true;
}

// ------------------------------------------------------------ requests

// What a client asks for; turned into GenerationParams as
// LlmServiceImpl::PrepareGeneration does (encode, keep the last `context`
// tokens, sampler options, overflow_drop = the server default 0).
struct Request {
  std::string prompt;
  int32_t max_tokens = 1;
  float temperature = 0.0f;
  int32_t top_k = 0;
  float top_p = 1.0f;
  uint64_t seed = 0;
  std::vector<std::string> stop;
};

// The outcome of a request decoded alone.
struct Expected {
  std::vector<int32_t> ids;
  FinishReason finish = FinishReason::kNone;
  std::string text;  // for kLength / kStop
};

struct Fixture {
  std::shared_ptr<ServingAssets> assets = testing::TinyAssets();
  const Tokenizer& tok() const { return *assets->tokenizer; }
  const InferenceModel& model() const { return *assets->model; }

  GenerationParams Params(const Request& r) const {
    GenerationParams p;
    std::vector<int32_t> ids = tok().Encode(r.prompt).value();
    const size_t context = static_cast<size_t>(model().config().context);
    if (ids.size() > context) {
      p.prompt.assign(ids.end() - static_cast<std::ptrdiff_t>(context), ids.end());
      p.prompt_truncated = true;
    } else {
      p.prompt = std::move(ids);
    }
    p.max_tokens = r.max_tokens;
    p.sequence.sampler.temperature = r.temperature;
    p.sequence.sampler.top_k = r.top_k;
    p.sequence.sampler.top_p = r.top_p;
    p.sequence.sampler.seed = r.seed;
    p.sequence.overflow_drop = 0;
    p.stop = r.stop;
    return p;
  }

  std::string Bytes(int32_t id) const { return tok().IsValidToken(id) ? tok().TokenBytes(id) : std::string(); }

  // Params(r) for every request, and the Reference of each.
  void Prepare(const std::vector<Request>& reqs, std::vector<GenerationParams>* params,
               std::vector<Expected>* expected) const {
    for (const Request& r : reqs) {
      params->push_back(Params(r));
      expected->push_back(Reference(params->back()));
    }
  }

  // Decodes `p` alone, one token at a time, straight on the model (no
  // scheduler, no batching), stopping at max_tokens (at most `limit`) or at
  // the first token after which the generated bytes contain a stop string.
  Expected Reference(const GenerationParams& p, int32_t limit = kEndlessReference) const {
    Expected e;
    auto seq = model().NewSequence(p.sequence).value();
    EXPECT_TRUE(model().Prefill(*seq, p.prompt).ok());
    std::string bytes;
    const int32_t n = std::min(p.max_tokens, limit);
    for (;;) {
      const int32_t t = seq->SampleNext();
      e.ids.push_back(t);
      bytes += Bytes(t);
      size_t stop_at = std::string::npos;
      for (const std::string& s : p.stop) stop_at = std::min(stop_at, bytes.find(s));
      if (stop_at != std::string::npos) {
        e.finish = FinishReason::kStop;
        e.text = Utf8Lossy(bytes.substr(0, stop_at));
        return e;
      }
      if (static_cast<int32_t>(e.ids.size()) == n) {
        e.finish = FinishReason::kLength;
        e.text = Utf8Lossy(bytes);
        return e;
      }
      Sequence* one[] = {seq.get()};
      EXPECT_TRUE(model().DecodeStep(one, {t}).ok());
    }
  }

  // A spread of requests: greedy and seeded sampling (top-k, top-p), short
  // and truncated prompts, lengths beyond the 16-token window (re-basing),
  // and stop strings taken from the request's own unstopped output so that
  // they do fire.
  std::vector<Request> Requests(int count, int32_t min_tokens, int32_t max_tokens) const {
    const std::vector<std::string> prompts = {
        "hello world", "he", "hell", "the quick brown fox", "a",
        "hello hello hello hello hello hello hello hello"};  // > 16 tokens: truncated
    std::vector<Request> out;
    for (int i = 0; i < count; ++i) {
      Request r;
      r.prompt = prompts[static_cast<size_t>(i) % prompts.size()];
      r.max_tokens = min_tokens + (i * 7) % (max_tokens - min_tokens + 1);
      if (i % 3 != 0) {
        r.temperature = 0.6f + 0.2f * static_cast<float>(i % 4);
        r.seed = 1000 + static_cast<uint64_t>(i);
        if (i % 4 == 1) r.top_k = 5;
        if (i % 5 == 2) r.top_p = 0.9f;
      }
      if (i % 4 == 3 && r.max_tokens >= 4) {
        const Expected free_run = Reference(Params(r));
        const std::string stop = Bytes(free_run.ids[free_run.ids.size() / 2]);
        if (!stop.empty() && ValidateUtf8(stop).ok()) r.stop.push_back(stop);
      }
      out.push_back(r);
    }
    return out;
  }
};

// ------------------------------------------------------------ transport model

class Consumers;

// Listener styles, all used by the real transport at some point:
enum class Listen {
  kInline,  // drain on the decode worker, inside the listener (MaybeWrite)
  kQueue,   // the listener only hands the call to a consumer thread
  kRelay,   // the listener calls a heap object that a consumer resets the
            // listener for and deletes once the call ended or was cancelled
            // (CompleteReactor::OnDone)
  kPoll,    // no listener: consumer threads poll Take
};

struct Call;

// The heap object a kRelay listener points to.
struct Relay {
  static constexpr uint64_t kAlive = 0x600DCAFE;
  Call* call;
  uint64_t magic = kAlive;
  void Fire();
};

// One Complete call as a transport sees it: drains the Generation and
// checks the stream contract as it goes.
struct Call {
  Call(std::shared_ptr<Generation> g, const Expected* e, Listen l)
      : gen(std::move(g)), expected(e), listen(l) {}
  const std::shared_ptr<Generation> gen;
  const Expected* const expected;
  const Listen listen;
  std::atomic<bool> cancel_sent{false};
  std::atomic<bool> admitted{false};  // Submit returned OK
  std::atomic<bool> done{false};
  std::atomic<Relay*> relay{nullptr};

  // Take + record under one lock, as CompleteReactor::MaybeWrite does
  // (otherwise two threads could record their chunks out of order).
  std::mutex mu;
  std::vector<int32_t> ids;  // guarded by mu
  std::string text;          // guarded by mu
  int done_outputs = 0;      // guarded by mu
  int after_done = 0;        // guarded by mu: outputs after the done one
  Generation::Output last;   // guarded by mu: the done output (minus text/ids)
  Clock::time_point done_at;  // guarded by mu

  void Drain() {
    std::lock_guard<std::mutex> lock(mu);
    Generation::Output out;
    while (gen->Take(&out)) {
      if (done_outputs > 0) ++after_done;
      ids.insert(ids.end(), out.ids.begin(), out.ids.end());
      text += out.text;
      if (out.done) {
        ++done_outputs;
        done_at = Clock::now();
        last.status = out.status;
        last.finish = out.finish;
        last.prompt_tokens = out.prompt_tokens;
        last.completion_tokens = out.completion_tokens;
        last.prompt_truncated = out.prompt_truncated;
        done.store(true);
      }
    }
  }

  // Removes a kRelay listener and deletes its target (once). Never called
  // from inside a listener (the reset waits for the running invocation).
  void DropRelay() {
    Relay* r = relay.exchange(nullptr);
    if (r == nullptr) return;
    gen->SetListener(nullptr);  // waits for a running Fire()
    r->magic = 0;
    delete r;  // a later Fire() would be a use-after-free (ASan / TSan see it)
  }
};

void Relay::Fire() {
  EXPECT_EQ(magic, kAlive) << "listener invoked after SetListener(nullptr) returned";
  call->Drain();
}

// Consumer threads: drain calls whose listener signalled them, sweep every
// live call with Take (as gRPC's OnWriteDone would from its own threads), and
// drop kRelay listeners of calls that ended.
class Consumers {
 public:
  explicit Consumers(int n) {
    for (int i = 0; i < n; ++i) threads_.emplace_back([this] { Work(); });
  }
  ~Consumers() { Stop(); }

  // Creates a call for `gen`, installs its listener and registers it.
  std::shared_ptr<Call> NewCall(std::shared_ptr<Generation> gen, const Expected* e, Listen l) {
    auto call = std::make_shared<Call>(std::move(gen), e, l);
    Call* c = call.get();
    switch (l) {
      case Listen::kInline:
        c->gen->SetListener([c] { c->Drain(); });
        break;
      case Listen::kQueue:
        c->gen->SetListener([this, c] { Ready(c); });
        break;
      case Listen::kRelay: {
        Relay* r = new Relay{c};
        c->relay.store(r);
        c->gen->SetListener([r] { r->Fire(); });
        break;
      }
      case Listen::kPoll:
        break;
    }
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back(call);
    return call;
  }

  // Forgets a call that was never admitted (its listener is removed).
  void Abandon(const std::shared_ptr<Call>& call) {
    call->DropRelay();
    call->gen->SetListener(nullptr);
    std::lock_guard<std::mutex> lock(mu_);
    calls_.erase(std::find(calls_.begin(), calls_.end(), call));
  }

  // Every registered call (admitted ones).
  std::vector<std::shared_ptr<Call>> calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
    for (auto& c : calls_) c->DropRelay();
  }

 private:
  void Ready(Call* c) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ready_.push_back(c);
    }
    cv_.notify_one();
  }

  void Work() {
    size_t sweep_at = 0;
    for (;;) {
      Call* next = nullptr;
      std::vector<std::shared_ptr<Call>> sweep;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait_for(lock, milliseconds(1), [&] { return stop_ || !ready_.empty(); });
        if (stop_) return;
        if (!ready_.empty()) {
          next = ready_.front();
          ready_.pop_front();
        }
        // A few calls per wake-up, round robin.
        for (int k = 0; k < 8 && !calls_.empty(); ++k) sweep.push_back(calls_[sweep_at++ % calls_.size()]);
      }
      if (next != nullptr) next->Drain();
      for (auto& c : sweep) {
        if (c->listen == Listen::kPoll || !c->done.load()) c->Drain();
        if (c->done.load()) c->DropRelay();
      }
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Call*> ready_;                   // guarded by mu_
  std::vector<std::shared_ptr<Call>> calls_;  // guarded by mu_
  bool stop_ = false;                         // guarded by mu_
  std::vector<std::thread> threads_;
};

Listen ListenFor(int i) { return static_cast<Listen>(i % 4); }

bool IsPrefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  const size_t n = std::min(a.size(), b.size());
  return std::equal(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(n), b.begin());
}

// What may end a call, beyond its natural end (kLength / kStop).
struct Allowed {
  bool finish_cancelled = false;  // CancelAll / Stop ran
};

// Checks everything a client can see of one ended call. Returns the outcome
// name for the tally ("length", "stop", "cancelled", "CANCELLED", ...).
std::string CheckCall(Call& c, const Allowed& allowed) {
  std::lock_guard<std::mutex> lock(c.mu);
  const GenerationParams& p = c.gen->params();
  SCOPED_TRACE(::testing::Message() << "generation prompt_tokens=" << p.prompt.size()
                                  << " max_tokens=" << p.max_tokens
                                  << " temperature=" << p.sequence.sampler.temperature);
  EXPECT_EQ(c.done_outputs, 1) << "a generation must end exactly once";
  EXPECT_EQ(c.after_done, 0) << "output after the done one";
  Generation::Output extra;
  EXPECT_FALSE(c.gen->Take(&extra)) << "Take returned output after done";
  EXPECT_TRUE(c.gen->finished());
  const Expected& e = *c.expected;
  EXPECT_TRUE(IsPrefix(c.ids, e.ids)) << "ids differ from the request decoded alone";
  if (!c.last.status.ok()) {
    switch (c.last.status.code()) {
      case absl::StatusCode::kCancelled:
        EXPECT_TRUE(c.cancel_sent.load()) << "CANCELLED without Generation::Cancel";
        return "CANCELLED";
      case absl::StatusCode::kDeadlineExceeded:
        EXPECT_GE(c.done_at, p.deadline) << "DEADLINE_EXCEEDED before the deadline";
        return "DEADLINE_EXCEEDED";
      default:
        ADD_FAILURE() << "unexpected error " << c.last.status;
        return "other";
    }
  }
  EXPECT_EQ(c.last.prompt_tokens, static_cast<int32_t>(p.prompt.size()));
  EXPECT_EQ(c.last.prompt_truncated, p.prompt_truncated);
  EXPECT_EQ(c.last.completion_tokens, static_cast<int32_t>(c.ids.size()))
      << "usage differs from the ids streamed";
  if (c.last.finish == FinishReason::kCancelled) {
    EXPECT_TRUE(allowed.finish_cancelled) << "finish=cancelled without CancelAll/Stop";
    return "finish_cancelled";
  }
  EXPECT_EQ(c.last.finish, e.finish);
  EXPECT_EQ(c.ids, e.ids) << "batched result differs from the request decoded alone";
  EXPECT_EQ(c.text, e.text);
  if (c.last.finish == FinishReason::kLength) {
    EXPECT_EQ(static_cast<int32_t>(c.ids.size()), p.max_tokens);
    return "length";
  }
  return "stop";
}

// Checks the scheduler's counters from a separate thread while the test
// runs: within bounds, and monotonic where they must be.
class StatsMonitor {
 public:
  StatsMonitor(const Scheduler& s, SchedulerOptions o) : thread_([this, &s, o] {
      SchedulerStats prev;
      while (!stop_.load()) {
        const SchedulerStats st = s.stats();
        (void)s.Idle();  // a separate snapshot: only its thread-safety is exercised
        EXPECT_GE(st.active, 0);
        EXPECT_LE(st.active, o.max_slots);
        EXPECT_GE(st.queued, 0);
        // The bound is on the total: while slots are free and the scheduler
        // thread has not admitted yet, the queue may briefly hold more than
        // max_queue calls.
        EXPECT_LE(st.active + st.queued, o.max_slots + o.max_queue);
        EXPECT_LE(st.max_batch, o.max_slots);
        EXPECT_GE(st.completed, prev.completed);
        EXPECT_GE(st.rejected, prev.rejected);
        EXPECT_GE(st.steps, prev.steps);
        EXPECT_GE(st.tokens, prev.tokens);
        prev = st;
        ++samples_;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    }) {}
  ~StatsMonitor() {
    stop_.store(true);
    thread_.join();
  }
  int samples() const { return samples_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> samples_{0};
  std::thread thread_;
};

// Sums what a run delivered, for the accounting checks.
struct Tally {
  std::map<std::string, int> outcomes;
  int64_t tokens = 0;
};

Tally CheckAll(Consumers& consumers, const Allowed& allowed) {
  Tally t;
  for (auto& c : consumers.calls()) {
    ++t.outcomes[CheckCall(*c, allowed)];
    std::lock_guard<std::mutex> lock(c->mu);
    t.tokens += static_cast<int64_t>(c->ids.size());
  }
  return t;
}

std::string Describe(const Tally& t) {
  std::string s;
  for (const auto& [k, v] : t.outcomes) s += k + "=" + std::to_string(v) + " ";
  return s;
}

bool AllDone(Consumers& consumers) {
  for (auto& c : consumers.calls()) {
    if (!c->done.load()) return false;
  }
  return true;
}

// ------------------------------------------------------------ scheduler tests

// Several decode workers and stream coalescing (outputs emitted without a
// notification, picked up by the consumers' own Take) are part of what the
// concurrent tests exercise.
SchedulerOptions Opts(int slots, int queue, int workers, int stream_interval_us) {
  SchedulerOptions o;
  o.max_slots = slots;
  o.max_queue = queue;
  o.workers = workers;
  o.stream_interval = std::chrono::microseconds(stream_interval_us);
  return o;
}

// The reference decoder agrees with the scheduler running one call at a
// time (so the concurrent tests compare against the right thing).
TEST(SchedulerConcurrency, ReferenceMatchesSchedulerRunningAlone) {
  Watchdog dog("ReferenceMatchesSchedulerRunningAlone", kHangLimit);
  Fixture f;
  const std::vector<Request> reqs = f.Requests(24, 1, 40);
  Consumers consumers(1);
  Scheduler sched(f.assets->model, f.assets->tokenizer.get(), Opts(1, 0, 1, 0));
  int stops = 0;
  std::vector<Expected> expected(reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i) {
    expected[i] = f.Reference(f.Params(reqs[i]));
    stops += expected[i].finish == FinishReason::kStop;
    auto call = consumers.NewCall(std::make_shared<Generation>(f.Params(reqs[i])), &expected[i],
                                  ListenFor(static_cast<int>(i)));
    // One slot, no queue: the previous call's slot is released just after
    // its last output, so wait for Idle before the next Submit.
    ASSERT_TRUE(WaitUntil([&] { return sched.Idle(); }));
    ASSERT_TRUE(sched.Submit(call->gen).ok());
    ASSERT_TRUE(WaitUntil([&] { return call->done.load(); })) << "request " << i << " never ended";
  }
  Tally t = CheckAll(consumers, {});
  EXPECT_EQ(t.outcomes["length"] + t.outcomes["stop"], static_cast<int>(reqs.size())) << Describe(t);
  EXPECT_EQ(t.outcomes["stop"], stops) << Describe(t);
  EXPECT_GE(stops, 3) << "the request mix should exercise stop strings";
  ASSERT_TRUE(WaitUntil([&] { return sched.Idle(); }));
  EXPECT_EQ(sched.stats().max_batch, 1);
}

// Many producers, few slots, a small queue: every generation ends once with
// exactly the tokens it gets alone; rejections only as RESOURCE_EXHAUSTED
// (the producer retries, like a client); the accounting adds up.
TEST(SchedulerConcurrency, ConcurrentSubmitsKeepResultsAndAccounting) {
  Watchdog dog("ConcurrentSubmitsKeepResultsAndAccounting", kHangLimit);
  Fixture f;
  const std::vector<Request> reqs = f.Requests(24, 1, 30);
  std::vector<GenerationParams> params;
  std::vector<Expected> expected;
  f.Prepare(reqs, &params, &expected);
  const SchedulerOptions opts = Opts(4, 6, /*workers=*/2, /*stream_interval_us=*/300);
  constexpr int kProducers = 12;
  constexpr int kPerProducer = 16;
  Consumers consumers(3);
  Scheduler sched(f.assets->model, f.assets->tokenizer.get(), opts);
  std::atomic<int64_t> attempts{0}, exhausted{0};
  {
    StatsMonitor monitor(sched, opts);
    std::vector<std::thread> producers;
    for (int p = 0; p < kProducers; ++p) {
      producers.emplace_back([&, p] {
        std::mt19937 rng(static_cast<unsigned>(p));
        for (int j = 0; j < kPerProducer; ++j) {
          const size_t r = static_cast<size_t>(p * kPerProducer + j) % reqs.size();
          for (;;) {
            auto call = consumers.NewCall(std::make_shared<Generation>(params[r]), &expected[r],
                                          ListenFor(p + j));
            ++attempts;
            const absl::Status s = sched.Submit(call->gen);
            if (s.ok()) break;
            EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
            ++exhausted;
            consumers.Abandon(call);
            std::this_thread::sleep_for(std::chrono::microseconds(100 + rng() % 900));
          }
        }
      });
    }
    for (auto& t : producers) t.join();
    ASSERT_TRUE(WaitUntil([&] { return AllDone(consumers); })) << "some generations never ended";
    ASSERT_TRUE(WaitUntil([&] { return sched.Idle(); })) << "slots not released";
    EXPECT_GT(monitor.samples(), 0);
  }
  sched.Stop();
  consumers.Stop();
  Tally t = CheckAll(consumers, {});
  const SchedulerStats st = sched.stats();
  const int64_t admitted = kProducers * kPerProducer;
  EXPECT_EQ(t.outcomes["length"] + t.outcomes["stop"], admitted) << Describe(t);
  EXPECT_EQ(st.active, 0);
  EXPECT_EQ(st.queued, 0);
  EXPECT_EQ(st.completed, admitted);
  EXPECT_EQ(st.rejected, exhausted.load());
  EXPECT_EQ(st.completed + st.rejected, attempts.load());
  EXPECT_EQ(st.tokens, t.tokens);
  EXPECT_GE(st.max_batch, 2) << "12 producers on 2 workers x 2 slots never batched";
  EXPECT_LE(st.max_batch, opts.max_slots);
  std::printf("[ info ] %lld generations, %lld RESOURCE_EXHAUSTED retries, %lld steps, max batch %d: %s\n",
              static_cast<long long>(admitted), static_cast<long long>(exhausted.load()),
              static_cast<long long>(st.steps), st.max_batch, Describe(t).c_str());
}

// Exactly slots + queue submissions succeed when many threads race to fill
// a scheduler with endless generations; the rest get RESOURCE_EXHAUSTED.
TEST(SchedulerConcurrency, RejectsExactlyWhenFull) {
  Watchdog dog("RejectsExactlyWhenFull", kHangLimit);
  Fixture f;
  Request r;
  r.prompt = "hello";
  r.max_tokens = kEndless;
  const GenerationParams params = f.Params(r);
  const Expected expected = f.Reference(params);
  const SchedulerOptions opts = Opts(3, 5, /*workers=*/2, /*stream_interval_us=*/0);
  Consumers consumers(2);  // outlives the scheduler (its listeners point here)
  Scheduler sched(f.assets->model, f.assets->tokenizer.get(), opts);
  constexpr int kThreads = 16, kEach = 3;
  std::atomic<int> ok{0}, exhausted{0};
  std::vector<std::shared_ptr<Call>> admitted[kThreads];
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < kEach; ++j) {
        auto call = consumers.NewCall(std::make_shared<Generation>(params), &expected, ListenFor(i + j));
        const absl::Status s = sched.Submit(call->gen);
        if (s.ok()) {
          ++ok;
          admitted[i].push_back(call);
        } else {
          EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
          EXPECT_NE(s.message().find("capacity"), absl::string_view::npos) << s;
          ++exhausted;
          consumers.Abandon(call);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), opts.max_slots + opts.max_queue);
  EXPECT_EQ(exhausted.load(), kThreads * kEach - ok.load());
  // The slots fill and stay full: endless generations do not end on their own.
  ASSERT_TRUE(WaitUntil([&] { return sched.stats().active == opts.max_slots; }));
  SchedulerStats st = sched.stats();
  EXPECT_EQ(st.queued, opts.max_queue);
  EXPECT_EQ(st.rejected, exhausted.load());
  EXPECT_FALSE(sched.Idle());
  // Half are cancelled by their client, the rest by CancelAll (from two
  // threads at once).
  for (int i = 0; i < kThreads; i += 2) {
    for (auto& c : admitted[i]) {
      c->cancel_sent.store(true);
      c->gen->Cancel();
    }
  }
  std::thread a([&] { sched.CancelAll(); });
  std::thread b([&] { sched.CancelAll(); });
  a.join();
  b.join();
  ASSERT_TRUE(WaitUntil([&] { return AllDone(consumers); })) << "CancelAll left generations running";
  ASSERT_TRUE(WaitUntil([&] { return sched.Idle(); }));
  Tally t = CheckAll(consumers, {.finish_cancelled = true});
  EXPECT_EQ(t.outcomes["length"] + t.outcomes["stop"], 0) << Describe(t);
  st = sched.stats();
  EXPECT_EQ(st.active, 0);
  EXPECT_EQ(st.queued, 0);
  EXPECT_EQ(st.completed, ok.load());
  // A freed scheduler accepts (and runs) new work: CancelAll ends the queued
  // calls itself and only the sequences active when it was called, so calls
  // submitted after it returned run normally (even if a worker has not yet
  // acted on the second CancelAll).
  r.max_tokens = 5;
  const std::vector<int32_t> want(expected.ids.begin(), expected.ids.begin() + 5);
  for (int i = 0; i < 3; ++i) {
    auto call = consumers.NewCall(std::make_shared<Generation>(f.Params(r)), &expected, Listen::kInline);
    ASSERT_TRUE(sched.Submit(call->gen).ok());
    ASSERT_TRUE(WaitUntil([&] { return call->done.load(); }));
    std::lock_guard<std::mutex> lock(call->mu);
    EXPECT_TRUE(call->last.status.ok());
    EXPECT_EQ(call->last.finish, FinishReason::kLength) << "call " << i << " after CancelAll";
    EXPECT_EQ(call->ids, want);
  }
}

// Clients cancel at random times from other threads, some calls have short
// deadlines, some never end on their own: every call ends with CANCELLED,
// DEADLINE_EXCEEDED or its normal result, and the slots all come back.
TEST(SchedulerConcurrency, RandomCancellationsAndDeadlines) {
  Watchdog dog("RandomCancellationsAndDeadlines", kHangLimit);
  Fixture f;
  std::vector<Request> reqs = f.Requests(16, 10, 60);
  for (size_t i = 0; i < reqs.size(); i += 4) reqs[i].max_tokens = kEndless;
  std::vector<GenerationParams> params;
  std::vector<Expected> expected;
  f.Prepare(reqs, &params, &expected);
  const SchedulerOptions opts = Opts(3, 4, /*workers=*/3, /*stream_interval_us=*/200);
  constexpr int kProducers = 8, kPerProducer = 12;
  Consumers consumers(2);
  Scheduler sched(f.assets->model, f.assets->tokenizer.get(), opts);
  std::atomic<int64_t> attempts{0}, exhausted{0};
  // Calls the cancellers pick from; endless calls without a deadline are
  // always cancelled (else they would never end).
  std::mutex to_cancel_mu;
  std::deque<std::shared_ptr<Call>> to_cancel;
  std::atomic<bool> producing{true};
  {
    StatsMonitor monitor(sched, opts);
    std::vector<std::thread> threads;
    for (int p = 0; p < kProducers; ++p) {
      threads.emplace_back([&, p] {
        std::mt19937 rng(static_cast<unsigned>(100 + p));
        for (int j = 0; j < kPerProducer; ++j) {
          const size_t r = static_cast<size_t>(p * kPerProducer + j) % reqs.size();
          const bool endless = params[r].max_tokens == kEndless;
          const bool with_deadline = rng() % 3 == 0;
          const bool cancel = (endless && !with_deadline) || rng() % 3 == 0;
          for (;;) {
            GenerationParams gp = params[r];
            if (with_deadline) gp.deadline = Clock::now() + std::chrono::microseconds(rng() % 15000);
            auto call = consumers.NewCall(std::make_shared<Generation>(std::move(gp)), &expected[r],
                                          ListenFor(p + j));
            ++attempts;
            const absl::Status s = sched.Submit(call->gen);
            if (s.ok()) {
              if (cancel) {
                std::lock_guard<std::mutex> lock(to_cancel_mu);
                to_cancel.push_back(call);
              }
              break;
            }
            EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
            ++exhausted;
            consumers.Abandon(call);
            std::this_thread::sleep_for(std::chrono::microseconds(200 + rng() % 800));
          }
        }
      });
    }
    std::vector<std::thread> cancellers;
    for (int k = 0; k < 2; ++k) {
      cancellers.emplace_back([&, k] {
        std::mt19937 rng(static_cast<unsigned>(7 + k));
        for (;;) {
          std::shared_ptr<Call> c;
          {
            std::lock_guard<std::mutex> lock(to_cancel_mu);
            if (!to_cancel.empty()) {
              c = to_cancel.front();
              to_cancel.pop_front();
            }
          }
          if (c == nullptr) {
            if (!producing.load()) return;
            std::this_thread::sleep_for(milliseconds(1));
            continue;
          }
          std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
          c->cancel_sent.store(true);
          c->gen->Cancel();
          if (rng() % 2 == 0) c->DropRelay();  // the client left: no more listener
        }
      });
    }
    for (auto& t : threads) t.join();
    producing.store(false);
    for (auto& t : cancellers) t.join();
    ASSERT_TRUE(WaitUntil([&] { return AllDone(consumers); })) << "some generations never ended";
    ASSERT_TRUE(WaitUntil([&] { return sched.Idle(); })) << "slots not released";
  }
  sched.Stop();
  consumers.Stop();
  Tally t = CheckAll(consumers, {});
  const SchedulerStats st = sched.stats();
  const int64_t admitted = kProducers * kPerProducer;
  EXPECT_EQ(t.outcomes["length"] + t.outcomes["stop"] + t.outcomes["CANCELLED"] + t.outcomes["DEADLINE_EXCEEDED"],
            admitted)
      << Describe(t);
  EXPECT_GT(t.outcomes["CANCELLED"], 0) << Describe(t);
  EXPECT_EQ(st.active, 0);
  EXPECT_EQ(st.queued, 0);
  EXPECT_EQ(st.completed, admitted);
  EXPECT_EQ(st.rejected, exhausted.load());
  EXPECT_EQ(st.completed + st.rejected, attempts.load());
  // Error endings drop undelivered output, so delivered <= generated.
  EXPECT_LE(t.tokens, st.tokens);
  std::printf("[ info ] %lld generations, %lld retries: %s\n", static_cast<long long>(admitted),
              static_cast<long long>(exhausted.load()), Describe(t).c_str());
}

// Runs `fn` on another thread; fails (and aborts: the scheduler threads
// cannot be abandoned safely) if it does not return within kWaitLimit.
void BoundedCall(const char* what, std::function<void()> fn) {
  auto done = std::async(std::launch::async, std::move(fn));
  if (done.wait_for(kWaitLimit) != std::future_status::ready) {
    std::fprintf(stderr, "HANG: %s did not return within %lld s; aborting\n", what,
                 static_cast<long long>(kWaitLimit.count()));
    std::abort();
  }
  done.get();
}

// StopAccepting, CancelAll and Stop while producers keep submitting: every
// Submit that starts after StopAccepting returned gets UNAVAILABLE; every
// admitted call ends (normally or finish=cancelled); Stop joins.
TEST(SchedulerConcurrency, ShutdownWhileProducersSubmit) {
  Watchdog dog("ShutdownWhileProducersSubmit", kHangLimit);
  Fixture f;
  std::vector<Request> reqs = f.Requests(12, 5, 40);
  for (size_t i = 0; i < reqs.size(); i += 3) reqs[i].max_tokens = kEndless;
  std::vector<GenerationParams> params;
  std::vector<Expected> expected;
  f.Prepare(reqs, &params, &expected);
  // Two rounds: the orderly StopAccepting -> CancelAll -> Stop of
  // LlmServer's shutdown, and a bare Stop() racing the producers.
  for (const bool orderly : {true, false}) {
    SCOPED_TRACE(orderly ? "StopAccepting, CancelAll, Stop" : "Stop only");
    const SchedulerOptions opts = Opts(2, 4, /*workers=*/2, /*stream_interval_us=*/100);
    Consumers consumers(2);
    Scheduler sched(f.assets->model, f.assets->tokenizer.get(), opts);
    std::atomic<bool> closed{false};  // set once StopAccepting / Stop returned
    std::atomic<int64_t> attempts{0}, ok{0}, exhausted{0}, unavailable{0};
    std::vector<std::thread> producers;
    for (int p = 0; p < 8; ++p) {
      producers.emplace_back([&, p] {
        std::mt19937 rng(static_cast<unsigned>(300 + p));
        int after_close = 0;
        for (int j = 0; after_close < 20; ++j) {
          const size_t r = static_cast<size_t>(p + j) % reqs.size();
          auto call = consumers.NewCall(std::make_shared<Generation>(params[r]), &expected[r], ListenFor(p + j));
          const bool was_closed = closed.load();
          ++attempts;
          const absl::Status s = sched.Submit(call->gen);
          if (s.ok()) {
            EXPECT_FALSE(was_closed) << "Submit accepted after StopAccepting/Stop returned";
            call->admitted.store(true);
            ++ok;
          } else {
            consumers.Abandon(call);
            if (s.code() == absl::StatusCode::kUnavailable) {
              ++unavailable;
            } else {
              EXPECT_FALSE(was_closed) << "after shutdown Submit must say UNAVAILABLE, got " << s;
              EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
              ++exhausted;
            }
          }
          if (was_closed) ++after_close;
          std::this_thread::sleep_for(std::chrono::microseconds(rng() % 500));
        }
      });
    }
    std::this_thread::sleep_for(milliseconds(30));
    if (orderly) {
      BoundedCall("StopAccepting", [&] { sched.StopAccepting(); });
      closed.store(true);
      std::this_thread::sleep_for(milliseconds(5));  // queued and active calls go on
      BoundedCall("CancelAll", [&] { sched.CancelAll(); });
      ASSERT_TRUE(WaitUntil([&] { return AllDone(consumers); })) << "CancelAll left generations running";
      ASSERT_TRUE(WaitUntil([&] { return sched.Idle(); }));
      BoundedCall("Stop", [&] { sched.Stop(); });
    } else {
      BoundedCall("Stop", [&] { sched.Stop(); });
      closed.store(true);
      // Stop ends everything before it joins: nothing admitted is left running.
      for (auto& c : consumers.calls()) {
        if (c->admitted.load()) {
          EXPECT_TRUE(c->gen->finished());
        }
      }
      EXPECT_TRUE(sched.Idle());
      ASSERT_TRUE(WaitUntil([&] { return AllDone(consumers); }));
    }
    for (auto& t : producers) t.join();
    BoundedCall("second Stop", [&] { sched.Stop(); });  // idempotent
    EXPECT_EQ(sched.Submit(std::make_shared<Generation>(params[1])).code(), absl::StatusCode::kUnavailable);
    ++attempts;
    ++unavailable;
    consumers.Stop();
    Tally t = CheckAll(consumers, {.finish_cancelled = true});
    const SchedulerStats st = sched.stats();
    EXPECT_EQ(t.outcomes["length"] + t.outcomes["stop"] + t.outcomes["finish_cancelled"], ok.load())
        << Describe(t);
    EXPECT_GT(t.outcomes["finish_cancelled"], 0) << "endless calls must end as cancelled: " << Describe(t);
    EXPECT_EQ(st.active, 0);
    EXPECT_EQ(st.queued, 0);
    EXPECT_EQ(st.completed, ok.load());
    EXPECT_EQ(st.rejected, exhausted.load() + unavailable.load());
    EXPECT_EQ(st.completed + st.rejected, attempts.load());
    EXPECT_EQ(st.tokens, t.tokens);  // no error endings here: everything generated was delivered
    std::printf("[ info ] %s: %lld admitted, %lld RESOURCE_EXHAUSTED, %lld UNAVAILABLE: %s\n",
                orderly ? "orderly" : "stop-only", static_cast<long long>(ok.load()),
                static_cast<long long>(exhausted.load()), static_cast<long long>(unavailable.load()),
                Describe(t).c_str());
  }
}

// ------------------------------------------------------------ generation tests

// The scheduler emits ids 0..N-1 while four threads Take concurrently and
// another cancels: every id arrives exactly once, in order within each
// output, and exactly one output is done (the one holding the last ids).
TEST(GenerationConcurrency, ConcurrentTakeSeesEveryOutputOnce) {
  Watchdog dog("ConcurrentTakeSeesEveryOutputOnce", kHangLimit);
  constexpr int kIds = 2000, kTakers = 4;
  for (int round = 0; round < 5; ++round) {
    GenerationParams p;
    p.prompt = {1, 2, 3};
    auto gen = std::make_shared<Generation>(p);
    std::vector<std::vector<Generation::Output>> got(kTakers);
    std::atomic<bool> produced{false};
    std::vector<std::thread> takers;
    for (int k = 0; k < kTakers; ++k) {
      takers.emplace_back([&, k] {
        Generation::Output out;
        for (;;) {
          const bool was_produced = produced.load();
          while (gen->Take(&out)) got[k].push_back(std::move(out));
          if (was_produced) return;  // everything was emitted before this last sweep
        }
      });
    }
    std::thread canceller([&] { gen->Cancel(); });
    for (int i = 0; i < kIds; ++i) gen->Emit(std::to_string(i) + ",", i);
    gen->Finish(FinishReason::kLength, kIds, "tail");
    gen->Emit("late", -1);  // ignored after Finish
    gen->Fail(absl::InternalError("late"));  // ignored after Finish
    produced.store(true);
    for (auto& t : takers) t.join();
    canceller.join();
    EXPECT_TRUE(gen->cancelled());
    std::vector<int> seen(kIds, 0);
    int done = 0;
    int max_id_outside_done = -1, min_id_in_done = kIds;
    for (const auto& outs : got) {
      for (const auto& o : outs) {
        std::string want_text;
        for (size_t i = 0; i < o.ids.size(); ++i) {
          ASSERT_GE(o.ids[i], 0);
          ASSERT_LT(o.ids[i], kIds);
          ++seen[static_cast<size_t>(o.ids[i])];
          if (i > 0) {
            EXPECT_EQ(o.ids[i], o.ids[i - 1] + 1) << "an output's ids are not consecutive";
          }
          want_text += std::to_string(o.ids[i]) + ",";
        }
        if (o.done) {
          ++done;
          want_text += "tail";
          EXPECT_TRUE(o.status.ok());
          EXPECT_EQ(o.finish, FinishReason::kLength);
          EXPECT_EQ(o.completion_tokens, kIds);
          EXPECT_EQ(o.prompt_tokens, 3);
          for (int32_t id : o.ids) min_id_in_done = std::min(min_id_in_done, id);
        } else {
          for (int32_t id : o.ids) max_id_outside_done = std::max(max_id_outside_done, id);
        }
        EXPECT_EQ(o.text, want_text);
      }
    }
    EXPECT_EQ(done, 1);
    EXPECT_LT(max_id_outside_done, min_id_in_done) << "output after the done one";
    for (int i = 0; i < kIds; ++i) ASSERT_EQ(seen[static_cast<size_t>(i)], 1) << "id " << i;
    Generation::Output out;
    EXPECT_FALSE(gen->Take(&out));
  }
}

// Finish and Fail race (a normal end vs a deadline): exactly one wins and is
// delivered once, with or without a listener and a concurrent Take.
TEST(GenerationConcurrency, FinishAndFailRaceEndOnce) {
  Watchdog dog("FinishAndFailRaceEndOnce", kHangLimit);
  int finished_won = 0, failed_won = 0;
  for (int round = 0; round < 300; ++round) {
    GenerationParams p;
    p.prompt = {5};
    Generation gen(p);
    std::atomic<int> notified{0};
    gen.SetListener([&] { ++notified; });
    std::atomic<int> go{0};
    std::vector<Generation::Output> taken;
    std::mutex taken_mu;
    auto take_all = [&] {
      Generation::Output out;
      std::lock_guard<std::mutex> lock(taken_mu);
      while (gen.Take(&out)) taken.push_back(out);
    };
    std::thread emit([&] {
      while (go.load() == 0) {
      }
      gen.Emit("a", 1);
      gen.Finish(FinishReason::kStop, 1);
    });
    std::thread fail([&] {
      while (go.load() == 0) {
      }
      gen.Fail(absl::DeadlineExceededError("late"));
    });
    std::thread taker([&] {
      while (go.load() == 0) {
      }
      for (int i = 0; i < 50; ++i) take_all();
    });
    go.store(1);
    emit.join();
    fail.join();
    taker.join();
    take_all();
    gen.SetListener(nullptr);
    int done = 0;
    for (const auto& o : taken) {
      if (!o.done) {
        EXPECT_EQ(o.ids, std::vector<int32_t>{1});
        continue;
      }
      ++done;
      if (o.status.ok()) {
        ++finished_won;
        EXPECT_EQ(o.finish, FinishReason::kStop);
        EXPECT_EQ(o.completion_tokens, 1);
      } else {
        ++failed_won;
        EXPECT_EQ(o.status.code(), absl::StatusCode::kDeadlineExceeded);
        EXPECT_TRUE(o.ids.empty()) << "Fail drops undelivered output";
      }
    }
    EXPECT_EQ(done, 1);
    EXPECT_TRUE(gen.finished());
    EXPECT_GE(notified.load(), 1);
  }
  std::printf("[ info ] Finish won %d, Fail won %d of 300 races\n", finished_won, failed_won);
}

// The listener contract: SetListener(nullptr) waits for a running invocation
// to return, and the listener is never invoked after the reset returned --
// so the transport may delete what the listener points to right after it.
TEST(GenerationConcurrency, ListenerResetWaitsForRunningInvocation) {
  Watchdog dog("ListenerResetWaitsForRunningInvocation", kHangLimit);
  // Deterministic part: a listener blocked in its body holds up the reset.
  {
    GenerationParams p;
    p.prompt = {1};
    Generation gen(p);
    std::atomic<bool> entered{false}, reset_started{false}, exited{false}, reset_returned{false};
    std::atomic<int> calls{0};
    gen.SetListener([&] {
      ++calls;
      EXPECT_FALSE(reset_returned.load());
      entered.store(true);
      ASSERT_TRUE(WaitUntil([&] { return reset_started.load(); }));
      std::this_thread::sleep_for(milliseconds(50));  // the reset must be waiting now
      exited.store(true);
    });
    std::thread producer([&] { gen.Emit("x", 1); });
    ASSERT_TRUE(WaitUntil([&] { return entered.load(); }));
    std::thread resetter([&] {
      reset_started.store(true);
      gen.SetListener(nullptr);
      EXPECT_TRUE(exited.load()) << "SetListener(nullptr) returned while the listener was running";
      reset_returned.store(true);
    });
    resetter.join();
    producer.join();
    gen.Emit("y", 2);
    gen.Finish(FinishReason::kLength, 2);
    EXPECT_EQ(calls.load(), 1) << "listener invoked after the reset";
  }
  // Stress: a producer emits while another thread resets the listener at a
  // random moment and immediately deletes the listener's target.
  std::mt19937 rng(42);
  for (int round = 0; round < 300; ++round) {
    GenerationParams p;
    p.prompt = {1};
    Generation gen(p);
    struct Target {
      std::atomic<bool>* reset_returned;
      int invocations = 0;  // only the producer thread touches it (in the listener)
    };
    std::atomic<bool> reset_returned{false};
    auto* target = new Target{&reset_returned};
    gen.SetListener([target] {
      EXPECT_FALSE(target->reset_returned->load()) << "listener invoked after SetListener(nullptr) returned";
      ++target->invocations;
      EXPECT_FALSE(target->reset_returned->load()) << "SetListener(nullptr) did not wait for the listener";
    });
    const int spin = static_cast<int>(rng() % 2000);
    std::thread producer([&] {
      for (int i = 0; i < 200; ++i) gen.Emit("t", i);
      gen.Finish(FinishReason::kLength, 200);
    });
    std::thread resetter([&] {
      for (int i = 0; i < spin; ++i) std::atomic_signal_fence(std::memory_order_seq_cst);
      gen.SetListener(nullptr);
      reset_returned.store(true);
      delete target;  // a later invocation would be a use-after-free
    });
    producer.join();
    resetter.join();
    Generation::Output out;
    ASSERT_TRUE(gen.Take(&out));
    EXPECT_EQ(out.ids.size(), 200u);
    EXPECT_TRUE(out.done);
  }
}

// ------------------------------------------------------------ thread pool tests

// Many threads submit at once: every accepted task runs exactly once, on at
// most num_threads workers, and pending() drops to 0.
TEST(ThreadPoolConcurrency, ManySubmittersEveryAcceptedTaskRunsOnce) {
  Watchdog dog("ManySubmittersEveryAcceptedTaskRunsOnce", kHangLimit);
  constexpr int kSubmitters = 12, kEach = 400;
  std::vector<std::atomic<int>> runs(kSubmitters * kEach);
  std::vector<std::atomic<bool>> accepted(kSubmitters * kEach);
  std::mutex ids_mu;
  std::vector<std::thread::id> worker_ids;
  {
    ThreadPool pool(3, 64);
    EXPECT_EQ(pool.num_threads(), 3);
    std::vector<std::thread> submitters;
    for (int s = 0; s < kSubmitters; ++s) {
      submitters.emplace_back([&, s] {
        for (int j = 0; j < kEach; ++j) {
          const size_t i = static_cast<size_t>(s * kEach + j);
          accepted[i].store(pool.TrySubmit([&, i] {
            ++runs[i];
            std::lock_guard<std::mutex> lock(ids_mu);
            if (std::find(worker_ids.begin(), worker_ids.end(), std::this_thread::get_id()) == worker_ids.end()) {
              worker_ids.push_back(std::this_thread::get_id());
            }
          }));
          if (!accepted[i].load()) std::this_thread::yield();  // queue full: back off
          EXPECT_LE(pool.pending(), 64u + 3u);
        }
      });
    }
    for (auto& t : submitters) t.join();
    ASSERT_TRUE(WaitUntil([&] { return pool.pending() == 0; }));
  }
  int accepted_count = 0;
  for (size_t i = 0; i < runs.size(); ++i) {
    accepted_count += accepted[i].load();
    ASSERT_EQ(runs[i].load(), accepted[i].load() ? 1 : 0) << "task " << i;
  }
  EXPECT_GT(accepted_count, 0);
  EXPECT_LE(worker_ids.size(), 3u);
  std::printf("[ info ] %d of %d tasks accepted\n", accepted_count, kSubmitters * kEach);
}

// With the only worker blocked, exactly max_queue tasks are accepted however
// many threads race to submit; the rest are refused at once.
TEST(ThreadPoolConcurrency, QueueFullRefusesExactlyTheExcess) {
  Watchdog dog("QueueFullRefusesExactlyTheExcess", kHangLimit);
  constexpr size_t kQueue = 5;
  std::atomic<bool> release{false}, blocker_running{false};
  std::atomic<int> ran{0};
  std::atomic<int> accepted{0};
  {
    ThreadPool pool(1, kQueue);
    ASSERT_TRUE(pool.TrySubmit([&] {
      blocker_running.store(true);
      ASSERT_TRUE(WaitUntil([&] { return release.load(); }));
    }));
    ASSERT_TRUE(WaitUntil([&] { return blocker_running.load(); }));
    std::vector<std::thread> submitters;
    for (int s = 0; s < 16; ++s) {
      submitters.emplace_back([&] {
        for (int j = 0; j < 10; ++j) accepted += pool.TrySubmit([&] { ++ran; });
      });
    }
    for (auto& t : submitters) t.join();
    EXPECT_EQ(accepted.load(), static_cast<int>(kQueue));
    EXPECT_EQ(pool.pending(), kQueue + 1);
    release.store(true);
    ASSERT_TRUE(WaitUntil([&] { return pool.pending() == 0; }));
    EXPECT_EQ(ran.load(), static_cast<int>(kQueue));
    EXPECT_TRUE(pool.TrySubmit([&] { ++ran; })) << "the queue has room again";
  }
  EXPECT_EQ(ran.load(), static_cast<int>(kQueue) + 1);
}

// Destruction with work still queued runs that work before joining (the
// documented contract), and TrySubmit refuses new work once destruction has
// begun (here from the queued tasks themselves, which run during it).
TEST(ThreadPoolConcurrency, DestructionRunsQueuedTasks) {
  Watchdog dog("DestructionRunsQueuedTasks", kHangLimit);
  // Large enough never to fill while the destroyer thread starts, so a
  // refusal means "shutting down", not "queue full".
  constexpr size_t kQueue = 1 << 20;
  for (int round = 0; round < 20; ++round) {
    std::atomic<bool> release{false};
    std::atomic<int> blockers_running{0}, ran{0}, accepted{0}, refused_inside{0};
    // Raw pointer: the destructor runs on another thread while this thread
    // still calls TrySubmit (the pool stays alive: its workers are blocked).
    ThreadPool* pool = new ThreadPool(2, kQueue);
    for (int w = 0; w < 2; ++w) {
      ASSERT_TRUE(pool->TrySubmit([&] {
        ++blockers_running;
        ASSERT_TRUE(WaitUntil([&] { return release.load(); }));
      }));
    }
    ASSERT_TRUE(WaitUntil([&] { return blockers_running.load() == 2; }));
    auto task = [&] {
      ++ran;
      refused_inside += !pool->TrySubmit([&] { ++ran; });
    };
    for (int i = 0; i < 10; ++i) accepted += pool->TrySubmit(task);
    std::thread destroyer([&] { delete pool; });
    // Keep submitting until a refusal that is not "queue full": the
    // destructor has started. The blocked workers take nothing meanwhile.
    for (;;) {
      if (pool->TrySubmit(task)) {
        ++accepted;
        std::this_thread::yield();
        continue;
      }
      if (pool->pending() < kQueue + 2) break;
      ADD_FAILURE() << "queue filled before the destructor started; round " << round;
      break;
    }
    release.store(true);
    BoundedCall("~ThreadPool", [&] { destroyer.join(); });
    EXPECT_EQ(ran.load(), accepted.load()) << "accepted tasks must run before the pool is destroyed";
    EXPECT_EQ(refused_inside.load(), accepted.load()) << "TrySubmit must refuse work during destruction";
    EXPECT_GE(accepted.load(), 10);
  }
}

}  // namespace
}  // namespace llm
