// load_gen: a load generator for llm_server (not a test; see bench/run_load.sh).
//
// Tokenize: closed-loop load with N calls always in flight (gRPC callback
// API, so one process drives 64 concurrent calls without 64 threads) for a
// short text and a 4 KB text; reports requests/s and p50/p95/p99 latency.
// Complete: N threads each running streaming calls back to back; reports
// time-to-first-token p50/p99, aggregate generated tokens/s and the mean
// tokens per stream message (the server coalesces under load).
//
//   load_gen -p 50051 [--duration 5] [--tokenize_concurrency 1,16,64]
//            [--complete_streams 1,4,16] [--max_tokens 64] [--only tokenize|complete]
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "core/util/flags.h"
#include "llm/v1/llm.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t k = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, k == 0 ? 0 : k - 1)];
}

std::string LoadAvg() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

// One channel per connection (a local subchannel pool keeps them apart).
std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(const std::string& target, int n) {
  std::vector<std::shared_ptr<grpc::Channel>> out;
  for (int i = 0; i < n; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("llm.load_gen.channel", i);
    args.SetMaxReceiveMessageSize(64 << 20);
    out.push_back(grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Tokenize: `concurrency` calls in flight until the deadline.

class TokenizeLoad {
 public:
  TokenizeLoad(std::vector<std::unique_ptr<llm::v1::LlmService::Stub>>* stubs, const llm::v1::TokenizeRequest& req,
               Clock::time_point measure_from, Clock::time_point stop_at)
      : stubs_(stubs), req_(req), measure_from_(measure_from), stop_at_(stop_at) {}

  void Run(int concurrency) {
    in_flight_ = concurrency;
    for (int i = 0; i < concurrency; ++i) Start(static_cast<size_t>(i));
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [&] { return in_flight_ == 0; });
  }

  std::vector<double>& latencies_ms() { return latencies_ms_; }
  int64_t errors() const { return errors_; }
  std::string first_error() const { return first_error_; }

 private:
  struct Call {
    grpc::ClientContext ctx;
    llm::v1::TokenizeResponse resp;
    Clock::time_point t0;
    size_t slot;
  };

  void Start(size_t slot) {
    auto* call = new Call;
    call->slot = slot;
    call->t0 = Clock::now();
    auto& stub = (*stubs_)[slot % stubs_->size()];
    stub->async()->Tokenize(&call->ctx, &req_, &call->resp, [this, call](grpc::Status s) { Done(call, s); });
  }

  void Done(Call* call, const grpc::Status& s) {
    const Clock::time_point t1 = Clock::now();
    const size_t slot = call->slot;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!s.ok()) {
        if (errors_++ == 0) first_error_ = s.error_message();
      } else if (call->t0 >= measure_from_) {
        latencies_ms_.push_back(std::chrono::duration<double, std::milli>(t1 - call->t0).count());
      }
    }
    delete call;
    if (t1 < stop_at_) {
      Start(slot);
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (--in_flight_ == 0) done_.notify_all();
  }

  std::vector<std::unique_ptr<llm::v1::LlmService::Stub>>* stubs_;
  const llm::v1::TokenizeRequest req_;
  const Clock::time_point measure_from_, stop_at_;
  std::mutex mu_;
  std::condition_variable done_;
  int in_flight_ = 0;
  std::vector<double> latencies_ms_;
  int64_t errors_ = 0;
  std::string first_error_;
};

void BenchTokenize(std::vector<std::unique_ptr<llm::v1::LlmService::Stub>>* stubs, const std::string& label,
                   const std::string& text, int concurrency, double warmup_s, double duration_s, bool ids_only) {
  llm::v1::TokenizeRequest req;
  req.set_text(text);
  req.set_ids_only(ids_only);
  const Clock::time_point start = Clock::now();
  const auto measure_from = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup_s));
  const auto stop_at = measure_from + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(duration_s));
  TokenizeLoad load(stubs, req, measure_from, stop_at);
  load.Run(concurrency);
  auto& lat = load.latencies_ms();
  const double n = static_cast<double>(lat.size());
  std::printf("tokenize %-11s concurrency %3d: %9.0f req/s  p50 %7.3f ms  p95 %7.3f ms  p99 %7.3f ms  (%zu calls",
              label.c_str(), concurrency, n / duration_s, Percentile(lat, 0.50), Percentile(lat, 0.95),
              Percentile(lat, 0.99), lat.size());
  if (load.errors() > 0) std::printf(", %lld errors: %s", static_cast<long long>(load.errors()), load.first_error().c_str());
  std::printf(")\n");
  std::fflush(stdout);
}

