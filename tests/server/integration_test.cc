// Integration tests: a real LlmServer on a free loopback port, exercised
// through the client library (every RPC, every error code, streaming,
// cancellation, deadlines, queue overflow, graceful shutdown).
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "client/llm_client_lib.h"
#include "core/model/inference.h"
#include "core/tokenizer/utf8.h"
#include "server/server.h"
#include "tests/server/test_util.h"

namespace llm {
namespace {

using grpc::health::v1::HealthCheckResponse;
using std::chrono::milliseconds;

constexpr int kHugeMaxTokens = 2'000'000;  // "runs until stopped" for the tiny model

ServerOptions TestOptions() {
  ServerOptions o;
  o.port = 0;
  o.threads = 2;
  o.max_tokens_cap = kHugeMaxTokens;
  o.max_prompt_bytes = 4096;
  o.max_prompt_tokens = 1000;
  o.max_slots = 4;
  o.max_queue = 4;
  o.grace_period_ms = 2000;
  return o;
}

class ServerTest : public ::testing::Test {
 protected:
  void StartServer(ServerOptions o = TestOptions()) {
    assets_ = testing::TinyAssets();
    auto s = LlmServer::Start(assets_, o);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    client_ = std::make_unique<LlmClient>(server_->address());
  }
  void SetUp() override { StartServer(); }
  void TearDown() override {
    client_.reset();
    server_.reset();
  }

  // Waits until the scheduler holds no sequence (up to 5 s).
  bool WaitIdle() {
    for (int i = 0; i < 1000; ++i) {
      SchedulerStats st = server_->scheduler_stats();
      if (st.active == 0 && st.queued == 0) return true;
      std::this_thread::sleep_for(milliseconds(5));
    }
    return false;
  }

  v1::CompleteRequest Greedy(const std::string& prompt, int max_tokens) {
    v1::CompleteRequest r;
    r.set_prompt(prompt);
    r.set_max_tokens(max_tokens);
    r.set_temperature(0.0f);
    return r;
  }

  // Reference: the same generation through InferenceModel directly.
  std::vector<int32_t> ReferenceGreedy(const std::vector<int32_t>& prompt, int max_tokens) {
    Generator gen(assets_->model);
    SequenceOptions so;
    so.sampler.temperature = 0.0f;
    return gen.Generate(prompt, max_tokens, so).value();
  }

  std::shared_ptr<ServingAssets> assets_;
  std::unique_ptr<LlmServer> server_;
  std::unique_ptr<LlmClient> client_;
};

void ExpectCode(const absl::Status& s, absl::StatusCode code, const std::string& needle) {
  EXPECT_EQ(s.code(), code) << s;
  EXPECT_NE(std::string(s.message()).find(needle), std::string::npos)
      << "message '" << s.message() << "' lacks '" << needle << "'";
}

// ------------------------------------------------------------------ tokenizer

TEST_F(ServerTest, TokenizeReturnsIdsBytesDisplayAndSpans) {
  v1::TokenizeRequest req;
  req.set_text("hello world\t");
  auto r = client_->Tokenize(req);
  ASSERT_TRUE(r.ok()) << r.status();
  // By hand: "hello" -> he,l,l,o -> (he)(ll)o -> (hell)o; " world" -> ( w)o r l d;
  // "\t" is its own piece.
  std::vector<int32_t> want = {258, 'o', 259, 'o', 'r', 'l', 'd', '\t'};
  EXPECT_EQ(std::vector<int32_t>(r->ids().begin(), r->ids().end()), want);
  ASSERT_EQ(r->tokens_size(), 8);
  EXPECT_EQ(r->tokens(0).bytes(), "hell");
  EXPECT_EQ(r->tokens(0).display(), "hell");
  EXPECT_EQ(r->tokens(0).start(), 0u);
  EXPECT_EQ(r->tokens(0).end(), 4u);
  EXPECT_EQ(r->tokens(2).bytes(), " w");
  EXPECT_EQ(r->tokens(2).start(), 5u);
  EXPECT_EQ(r->tokens(2).end(), 7u);
  EXPECT_EQ(r->tokens(7).display(), "\\u0009");
  EXPECT_EQ(r->tokens(7).start(), 11u);
  EXPECT_EQ(r->tokens(7).end(), 12u);

  req.set_ids_only(true);
  auto ids_only = client_->Tokenize(req);
  ASSERT_TRUE(ids_only.ok());
  EXPECT_EQ(ids_only->ids_size(), 8);
  EXPECT_EQ(ids_only->tokens_size(), 0);
}

TEST_F(ServerTest, TokenizeSpecialTokenModes) {
  v1::TokenizeRequest req;
  req.set_text("he<|endoftext|>");
  ExpectCode(client_->Tokenize(req).status(), absl::StatusCode::kInvalidArgument, "<|endoftext|>");

  req.mutable_special_tokens()->set_mode(v1::SpecialTokenOptions::MODE_ALLOW_ALL);
  auto all = client_->Tokenize(req);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(std::vector<int32_t>(all->ids().begin(), all->ids().end()),
            (std::vector<int32_t>{256, testing::kEndOfText}));
  EXPECT_EQ(all->tokens(1).start(), 2u);
  EXPECT_EQ(all->tokens(1).end(), 15u);

  req.mutable_special_tokens()->set_mode(v1::SpecialTokenOptions::MODE_DISALLOW);
  req.mutable_special_tokens()->add_allowed("<|endoftext|>");
  auto listed = client_->Tokenize(req);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->ids_size(), 2);

