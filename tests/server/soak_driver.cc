// server_soak: a bounded soak test of the real llm_server binary (tiny model)
// under mixed load with faults. Run by ctest (label `soak`, ~60 s):
//
//   server_soak --server BUILD/server/llm_server --client BUILD/client/llm_client [--seconds 60]
//
// 64 worker threads (concurrency 64) loop over random calls: Tokenize,
// Detokenize, Complete and GetInfo, valid and invalid (bad UTF-8, oversized
// texts and messages, bad ids, bad parameters, disallowed special tokens),
// Completes cancelled by the client mid-stream (from the reader and from
// another thread), Completes with very short deadlines; meanwhile llm_client
// processes are started on streaming completions and SIGKILLed mid-stream
// (the connection disappears), and a health prober runs every 250 ms.
//
// Pass criteria (exit 0 iff all hold):
//  * the server never crashes (it is still running at the end and exits 0
//    on SIGTERM);
//  * every call ends with a status expected for its kind (e.g. an oversized
//    text is INVALID_ARGUMENT, a cancelled stream CANCELLED, any Complete may
//    be RESOURCE_EXHAUSTED when slots and queue are full);
//  * no call hangs: every call has a deadline and a watchdog checks that each
//    returned within deadline + 5 s;
//  * server VmRSS after the run is within max(20 MB, 10%) of VmRSS after the
//    warm-up phase (same load), or for runs of 120 s or more of VmRSS at
//    mid-run (the allocator fills up for ~3 minutes, then stays flat);
//  * health answers SERVING throughout; afterwards slots + queue places are
//    all free again (that many concurrent calls are all admitted).
// Prints the figures: calls, status codes per kind, RSS before/after.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/llm_client_lib.h"
#include "core/util/flags.h"
#include "tests/server/test_util.h"

extern char** environ;

namespace llm {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using Code = absl::StatusCode;

// Server limits used by the soak (small, so the limits are actually hit).
constexpr int kSlots = 4;
constexpr int kQueue = 8;
constexpr int kMaxPromptBytes = 4096;
constexpr int kMaxMessageBytes = 64 * 1024;
constexpr int kTokensCap = 4000;
constexpr int kWorkers = 64;
constexpr int kChannels = 8;

int64_t VmRssKb(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6);
  }
  return -1;
}

bool Alive(pid_t pid) { return waitpid(pid, nullptr, WNOHANG) == 0; }

// Statistics shared by all threads.
struct Stats {
  std::mutex mu;
  std::map<std::string, std::map<Code, int64_t>> by_kind;  // kind -> code -> count
  std::map<std::string, std::string> sample;               // "kind code" -> first message
  std::vector<std::string> unexpected;                     // first few descriptions
  int64_t unexpected_count = 0;
  int64_t calls = 0;

  void Record(const std::string& kind, const absl::Status& s, const std::set<Code>& expected) {
    std::lock_guard<std::mutex> lock(mu);
    ++calls;
    ++by_kind[kind][s.code()];
    if (!s.ok()) sample.emplace(absl::StrCat(kind, " ", absl::StatusCodeToString(s.code())), std::string(s.message()));
    if (expected.count(s.code()) == 0) {
      ++unexpected_count;
      if (unexpected.size() < 20) unexpected.push_back(absl::StrCat(kind, ": ", s.ToString()));
    }
  }
};

// Each worker publishes the start time of its current call and its deadline
// so the watchdog can see a call that does not return.
struct Slot {
  std::atomic<int64_t> start_ms{-1};  // -1 = idle
  std::atomic<int64_t> deadline_ms{0};
};

// The driver and the server come from the same build tree, so the driver's
// own instrumentation tells how the server was built.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

int64_t NowMs() {
  return std::chrono::duration_cast<milliseconds>(Clock::now().time_since_epoch()).count();
}

