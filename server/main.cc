// llm_server: serves a trained tokenizer + model over gRPC (llm.v1.LlmService,
// grpc.health.v1.Health, server reflection).
//
//   llm_server -t default_10k -n default_1m -c 0 [--port 50051]
//
// Prints "listening on HOST:PORT" on stdout once ready (with --port 0 the
// port is chosen by the OS). SIGINT/SIGTERM start a graceful shutdown (see
// LlmServer::Shutdown); the process then exits 0.
#include <semaphore.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/model/config.h"
#include "core/util/flags.h"
#include "core/util/paths.h"
#include "server/assets.h"
#include "server/auth.h"
#include "server/server.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace {

sem_t g_shutdown;
volatile sig_atomic_t g_shutdown_signal = 0;

void OnShutdownSignal(int sig) {
  g_shutdown_signal = sig;
  sem_post(&g_shutdown);  // async-signal-safe
}

void InstallShutdownHandler() {
  sem_init(&g_shutdown, /*pshared=*/0, /*value=*/0);
  struct sigaction sa = {};
  sa.sa_handler = OnShutdownSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  using llm::ServerOptions;
  ServerOptions o;
  std::string tokenizer_name, model_name, assets_dir, log_level = "info";
  int64_t iteration = 0;
  int64_t port = o.port, threads = o.threads, max_message_bytes = o.max_message_bytes,
          max_prompt_bytes = o.max_prompt_bytes, max_prompt_tokens = o.max_prompt_tokens,
          max_tokens_cap = o.max_tokens_cap, default_max_tokens = o.default_max_tokens,
          max_slots = o.max_slots, decode_threads = o.decode_threads,
          stream_interval_ms = o.stream_interval_ms, max_queue = o.max_queue, max_unary_queue = o.max_unary_queue,
          max_deadline_ms = o.max_deadline_ms, overflow_drop = o.overflow_drop,
          max_batch_texts = o.max_batch_texts, max_detokenize_ids = o.max_detokenize_ids,
          max_stop_sequences = o.max_stop_sequences, max_stop_bytes = o.max_stop_bytes;
  double grace_period = static_cast<double>(o.grace_period_ms) / 1000.0;
  bool log_prompts = false;
  std::string auth_token_file;

  llm::FlagParser p("llm_server", "Serve a trained tokenizer and model over gRPC (llm.v1.LlmService).");
  p.AddString({"-t", "--tokenizer_name"}, &tokenizer_name, "Name of the saved tokenizer (train_tokenizer -n NAME)", true);
  p.AddString({"-n", "--checkpoint_name"}, &model_name, "Name of the saved model checkpoint (train_model -n NAME)", true);
  p.AddInt({"-c", "--checkpoint_iter"}, &iteration, "Iteration of the model checkpoint", true);
  p.AddString({"--assets"}, &assets_dir, "Assets directory (default $LLM_ASSETS_DIR or ./assets)");
  p.AddString({"--host"}, &o.host, "Address to listen on");
  p.AddInt({"-p", "--port"}, &port, "Port to listen on (0 = any free port)");
  p.AddInt({"--threads"}, &threads, "Worker threads for tokenizer calls (0 = one per available CPU)");
  p.AddInt({"--max_message_bytes"}, &max_message_bytes, "Largest gRPC message accepted or sent");
  p.AddInt({"--max_prompt_bytes"}, &max_prompt_bytes, "Largest prompt / text to tokenize, in bytes");
  p.AddInt({"--max_prompt_tokens"}, &max_prompt_tokens,
           "Largest prompt in tokens (before keeping the last `context` tokens)");
  p.AddInt({"--max_tokens_cap"}, &max_tokens_cap, "Largest max_tokens a Complete call may ask for");
  p.AddInt({"--default_max_tokens"}, &default_max_tokens, "max_tokens when a request leaves it 0");
  p.AddInt({"--max_slots"}, &max_slots, "Completions decoded together (continuous batching)");
  p.AddInt({"--decode_threads"}, &decode_threads,
           "Decode threads sharing the slots (0 = one per available CPU, at most one per 4 slots)");
  p.AddInt({"--stream_interval_ms"}, &stream_interval_ms,
           "While several completions run, send each stream's tokens at most every N ms "
           "(fewer, larger messages; first token and end always at once; 0 = every token)");
  p.AddInt({"--max_queue"}, &max_queue, "Completions waiting for a slot before RESOURCE_EXHAUSTED");
  p.AddInt({"--max_unary_queue"}, &max_unary_queue, "Tokenizer calls waiting for a worker");
  p.AddInt({"--max_batch_texts"}, &max_batch_texts, "Texts per TokenizeBatch call");
  p.AddInt({"--max_detokenize_ids"}, &max_detokenize_ids, "Token ids per Detokenize call");
  p.AddInt({"--max_stop_sequences"}, &max_stop_sequences, "Stop sequences per Complete call");
  p.AddInt({"--max_stop_bytes"}, &max_stop_bytes, "Bytes per stop sequence");
  p.AddInt({"--max_deadline_ms"}, &max_deadline_ms, "Cap on a completion's duration in ms (0 = none)");
  p.AddDouble({"--grace_period"}, &grace_period, "Seconds in-flight calls get to finish on SIGINT/SIGTERM");
  p.AddInt({"--overflow_drop"}, &overflow_drop,
           "Tokens dropped when a generation fills the context (0 = context/2; 1 = exact sliding window)");
  p.AddString({"--tls_cert"}, &o.tls_cert_file, "PEM server certificate (chain): serve TLS instead of plaintext");
  p.AddString({"--tls_key"}, &o.tls_key_file, "PEM private key of --tls_cert");
  p.AddString({"--tls_client_ca"}, &o.tls_client_ca_file,
              "PEM CA: require and verify client certificates signed by it (mTLS)");
  p.AddString({"--auth_token_file"}, &auth_token_file,
              "File of accepted bearer tokens, one per line (or env LLM_AUTH_TOKENS, comma-separated); "
              "llm.v1 calls without 'authorization: Bearer TOKEN' get UNAUTHENTICATED");
  p.AddBool({"--reflection"}, &o.reflection, "Serve gRPC server reflection (--no-reflection to turn off)");
  p.AddBool({"--log_prompts"}, &log_prompts, "Log prompt text (off by default: prompts are private)");
  p.AddString({"--log_level"}, &log_level, "spdlog level: trace, debug, info, warn, error");
  if (int rc = p.ParseOrExit(argc, argv); rc >= 0) return rc;

  // Logs go to stderr; stdout carries only the "listening on" line.
  spdlog::set_default_logger(spdlog::stderr_color_mt("llm_server"));
  spdlog::set_level(spdlog::level::from_str(log_level));
  o.port = static_cast<int>(port);
  o.threads = static_cast<int>(threads);
  o.max_message_bytes = max_message_bytes;
  o.max_prompt_bytes = max_prompt_bytes;
  o.max_prompt_tokens = static_cast<int32_t>(max_prompt_tokens);
  o.max_tokens_cap = static_cast<int32_t>(max_tokens_cap);
  o.default_max_tokens = static_cast<int32_t>(default_max_tokens);
  o.max_slots = static_cast<int>(max_slots);
  o.max_queue = static_cast<int>(max_queue);
  o.decode_threads = static_cast<int>(std::clamp<int64_t>(decode_threads, -1, 1024));
  o.stream_interval_ms = stream_interval_ms;
  o.max_unary_queue = static_cast<int>(max_unary_queue);
  o.max_deadline_ms = max_deadline_ms;
  o.max_batch_texts = static_cast<int>(std::clamp<int64_t>(max_batch_texts, -1, 1 << 30));
  o.max_detokenize_ids = static_cast<int>(std::clamp<int64_t>(max_detokenize_ids, -1, 1 << 30));
  o.max_stop_sequences = static_cast<int>(std::clamp<int64_t>(max_stop_sequences, -1, 1 << 20));
  o.max_stop_bytes = static_cast<int>(std::clamp<int64_t>(max_stop_bytes, -1, 1 << 20));
  o.grace_period_ms = static_cast<int64_t>(grace_period * 1000.0);
  o.overflow_drop = static_cast<int32_t>(overflow_drop);
  o.log_prompts = log_prompts;
  if (!assets_dir.empty()) llm::SetAssetsDir(assets_dir);
  // Bearer tokens: the file wins over the environment. Never logged.
  const char* env_tokens = std::getenv("LLM_AUTH_TOKENS");
  if (!auth_token_file.empty() || (env_tokens != nullptr && env_tokens[0] != '\0')) {
    auto tokens = !auth_token_file.empty()
                      ? llm::ReadAuthTokenFile(auth_token_file)
                      : llm::ParseAuthTokens(absl::StrReplaceAll(env_tokens, {{",", "\n"}}), "$LLM_AUTH_TOKENS");
    if (!tokens.ok()) {
      std::fprintf(stderr, "llm_server: %s\n", std::string(tokens.status().message()).c_str());
      return 2;
    }
    o.auth_tokens = std::move(*tokens);
  }

  // SIGINT/SIGTERM post a semaphore the main thread waits on. A handler (not
  // sigwait with blocked signals) because threads created before main --
  // OpenBLAS starts its workers when the library loads -- never inherit a
  // signal mask set here, and a process-directed signal delivered to one of
  // them would kill the process with the default action.
  InstallShutdownHandler();

  auto loaded = llm::LoadServingAssets(tokenizer_name, model_name, iteration);
  if (!loaded.ok()) {
    std::fprintf(stderr, "llm_server: %s\n", std::string(loaded.status().message()).c_str());
    return 1;
  }
  auto assets = std::make_shared<llm::ServingAssets>(std::move(*loaded));
  const llm::ModelConfig& c = assets->model->config();
  spdlog::info("loaded tokenizer '{}' from {}: vocab_size={} merges={} special_tokens={} fingerprint={}",
               assets->tokenizer_name, llm::TokenizerDir(assets->tokenizer_name), assets->tokenizer->vocab_size(),
               assets->tokenizer->num_merges(), assets->tokenizer->special_tokens().size(),
               assets->tokenizer->Fingerprint());
  spdlog::info("loaded model '{}' iteration {}: {} parameters, {}", assets->model_name, assets->iteration,
               llm::NumParameters(c), c.DebugString());

  auto server = llm::LlmServer::Start(assets, o);
  if (!server.ok()) {
    std::fprintf(stderr, "llm_server: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  spdlog::info("security: {}{}, bearer tokens: {}, reflection: {}",
               o.tls_cert_file.empty() ? "plaintext" : "TLS",
               o.tls_client_ca_file.empty() ? "" : " with client certificates required (mTLS)",
               o.auth_tokens.empty() ? std::string("off") : absl::StrCat(o.auth_tokens.size(), " accepted"),
               o.reflection ? "on" : "off");
  if (o.host != "127.0.0.1" && o.host != "localhost" && o.host != "::1" && o.host != "[::1]" &&
      (o.tls_cert_file.empty() || o.auth_tokens.empty())) {
    spdlog::warn("listening on {} (not loopback) without {}: anyone who can reach the port can use the model",
                 o.host, o.tls_cert_file.empty() && o.auth_tokens.empty() ? "TLS or bearer tokens"
                         : o.tls_cert_file.empty()                        ? "TLS"
                                                                          : "bearer tokens");
  }
  spdlog::info("decoding: {} threads share the slots; stream interval under load {} ms",
               llm::DecodeThreads(o), o.stream_interval_ms);
  spdlog::info("limits: slots={} queue={} unary_queue={} max_tokens_cap={} max_prompt_bytes={} "
               "max_prompt_tokens={} max_message_bytes={} max_deadline_ms={} grace_period={}s log_prompts={}",
               o.max_slots, o.max_queue, o.max_unary_queue, o.max_tokens_cap, o.max_prompt_bytes,
               o.max_prompt_tokens, o.max_message_bytes, o.max_deadline_ms, grace_period, o.log_prompts);
  // The parseable readiness line (tests and scripts wait for it).
  std::printf("listening on %s\n", (*server)->address().c_str());
  std::fflush(stdout);
  spdlog::info("listening on {}", (*server)->address());

  while (sem_wait(&g_shutdown) != 0) {
    // EINTR: a signal interrupted the wait; the loop re-checks the semaphore.
  }
  const int sig = g_shutdown_signal;
  spdlog::info("received {}, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  (*server)->Shutdown();
  const llm::SchedulerStats st = (*server)->scheduler_stats();
  spdlog::info("served {} completions ({} tokens in {} decode steps, max batch {}), rejected {}", st.completed,
               st.tokens, st.steps, st.max_batch, st.rejected);
  server->reset();
  return 0;
}