  req.mutable_special_tokens()->clear_allowed();
  req.mutable_special_tokens()->set_mode(v1::SpecialTokenOptions::MODE_PLAIN_TEXT);
  auto plain = client_->Tokenize(req);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_GT(plain->ids_size(), 2);
  for (int id : plain->ids()) EXPECT_NE(id, testing::kEndOfText);

  req.mutable_special_tokens()->add_allowed("<|nope|>");
  ExpectCode(client_->Tokenize(req).status(), absl::StatusCode::kInvalidArgument, "not a registered special token");
  req.mutable_special_tokens()->clear_allowed();
  req.mutable_special_tokens()->set_mode(static_cast<v1::SpecialTokenOptions::Mode>(42));
  ExpectCode(client_->Tokenize(req).status(), absl::StatusCode::kInvalidArgument, "special_tokens.mode");
}

TEST_F(ServerTest, InvalidUtf8IsInvalidArgumentWithOffset) {
  v1::TokenizeRequest req;
  req.set_text(std::string("ab\xFF" "cd"));
  ExpectCode(client_->Tokenize(req).status(), absl::StatusCode::kInvalidArgument, "byte offset 2");
  v1::CountTokensRequest c;
  c.set_text("\xC3");
  ExpectCode(client_->CountTokens(c).status(), absl::StatusCode::kInvalidArgument, "UTF-8");
  v1::TokenizeBatchRequest b;
  b.add_texts("fine");
  b.add_texts("bad \xE2\x82");
  ExpectCode(client_->TokenizeBatch(b).status(), absl::StatusCode::kInvalidArgument, "texts[1]");
  ExpectCode(client_->Complete(Greedy("x\xFF", 3)).status(), absl::StatusCode::kInvalidArgument,
             "prompt is not valid UTF-8");
}

TEST_F(ServerTest, TokenizeBatchAndCountMatchSingleCalls) {
  v1::TokenizeBatchRequest b;
  const std::vector<std::string> texts = {"hello", "", "well well", "héllo wörld"};
  for (const auto& t : texts) b.add_texts(t);
  auto r = client_->TokenizeBatch(b);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    auto one = client_->TokenizeIds(texts[i]);
    ASSERT_TRUE(one.ok());
    EXPECT_EQ((*r)[i], *one) << texts[i];
    v1::CountTokensRequest c;
    c.set_text(texts[i]);
    auto n = client_->CountTokens(c);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, static_cast<int64_t>(one->size()));
  }
  EXPECT_TRUE((*r)[1].empty());
}

TEST_F(ServerTest, DetokenizeRoundTripsAndRejectsUnknownIds) {
  auto d = client_->Detokenize({258, 'o', 259, 0xC3, 0xA9});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->text(), "hello w\xC3\xA9");
  EXPECT_EQ(d->bytes(), "hello w\xC3\xA9");
  auto partial = client_->Detokenize({'a', 0xC3});  // half a character
  ASSERT_TRUE(partial.ok());
  EXPECT_EQ(partial->bytes(), "a\xC3");
  EXPECT_EQ(partial->text(), "a\xEF\xBF\xBD");
  ExpectCode(client_->Detokenize({1, 261}).status(), absl::StatusCode::kInvalidArgument, "ids[1] = 261");
  ExpectCode(client_->Detokenize({-1}).status(), absl::StatusCode::kInvalidArgument, "ids[0] = -1");
}

