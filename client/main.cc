// llm_client: the original project's demo client (serving/client.py), over
// gRPC. Reads lines from standard input and, for each one, either prints its
// tokens or streams a completion:
//
//   llm_client -e tokenize [--host 127.0.0.1] [-p 50051]
//   Enter text to tokenize:MACBETH
//       77: [M]
//    1,410: [ACBETH]          (one line per token: f"{id:>6,}: [{piece}]")
//
//   llm_client -e complete --max_tokens 100 --temperature 0.8
//   Enter text to complete:ROMEO:
//   <the generated text, printed as it arrives, then a newline>
//
// A literal "\n" typed in a line becomes a newline. The prompt is printed
// only when standard input is a terminal, so piped input gives clean output:
//
//   printf 'ROMEO:\\nJULIET:\n' | llm_client -e tokenize
//
// EOF (Ctrl-D) exits 0. Ctrl-C at the prompt exits 0 (130 when standard input
// is not a terminal); Ctrl-C while a completion is streaming cancels that call
// and returns to the prompt. Errors from the server are one line on stderr
// ("error: ..."); the next line is still processed and the exit code is 1.
// If the server cannot be reached the client says so and exits 1 at once.
//
//   llm_client --health   prints the grpc.health.v1 status; exit 0 iff SERVING
//   llm_client --info     prints the loaded tokenizer/model and server limits
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "client/llm_client_extra.h"
#include "client/llm_client_lib.h"
#include "core/tokenizer/utf8.h"
#include "core/util/flags.h"
#include "llm/v1/llm.grpc.pb.h"
#include "server/status_grpc.h"

namespace {

using llm::client::DescribeError;
using llm::client::FormatTokenLine;
using llm::client::UnescapeNewlines;

// ---------------------------------------------------------------------------
// Interruption. SIGINT/SIGTERM are blocked in every thread (gRPC's threads
// inherit the mask) and received by one thread with sigwait. That thread
// cancels the call in flight (if any) or wakes the line reader via a pipe.

std::mutex g_mu;
grpc::ClientContext* g_active_call = nullptr;  // guarded by g_mu
bool g_call_interrupted = false;               // guarded by g_mu
std::atomic<bool> g_terminate{false};          // SIGTERM received
int g_wake_pipe[2] = {-1, -1};

void SignalLoop(sigset_t signals) {
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    std::lock_guard<std::mutex> lock(g_mu);
    if (sig == SIGTERM) g_terminate = true;
    if (g_active_call != nullptr) {
      g_call_interrupted = true;
      g_active_call->TryCancel();
    }
    if (g_active_call == nullptr || sig == SIGTERM) {
      char byte = 'x';
      ssize_t unused = write(g_wake_pipe[1], &byte, 1);
      (void)unused;
    }
  }
}

// Registers `ctx` as the interruptible call for its lifetime scope.
class ActiveCall {
 public:
  explicit ActiveCall(grpc::ClientContext* ctx) {
    std::lock_guard<std::mutex> lock(g_mu);
    g_active_call = ctx;
    g_call_interrupted = false;
  }
  ~ActiveCall() {
    std::lock_guard<std::mutex> lock(g_mu);
    g_active_call = nullptr;
  }
  // True if a signal cancelled the call.
  bool interrupted() const {
    std::lock_guard<std::mutex> lock(g_mu);
    return g_call_interrupted;
  }
};

// ---------------------------------------------------------------------------
// Line input from fd 0 that a signal can interrupt (poll on stdin + the wake
// pipe). Lines are split on '\n' (not included); a last line without '\n' is
// still returned before EOF.

enum class ReadResult { kLine, kEof, kInterrupted };