class Soak {
 public:
  Soak(std::string target, Stats* stats) : stats_(stats) {
    for (int i = 0; i < kChannels; ++i) {
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // separate connections
      args.SetInt("llm.soak.channel", i);
      args.SetMaxReceiveMessageSize(1 << 20);
      args.SetMaxSendMessageSize(1 << 20);
      channels_.push_back(grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
      clients_.push_back(std::make_unique<LlmClient>(channels_.back()));
    }
  }

  // Establishes every channel's connection before the load starts (a
  // channel connects lazily, and a first connect that fails puts it in
  // backoff for ~1 s, failing every call meanwhile). Returns the slowest
  // channel's time in ms, or -1 if one is not READY within 20 s.
  int64_t Connect() {
    const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(20);
    const int64_t t0 = NowMs();
    for (auto& ch : channels_) {
      if (!ch->WaitForConnected(deadline)) return -1;
    }
    return NowMs() - t0;
  }

  // Runs one random call on worker `w`.
  void OneCall(int w, std::mt19937& rng, Slot* slot) {
    LlmClient& c = *clients_[static_cast<size_t>(w % kChannels)];
    const int pick = std::uniform_int_distribution<int>(0, 99)(rng);
    CallOptions opts;
    opts.timeout = milliseconds(10000);
    auto begin = [&](milliseconds timeout) {
      opts.timeout = timeout;
      slot->deadline_ms = timeout.count();
      slot->start_ms = NowMs();
    };
    const std::set<Code> ok = {Code::kOk};
    const std::set<Code> invalid = {Code::kInvalidArgument};
    // Complete may always be refused when slots + queue are full.
    const std::set<Code> complete_ok = {Code::kOk, Code::kResourceExhausted};

    if (pick < 25) {  // Tokenize, valid, short or up to the limit
      v1::TokenizeRequest r;
      r.set_text(RandomText(rng, pick < 20 ? 40 : kMaxPromptBytes));
      r.set_ids_only(pick % 2 == 0);
      begin(milliseconds(10000));
      auto resp = c.Tokenize(r, opts);
      absl::Status s = resp.status();
      if (resp.ok() && resp->ids_size() == 0 && !r.text().empty()) s = absl::InternalError("no ids");
      stats_->Record("tokenize", s, {Code::kOk, Code::kResourceExhausted});
    } else if (pick < 28) {  // invalid UTF-8
      v1::TokenizeRequest r;
      r.set_text(RandomText(rng, 30) + "\xff\xfe" + RandomText(rng, 5));
      begin(milliseconds(10000));
      stats_->Record("tokenize_bad_utf8", c.Tokenize(r, opts).status(), invalid);
    } else if (pick < 30) {  // over --max_prompt_bytes, under the message limit
      v1::TokenizeRequest r;
      r.set_text(std::string(kMaxPromptBytes + 1 + static_cast<int>(rng() % 1000), 'a'));
      begin(milliseconds(10000));
      stats_->Record("tokenize_too_long", c.Tokenize(r, opts).status(), invalid);
    } else if (pick < 32) {  // over --max_message_bytes: refused by the transport
      v1::TokenizeRequest r;
      r.set_text(std::string(kMaxMessageBytes + 100, 'b'));
      begin(milliseconds(10000));
      stats_->Record("tokenize_huge_message", c.Tokenize(r, opts).status(), {Code::kResourceExhausted});
    } else if (pick < 42) {  // Detokenize, valid
      std::vector<int32_t> ids;
      const int n = 1 + static_cast<int>(rng() % 64);
      for (int i = 0; i < n; ++i) ids.push_back(static_cast<int32_t>(rng() % testing::kEndOfText));
      begin(milliseconds(10000));
      stats_->Record("detokenize", c.Detokenize(ids, opts).status(), {Code::kOk, Code::kResourceExhausted});
    } else if (pick < 45) {  // Detokenize, bad id
      begin(milliseconds(10000));
      const int32_t bad = (rng() % 2) ? -1 : 100000;
      stats_->Record("detokenize_bad_id", c.Detokenize({1, 2, bad}, opts).status(), invalid);
    } else if (pick < 48) {
      begin(milliseconds(10000));
      stats_->Record("get_info", c.Info(opts).status(), ok);
    } else if (pick < 68) {  // Complete to the end
      v1::CompleteRequest r = Prompt(rng);
      r.set_max_tokens(1 + static_cast<int>(rng() % 64));
      begin(milliseconds(20000));
      auto res = c.Complete(r, nullptr, opts);
      absl::Status s = res.status();
      if (res.ok() && res->usage.completion_tokens() != r.max_tokens()) {
        s = absl::InternalError(absl::StrCat("completion_tokens ", res->usage.completion_tokens(), " != ",
                                             r.max_tokens()));
      }
      stats_->Record("complete", s, complete_ok);
    } else if (pick < 75) {  // the reader cancels after 1..5 chunks
      v1::CompleteRequest r = Prompt(rng);
      r.set_max_tokens(kTokensCap);
      int left = 1 + static_cast<int>(rng() % 5);
      begin(milliseconds(20000));
      auto res = c.Complete(r, [&](const v1::CompleteResponse& m) {
        return --left > 0 && m.finish_reason() == v1::FINISH_REASON_UNSPECIFIED;
      }, opts);
      stats_->Record("complete_reader_cancel", res.status(),
                     {Code::kCancelled, Code::kResourceExhausted, Code::kOk});
    } else if (pick < 82) {  // cancelled from another thread after 0..50 ms
      v1::CompleteRequest r = Prompt(rng);
      r.set_max_tokens(kTokensCap);
      const int delay = static_cast<int>(rng() % 50);
      // Own context (outlives the canceller thread), raw stub.
      auto stub = v1::LlmService::NewStub(c.channel());
      grpc::ClientContext ctx;
      begin(milliseconds(20000));
      ctx.set_deadline(std::chrono::system_clock::now() + opts.timeout);
      std::thread canceller([&] {
        std::this_thread::sleep_for(milliseconds(delay));
        ctx.TryCancel();
      });
      auto reader = stub->Complete(&ctx, r);
      v1::CompleteResponse msg;
      while (reader->Read(&msg)) {
      }
      const grpc::Status gs = reader->Finish();
      canceller.join();
      const absl::Status st(static_cast<absl::StatusCode>(gs.error_code()), gs.error_message());
      stats_->Record("complete_try_cancel", st, {Code::kCancelled, Code::kResourceExhausted, Code::kOk});
    } else if (pick < 89) {  // a deadline too short to finish
      v1::CompleteRequest r = Prompt(rng);
      r.set_max_tokens(kTokensCap);
      begin(milliseconds(1 + rng() % 30));
      auto res = c.Complete(r, nullptr, opts);
      stats_->Record("complete_short_deadline", res.status(),
                     {Code::kDeadlineExceeded, Code::kResourceExhausted, Code::kOk});
    } else {  // invalid Complete requests
      v1::CompleteRequest r = Prompt(rng);
      switch (pick % 5) {
        case 0: r.set_max_tokens(kTokensCap + 1); break;
        case 1: r.set_temperature(-1); break;
        case 2: r.set_prompt("x<|endoftext|>y"); break;  // special token not allowed
        case 3: r.set_prompt(""); break;
        case 4: r.set_prompt(std::string(kMaxPromptBytes + 10, 'z')); break;
      }
      begin(milliseconds(10000));
      stats_->Record("complete_invalid", c.Complete(r, nullptr, opts).status(), invalid);
    }
    slot->start_ms = -1;
  }

  static std::string RandomText(std::mt19937& rng, int max_len) {
    static const char kChars[] = "hello world hell he ll wo\n\tHELLO 123 .,;!?";
    const int n = 1 + static_cast<int>(rng() % static_cast<unsigned>(max_len));
    std::string s;
    s.reserve(static_cast<size_t>(n) + 3);
    while (static_cast<int>(s.size()) < n) {
      if (rng() % 50 == 0 && static_cast<int>(s.size()) + 2 <= n) {
        s += "\xc3\xa9";  // é: valid multi-byte UTF-8
      } else {
        s += kChars[rng() % (sizeof(kChars) - 1)];
      }
    }
    return s;  // valid UTF-8, n bytes
  }

  static v1::CompleteRequest Prompt(std::mt19937& rng) {
    v1::CompleteRequest r;
    std::string p;
    const int n = 1 + static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) p += "hello world "[rng() % 12];
    r.set_prompt(p);
    if (rng() % 2) r.set_temperature(0);
    r.set_seed(rng());
    return r;
  }

