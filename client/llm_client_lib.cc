#include "client/llm_client_lib.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

#include "server/status_grpc.h"

namespace llm {

LlmClient::LlmClient(const std::string& target, int max_message_bytes) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(max_message_bytes);
  args.SetMaxSendMessageSize(max_message_bytes);
  channel_ = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  stub_ = v1::LlmService::NewStub(channel_);
  health_ = grpc::health::v1::Health::NewStub(channel_);
}

LlmClient::LlmClient(std::shared_ptr<grpc::Channel> channel, std::string auth_token)
    : auth_token_(std::move(auth_token)), channel_(std::move(channel)) {  // declaration order
  stub_ = v1::LlmService::NewStub(channel_);
  health_ = grpc::health::v1::Health::NewStub(channel_);
}

namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* field) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(field, ": cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  std::string pem = ss.str();
  if (pem.find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", path, " is not a PEM file"));
  }
  return pem;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& target, const ClientSecurity& security,
                                                           int max_message_bytes) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(max_message_bytes);
  args.SetMaxSendMessageSize(max_message_bytes);
  if (security.tls_ca_file.empty()) {
    if (!security.tls_cert_file.empty() || !security.tls_key_file.empty()) {
      return absl::InvalidArgumentError("a client certificate (--tls_cert/--tls_key) needs --tls_ca (TLS)");
    }
    return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  }
  if (security.tls_cert_file.empty() != security.tls_key_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key must be given together");
  }
  grpc::SslCredentialsOptions ssl;
  absl::StatusOr<std::string> ca = ReadPem(security.tls_ca_file, "--tls_ca");
  if (!ca.ok()) return ca.status();
  ssl.pem_root_certs = std::move(*ca);
  if (!security.tls_cert_file.empty()) {
    absl::StatusOr<std::string> cert = ReadPem(security.tls_cert_file, "--tls_cert");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPem(security.tls_key_file, "--tls_key");
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = std::move(*cert);
    ssl.pem_private_key = std::move(*key);
  }
  if (!security.tls_server_name.empty()) args.SetSslTargetNameOverride(security.tls_server_name);
  return grpc::CreateCustomChannel(target, grpc::SslCredentials(ssl), args);
}

void LlmClient::AddCredentials(grpc::ClientContext* ctx) const {
  if (!auth_token_.empty()) ctx->AddMetadata("authorization", "Bearer " + auth_token_);
}

void CallCanceller::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  if (ctx_ != nullptr) ctx_->TryCancel();
}

bool CallCanceller::cancelled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cancelled_;
}

void CallCanceller::Attach(grpc::ClientContext* ctx) {
  std::lock_guard<std::mutex> lock(mu_);
  ctx_ = ctx;
  if (cancelled_) ctx_->TryCancel();
}

void CallCanceller::Detach() {
  std::lock_guard<std::mutex> lock(mu_);  // waits for a Cancel() in progress
  ctx_ = nullptr;
}

void LlmClient::Prepare(grpc::ClientContext* ctx, const CallOptions& opts) const {
  AddCredentials(ctx);
  if (opts.timeout.count() > 0) ctx->set_deadline(std::chrono::system_clock::now() + opts.timeout);
  ctx->set_wait_for_ready(opts.wait_for_ready);
  if (opts.on_start) opts.on_start(ctx);
}

absl::StatusOr<v1::TokenizeResponse> LlmClient::Tokenize(const v1::TokenizeRequest& req, const CallOptions& opts) {
  grpc::ClientContext ctx;
  Prepare(&ctx, opts);
  v1::TokenizeResponse resp;
  grpc::Status s = stub_->Tokenize(&ctx, req, &resp);
  if (!s.ok()) return FromGrpcStatus(s);
  return resp;
}

absl::StatusOr<std::vector<int32_t>> LlmClient::TokenizeIds(const std::string& text, const CallOptions& opts) {
  v1::TokenizeRequest req;
  req.set_text(text);
  req.set_ids_only(true);
  absl::StatusOr<v1::TokenizeResponse> resp = Tokenize(req, opts);
  if (!resp.ok()) return resp.status();
  return std::vector<int32_t>(resp->ids().begin(), resp->ids().end());
}

