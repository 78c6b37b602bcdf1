// LlmServer: the gRPC server for the llm.v1.LlmService API, plus standard
// health checking (grpc.health.v1) and server reflection.
//
//   auto assets = std::make_shared<ServingAssets>(LoadServingAssets(...).value());
//   auto server = LlmServer::Start(assets, options).value();
//   ... server->port() ...
//   server->Shutdown();   // graceful: see Shutdown()
//
// Threads: gRPC's own callback threads accept calls and run the (cheap)
// request validation; a worker pool (`threads`) runs the tokenizer RPCs; one
// scheduler thread runs all model computation (continuous batching, see
// scheduler.h).
#ifndef LLM_SERVER_SERVER_H_
#define LLM_SERVER_SERVER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/assets.h"
#include "server/scheduler.h"

namespace grpc {
class Server;
}

namespace llm {

class LlmServiceImpl;
class ThreadPool;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 50051;                  // 0 = pick a free port
  int threads = 0;                   // tokenizer worker threads; 0 = AvailableCpus() (core/util/cpu.h)
  int64_t max_message_bytes = 8 << 20;  // gRPC receive/send limit per message
  int64_t max_prompt_bytes = 256 << 10;  // Complete prompt / Tokenize text size limit
  int32_t max_prompt_tokens = 16384;     // prompt tokens before truncation to the context
  int32_t max_tokens_cap = 4096;         // upper bound of CompleteRequest.max_tokens
  int32_t default_max_tokens = 500;      // when max_tokens is 0 (the original's default)
  int max_slots = 16;                    // sequences decoded at the same time
  int decode_threads = 0;                // 0 = min(cores, ceil(max_slots / 4))
  int64_t stream_interval_ms = 10;       // SchedulerOptions::stream_interval (0 = every token)
  int max_queue = 32;                    // Complete calls waiting for a slot
  int max_unary_queue = 256;             // tokenizer calls waiting for a worker
  int max_batch_texts = 4096;            // TokenizeBatch texts per call
  int max_detokenize_ids = 1 << 20;      // Detokenize ids per call
  int max_stop_sequences = 16;
  int max_stop_bytes = 256;
  int64_t max_deadline_ms = 600000;      // cap on a Complete call's duration (10 min); 0 = none
  int64_t grace_period_ms = 10000;       // Shutdown(): time in-flight calls get to finish
  int32_t overflow_drop = 0;             // SequenceOptions::overflow_drop (0 = context/2)
  bool log_prompts = false;              // log prompt text (never by default)

  // Security (server/auth.h). TLS is on when tls_cert_file is set (PEM
  // files; tls_key_file required with it). tls_client_ca_file additionally
  // requires every client to present a certificate signed by that CA (mTLS).
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
  // Accepted bearer tokens; empty = no authentication. When set, every
  // llm.v1 call without `authorization: Bearer <one of them>` fails with
  // UNAUTHENTICATED; grpc.health.v1 and reflection stay open (health must
  // answer probes; reflection only describes the public API schema; turn it
  // off with reflection = false).
  std::vector<std::string> auth_tokens;
  bool reflection = true;                // serve grpc.reflection.v1alpha
};

// Decode threads the scheduler gets for `o`: o.decode_threads, or when 0,
// one per available CPU (AvailableCpus(): affinity and container CPU quota)
// but no more than one per 4 slots (a worker needs a few sequences to batch;
// 4 rows already run at the batched speed).
int DecodeThreads(const ServerOptions& o);

class LlmServer {
 public:
  // Builds and starts the server on host:port. Errors: InvalidArgument for
  // bad options, Unavailable if the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<LlmServer>> Start(std::shared_ptr<const ServingAssets> assets,
                                                          ServerOptions options);
  // Shutdown()s if still running.
  ~LlmServer();
  LlmServer(const LlmServer&) = delete;
  LlmServer& operator=(const LlmServer&) = delete;

  int port() const { return port_; }
  // "host:port" actually bound.
  std::string address() const;

  // Graceful shutdown (idempotent, thread-safe; the first caller does the
  // work, others wait for it):
  //  1. health goes NOT_SERVING; new calls get UNAVAILABLE;
  //  2. in-flight and queued calls run on for up to grace_period_ms;
  //  3. generations still running then end with FINISH_REASON_CANCELLED
  //     (their clients get the text so far and usage), tokenizer calls finish;
  //  4. the gRPC server stops and the threads are joined.
  void Shutdown();
  // Blocks until Shutdown() has completed.
  void Wait();

  SchedulerStats scheduler_stats() const;
  const ServerOptions& options() const { return options_; }

 private:
  LlmServer() = default;

  ServerOptions options_;
  std::shared_ptr<const ServingAssets> assets_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<LlmServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;

  std::mutex shutdown_mu_;
  bool shutdown_done_ = false;  // guarded by shutdown_mu_
};

}  // namespace llm

#endif  // LLM_SERVER_SERVER_H_
