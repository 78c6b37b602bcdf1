// The llm.v1.LlmService implementation (gRPC callback API). Internal to
// server/: use LlmServer to run it.
//
//  * Small unary tokenizer calls (<= 512 bytes / 256 ids) run inline on the
//    gRPC thread; bigger ones hand their work to a ThreadPool and finish from
//    there (parallel across cores; RESOURCE_EXHAUSTED when the pool's queue
//    is full).
//  * Complete validates and encodes the prompt on the gRPC thread, then
//    submits a Generation to the Scheduler; a ServerWriteReactor streams the
//    Generation's output (OnWriteDone drives the next write, OnCancel cancels
//    the generation, OnDone cleans up).
//  * Every error is an absl::Status converted by ToGrpcStatus (status_grpc.h).
#ifndef LLM_SERVER_LLM_SERVICE_H_
#define LLM_SERVER_LLM_SERVICE_H_

#include <atomic>
#include <memory>

#include "absl/status/statusor.h"
#include "core/tokenizer/tokenizer.h"
#include "llm/v1/llm.grpc.pb.h"
#include "server/assets.h"
#include "server/auth.h"
#include "server/generation.h"
#include "server/scheduler.h"
#include "server/server.h"
#include "server/thread_pool.h"

namespace llm {

class LlmServiceImpl final : public llm::v1::LlmService::CallbackService {
 public:
  // All pointers must outlive the service.
  LlmServiceImpl(const ServingAssets* assets, const ServerOptions* options, Scheduler* scheduler,
                 ThreadPool* pool);

  // From now on every new call fails with UNAVAILABLE.
  void StartDraining() { draining_.store(true); }

  grpc::ServerUnaryReactor* Tokenize(grpc::CallbackServerContext* ctx,
                                     const llm::v1::TokenizeRequest* req,
                                     llm::v1::TokenizeResponse* resp) override;
  grpc::ServerUnaryReactor* TokenizeBatch(grpc::CallbackServerContext* ctx,
                                          const llm::v1::TokenizeBatchRequest* req,
                                          llm::v1::TokenizeBatchResponse* resp) override;
  grpc::ServerUnaryReactor* CountTokens(grpc::CallbackServerContext* ctx,
                                        const llm::v1::CountTokensRequest* req,
                                        llm::v1::CountTokensResponse* resp) override;
  grpc::ServerUnaryReactor* Detokenize(grpc::CallbackServerContext* ctx,
                                       const llm::v1::DetokenizeRequest* req,
                                       llm::v1::DetokenizeResponse* resp) override;
  grpc::ServerUnaryReactor* GetInfo(grpc::CallbackServerContext* ctx,
                                    const llm::v1::GetInfoRequest* req,
                                    llm::v1::GetInfoResponse* resp) override;
  grpc::ServerWriteReactor<llm::v1::CompleteResponse>* Complete(
      grpc::CallbackServerContext* ctx, const llm::v1::CompleteRequest* req) override;

  // Request handling without the transport (exposed for unit tests).
  absl::Status DoTokenize(const llm::v1::TokenizeRequest& req, llm::v1::TokenizeResponse* resp) const;
  absl::Status DoTokenizeBatch(const llm::v1::TokenizeBatchRequest& req,
                               llm::v1::TokenizeBatchResponse* resp) const;
  absl::Status DoCountTokens(const llm::v1::CountTokensRequest& req,
                             llm::v1::CountTokensResponse* resp) const;
  absl::Status DoDetokenize(const llm::v1::DetokenizeRequest& req,
                            llm::v1::DetokenizeResponse* resp) const;
  void DoGetInfo(llm::v1::GetInfoResponse* resp) const;
  // Validates a Complete request and encodes its prompt.
  absl::StatusOr<GenerationParams> PrepareGeneration(const llm::v1::CompleteRequest& req) const;

 private:
  // Whether a new call may proceed: Unavailable while draining,
  // Unauthenticated without a valid bearer token (when tokens are set).
  // Failures are logged with the method and peer, never the credentials.
  absl::Status Admit(grpc::CallbackServerContext* ctx, const char* method) const;
  // Finishes the call with the status of `work`: run right here when
  // `small` (a few microseconds, not worth a thread hand-off), else on the
  // pool (RESOURCE_EXHAUSTED if its queue is full).
  grpc::ServerUnaryReactor* RunUnary(grpc::CallbackServerContext* ctx, const char* method, bool small,
                                     std::function<absl::Status()> work);
  absl::StatusOr<SpecialTokenPolicy> ToPolicy(const llm::v1::SpecialTokenOptions& opts) const;
  absl::Status CheckText(const char* field, const std::string& text) const;

  const ServingAssets* const assets_;
  const ServerOptions* const options_;
  Scheduler* const scheduler_;
  ThreadPool* const pool_;
  std::unique_ptr<TokenAuthenticator> auth_;  // null = no authentication
  std::atomic<bool> draining_{false};
  mutable std::atomic<uint64_t> next_id_{1};  // call ids for logs
};

}  // namespace llm

#endif  // LLM_SERVER_LLM_SERVICE_H_