absl::StatusOr<std::vector<std::vector<int32_t>>> LlmClient::TokenizeBatch(const v1::TokenizeBatchRequest& req,
                                                                           const CallOptions& opts) {
  grpc::ClientContext ctx;
  Prepare(&ctx, opts);
  v1::TokenizeBatchResponse resp;
  grpc::Status s = stub_->TokenizeBatch(&ctx, req, &resp);
  if (!s.ok()) return FromGrpcStatus(s);
  std::vector<std::vector<int32_t>> out;
  out.reserve(static_cast<size_t>(resp.results_size()));
  for (const auto& r : resp.results()) out.emplace_back(r.ids().begin(), r.ids().end());
  return out;
}

absl::StatusOr<int64_t> LlmClient::CountTokens(const v1::CountTokensRequest& req, const CallOptions& opts) {
  grpc::ClientContext ctx;
  Prepare(&ctx, opts);
  v1::CountTokensResponse resp;
  grpc::Status s = stub_->CountTokens(&ctx, req, &resp);
  if (!s.ok()) return FromGrpcStatus(s);
  return resp.count();
}

absl::StatusOr<v1::DetokenizeResponse> LlmClient::Detokenize(const std::vector<int32_t>& ids,
                                                             const CallOptions& opts) {
  grpc::ClientContext ctx;
  Prepare(&ctx, opts);
  v1::DetokenizeRequest req;
  req.mutable_ids()->Assign(ids.begin(), ids.end());
  v1::DetokenizeResponse resp;
  grpc::Status s = stub_->Detokenize(&ctx, req, &resp);
  if (!s.ok()) return FromGrpcStatus(s);
  return resp;
}

absl::StatusOr<v1::GetInfoResponse> LlmClient::Info(const CallOptions& opts) {
  grpc::ClientContext ctx;
  Prepare(&ctx, opts);
  v1::GetInfoResponse resp;
  grpc::Status s = stub_->GetInfo(&ctx, v1::GetInfoRequest(), &resp);
  if (!s.ok()) return FromGrpcStatus(s);
  return resp;
}

absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus> LlmClient::Health(
    const std::string& service, const CallOptions& opts) {
  grpc::ClientContext ctx;
  Prepare(&ctx, opts);
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(service);
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status s = health_->Check(&ctx, req, &resp);
  if (!s.ok()) return FromGrpcStatus(s);
  return resp.status();
}

absl::StatusOr<CompletionResult> LlmClient::Complete(const v1::CompleteRequest& req, const ChunkCallback& on_chunk,
                                                     const CallOptions& opts, CompletionResult* partial) {
  grpc::ClientContext ctx;
  Prepare(&ctx, opts);
  CompletionResult result;
  std::unique_ptr<grpc::ClientReader<v1::CompleteResponse>> reader = stub_->Complete(&ctx, req);
  if (opts.canceller != nullptr) opts.canceller->Attach(&ctx);
  v1::CompleteResponse msg;
  bool cancelled_by_caller = false;
  while (reader->Read(&msg)) {
    ++result.num_messages;
    result.text += msg.text();
    result.ids.insert(result.ids.end(), msg.token_ids().begin(), msg.token_ids().end());
    if (msg.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) {
      result.finish_reason = msg.finish_reason();
      result.usage = msg.usage();
      result.prompt_truncated = msg.prompt_truncated();
    }
    if (on_chunk && !on_chunk(msg)) {
      cancelled_by_caller = true;
      ctx.TryCancel();
      break;
    }
  }
  if (cancelled_by_caller) {
    // Drain so Finish() does not block on unread messages.
    while (reader->Read(&msg)) {
    }
  }
  grpc::Status s = reader->Finish();
  if (opts.canceller != nullptr) opts.canceller->Detach();  // before ctx dies
  if (partial != nullptr) *partial = result;
  if (cancelled_by_caller) return absl::CancelledError("cancelled by the caller");
  if (!s.ok()) return FromGrpcStatus(s);
  return result;
}

}  // namespace llm
