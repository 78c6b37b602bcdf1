// A thin synchronous C++ client for llm.v1.LlmService (plus the standard
// health check), used by the integration tests, llm_client and the load
// generator.
//
//   llm::LlmClient client("127.0.0.1:50051");
//   auto info = client.Info();
//   llm::v1::CompleteRequest req;
//   req.set_prompt("ROMEO:");
//   req.set_max_tokens(50);
//   auto result = client.Complete(req, [](const llm::v1::CompleteResponse& chunk) {
//     std::cout << chunk.text() << std::flush;
//     return true;  // false cancels the call
//   });
//
// Errors are the server's gRPC status as absl::Status (same code, same
// message; status_grpc.h). Thread-safety: one LlmClient may be used from many
// threads at once (it shares one channel).
#ifndef LLM_CLIENT_LLM_CLIENT_LIB_H_
#define LLM_CLIENT_LLM_CLIENT_LIB_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "llm/v1/llm.grpc.pb.h"

namespace grpc {
class Channel;
class ClientContext;
}  // namespace grpc

namespace llm {

// Per-call settings.
// Cancels a call from another thread, safely: ClientContext::TryCancel() on a
// context whose call is ending races with the owning thread destroying it
// (its mutex is unlocked after the owner may have woken and returned), so the
// client methods register their context here and unregister it, under the
// handle's lock, before the context dies. Cancel() before the call starts
// cancels it as soon as it starts. Thread-safe; reusable only for one call.
class CallCanceller {
 public:
  void Cancel();
  bool cancelled() const;

 private:
  friend class LlmClient;
  void Attach(grpc::ClientContext* ctx);
  void Detach();
  mutable std::mutex mu_;
  grpc::ClientContext* ctx_ = nullptr;  // guarded by mu_
  bool cancelled_ = false;              // guarded by mu_
};

struct CallOptions {
  // Deadline relative to the call's start; 0 = none.
  std::chrono::milliseconds timeout{0};
  // Wait for the channel to connect instead of failing fast with UNAVAILABLE.
  bool wait_for_ready = false;
  // Called with the call's ClientContext before the call starts (e.g. to add
  // metadata). Do not keep it for TryCancel() from another thread: that races
  // with the context's destruction; use `canceller`.
  std::function<void(grpc::ClientContext*)> on_start;
  // Optional: lets another thread cancel the call (Complete only).
  CallCanceller* canceller = nullptr;
};

// What a finished Complete call produced.
struct CompletionResult {
  std::string text;             // all chunks concatenated
  std::vector<int32_t> ids;     // all generated token ids
  llm::v1::FinishReason finish_reason = llm::v1::FINISH_REASON_UNSPECIFIED;
  llm::v1::Usage usage;
  bool prompt_truncated = false;
  int num_messages = 0;         // stream messages received
};

// Transport security and credentials of a client (all optional).
struct ClientSecurity {
  // PEM file of the CA that signed the server's certificate; non-empty =
  // connect with TLS (and verify the server against this CA).
  std::string tls_ca_file;
  // PEM client certificate and key for servers that require mTLS (both or
  // neither; only with tls_ca_file).
  std::string tls_cert_file;
  std::string tls_key_file;
  // Name checked against the server certificate instead of the target's
  // host (e.g. "localhost" when connecting to an IP). Empty = the host.
  std::string tls_server_name;
  // Sent as `authorization: Bearer TOKEN` on every call (empty = none).
  // Over plaintext the token travels in clear: use TLS beyond loopback.
  std::string auth_token;
};

// Creates a channel to `target` ("host:port") as `security` says: plaintext,
// or TLS / mTLS from the PEM files. Errors: InvalidArgument naming the field
// and file that cannot be read or are inconsistent.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& target,
                                                           const ClientSecurity& security,
                                                           int max_message_bytes = 64 << 20);

class LlmClient {
 public:
  // Creates an insecure channel to `target` ("host:port"); connects lazily.
  // `max_message_bytes` bounds received messages.
  explicit LlmClient(const std::string& target, int max_message_bytes = 64 << 20);
  // Uses an existing channel (e.g. from MakeChannel); `auth_token`, when not
  // empty, is sent as a bearer token with every call.
  explicit LlmClient(std::shared_ptr<grpc::Channel> channel, std::string auth_token = "");

  absl::StatusOr<llm::v1::TokenizeResponse> Tokenize(const llm::v1::TokenizeRequest& req,
                                                     const CallOptions& opts = {});
  // Shorthand: ids of `text` with default options.
  absl::StatusOr<std::vector<int32_t>> TokenizeIds(const std::string& text, const CallOptions& opts = {});
  absl::StatusOr<std::vector<std::vector<int32_t>>> TokenizeBatch(const llm::v1::TokenizeBatchRequest& req,
                                                                  const CallOptions& opts = {});
  absl::StatusOr<int64_t> CountTokens(const llm::v1::CountTokensRequest& req, const CallOptions& opts = {});
  absl::StatusOr<llm::v1::DetokenizeResponse> Detokenize(const std::vector<int32_t>& ids,
                                                         const CallOptions& opts = {});
  absl::StatusOr<llm::v1::GetInfoResponse> Info(const CallOptions& opts = {});

  // grpc.health.v1 Check for `service` ("" = whole server). Returns the
  // status enum (SERVING, NOT_SERVING, ...) or the call's error.
  absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus> Health(
      const std::string& service = "", const CallOptions& opts = {});

  // Called for every stream message as it arrives; return false to cancel
  // the call (Complete then returns CANCELLED).
  using ChunkCallback = std::function<bool(const llm::v1::CompleteResponse&)>;

  // Runs a Complete call to the end. On an error status (including a
  // cancellation by `on_chunk`) returns it; the text received until then was
  // passed to `on_chunk` and, if `partial` is non-null, is stored there.
  absl::StatusOr<CompletionResult> Complete(const llm::v1::CompleteRequest& req,
                                            const ChunkCallback& on_chunk = nullptr,
                                            const CallOptions& opts = {},
                                            CompletionResult* partial = nullptr);

  std::shared_ptr<grpc::Channel> channel() const { return channel_; }

  // Adds this client's credentials (the bearer token) to a context, for
  // callers that use their own stub on channel().
  void AddCredentials(grpc::ClientContext* ctx) const;

 private:
  void Prepare(grpc::ClientContext* ctx, const CallOptions& opts) const;

  std::string auth_token_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<llm::v1::LlmService::Stub> stub_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

}  // namespace llm

#endif  // LLM_CLIENT_LLM_CLIENT_LIB_H_