class LineReader {
 public:
  ReadResult Next(std::string* line) {
    for (;;) {
      size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        line->assign(buffer_, 0, nl);
        buffer_.erase(0, nl + 1);
        return ReadResult::kLine;
      }
      if (eof_) {
        if (buffer_.empty()) return ReadResult::kEof;
        *line = std::move(buffer_);
        buffer_.clear();
        return ReadResult::kLine;
      }
      pollfd fds[2] = {{0, POLLIN, 0}, {g_wake_pipe[0], POLLIN, 0}};
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        eof_ = true;
        continue;
      }
      if (fds[1].revents & POLLIN) {
        char byte;
        ssize_t unused = read(g_wake_pipe[0], &byte, 1);
        (void)unused;
        return ReadResult::kInterrupted;
      }
      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
        char chunk[65536];
        ssize_t n = read(0, chunk, sizeof(chunk));
        if (n > 0) {
          buffer_.append(chunk, static_cast<size_t>(n));
        } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
          eof_ = true;
        }
      }
    }
  }

 private:
  std::string buffer_;
  bool eof_ = false;
};

void WriteStdout(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}

// ---------------------------------------------------------------------------

struct Settings {
  std::string endpoint;
  bool allow_special = false;
  int64_t max_tokens = 500;
  bool max_tokens_set = false;
  double temperature = 1.0;
  bool temperature_set = false;
  int64_t top_k = 0;
  double top_p = 1.0;
  bool top_p_set = false;
  int64_t seed = 0;
  bool seed_set = false;
  std::vector<std::string> stops;
};

class Client {
 public:
  Client(std::string target, std::shared_ptr<grpc::Channel> channel, std::string auth_token)
      : target_(std::move(target)),
        lib_(std::move(channel), std::move(auth_token)),
        stub_(llm::v1::LlmService::NewStub(lib_.channel())) {}

  const std::string& target() const { return target_; }
  llm::LlmClient& lib() { return lib_; }

  // True if `s` means the channel never got a connection (as opposed to an
  // error the server sent).
  bool Unreachable(const absl::Status& s) {
    if (s.code() != absl::StatusCode::kUnavailable && s.code() != absl::StatusCode::kDeadlineExceeded) return false;
    return lib_.channel()->GetState(false) != GRPC_CHANNEL_READY;
  }

  std::string Describe(const absl::Status& s) { return DescribeError(s, target_, Unreachable(s)); }

  // Prints one line per token. Returns the call's status; `*interrupted` is
  // set if a signal cancelled it.
  absl::Status Tokenize(const Settings& st, const std::string& text, bool* interrupted) {
    llm::v1::TokenizeRequest req;
    req.set_text(text);
    if (st.allow_special) req.mutable_special_tokens()->set_mode(llm::v1::SpecialTokenOptions::MODE_ALLOW_ALL);
    llm::v1::TokenizeResponse resp;
    grpc::ClientContext ctx;
    lib_.AddCredentials(&ctx);
    grpc::Status s;
    {
      ActiveCall active(&ctx);
      s = stub_->Tokenize(&ctx, req, &resp);
      *interrupted = active.interrupted();
    }
    if (!s.ok()) return llm::FromGrpcStatus(s);
    std::string out;
    for (const llm::v1::Token& t : resp.tokens()) {
      // The original printed tokenizer.decode([id]): the token's bytes as
      // UTF-8 with invalid sequences replaced by U+FFFD.
      out += FormatTokenLine(t.id(), llm::Utf8Lossy(t.bytes()));
    }
    WriteStdout(out);
    return absl::OkStatus();
  }

