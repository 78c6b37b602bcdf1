#include "server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/security/server_credentials.h>

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/util/cpu.h"
#include "core/util/status_macros.h"
#include "server/auth.h"
#include "server/llm_service.h"
#include "server/thread_pool.h"
#include "spdlog/spdlog.h"

namespace llm {
namespace {

constexpr char kServiceName[] = "llm.v1.LlmService";

// Turns server reflection on or off for one ServerBuilder. (Linking
// grpc++_reflection registers the plugin for every server in the process;
// this option keeps exactly one instance when on and removes it when off.)
class ReflectionOption final : public grpc::ServerBuilderOption {
 public:
  explicit ReflectionOption(bool enable) : enable_(enable) {}
  void UpdateArguments(grpc::ChannelArguments* /*args*/) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    const std::string name = grpc::reflection::ProtoServerReflectionPlugin().name();
    std::erase_if(*plugins, [&](const auto& p) { return p->name() == name; });
    if (enable_) plugins->push_back(std::make_unique<grpc::reflection::ProtoServerReflectionPlugin>());
  }

 private:
  const bool enable_;
};

absl::Status ValidateOptions(const ServerOptions& o) {
  auto bad = [](const char* flag, auto value, const char* want) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " = ", value, ": must be ", want));
  };
  if (o.port < 0 || o.port > 65535) return bad("port", o.port, "in 0..65535");
  if (o.threads < 0) return bad("threads", o.threads, ">= 0");
  if (o.max_message_bytes < 1024 || o.max_message_bytes > (1ll << 30))
    return bad("max_message_bytes", o.max_message_bytes, "in 1024..2^30");
  if (o.max_prompt_bytes < 1) return bad("max_prompt_bytes", o.max_prompt_bytes, ">= 1");
  if (o.max_prompt_tokens < 1) return bad("max_prompt_tokens", o.max_prompt_tokens, ">= 1");
  if (o.max_tokens_cap < 1) return bad("max_tokens_cap", o.max_tokens_cap, ">= 1");
  if (o.default_max_tokens < 1) return bad("default_max_tokens", o.default_max_tokens, ">= 1");
  if (o.max_slots < 1) return bad("max_slots", o.max_slots, ">= 1");
  if (o.max_queue < 0) return bad("max_queue", o.max_queue, ">= 0");
  if (o.decode_threads < 0) return bad("decode_threads", o.decode_threads, ">= 0");
  if (o.stream_interval_ms < 0 || o.stream_interval_ms > 10000)
    return bad("stream_interval_ms", o.stream_interval_ms, "in 0..10000");
  if (o.max_unary_queue < 1) return bad("max_unary_queue", o.max_unary_queue, ">= 1");
  if (o.max_batch_texts < 1) return bad("max_batch_texts", o.max_batch_texts, ">= 1");
  if (o.max_detokenize_ids < 1) return bad("max_detokenize_ids", o.max_detokenize_ids, ">= 1");
  if (o.max_stop_sequences < 0) return bad("max_stop_sequences", o.max_stop_sequences, ">= 0");
  if (o.max_stop_bytes < 1) return bad("max_stop_bytes", o.max_stop_bytes, ">= 1");
  if (o.max_deadline_ms < 0) return bad("max_deadline_ms", o.max_deadline_ms, ">= 0");
  if (o.grace_period_ms < 0) return bad("grace_period", o.grace_period_ms, ">= 0");
  if (o.overflow_drop < 0) return bad("overflow_drop", o.overflow_drop, ">= 0");
  if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key must be given together");
  }
  if (!o.tls_client_ca_file.empty() && o.tls_cert_file.empty()) {
    return absl::InvalidArgumentError("--tls_client_ca needs --tls_cert and --tls_key (mTLS runs over TLS)");
  }
  return absl::OkStatus();
}

}  // namespace

int DecodeThreads(const ServerOptions& o) {
  if (o.decode_threads > 0) return o.decode_threads;
  return std::clamp((o.max_slots + 3) / 4, 1, AvailableCpus());
}