TEST_F(ServerTest, InfoDescribesTokenizerModelAndLimits) {
  auto info = client_->Info();
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->tokenizer().name(), "tiny");
  EXPECT_EQ(info->tokenizer().vocab_size(), 261);
  EXPECT_EQ(info->tokenizer().num_merges(), 4);
  EXPECT_EQ(info->tokenizer().special_tokens().at("<|endoftext|>"), testing::kEndOfText);
  EXPECT_EQ(info->model().name(), "tiny");
  EXPECT_EQ(info->model().context_size(), 16);
  EXPECT_EQ(info->model().vocab_size(), 261);
  // wte 261*16 + wpe 16*16 + 2 blocks * (4*16 + 4*16*16 + 16*32 + 32 + 32*16 + 16)
  // + lnf 2*16 + wu 16*261 + bu 261
  const int64_t block = 4 * 16 + 4 * 16 * 16 + 16 * 32 + 32 + 32 * 16 + 16;
  EXPECT_EQ(info->model().num_parameters(), 261 * 16 + 16 * 16 + 2 * block + 2 * 16 + 16 * 261 + 261);
  EXPECT_EQ(info->limits().max_slots(), 4);
  EXPECT_EQ(info->limits().default_max_tokens(), 500);
}

TEST_F(ServerTest, HealthAndReflection) {
  auto h = client_->Health();
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(*h, HealthCheckResponse::SERVING);
  auto hs = client_->Health("llm.v1.LlmService");
  ASSERT_TRUE(hs.ok()) << hs.status();
  EXPECT_EQ(*hs, HealthCheckResponse::SERVING);
  EXPECT_EQ(client_->Health("no.such.Service").status().code(), absl::StatusCode::kNotFound);

  // Reflection: ServerReflectionInfo with list_services = "" (field 7,
  // encoded by hand: tag 0x3A, length 0); the reply lists our service.
  grpc::GenericStub stub(client_->channel());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::CompletionQueue cq;
  auto call = stub.PrepareCall(&ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag;
  bool ok;
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  const char request_bytes[] = {0x3A, 0x00};
  grpc::Slice slice(request_bytes, sizeof(request_bytes));
  grpc::ByteBuffer request(&slice, 1);
  call->Write(request, reinterpret_cast<void*>(2));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  grpc::ByteBuffer reply;
  call->Read(&reply, reinterpret_cast<void*>(3));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(reply.Dump(&slices).ok());
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_NE(bytes.find("llm.v1.LlmService"), std::string::npos);
  EXPECT_NE(bytes.find("grpc.health.v1.Health"), std::string::npos);
  ctx.TryCancel();
  grpc::Status st;
  call->Finish(&st, reinterpret_cast<void*>(4));
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

// ------------------------------------------------------------------ Complete

TEST_F(ServerTest, GreedyCompletionMatchesInferenceModelAndStreams) {
  const std::string prompt = "hello world";
  auto prompt_ids = client_->TokenizeIds(prompt);
  ASSERT_TRUE(prompt_ids.ok());
  std::vector<int32_t> want = ReferenceGreedy(*prompt_ids, 40);

  int chunks = 0;
  auto r = client_->Complete(Greedy(prompt, 40), [&](const v1::CompleteResponse& m) {
    ++chunks;
    EXPECT_TRUE(ValidateUtf8(m.text()).ok());
    return true;
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->ids, want);
  EXPECT_EQ(r->finish_reason, v1::FINISH_REASON_LENGTH);
  EXPECT_EQ(r->usage.prompt_tokens(), static_cast<int>(prompt_ids->size()));
  EXPECT_EQ(r->usage.completion_tokens(), 40);
  EXPECT_FALSE(r->prompt_truncated);
  EXPECT_GE(chunks, 1);
  // The streamed text is the lossy UTF-8 decoding of the generated bytes.
  std::string bytes = assets_->tokenizer->DecodeBytes(want).value();
  EXPECT_EQ(r->text, Utf8Lossy(bytes));
}

TEST_F(ServerTest, DefaultMaxTokensIs500) {
  auto r = client_->Complete(Greedy("he", 0));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->usage.completion_tokens(), 500);
  EXPECT_EQ(r->ids.size(), 500u);
}

TEST_F(ServerTest, SampledTextIsValidUtf8AndSeedIsReproducible) {
  v1::CompleteRequest req;
  req.set_prompt("hello");
  req.set_max_tokens(300);
  req.set_seed(1234);
  req.set_temperature(1.5f);  // lots of random bytes, many partial characters
  auto a = client_->Complete(req, [](const v1::CompleteResponse& m) {
    EXPECT_TRUE(ValidateUtf8(m.text()).ok());
    return true;
  });
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->text, Utf8Lossy(assets_->tokenizer->DecodeBytes(a->ids).value()));
  auto b = client_->Complete(req);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->ids, b->ids);
  req.set_top_k(3);
  req.set_top_p(0.5f);
  auto c = client_->Complete(req);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->ids.size(), 300u);
}