  // Streams the completion of `text` to stdout, then a newline.
  absl::Status Complete(const Settings& st, const std::string& text, bool* interrupted) {
    llm::v1::CompleteRequest req;
    req.set_prompt(text);
    if (st.allow_special) req.mutable_special_tokens()->set_mode(llm::v1::SpecialTokenOptions::MODE_ALLOW_ALL);
    if (st.max_tokens_set) req.set_max_tokens(static_cast<int32_t>(st.max_tokens));
    if (st.temperature_set) req.set_temperature(static_cast<float>(st.temperature));
    req.set_top_k(static_cast<int32_t>(st.top_k));
    if (st.top_p_set) req.set_top_p(static_cast<float>(st.top_p));
    if (st.seed_set) req.set_seed(static_cast<uint64_t>(st.seed));
    for (const std::string& stop : st.stops) req.add_stop(stop);

    grpc::ClientContext ctx;
    lib_.AddCredentials(&ctx);
    grpc::Status s;
    bool printed = false;
    {
      ActiveCall active(&ctx);
      std::unique_ptr<grpc::ClientReader<llm::v1::CompleteResponse>> reader = stub_->Complete(&ctx, req);
      llm::v1::CompleteResponse msg;
      while (reader->Read(&msg)) {
        if (!msg.text().empty()) {
          WriteStdout(msg.text());
          printed = true;
        }
      }
      s = reader->Finish();
      *interrupted = active.interrupted();
    }
    // The original server ended every completion with a newline.
    if (s.ok() || printed || *interrupted) WriteStdout("\n");
    if (!s.ok()) return llm::FromGrpcStatus(s);
    return absl::OkStatus();
  }

 private:
  std::string target_;
  llm::LlmClient lib_;
  std::unique_ptr<llm::v1::LlmService::Stub> stub_;
};

int RunHealth(Client& client, std::chrono::milliseconds timeout) {
  llm::CallOptions opts;
  opts.timeout = timeout;
  auto st = client.lib().Health("", opts);
  if (!st.ok()) {
    std::fprintf(stderr, "%s\n", client.Describe(st.status()).c_str());
    return 1;
  }
  std::printf("%s\n", grpc::health::v1::HealthCheckResponse::ServingStatus_Name(*st).c_str());
  return *st == grpc::health::v1::HealthCheckResponse::SERVING ? 0 : 1;
}

int RunInfo(Client& client, std::chrono::milliseconds timeout) {
  llm::CallOptions opts;
  opts.timeout = timeout;
  auto info = client.lib().Info(opts);
  if (!info.ok()) {
    std::fprintf(stderr, "%s\n", client.Describe(info.status()).c_str());
    return 1;
  }
  const auto& t = info->tokenizer();
  const auto& m = info->model();
  const auto& l = info->limits();
  std::printf("server:    %s at %s\n", info->server_version().c_str(), client.target().c_str());
  std::printf("tokenizer: %s (vocab_size=%s, merges=%s, special_tokens=%d, fingerprint=%s)\n", t.name().c_str(),
              llm::client::FormatThousands(t.vocab_size()).c_str(),
              llm::client::FormatThousands(t.num_merges()).c_str(), t.special_tokens_size(),
              t.fingerprint().c_str());
  std::printf("model:     %s:%lld (n_params=%s, context=%d, n_blocks=%d, d_model=%d, n_heads=%d, d_ff=%d, %s)\n",
              m.name().c_str(), static_cast<long long>(m.iteration()),
              llm::client::FormatThousands(m.num_parameters()).c_str(), m.context_size(), m.n_blocks(),
              m.d_model(), m.n_heads(), m.d_ff(), m.activation().c_str());
  std::printf("limits:    max_tokens_cap=%d default_max_tokens=%d max_prompt_bytes=%lld slots=%d queue=%d\n",
              l.max_tokens_cap(), l.default_max_tokens(), static_cast<long long>(l.max_prompt_bytes()),
              l.max_slots(), l.max_queue());
  return 0;
}