// ---------------------------------------------------------------------------
// Complete: `streams` threads, each running calls back to back.

struct CompleteStats {
  double tokens_per_s = 0;
};

CompleteStats BenchComplete(std::vector<std::unique_ptr<llm::v1::LlmService::Stub>>* stubs, const std::string& prompt,
                            int streams, int max_tokens, double duration_s) {
  std::mutex mu;
  std::vector<double> ttft_ms, per_stream_tps;
  int64_t tokens = 0, calls = 0, errors = 0, messages = 0;
  std::string first_error;
  const Clock::time_point start = Clock::now();
  const auto stop_at = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(duration_s));
  std::vector<std::thread> threads;
  for (int t = 0; t < streams; ++t) {
    threads.emplace_back([&, t] {
      auto& stub = (*stubs)[static_cast<size_t>(t) % stubs->size()];
      uint64_t seed = static_cast<uint64_t>(t) * 1000003u;
      while (Clock::now() < stop_at) {
        llm::v1::CompleteRequest req;
        req.set_prompt(prompt);
        req.set_max_tokens(max_tokens);
        req.set_seed(seed++);
        grpc::ClientContext ctx;
        const Clock::time_point t0 = Clock::now();
        Clock::time_point first{};
        int64_t n = 0, m = 0;
        auto reader = stub->Complete(&ctx, req);
        llm::v1::CompleteResponse msg;
        while (reader->Read(&msg)) {
          if (msg.token_ids_size() > 0 && n == 0) first = Clock::now();
          n += msg.token_ids_size();
          m += msg.token_ids_size() > 0 ? 1 : 0;
        }
        grpc::Status s = reader->Finish();
        const Clock::time_point t1 = Clock::now();
        std::lock_guard<std::mutex> lock(mu);
        if (!s.ok()) {
          if (errors++ == 0) first_error = s.error_message();
          continue;
        }
        ++calls;
        tokens += n;
        messages += m;
        if (n > 0) ttft_ms.push_back(std::chrono::duration<double, std::milli>(first - t0).count());
        if (n > 1) per_stream_tps.push_back(static_cast<double>(n) / std::chrono::duration<double>(t1 - t0).count());
      }
    });
  }
  for (auto& th : threads) th.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  CompleteStats st;
  st.tokens_per_s = static_cast<double>(tokens) / elapsed;
  std::printf("complete streams %3d: %8.1f tokens/s aggregate  TTFT p50 %7.2f ms  p99 %7.2f ms  "
              "per-stream p50 %6.1f tokens/s  %.1f tokens/message  (%lld calls x %d tokens",
              streams, st.tokens_per_s, Percentile(ttft_ms, 0.50), Percentile(ttft_ms, 0.99),
              Percentile(per_stream_tps, 0.50),
              messages > 0 ? static_cast<double>(tokens) / static_cast<double>(messages) : 0.0,
              static_cast<long long>(calls), max_tokens);
  if (errors > 0) std::printf(", %lld errors: %s", static_cast<long long>(errors), first_error.c_str());
  std::printf(")\n");
  std::fflush(stdout);
  return st;
}