TEST_F(ServerTest, StopSequenceEndsGenerationBeforeIt) {
  auto full = client_->Complete(Greedy("hello", 60));
  ASSERT_TRUE(full.ok());
  const std::string bytes = assets_->tokenizer->DecodeBytes(full->ids).value();
  // Pick a stop sequence from the middle of the greedy output: 2 ASCII bytes.
  size_t at = std::string::npos;
  for (size_t i = 10; i + 1 < bytes.size(); ++i) {
    auto c0 = static_cast<unsigned char>(bytes[i]), c1 = static_cast<unsigned char>(bytes[i + 1]);
    if (c0 >= 0x20 && c0 < 0x7F && c1 >= 0x20 && c1 < 0x7F) {
      at = i;
      break;
    }
  }
  if (at == std::string::npos) GTEST_SKIP() << "greedy output has no ASCII pair";
  const std::string stop = bytes.substr(at, 2);
  const size_t first = bytes.find(stop);
  v1::CompleteRequest req = Greedy("hello", 60);
  req.add_stop(stop);
  req.add_stop("\x01\x02\x03 never");
  auto r = client_->Complete(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->finish_reason, v1::FINISH_REASON_STOP);
  EXPECT_EQ(r->text, Utf8Lossy(bytes.substr(0, first)));
  EXPECT_LT(r->usage.completion_tokens(), 60);
}

TEST_F(ServerTest, LongPromptKeepsItsLastContextTokens) {
  std::string prompt;
  for (int i = 0; i < 10; ++i) prompt += "hello world ";
  auto ids = client_->TokenizeIds(prompt);
  ASSERT_TRUE(ids.ok());
  ASSERT_GT(ids->size(), 16u);
  std::vector<int32_t> tail(ids->end() - 16, ids->end());
  auto r = client_->Complete(Greedy(prompt, 20));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->prompt_truncated);
  EXPECT_EQ(r->usage.prompt_tokens(), 16);
  EXPECT_EQ(r->ids, ReferenceGreedy(tail, 20));
}

TEST_F(ServerTest, CompleteValidation) {
  auto code = [&](const v1::CompleteRequest& r) { return client_->Complete(r).status(); };
  ExpectCode(code(Greedy("", 5)), absl::StatusCode::kInvalidArgument, "prompt is empty");
  ExpectCode(code(Greedy(std::string(5000, 'a'), 5)), absl::StatusCode::kInvalidArgument, "--max_prompt_bytes");
  std::string many;
  for (int i = 0; i < 1100; ++i) many += "\x01";  // one token per byte
  ExpectCode(code(Greedy(many, 5)), absl::StatusCode::kInvalidArgument, "--max_prompt_tokens");
  ExpectCode(code(Greedy("hi", -1)), absl::StatusCode::kInvalidArgument, "max_tokens must be in 1..");
  ExpectCode(code(Greedy("hi", kHugeMaxTokens + 1)), absl::StatusCode::kInvalidArgument, "max_tokens");
  v1::CompleteRequest r = Greedy("hi", 5);
  r.set_temperature(-0.5f);
  ExpectCode(code(r), absl::StatusCode::kInvalidArgument, "temperature");
  r = Greedy("hi", 5);
  r.set_top_p(0.0f);
  ExpectCode(code(r), absl::StatusCode::kInvalidArgument, "top_p must be in (0, 1]");
  r.set_top_p(1.5f);
  ExpectCode(code(r), absl::StatusCode::kInvalidArgument, "top_p");
  r = Greedy("hi", 5);
  r.set_top_k(-2);
  ExpectCode(code(r), absl::StatusCode::kInvalidArgument, "top_k");
  r = Greedy("hi", 5);
  r.add_stop("");
  ExpectCode(code(r), absl::StatusCode::kInvalidArgument, "stop[0] is empty");
  r = Greedy("he<|endoftext|>", 5);
  ExpectCode(code(r), absl::StatusCode::kInvalidArgument, "prompt: ");
  r.mutable_special_tokens()->set_mode(v1::SpecialTokenOptions::MODE_ALLOW_ALL);
  EXPECT_TRUE(client_->Complete(r).ok());
  // The server is still fine.
  EXPECT_TRUE(client_->Complete(Greedy("hi", 3)).ok());
}

