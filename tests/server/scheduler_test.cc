// Scheduler behaviour without the gRPC transport: several decode workers
// give the same tokens as one sequence decoded alone, calls are spread over
// the workers, and stream coalescing under load delivers every token in
// fewer notifications while a lone stream is told about each token.
#include "server/scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/util/cpu.h"
#include "server/server.h"
#include "tests/server/test_util.h"

namespace llm {
namespace {

using std::chrono::steady_clock;

// One submitted call and what its consumer saw.
struct Call {
  std::shared_ptr<Generation> gen;
  std::atomic<int> notifications{0};
  std::vector<int32_t> ids;
  std::string text;
  bool done = false;
  absl::Status status;
  FinishReason finish = FinishReason::kNone;
  int32_t completion_tokens = 0;
};

GenerationParams Params(std::vector<int32_t> prompt, int32_t max_tokens, float temperature,
                        uint64_t seed) {
  GenerationParams p;
  p.prompt = std::move(prompt);
  p.max_tokens = max_tokens;
  p.sequence.sampler.temperature = temperature;
  p.sequence.sampler.seed = seed;
  return p;
}

SchedulerOptions Options(int slots, int queue, int workers,
                         std::chrono::microseconds interval = std::chrono::microseconds(0)) {
  SchedulerOptions o;
  o.max_slots = slots;
  o.max_queue = queue;
  o.workers = workers;
  o.stream_interval = interval;
  return o;
}

std::unique_ptr<Call> MakeCall(GenerationParams params) {
  auto call = std::make_unique<Call>();
  call->gen = std::make_shared<Generation>(std::move(params));
  Call* c = call.get();
  c->gen->SetListener([c] { c->notifications.fetch_add(1); });
  return call;
}

// Waits until every call's generation finished (bounded), then drains the
// outputs into the Call records.
void WaitAndDrain(std::vector<std::unique_ptr<Call>>& calls) {
  const auto limit = steady_clock::now() + std::chrono::seconds(60);
  for (auto& c : calls) {
    while (!c->gen->finished()) {
      ASSERT_LT(steady_clock::now(), limit) << "generation " << c->gen->params().id << " never ended";
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    c->gen->SetListener(nullptr);
    Generation::Output out;
    while (c->gen->Take(&out)) {
      c->ids.insert(c->ids.end(), out.ids.begin(), out.ids.end());
      c->text += out.text;
      if (out.done) {
        c->done = true;
        c->status = out.status;
        c->finish = out.finish;
        c->completion_tokens = out.completion_tokens;
      }
    }
  }
}

// The scheduler counts a generation in its stats at the end of the step that
// ended it, just after telling the call: waits (bounded) until `n` are
// counted, then returns the stats.
SchedulerStats StatsAfter(const Scheduler& s, int64_t n) {
  const auto limit = steady_clock::now() + std::chrono::seconds(30);
  SchedulerStats st = s.stats();
  while (st.completed < n && steady_clock::now() < limit) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    st = s.stats();
  }
  return st;
}

std::vector<int32_t> Alone(const ServingAssets& a, const GenerationParams& p) {
  Generator gen(a.model);
  return gen.Generate(p.prompt, p.max_tokens, p.sequence).value();
}

// The streamed text: the tokens' bytes with invalid UTF-8 replaced (as the
// tokenizer's lossy Decode does).
std::string Bytes(const ServingAssets& a, const std::vector<int32_t>& ids) {
  return a.tokenizer->Decode(ids).value();
}

// Several requests, different prompts/temperatures/seeds, long enough to
// overflow the tiny model's 16-token context.
std::vector<GenerationParams> Requests(int n) {
  std::vector<GenerationParams> r;
  for (int i = 0; i < n; ++i) {
    std::vector<int32_t> prompt = {104, 101, 258 - (i % 3), 32 + i};
    r.push_back(Params(prompt, 20 + 7 * i, i % 3 == 0 ? 0.0f : 0.8f + 0.1f * i, 1000 + i));
    r.back().id = static_cast<uint64_t>(i + 1);
  }
  return r;
}

TEST(SchedulerTest, TwoWorkersGiveTheTokensOfEachSequenceDecodedAlone) {
  auto assets = testing::TinyAssets();
  const SchedulerOptions o = Options(4, 8, 2);
  const std::vector<GenerationParams> reqs = Requests(8);
  std::vector<std::unique_ptr<Call>> calls;
  {
    Scheduler s(assets->model, assets->tokenizer.get(), o);
    for (const auto& p : reqs) {
      calls.push_back(MakeCall(p));
      ASSERT_TRUE(s.Submit(calls.back()->gen).ok());
    }
    WaitAndDrain(calls);
    const SchedulerStats st = StatsAfter(s, 8);
    EXPECT_EQ(st.completed, 8);
    EXPECT_EQ(st.active, 0);
    EXPECT_EQ(st.queued, 0);
    // 4 slots over 2 workers: a worker never batches more than its share.
    EXPECT_LE(st.max_batch, 2);
    EXPECT_GE(st.max_batch, 1);
  }
  for (size_t i = 0; i < reqs.size(); ++i) {
    SCOPED_TRACE("request " + std::to_string(i));
    const Call& c = *calls[i];
    ASSERT_TRUE(c.done);
    ASSERT_TRUE(c.status.ok()) << c.status;
    EXPECT_EQ(c.finish, FinishReason::kLength);
    EXPECT_EQ(c.completion_tokens, reqs[i].max_tokens);
    EXPECT_EQ(c.ids, Alone(*assets, reqs[i]));
    EXPECT_EQ(c.text, Bytes(*assets, c.ids));
  }
}

TEST(SchedulerTest, BothWorkersRunAtTheSameTime) {
  // 2 endless calls, 2 workers, 2 slots (one per worker): both calls stream
  // tokens at the same time, each decoded alone (batch 1). (One worker with
  // its one slot would never start the second call.)
  auto assets = testing::TinyAssets();
  const SchedulerOptions o = Options(2, 0, 2);
  std::vector<std::unique_ptr<Call>> calls;
  Scheduler s(assets->model, assets->tokenizer.get(), o);
  for (int i = 0; i < 2; ++i) {
    calls.push_back(MakeCall(Params({104, 101}, 1 << 30, 1.0f, 7 + i)));
    ASSERT_TRUE(s.Submit(calls.back()->gen).ok());
  }
  const auto limit = steady_clock::now() + std::chrono::seconds(30);
  while (calls[0]->notifications.load() == 0 || calls[1]->notifications.load() == 0) {
    ASSERT_LT(steady_clock::now(), limit) << "the two calls did not both start";
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_FALSE(calls[0]->gen->finished());
  EXPECT_FALSE(calls[1]->gen->finished());
  EXPECT_EQ(s.stats().active, 2);
  EXPECT_EQ(s.stats().max_batch, 1);
  for (auto& c : calls) c->gen->Cancel();
  WaitAndDrain(calls);
  for (auto& c : calls) EXPECT_EQ(c->status.code(), absl::StatusCode::kCancelled);
}

TEST(SchedulerTest, LoneStreamIsToldAboutEveryToken) {
  auto assets = testing::TinyAssets();
  // A 10 s interval would coalesce everything under load.
  const SchedulerOptions o = Options(8, 32, 2, std::chrono::seconds(10));
  Scheduler s(assets->model, assets->tokenizer.get(), o);
  std::vector<std::unique_ptr<Call>> calls;
  calls.push_back(MakeCall(Params({104, 101}, 50, 1.0f, 3)));
  ASSERT_TRUE(s.Submit(calls[0]->gen).ok());
  WaitAndDrain(calls);
  // Tokens 1..49 each notify; the 50th is delivered with the end (Finish).
  EXPECT_EQ(calls[0]->notifications.load(), 50);
  EXPECT_EQ(calls[0]->ids.size(), 50u);
  EXPECT_EQ(StatsAfter(s, 1).deliveries, 50);
}

TEST(SchedulerTest, BusyStreamsAreCoalescedWithoutLosingTokens) {
  auto assets = testing::TinyAssets();
  const SchedulerOptions o = Options(4, 32, 1, std::chrono::seconds(10));
  Scheduler s(assets->model, assets->tokenizer.get(), o);
  std::vector<GenerationParams> reqs;
  std::vector<std::unique_ptr<Call>> calls;
  for (int i = 0; i < 4; ++i) {
    reqs.push_back(Params({104, 101, 256 + i}, 200, 1.0f, 50 + i));
    calls.push_back(MakeCall(reqs.back()));
  }
  for (auto& c : calls) ASSERT_TRUE(s.Submit(c->gen).ok());
  WaitAndDrain(calls);
  int total_notifications = 0;
  for (size_t i = 0; i < calls.size(); ++i) {
    const Call& c = *calls[i];
    SCOPED_TRACE("call " + std::to_string(i));
    ASSERT_TRUE(c.status.ok()) << c.status;
    EXPECT_EQ(c.ids, Alone(*assets, reqs[i]));  // nothing lost or reordered
    EXPECT_EQ(c.text, Bytes(*assets, c.ids));
    // First token at once, then nothing until the end: far fewer than 200.
    // (A call may run alone for the few steps before the others are
    // admitted; those tokens are delivered one by one.)
    EXPECT_GE(c.notifications.load(), 2);
    EXPECT_LE(c.notifications.load(), 20);
    total_notifications += c.notifications.load();
  }
  const SchedulerStats st = StatsAfter(s, 4);
  EXPECT_EQ(st.deliveries, total_notifications);
  EXPECT_EQ(st.tokens, 800);
}

TEST(SchedulerTest, OptionsAreClamped) {
  auto assets = testing::TinyAssets();
  // Queue -3 is clamped to 0, 16 workers to one per slot (2).
  const SchedulerOptions o = Options(2, -3, 16);
  Scheduler s(assets->model, assets->tokenizer.get(), o);
  std::vector<std::unique_ptr<Call>> calls;
  for (int i = 0; i < 2; ++i) {  // endless until cancelled
    calls.push_back(MakeCall(Params({104}, 1 << 30, 1.0f, i)));
    ASSERT_TRUE(s.Submit(calls.back()->gen).ok());
  }
  auto extra = MakeCall(Params({104}, 5, 1.0f, 1));
  EXPECT_EQ(s.Submit(extra->gen).code(), absl::StatusCode::kResourceExhausted);
  for (auto& c : calls) c->gen->Cancel();
  WaitAndDrain(calls);
  for (auto& c : calls) EXPECT_EQ(c->status.code(), absl::StatusCode::kCancelled);
  EXPECT_LE(StatsAfter(s, 2).max_batch, 1);  // one slot per worker
}

TEST(SchedulerTest, DecodeThreadsDefaultIsOnePerCoreAndPerFourSlots) {
  const int cores = AvailableCpus();
  ServerOptions o;
  o.max_slots = 16;
  EXPECT_EQ(DecodeThreads(o), std::min(4, cores));
  o.max_slots = 1;
  EXPECT_EQ(DecodeThreads(o), 1);
  o.max_slots = 5;
  EXPECT_EQ(DecodeThreads(o), std::min(2, cores));
  o.decode_threads = 3;
  EXPECT_EQ(DecodeThreads(o), 3);
}

}  // namespace
}  // namespace llm