namespace {

// Insecure credentials, or TLS from the PEM files named in the options
// (client certificates required and verified when tls_client_ca_file is set).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeCredentials(const ServerOptions& o) {
  if (o.tls_cert_file.empty()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions ssl;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  ASSIGN_OR_RETURN(pair.cert_chain, ReadPemFile(o.tls_cert_file, "--tls_cert"));
  ASSIGN_OR_RETURN(pair.private_key, ReadPemFile(o.tls_key_file, "--tls_key"));
  ssl.pem_key_cert_pairs.push_back(std::move(pair));
  if (!o.tls_client_ca_file.empty()) {
    ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadPemFile(o.tls_client_ca_file, "--tls_client_ca"));
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  } else {
    ssl.client_certificate_request = GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
  }
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

absl::StatusOr<std::unique_ptr<LlmServer>> LlmServer::Start(std::shared_ptr<const ServingAssets> assets,
                                                             ServerOptions options) {
  if (absl::Status s = ValidateOptions(options); !s.ok()) return s;
  if (!assets || !assets->tokenizer || !assets->model) {
    return absl::InvalidArgumentError("LlmServer::Start: assets are incomplete");
  }
  if (options.overflow_drop > assets->model->config().context) {
    return absl::InvalidArgumentError(absl::StrCat("--overflow_drop = ", options.overflow_drop,
                                                   ": must be <= the model context ",
                                                   assets->model->config().context));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials, MakeCredentials(options));
  std::unique_ptr<LlmServer> server(new LlmServer());
  server->options_ = std::move(options);
  server->assets_ = std::move(assets);
  const ServerOptions& o = server->options_;

  const int threads = o.threads > 0 ? o.threads : AvailableCpus();
  server->pool_ = std::make_unique<ThreadPool>(std::max(threads, 1), static_cast<size_t>(o.max_unary_queue));
  SchedulerOptions so;
  so.max_slots = o.max_slots;
  so.max_queue = o.max_queue;
  so.workers = DecodeThreads(o);
  so.stream_interval = std::chrono::milliseconds(o.stream_interval_ms);
  server->scheduler_ = std::make_unique<Scheduler>(server->assets_->model, server->assets_->tokenizer.get(), so);
  server->service_ = std::make_unique<LlmServiceImpl>(server->assets_.get(), &server->options_,
                                                      server->scheduler_.get(), server->pool_.get());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.SetOption(std::make_unique<ReflectionOption>(o.reflection));
  const std::string address = absl::StrCat(o.host, ":", o.port);
  int bound_port = 0;
  builder.AddListeningPort(address, credentials, &bound_port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(o.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(o.max_message_bytes));
  // gRPC sets SO_REUSEPORT by default: a second server on the same port
  // would start "successfully" and silently take half of the connections
  // (and an ephemeral --port 0 could land on a port another server holds).
  // One server per port: a taken port is an error at startup.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(server->service_.get());
  server->server_ = builder.BuildAndStart();
  if (!server->server_ || bound_port == 0) {
    if (server->server_) server->server_->Shutdown();
    server->scheduler_->Stop();
    server->shutdown_done_ = true;  // nothing ran: the destructor has nothing to drain
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address,
                                               " (address in use or not local, or bad TLS key/certificate?)"));
  }
  server->port_ = bound_port;
  grpc::HealthCheckServiceInterface* health = server->server_->GetHealthCheckService();
  health->SetServingStatus(true);  // "" (overall) and every service
  health->SetServingStatus(kServiceName, true);
  return server;
}

LlmServer::~LlmServer() { Shutdown(); }

std::string LlmServer::address() const { return absl::StrCat(options_.host, ":", port_); }

void LlmServer::Shutdown() {
  std::lock_guard<std::mutex> lock(shutdown_mu_);
  if (shutdown_done_) return;
  const auto t0 = std::chrono::steady_clock::now();
  // 1. Refuse new work, tell load balancers.
  service_->StartDraining();
  scheduler_->StopAccepting();
  server_->GetHealthCheckService()->SetServingStatus(false);
  const SchedulerStats before = scheduler_->stats();
  spdlog::info("shutting down: {} active + {} queued completions, {} tokenizer calls; grace period {} ms",
               before.active, before.queued, pool_->pending(), options_.grace_period_ms);
  // 2. Let in-flight calls finish within the grace period.
  const auto grace_end = t0 + std::chrono::milliseconds(options_.grace_period_ms);
  while ((!scheduler_->Idle() || pool_->pending() > 0) && std::chrono::steady_clock::now() < grace_end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // 3. End what is left: generations finish with FINISH_REASON_CANCELLED.
  if (!scheduler_->Idle()) {
    spdlog::warn("grace period over: ending {} generations early", scheduler_->stats().active);
    scheduler_->CancelAll();
  }
  // 4. Stop gRPC: waits (bounded) for the reactors to write their last
  // messages, then cancels whatever remains.
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  scheduler_->Stop();
  pool_.reset();  // joins workers (their calls are finished by now)
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  spdlog::info("shutdown complete in {:.0f} ms", ms);
  shutdown_done_ = true;
}

void LlmServer::Wait() {
  server_->Wait();
  std::lock_guard<std::mutex> lock(shutdown_mu_);
}

SchedulerStats LlmServer::scheduler_stats() const { return scheduler_->stats(); }

}  // namespace llm