TEST_F(ServerTest, ConcurrentGreedyStreamsMatchSoloRuns) {
  const std::vector<std::string> prompts = {"hello", "world", "well hello", "h", "ll ll", "héllo", "a b c", "zz"};
  std::vector<std::vector<int32_t>> solo;
  for (const auto& p : prompts) {
    auto r = client_->Complete(Greedy(p, 50));
    ASSERT_TRUE(r.ok()) << r.status();
    solo.push_back(r->ids);
  }
  // 8 concurrent streams over 4 slots + 4 queue places: batching and queueing.
  std::vector<std::vector<int32_t>> together(prompts.size());
  std::vector<absl::Status> statuses(prompts.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < prompts.size(); ++i) {
    threads.emplace_back([&, i] {
      auto r = client_->Complete(Greedy(prompts[i], 50));
      statuses[i] = r.status();
      if (r.ok()) together[i] = r->ids;
    });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < prompts.size(); ++i) {
    ASSERT_TRUE(statuses[i].ok()) << statuses[i];
    EXPECT_EQ(together[i], solo[i]) << prompts[i];
  }
  EXPECT_GE(server_->scheduler_stats().max_batch, 2);
}

TEST_F(ServerTest, CancelMidStreamFreesTheSlot) {
  int messages = 0;
  CompletionResult partial;
  auto r = client_->Complete(
      Greedy("hello", kHugeMaxTokens), [&](const v1::CompleteResponse&) { return ++messages < 3; }, {}, &partial);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(partial.num_messages, 3);
  EXPECT_FALSE(partial.ids.empty());
  EXPECT_TRUE(WaitIdle());
  // A slot is free again: a new call works.
  EXPECT_TRUE(client_->Complete(Greedy("hello", 5)).ok());
}

TEST_F(ServerTest, DeadlineStopsGeneration) {
  CallOptions opts;
  opts.timeout = milliseconds(200);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = client_->Complete(Greedy("hello", kHugeMaxTokens), nullptr, opts);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  EXPECT_TRUE(WaitIdle());
}

TEST_F(ServerTest, ServerDeadlineCapApplies) {
  ServerOptions o = TestOptions();
  o.max_deadline_ms = 150;
  server_.reset();
  StartServer(o);
  auto r = client_->Complete(Greedy("hello", kHugeMaxTokens));
  ExpectCode(r.status(), absl::StatusCode::kDeadlineExceeded, "deadline exceeded after generating");
  EXPECT_TRUE(WaitIdle());
}