int RunDemo(Client& client, const Settings& st, std::chrono::milliseconds timeout) {
  // Fail at once, before the first prompt, if the server is not there.
  {
    llm::CallOptions opts;
    opts.timeout = timeout;
    auto health = client.lib().Health("", opts);
    if (!health.ok() && health.status().code() != absl::StatusCode::kUnimplemented) {
      std::fprintf(stderr, "%s\n", client.Describe(health.status()).c_str());
      return 1;
    }
    if (health.ok() && *health != grpc::health::v1::HealthCheckResponse::SERVING) {
      std::fprintf(stderr, "error: llm_server at %s is not serving (health status %s)\n", client.target().c_str(),
                   grpc::health::v1::HealthCheckResponse::ServingStatus_Name(*health).c_str());
      return 1;
    }
  }

  const bool tty = isatty(0) == 1;
  const std::string prompt =
      st.endpoint == "tokenize" ? "Enter text to tokenize:" : "Enter text to complete:";
  LineReader reader;
  int exit_code = 0;
  std::string line;
  for (;;) {
    if (tty) WriteStdout(prompt);
    ReadResult r = reader.Next(&line);
    if (r == ReadResult::kEof) {
      if (tty) WriteStdout("\n");
      break;
    }
    if (r == ReadResult::kInterrupted || g_terminate) {
      if (tty) WriteStdout("\n");
      if (!tty || g_terminate) exit_code = g_terminate ? 143 : 130;
      break;
    }
    const std::string text = UnescapeNewlines(line);
    bool interrupted = false;
    absl::Status s = st.endpoint == "tokenize" ? client.Tokenize(st, text, &interrupted)
                                               : client.Complete(st, text, &interrupted);
    if (interrupted) {
      if (!tty || g_terminate) {
        exit_code = g_terminate ? 143 : 130;
        break;
      }
      continue;  // Ctrl-C stopped this call; back to the prompt
    }
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", client.Describe(s).c_str());
      if (client.Unreachable(s)) return 1;
      exit_code = 1;
    }
  }
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  // --stop may be repeated, which FlagParser does not support: collect its
  // values here and hand the rest to the parser.
  Settings st;
  std::vector<char*> args = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--stop" && i + 1 < argc) {
      st.stops.push_back(UnescapeNewlines(argv[++i]));
    } else if (a.rfind("--stop=", 0) == 0) {
      st.stops.push_back(UnescapeNewlines(a.substr(7)));
    } else {
      args.push_back(argv[i]);
    }
  }

  std::string host = "127.0.0.1", stop_unused;
  int64_t port = 50051;
  double timeout_s = 5.0;
  bool health = false, info = false;
  llm::ClientSecurity security;
  llm::FlagParser p("llm_client", "Example client for the tokenization and text completion APIs of llm_server.");
  p.AddString({"-e", "--endpoint"}, &st.endpoint, "The server API to call: tokenize or complete");
  p.AddString({"--host"}, &host, "Host name or address of llm_server");
  p.AddInt({"-p", "--port"}, &port, "Port number of llm_server");
  p.AddInt({"--max_tokens"}, &st.max_tokens, "complete: tokens to generate (server caps it)");
  p.AddDouble({"--temperature"}, &st.temperature, "complete: softmax temperature (0 = greedy)");
  p.AddInt({"--top_k"}, &st.top_k, "complete: sample among the k most likely tokens (0 = all)");
  p.AddDouble({"--top_p"}, &st.top_p, "complete: nucleus sampling threshold in (0, 1]");
  p.AddInt({"--seed"}, &st.seed, "complete: sampler seed; when not given the server picks a random one");
  p.AddString({"--stop"}, &stop_unused, "complete: stop sequence; may be repeated; \\n = newline");
  p.AddBool({"--allow_special"}, &st.allow_special, "Encode special tokens such as <|endoftext|> as their id");
  p.AddDouble({"--timeout"}, &timeout_s, "Seconds to wait for the server to answer --health/--info/startup check");
  p.AddBool({"--health"}, &health, "Print the server's health status; exit 0 iff SERVING");
  p.AddBool({"--info"}, &info, "Print the server's tokenizer, model and limits");
  p.AddString({"--tls_ca"}, &security.tls_ca_file, "PEM CA certificate: connect with TLS and verify the server with it");
  p.AddString({"--tls_cert"}, &security.tls_cert_file, "PEM client certificate for servers requiring mTLS (with --tls_key)");
  p.AddString({"--tls_key"}, &security.tls_key_file, "PEM private key of --tls_cert");
  p.AddString({"--tls_server_name"}, &security.tls_server_name,
              "Name to verify in the server certificate instead of --host");
  p.AddString({"--auth_token"}, &security.auth_token,
              "Bearer token sent with every call (default: env LLM_AUTH_TOKEN)");
  p.SetEpilog(
      "Reads one text per line from standard input (a literal \\n becomes a newline). The prompt is shown only\n"
      "when standard input is a terminal. EOF or Ctrl-C exits; Ctrl-C during a completion cancels it.\n"
      "Examples:\n"
      "  llm_client -e tokenize -p 50051\n"
      "  echo 'ROMEO:' | llm_client -e complete --max_tokens 50 --temperature 0.8 --seed 1\n"
      "  llm_client --health");
  if (int rc = p.ParseOrExit(static_cast<int>(args.size()), args.data()); rc >= 0) return rc;
  st.max_tokens_set = p.WasSet("--max_tokens");
  st.temperature_set = p.WasSet("--temperature");
  st.top_p_set = p.WasSet("--top_p");
  st.seed_set = p.WasSet("--seed");

  auto usage_error = [](const std::string& msg) {
    std::fprintf(stderr, "llm_client: %s (see llm_client --help)\n", msg.c_str());
    return 2;
  };
  if (!health && !info && st.endpoint.empty()) return usage_error("one of -e/--endpoint, --health or --info is required");
  if (!st.endpoint.empty() && st.endpoint != "tokenize" && st.endpoint != "complete")
    return usage_error(absl::StrCat("-e/--endpoint must be 'tokenize' or 'complete', got '", st.endpoint, "'"));
  if (port <= 0 || port > 65535) return usage_error(absl::StrCat("-p/--port must be in 1..65535, got ", port));
  if (st.max_tokens_set && (st.max_tokens < 1 || st.max_tokens > (int64_t{1} << 30)))
    return usage_error(absl::StrCat("--max_tokens must be >= 1, got ", st.max_tokens));
  if (st.temperature < 0) return usage_error("--temperature must be >= 0");
  if (st.top_k < 0 || st.top_k > (int64_t{1} << 30)) return usage_error("--top_k must be >= 0");
  if (st.top_p_set && !(st.top_p > 0 && st.top_p <= 1)) return usage_error("--top_p must be in (0, 1]");
  if (st.seed_set && st.seed < 0) return usage_error("--seed must be >= 0");
  if (!(timeout_s > 0)) return usage_error("--timeout must be > 0");
  for (const std::string& s : st.stops)
    if (s.empty()) return usage_error("--stop must not be empty");

  // Block the signals before gRPC starts threads; SignalLoop receives them.
  // (An inherited SIG_IGN would make the kernel drop them even while
  // blocked, so restore the default disposition first.)
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  if (pipe(g_wake_pipe) != 0) {
    std::perror("llm_client: pipe");
    return 1;
  }
  std::thread(SignalLoop, signals).detach();
  std::signal(SIGPIPE, SIG_IGN);

  // IPv6 literals need brackets in a gRPC target.
  std::string target = host.find(':') != std::string::npos && host.front() != '['
                           ? absl::StrCat("[", host, "]:", port)
                           : absl::StrCat(host, ":", port);
  if (security.auth_token.empty()) {
    if (const char* env = std::getenv("LLM_AUTH_TOKEN"); env != nullptr) security.auth_token = env;
  }
  auto channel = llm::MakeChannel(target, security);
  if (!channel.ok()) return usage_error(std::string(channel.status().message()));
  Client client(target, std::move(*channel), security.auth_token);
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  if (health) return RunHealth(client, timeout);
  if (info) return RunInfo(client, timeout);
  return RunDemo(client, st, timeout);
}