  LlmClient& client(int i) { return *clients_[static_cast<size_t>(i)]; }

 private:
  Stats* stats_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<LlmClient>> clients_;
};

// Starts `argv` with stdin from a pipe (returned in *stdin_fd) and
// stdout/stderr to /dev/null.
pid_t SpawnClient(const std::vector<std::string>& args, int* stdin_fd) {
  int in[2];
  if (pipe(in) != 0) return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_addclose(&fa, in[1]);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  *stdin_fd = in[1];
  return pid;
}

int Run(const std::string& server_bin, const std::string& client_bin, double seconds, double warmup_s) {
  std::signal(SIGPIPE, SIG_IGN);
  const auto dir = std::filesystem::temp_directory_path() / ("llm_soak_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  if (absl::Status s = testing::WriteTinyAssets(dir.string()); !s.ok()) {
    std::fprintf(stderr, "soak: cannot write tiny assets: %s\n", s.ToString().c_str());
    return 1;
  }
  const std::string log_path = (dir / "server.log").string();
  // Server: stdout -> pipe (port line), stderr -> log file.
  int out[2];
  if (pipe(out) != 0) return 1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_addclose(&fa, out[0]);
  posix_spawn_file_actions_addopen(&fa, 2, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> args = {server_bin, "-t", "tiny", "-n", "tiny", "-c", "0", "--assets", dir.string(),
                                   "--port", "0", "--threads", "2",
                                   "--max_slots", std::to_string(kSlots), "--max_queue", std::to_string(kQueue),
                                   "--decode_threads", "2",  // two workers share the 4 slots
                                   "--max_tokens_cap", std::to_string(kTokensCap),
                                   "--max_prompt_bytes", std::to_string(kMaxPromptBytes),
                                   "--max_message_bytes", std::to_string(kMaxMessageBytes),
                                   "--max_unary_queue", "256", "--grace_period", "1", "--log_level", "warn"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t server = -1;
  if (posix_spawn(&server, server_bin.c_str(), &fa, nullptr, argv.data(), environ) != 0) {
    std::fprintf(stderr, "soak: cannot start %s\n", server_bin.c_str());
    return 1;
  }
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  std::string line;
  char ch;
  int port = -1;
  while (read(out[0], &ch, 1) == 1) {
    if (ch != '\n') {
      line += ch;
      continue;
    }
    if (line.rfind("listening on 127.0.0.1:", 0) == 0) {
      port = std::atoi(line.c_str() + 23);
      break;
    }
    line.clear();
  }
  if (port <= 0) {
    std::fprintf(stderr, "soak: the server did not start; log %s\n", log_path.c_str());
    return 1;
  }
  const std::string target = absl::StrCat("127.0.0.1:", port);
  std::printf("soak: llm_server pid %d on %s, %d workers, %.0f s warm-up + %.0f s soak\n", server, target.c_str(),
              kWorkers, warmup_s, seconds);
  std::fflush(stdout);

  Stats warm_stats, stats;
  std::atomic<Stats*> current{&warm_stats};
  std::atomic<bool> stop{false};
  std::vector<Slot> slots(kWorkers);
  std::vector<std::unique_ptr<Soak>> soaks;
  soaks.push_back(std::make_unique<Soak>(target, &warm_stats));
  soaks.push_back(std::make_unique<Soak>(target, &stats));
  for (auto& soak : soaks) {
    const int64_t ms = soak->Connect();
    if (ms < 0) {
      std::printf("soak: FAIL: a channel to %s did not connect within 20 s\n", target.c_str());
      kill(server, SIGKILL);
      waitpid(server, nullptr, 0);
      return 1;
    }
    if (ms > 500) std::printf("soak: note: channels took %lld ms to connect\n", static_cast<long long>(ms));
  }
  std::atomic<int> phase{0};

  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      std::mt19937 rng(1000 + static_cast<unsigned>(w));
      while (!stop.load()) soaks[static_cast<size_t>(phase.load())]->OneCall(w, rng, &slots[static_cast<size_t>(w)]);
    });
  }
  // Watchdog: a call running 5 s past its deadline is a hang.
  std::atomic<int> hangs{0};
  std::thread watchdog([&] {
    while (!stop.load()) {
      const int64_t now = NowMs();
      for (Slot& s : slots) {
        const int64_t start = s.start_ms.load();
        if (start >= 0 && now - start > s.deadline_ms.load() + 5000) {
          if (hangs.fetch_add(1) < 5) std::fprintf(stderr, "soak: a call has run %lld ms\n", (long long)(now - start));
          s.start_ms = -1;  // report once
        }
      }
      std::this_thread::sleep_for(milliseconds(200));
    }
  });
  // Health prober.
  std::atomic<int> health_ok{0}, health_bad{0};
  std::thread prober([&] {
    LlmClient c(target);
    while (!stop.load()) {
      CallOptions o;
      o.timeout = milliseconds(3000);
      auto h = c.Health("", o);
      if (h.ok() && *h == grpc::health::v1::HealthCheckResponse::SERVING) {
        ++health_ok;
      } else if (health_bad.fetch_add(1) < 5) {
        std::fprintf(stderr, "soak: health: %s\n", h.ok() ? "not SERVING" : h.status().ToString().c_str());
      }
      std::this_thread::sleep_for(milliseconds(250));
    }
  });
  // Disconnecting clients: llm_client streams a long completion and is
  // SIGKILLed after 20..400 ms.
  std::atomic<int> killed{0}, client_exited{0};
  std::thread killer([&] {
    std::mt19937 rng(7);
    const std::vector<std::string> cargs = {client_bin, "-e", "complete", "--host", "127.0.0.1", "-p",
                                            std::to_string(port), "--max_tokens", std::to_string(kTokensCap)};
    while (!stop.load()) {
      int in_fd = -1;
      pid_t pid = SpawnClient(cargs, &in_fd);
      if (pid > 0) {
        const char prompt[] = "hello world\n";
        (void)!write(in_fd, prompt, sizeof(prompt) - 1);  // keep stdin open: no EOF
        std::this_thread::sleep_for(milliseconds(20 + rng() % 380));
        if (Alive(pid)) {
          kill(pid, SIGKILL);
          ++killed;
        } else {
          ++client_exited;
        }
        waitpid(pid, nullptr, 0);
      }
      if (in_fd >= 0) close(in_fd);
      std::this_thread::sleep_for(milliseconds(100));
    }
  });

  auto sleep_checking = [&](double s) {
    const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
    while (Clock::now() < end && Alive(server)) std::this_thread::sleep_for(milliseconds(100));
  };
  sleep_checking(warmup_s);
  const int64_t rss_warm = VmRssKb(server);
  phase = 1;
  std::printf("soak: warm-up done: %lld calls, server VmRSS %lld kB\n", (long long)warm_stats.calls,
              (long long)rss_warm);
  std::fflush(stdout);
  const auto t0 = Clock::now();
  sleep_checking(seconds / 2);
  const int64_t rss_mid = VmRssKb(server);
  sleep_checking(seconds / 2);
  const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  stop = true;
  for (auto& t : workers) t.join();
  killer.join();
  prober.join();
  watchdog.join();

  bool pass = true;
  auto fail = [&](const std::string& why) {
    std::printf("FAIL: %s\n", why.c_str());
    pass = false;
  };
  const bool alive = Alive(server);
  if (!alive) fail("llm_server died during the soak (see " + log_path + ")");

  int64_t rss_after = -1;
  if (alive) {
    // Let finished calls be cleaned up, then check that every slot and queue
    // place is free again: kSlots + kQueue concurrent calls are all admitted.
    std::this_thread::sleep_for(milliseconds(1000));
    rss_after = VmRssKb(server);
    LlmClient c(target);
    std::vector<absl::Status> results(kSlots + kQueue);
    std::vector<std::thread> ts;
    for (int i = 0; i < kSlots + kQueue; ++i) {
      ts.emplace_back([&, i] {
        v1::CompleteRequest r;
        r.set_prompt("hello");
        r.set_max_tokens(200);
        CallOptions o;
        o.timeout = milliseconds(20000);
        results[static_cast<size_t>(i)] = c.Complete(r, nullptr, o).status();
      });
    }
    for (auto& t : ts) t.join();
    int admitted = 0;
    for (const auto& s : results) admitted += s.ok();
    if (admitted != kSlots + kQueue) {
      fail(absl::StrCat("after the soak only ", admitted, " of ", kSlots + kQueue,
                        " concurrent completions were admitted (leaked slots?)"));
    }
    CallOptions o;
    o.timeout = milliseconds(3000);
    auto h = c.Health("", o);
    if (!h.ok() || *h != grpc::health::v1::HealthCheckResponse::SERVING) fail("health is not SERVING after the soak");
  }

  // Figures.
  std::printf("\nsoak: %.1f s, %lld calls (%.0f/s), %d llm_client processes killed mid-stream (%d ended first)\n",
              elapsed, (long long)stats.calls, static_cast<double>(stats.calls) / elapsed, killed.load(),
              client_exited.load());
  std::printf("%-26s %s\n", "call kind", "status codes");
  for (const auto& [kind, codes] : stats.by_kind) {
    std::string row;
    for (const auto& [code, n] : codes) row += absl::StrCat(absl::StatusCodeToString(code), "=", n, " ");
    std::printf("%-26s %s\n", kind.c_str(), row.c_str());
  }
  std::printf("sample messages:\n");
  for (const auto& [key, msg] : stats.sample) std::printf("  %-40s %.110s\n", key.c_str(), msg.c_str());
  std::printf("health checks: %d SERVING, %d failed\n", health_ok.load(), health_bad.load());
  // Memory: a leak grows for as long as the load runs; the allocator's and
  // caches' fill-up does not (measured with LLM_SOAK_SECONDS=330: about
  // +24 MB over the first ~3 minutes, then flat). The default 50 s soak
  // compares with the RSS after warm-up; soaks of 120 s or more with the RSS
  // at their midpoint, after the fill-up.
  const int64_t margin = std::max<int64_t>(20 * 1024, rss_warm / 10);
  const int64_t rss_ref = seconds >= 120 ? rss_mid : rss_warm;
  std::printf("server VmRSS: %lld kB after warm-up, %lld kB at mid-soak, %lld kB after the soak "
              "(%+lld kB over the %s; limit +%lld kB)\n",
              (long long)rss_warm, (long long)rss_mid, (long long)rss_after, (long long)(rss_after - rss_ref),
              seconds >= 120 ? "midpoint" : "warm-up", (long long)margin);

  if (stats.unexpected_count > 0) {
    fail(absl::StrCat(stats.unexpected_count, " calls ended with an unexpected status"));
    for (const auto& u : stats.unexpected) std::printf("  %s\n", u.c_str());
  }
  if (warm_stats.unexpected_count > 0) {
    fail(absl::StrCat(warm_stats.unexpected_count, " warm-up calls ended with an unexpected status"));
    for (const auto& u : warm_stats.unexpected) std::printf("  %s\n", u.c_str());
  }
  if (hangs.load() > 0) fail(absl::StrCat(hangs.load(), " calls did not end within their deadline + 5 s"));
  if (health_bad.load() > 0) fail(absl::StrCat(health_bad.load(), " health checks failed or were not SERVING"));
  if (stats.calls < 1000) fail(absl::StrCat("only ", stats.calls, " calls: the load did not run"));
  if (killed.load() == 0) fail("no client process was killed mid-stream");
  if (kAddressSanitizer) {
    // ASan keeps freed memory in its quarantine (256 MB by default), so RSS
    // climbs until the quarantine is full; leaks are LeakSanitizer's job at
    // the server's exit (a leak makes the exit status non-zero: checked).
    std::printf("memory check skipped: AddressSanitizer build (LeakSanitizer checks at exit)\n");
  } else if (alive && rss_after > rss_ref + margin) {
    fail("server memory grew beyond the margin");
  }
  // Check that every kind of fault actually happened.
  for (const char* kind : {"tokenize_huge_message", "complete_reader_cancel", "complete_try_cancel",
                           "complete_short_deadline", "complete_invalid", "tokenize_too_long"}) {
    if (stats.by_kind[kind].empty()) fail(absl::StrCat("no ", kind, " calls ran"));
  }

  if (alive) {
    kill(server, SIGTERM);
    int status = 0;
    pid_t r = 0;
    for (int i = 0; i < 1000 && r == 0; ++i) {  // 10 s
      r = waitpid(server, &status, WNOHANG);
      if (r == 0) std::this_thread::sleep_for(milliseconds(10));
    }
    if (r == 0) {
      kill(server, SIGKILL);
      waitpid(server, &status, 0);
      fail("llm_server did not exit within 10 s of SIGTERM");
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fail(absl::StrCat("llm_server exit status ", status, " after SIGTERM"));
    }
  }
  std::printf("%s\n", pass ? "soak: PASS" : "soak: FAIL");
  if (pass) {
    std::filesystem::remove_all(dir);
  } else {
    std::printf("server log kept in %s\n", log_path.c_str());
  }
  return pass ? 0 : 1;
}

}  // namespace
}  // namespace llm

int main(int argc, char** argv) {
  std::string server_bin, client_bin;
  double seconds = 50, warmup = 10;
  llm::FlagParser p("server_soak", "Soak test of llm_server under mixed load with faults (see the source).");
  p.AddString({"--server"}, &server_bin, "Path of the llm_server binary", true);
  p.AddString({"--client"}, &client_bin, "Path of the llm_client binary", true);
  p.AddDouble({"--seconds"}, &seconds, "Soak duration after the warm-up");
  p.AddDouble({"--warmup"}, &warmup, "Warm-up duration (RSS baseline taken after it)");
  if (int rc = p.ParseOrExit(argc, argv); rc >= 0) return rc;
  if (const char* env = std::getenv("LLM_SOAK_SECONDS"); env != nullptr) seconds = std::atof(env);
  return llm::Run(server_bin, client_bin, seconds, warmup);
}