TEST_F(ServerTest, QueueOverflowIsResourceExhausted) {
  ServerOptions o = TestOptions();
  o.max_slots = 1;
  o.max_queue = 1;
  server_.reset();
  StartServer(o);
  // Two endless streams: one in the slot, one queued.
  CallCanceller cancel_a, cancel_b;
  absl::Status status_a, status_b;
  std::thread a([&] {
    CallOptions opts;
    opts.canceller = &cancel_a;
    status_a = client_->Complete(Greedy("hello", kHugeMaxTokens), nullptr, opts).status();
  });
  // Wait until A holds the slot before B queues.
  for (int i = 0; i < 1000 && server_->scheduler_stats().active < 1; ++i) std::this_thread::sleep_for(milliseconds(2));
  std::thread b([&] {
    CallOptions opts;
    opts.canceller = &cancel_b;
    status_b = client_->Complete(Greedy("world", kHugeMaxTokens), nullptr, opts).status();
  });
  for (int i = 0; i < 1000 && server_->scheduler_stats().queued < 1; ++i) std::this_thread::sleep_for(milliseconds(2));
  ASSERT_EQ(server_->scheduler_stats().active, 1);
  ASSERT_EQ(server_->scheduler_stats().queued, 1);

  const auto t0 = std::chrono::steady_clock::now();
  auto c = client_->Complete(Greedy("third", 5));
  ExpectCode(c.status(), absl::StatusCode::kResourceExhausted, "at capacity");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));  // promptly

  cancel_b.Cancel();  // a queued call can leave too
  cancel_a.Cancel();
  a.join();
  b.join();
  EXPECT_EQ(status_a.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(status_b.code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(WaitIdle());
  EXPECT_TRUE(client_->Complete(Greedy("again", 5)).ok());
}

TEST_F(ServerTest, GracefulShutdownFinishesInFlightCallsAndRefusesNewOnes) {
  ServerOptions o = TestOptions();
  o.grace_period_ms = 700;
  server_.reset();
  StartServer(o);
  // A short stream that completes within the grace period and an endless one
  // that is ended by it with FINISH_REASON_CANCELLED.
  absl::StatusOr<CompletionResult> endless, short_one;
  std::atomic<int> started{0};
  std::thread t1([&] {
    endless = client_->Complete(Greedy("hello", kHugeMaxTokens), [&](const v1::CompleteResponse&) {
      started = 1;
      return true;
    });
  });
  while (started.load() == 0) std::this_thread::sleep_for(milliseconds(1));
  std::thread t2([&] { short_one = client_->Complete(Greedy("world", 2000)); });
  for (int i = 0; i < 1000 && server_->scheduler_stats().active < 2; ++i) std::this_thread::sleep_for(milliseconds(1));

  const auto t0 = std::chrono::steady_clock::now();
  std::thread stopper([&] { server_->Shutdown(); });
  // While draining: NOT_SERVING, new calls UNAVAILABLE.
  bool saw_not_serving = false;
  for (int i = 0; i < 200 && !saw_not_serving; ++i) {
    auto h = client_->Health();
    saw_not_serving = h.ok() && *h == HealthCheckResponse::NOT_SERVING;
    if (!saw_not_serving) std::this_thread::sleep_for(milliseconds(2));
  }
  EXPECT_TRUE(saw_not_serving);
  ExpectCode(client_->TokenizeIds("hello").status(), absl::StatusCode::kUnavailable, "shutting down");
  ExpectCode(client_->Complete(Greedy("new", 3)).status(), absl::StatusCode::kUnavailable, "shutting down");
  stopper.join();
  t1.join();
  t2.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(secs, 0.6);
  EXPECT_LT(secs, 4.0);
  ASSERT_TRUE(short_one.ok()) << short_one.status();
  EXPECT_EQ(short_one->finish_reason, v1::FINISH_REASON_LENGTH);
  EXPECT_EQ(short_one->usage.completion_tokens(), 2000);
  ASSERT_TRUE(endless.ok()) << endless.status();
  EXPECT_EQ(endless->finish_reason, v1::FINISH_REASON_CANCELLED);
  EXPECT_EQ(endless->usage.completion_tokens(), static_cast<int>(endless->ids.size()));
  EXPECT_GT(endless->usage.completion_tokens(), 0);
}

TEST_F(ServerTest, PortInUseIsAnErrorNotASharedPort) {
  // Without turning off gRPC's default SO_REUSEPORT, this second server
  // would start and take part of the first one's connections.
  ServerOptions o = TestOptions();
  o.port = server_->port();
  auto second = LlmServer::Start(testing::TinyAssets(), o);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(std::string(second.status().message()).find("address in use"), std::string::npos)
      << second.status();
  // The first server still answers.
  v1::TokenizeRequest req;
  req.set_text("hello");
  EXPECT_TRUE(client_->Tokenize(req).ok());
}

TEST_F(ServerTest, ManyClientsHammeringTokenizeInParallel) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        auto r = client_->TokenizeIds("hello world hello");
        if (!r.ok() || r->size() != 10u) ++failures;  // 2 + 5 + 3 tokens, by hand
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace llm