bool ParseList(const std::string& s, std::vector<int>* out) {
  out->clear();
  for (absl::string_view part : absl::StrSplit(s, ',', absl::SkipEmpty())) {
    int v;
    if (!absl::SimpleAtoi(part, &v) || v < 1) return false;
    out->push_back(v);
  }
  return !out->empty();
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1", tok_conc = "1,16,64", streams_list = "1,4,16", only, text_file = "assets/text/test.txt";
  std::string prompt = "ROMEO:";
  int64_t port = 50051, max_tokens = 64, channels = 2;
  double duration = 5.0, warmup = 0.5;
  bool ids_only = false;
  llm::FlagParser p("load_gen", "Load generator for llm_server: Tokenize throughput/latency and Complete streaming.");
  p.AddString({"--host"}, &host, "llm_server host");
  p.AddInt({"-p", "--port"}, &port, "llm_server port");
  p.AddDouble({"--duration"}, &duration, "Seconds measured per configuration");
  p.AddDouble({"--warmup"}, &warmup, "Seconds of Tokenize load before measuring");
  p.AddString({"--tokenize_concurrency"}, &tok_conc, "Comma-separated Tokenize concurrencies");
  p.AddString({"--complete_streams"}, &streams_list, "Comma-separated numbers of concurrent Complete streams");
  p.AddInt({"--max_tokens"}, &max_tokens, "Tokens generated per Complete call");
  p.AddString({"--prompt"}, &prompt, "Complete prompt");
  p.AddInt({"--channels"}, &channels, "gRPC connections to spread the calls over");
  p.AddBool({"--ids_only"}, &ids_only, "Tokenize with ids_only (no per-token details)");
  p.AddString({"--text_file"}, &text_file, "Source of the 4 KB Tokenize text (synthetic text if missing)");
  p.AddString({"--only"}, &only, "Run only 'tokenize' or 'complete'");
  if (int rc = p.ParseOrExit(argc, argv); rc >= 0) return rc;
  std::vector<int> concs, streams;
  if (!ParseList(tok_conc, &concs) || !ParseList(streams_list, &streams) || channels < 1 || duration <= 0) {
    std::fprintf(stderr, "load_gen: bad --tokenize_concurrency/--complete_streams/--channels/--duration\n");
    return 2;
  }

  const std::string target = host + ":" + std::to_string(port);
  auto chans = MakeChannels(target, static_cast<int>(channels));
  std::vector<std::unique_ptr<llm::v1::LlmService::Stub>> stubs;
  for (auto& c : chans) {
    if (!c->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
      std::fprintf(stderr, "load_gen: cannot reach llm_server at %s\n", target.c_str());
      return 1;
    }
    stubs.push_back(llm::v1::LlmService::NewStub(c));
  }
  {
    grpc::ClientContext ctx;
    llm::v1::GetInfoResponse info;
    grpc::Status s = stubs[0]->GetInfo(&ctx, llm::v1::GetInfoRequest(), &info);
    if (s.ok()) {
      std::printf("server %s: tokenizer %s (vocab %d), model %s:%lld (%lld params), slots %d\n", target.c_str(),
                  info.tokenizer().name().c_str(), info.tokenizer().vocab_size(), info.model().name().c_str(),
                  static_cast<long long>(info.model().iteration()),
                  static_cast<long long>(info.model().num_parameters()), info.limits().max_slots());
    }
  }
  std::printf("load average at start: %s (cores: %u)\n", LoadAvg().c_str(), std::thread::hardware_concurrency());

  if (only.empty() || only == "tokenize") {
    const std::string short_text = "To be, or not to be: that is the question.";
    std::string long_text;
    {
      std::ifstream f(text_file, std::ios::binary);
      std::stringstream ss;
      ss << f.rdbuf();
      long_text = ss.str().substr(0, 4096);
    }
    std::string source = "from " + text_file;
    if (long_text.size() < 4096) {
      long_text.clear();
      while (long_text.size() < 4096) long_text += "Now is the winter of our discontent made glorious summer. ";
      long_text.resize(4096);
      source = "synthetic";
    }
    std::printf("tokenize texts: short = %zu bytes, 4k = %zu bytes (%s); %s\n", short_text.size(), long_text.size(),
                source.c_str(), ids_only ? "ids_only" : "full token details");
    for (int c : concs) BenchTokenize(&stubs, "short", short_text, c, warmup, duration, ids_only);
    for (int c : concs) BenchTokenize(&stubs, "4KB", long_text, c, warmup, duration, ids_only);
  }
  if (only.empty() || only == "complete") {
    double single = 0, last = 0;
    int last_n = 0;
    for (int s : streams) {
      CompleteStats st = BenchComplete(&stubs, prompt, s, static_cast<int>(max_tokens), duration);
      if (s == 1) single = st.tokens_per_s;
      last = st.tokens_per_s;
      last_n = s;
    }
    if (single > 0 && last_n > 1)
      std::printf("complete scaling: %d streams = %.2fx the single-stream tokens/s\n", last_n, last / single);
  }
  std::printf("load average at end: %s\n", LoadAvg().c_str());
  return 0;
}
