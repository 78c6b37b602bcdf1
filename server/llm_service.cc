#include "server/llm_service.h"

#include <chrono>
#include <cmath>
#include <random>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/model/config.h"
#include "core/tokenizer/utf8.h"
#include "core/util/status_macros.h"
#include "server/status_grpc.h"
#include "spdlog/spdlog.h"

namespace llm {
namespace {

using llm::v1::CompleteResponse;

// Tokenizer calls at most this big run inline on the gRPC thread that
// received them (a few microseconds of work); bigger ones go to the pool.
constexpr size_t kInlineBytes = 512;
constexpr int kInlineIds = 256;

constexpr char kShuttingDown[] = "the server is shutting down; retry on another instance";

v1::FinishReason ToProto(FinishReason r) {
  switch (r) {
    case FinishReason::kLength: return v1::FINISH_REASON_LENGTH;
    case FinishReason::kStop: return v1::FINISH_REASON_STOP;
    case FinishReason::kCancelled: return v1::FINISH_REASON_CANCELLED;
    case FinishReason::kNone: break;
  }
  return v1::FINISH_REASON_UNSPECIFIED;
}

const char* FinishName(FinishReason r) {
  switch (r) {
    case FinishReason::kLength: return "length";
    case FinishReason::kStop: return "stop";
    case FinishReason::kCancelled: return "cancelled";
    case FinishReason::kNone: break;
  }
  return "none";
}

// Streams one Generation to the client. Lifetime: created by
// LlmServiceImpl::Complete, deleted in OnDone (after Finish). The scheduler
// thread reaches it only through the Generation's listener, which OnDone
// removes (waiting for a running invocation) before deleting.
//
// Invariant: at most one write in flight (write_in_flight_), and Finish is
// called exactly once (finished_), never while a write is in flight.
class CompleteReactor final : public grpc::ServerWriteReactor<CompleteResponse> {
 public:
  // Finishes immediately with `error` (no generation).
  explicit CompleteReactor(const absl::Status& error) {
    finished_ = true;
    Finish(ToGrpcStatus(error));
  }

  CompleteReactor(std::shared_ptr<Generation> gen, Scheduler* scheduler)
      : gen_(std::move(gen)), start_(std::chrono::steady_clock::now()) {
    gen_->SetListener([this] { MaybeWrite(); });
    if (absl::Status s = scheduler->Submit(gen_); !s.ok()) {
      spdlog::info("complete #{} rejected: {}", gen_->params().id, std::string(s.message()));
      gen_->SetListener(nullptr);
      std::lock_guard<std::mutex> lock(mu_);
      finished_ = true;
      Finish(ToGrpcStatus(s));
    }
  }

  void OnWriteDone(bool ok) override {
    std::unique_lock<std::mutex> lock(mu_);
    write_in_flight_ = false;
    if (finished_) return;
    if (!ok || cancelled_) {  // the stream broke or the client left: stop generating
      gen_->Cancel();
      finished_ = true;
      lock.unlock();
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream write failed"));
      return;
    }
    if (final_written_) {
      finished_ = true;
      lock.unlock();
      Finish(grpc::Status::OK);
      return;
    }
    lock.unlock();
    MaybeWrite();
  }

  void OnCancel() override {
    if (!gen_) return;
    gen_->Cancel();  // the scheduler frees the slot at its next step
    std::unique_lock<std::mutex> lock(mu_);
    cancelled_ = true;
    if (finished_ || write_in_flight_) return;  // OnWriteDone will finish
    finished_ = true;
    lock.unlock();
    Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled"));
  }

  void OnDone() override {
    if (gen_) {
      gen_->SetListener(nullptr);
      gen_->Cancel();  // in case the call ended some other way
    }
    delete this;
  }

 private:
  // Writes whatever output is pending, if no write is in flight.
  void MaybeWrite() {
    std::unique_lock<std::mutex> lock(mu_);
    if (write_in_flight_ || finished_ || final_written_) return;
    Generation::Output out;
    if (!gen_->Take(&out)) return;
    if (out.done && !out.status.ok()) {
      spdlog::info("complete #{} ended: {}", gen_->params().id, out.status.ToString());
      finished_ = true;
      lock.unlock();
      Finish(ToGrpcStatus(out.status));
      return;
    }
    response_.Clear();
    response_.set_text(std::move(out.text));
    response_.mutable_token_ids()->Assign(out.ids.begin(), out.ids.end());
    if (out.done) {
      response_.set_finish_reason(ToProto(out.finish));
      response_.mutable_usage()->set_prompt_tokens(out.prompt_tokens);
      response_.mutable_usage()->set_completion_tokens(out.completion_tokens);
      response_.set_prompt_truncated(out.prompt_truncated);
      final_written_ = true;
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
      spdlog::info("complete #{} done: finish={} prompt_tokens={} completion_tokens={} {:.1f} ms",
                   gen_->params().id, FinishName(out.finish), out.prompt_tokens,
                   out.completion_tokens, ms);
    }
    write_in_flight_ = true;
    lock.unlock();
    StartWrite(&response_);
  }

  std::shared_ptr<Generation> gen_;
  std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
  bool write_in_flight_ = false;  // guarded by mu_
  bool final_written_ = false;    // guarded by mu_
  bool finished_ = false;         // guarded by mu_
  bool cancelled_ = false;        // guarded by mu_: OnCancel was called
  CompleteResponse response_;     // owned by the write in flight
};

}  // namespace

LlmServiceImpl::LlmServiceImpl(const ServingAssets* assets, const ServerOptions* options,
                               Scheduler* scheduler, ThreadPool* pool)
    : assets_(assets), options_(options), scheduler_(scheduler), pool_(pool) {
  if (!options_->auth_tokens.empty()) auth_ = std::make_unique<TokenAuthenticator>(options_->auth_tokens);
}

absl::Status LlmServiceImpl::Admit(grpc::CallbackServerContext* ctx, const char* method) const {
  if (draining_.load()) return absl::UnavailableError(kShuttingDown);
  if (auth_ == nullptr) return absl::OkStatus();
  const auto& md = ctx->client_metadata();
  auto it = md.find("authorization");
  absl::Status s;
  if (it == md.end()) {
    s = auth_->Check(nullptr);
  } else {
    const absl::string_view header(it->second.data(), it->second.size());
    s = auth_->Check(&header);
  }
  if (!s.ok()) spdlog::info("{} from {} refused: {}", method, ctx->peer(), std::string(s.message()));
  return s;
}

// ---------------------------------------------------------------- helpers

absl::StatusOr<SpecialTokenPolicy> LlmServiceImpl::ToPolicy(const v1::SpecialTokenOptions& opts) const {
  const Tokenizer& tok = *assets_->tokenizer;
  SpecialTokenPolicy policy;
  for (int i = 0; i < opts.allowed_size(); ++i) {
    const std::string& name = opts.allowed(i);
    if (tok.SpecialTokenId(name) < 0) {
      return absl::InvalidArgumentError(absl::StrCat("special_tokens.allowed[", i, "]: '", Utf8Lossy(name),
                                                     "' is not a registered special token of tokenizer '",
                                                     assets_->tokenizer_name, "'"));
    }
    policy.allowed.push_back(name);
  }
  switch (opts.mode()) {
    case v1::SpecialTokenOptions::MODE_DISALLOW:
      policy.disallow_all = true;
      break;
    case v1::SpecialTokenOptions::MODE_ALLOW_ALL:
      policy.allow_all = true;
      break;
    case v1::SpecialTokenOptions::MODE_PLAIN_TEXT:
      policy.disallow_all = false;
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("special_tokens.mode: unknown value ", static_cast<int>(opts.mode())));
  }
  return policy;
}

absl::Status LlmServiceImpl::CheckText(const char* field, const std::string& text) const {
  if (static_cast<int64_t>(text.size()) > options_->max_prompt_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is ", text.size(), " bytes; the limit is ",
                                                   options_->max_prompt_bytes,
                                                   " (server flag --max_prompt_bytes)"));
  }
  if (absl::Status s = ValidateUtf8(text); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is not valid UTF-8: ", s.message()));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- work

absl::Status LlmServiceImpl::DoTokenize(const v1::TokenizeRequest& req, v1::TokenizeResponse* resp) const {
  RETURN_IF_ERROR(CheckText("text", req.text()));
  ASSIGN_OR_RETURN(SpecialTokenPolicy policy, ToPolicy(req.special_tokens()));
  const Tokenizer& tok = *assets_->tokenizer;
  ASSIGN_OR_RETURN(std::vector<int32_t> ids, tok.Encode(req.text(), policy));
  resp->mutable_ids()->Assign(ids.begin(), ids.end());
  if (req.ids_only()) return absl::OkStatus();
  // Encoding is lossless: the tokens' bytes concatenate to the input, so the
  // spans are running sums of the token lengths.
  uint32_t pos = 0;
  resp->mutable_tokens()->Reserve(static_cast<int>(ids.size()));
  for (int32_t id : ids) {
    const std::string& bytes = tok.TokenBytes(id);
    v1::Token* t = resp->add_tokens();
    t->set_id(id);
    t->set_bytes(bytes);
    t->set_display(tok.Render(id));
    t->set_start(pos);
    pos += static_cast<uint32_t>(bytes.size());
    t->set_end(pos);
  }
  // Token details take ~10-25 bytes per token: say so clearly instead of
  // letting the transport fail with "Sent message larger than max".
  if (ids.size() > 1024) {
    const size_t bytes = resp->ByteSizeLong();
    if (static_cast<int64_t>(bytes) > options_->max_message_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "the response with token details would be ", bytes, " bytes, over the server's --max_message_bytes ",
          options_->max_message_bytes, "; ask with ids_only or send a shorter text"));
    }
  }
  return absl::OkStatus();
}

absl::Status LlmServiceImpl::DoTokenizeBatch(const v1::TokenizeBatchRequest& req,
                                             v1::TokenizeBatchResponse* resp) const {
  if (req.texts_size() > options_->max_batch_texts) {
    return absl::InvalidArgumentError(absl::StrCat("texts has ", req.texts_size(),
                                                   " entries; the limit is ", options_->max_batch_texts));
  }
  std::vector<std::string> texts;
  texts.reserve(static_cast<size_t>(req.texts_size()));
  for (int i = 0; i < req.texts_size(); ++i) {
    const std::string field = absl::StrCat("texts[", i, "]");
    RETURN_IF_ERROR(CheckText(field.c_str(), req.texts(i)));
    texts.push_back(req.texts(i));
  }
  ASSIGN_OR_RETURN(SpecialTokenPolicy policy, ToPolicy(req.special_tokens()));
  // One worker thread per call: parallelism comes from concurrent calls.
  ASSIGN_OR_RETURN(auto results, assets_->tokenizer->EncodeBatch(texts, policy, /*num_threads=*/1));
  for (const auto& ids : results) resp->add_results()->mutable_ids()->Assign(ids.begin(), ids.end());
  return absl::OkStatus();
}

absl::Status LlmServiceImpl::DoCountTokens(const v1::CountTokensRequest& req,
                                           v1::CountTokensResponse* resp) const {
  RETURN_IF_ERROR(CheckText("text", req.text()));
  ASSIGN_OR_RETURN(SpecialTokenPolicy policy, ToPolicy(req.special_tokens()));
  ASSIGN_OR_RETURN(std::vector<int32_t> ids, assets_->tokenizer->Encode(req.text(), policy));
  resp->set_count(static_cast<int64_t>(ids.size()));
  return absl::OkStatus();
}

absl::Status LlmServiceImpl::DoDetokenize(const v1::DetokenizeRequest& req,
                                          v1::DetokenizeResponse* resp) const {
  if (req.ids_size() > options_->max_detokenize_ids) {
    return absl::InvalidArgumentError(absl::StrCat("ids has ", req.ids_size(), " entries; the limit is ",
                                                   options_->max_detokenize_ids));
  }
  const Tokenizer& tok = *assets_->tokenizer;
  for (int i = 0; i < req.ids_size(); ++i) {
    if (!tok.IsValidToken(req.ids(i))) {
      return absl::InvalidArgumentError(absl::StrCat("ids[", i, "] = ", req.ids(i),
                                                     " is not a token id of tokenizer '",
                                                     assets_->tokenizer_name, "' (vocab_size ",
                                                     tok.vocab_size(), ")"));
    }
  }
  ASSIGN_OR_RETURN(std::string bytes, tok.DecodeBytes(absl::MakeConstSpan(req.ids().data(), req.ids_size())));
  resp->set_text(Utf8Lossy(bytes));
  resp->set_bytes(std::move(bytes));
  return absl::OkStatus();
}

void LlmServiceImpl::DoGetInfo(v1::GetInfoResponse* resp) const {
  const Tokenizer& tok = *assets_->tokenizer;
  v1::TokenizerInfo* ti = resp->mutable_tokenizer();
  ti->set_name(assets_->tokenizer_name);
  ti->set_vocab_size(tok.vocab_size());
  ti->set_num_merges(tok.num_merges());
  for (const auto& [text, id] : tok.special_tokens()) (*ti->mutable_special_tokens())[text] = id;
  ti->set_fingerprint(tok.Fingerprint());
  ti->set_pattern(tok.pattern());

  const ModelConfig& c = assets_->model->config();
  v1::ModelInfo* mi = resp->mutable_model();
  mi->set_name(assets_->model_name);
  mi->set_iteration(assets_->iteration);
  mi->set_vocab_size(c.vocab_size);
  mi->set_context_size(c.context);
  mi->set_num_parameters(static_cast<int64_t>(NumParameters(c)));
  mi->set_n_blocks(c.n_blocks);
  mi->set_d_model(c.d_model);
  mi->set_n_heads(c.n_heads);
  mi->set_d_head(c.d_head);
  mi->set_d_ff(c.d_ff);
  mi->set_activation(c.activation == Activation::kGelu ? "gelu" : "relu");

  v1::ServerLimits* l = resp->mutable_limits();
  l->set_max_tokens_cap(options_->max_tokens_cap);
  l->set_default_max_tokens(std::min(options_->default_max_tokens, options_->max_tokens_cap));
  l->set_max_prompt_bytes(options_->max_prompt_bytes);
  l->set_max_prompt_tokens(options_->max_prompt_tokens);
  l->set_max_slots(options_->max_slots);
  l->set_max_queue(options_->max_queue);
  l->set_max_message_bytes(options_->max_message_bytes);
  l->set_max_deadline_ms(options_->max_deadline_ms);
  resp->set_server_version("llm_server 1.0 (llm.v1)");
}

absl::StatusOr<GenerationParams> LlmServiceImpl::PrepareGeneration(const v1::CompleteRequest& req) const {
  GenerationParams p;
  if (req.prompt().empty()) return absl::InvalidArgumentError("prompt is empty");
  RETURN_IF_ERROR(CheckText("prompt", req.prompt()));

  const int32_t cap = options_->max_tokens_cap;
  if (req.max_tokens() == 0) {
    p.max_tokens = std::min(options_->default_max_tokens, cap);
  } else if (req.max_tokens() < 1 || req.max_tokens() > cap) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_tokens must be in 1..", cap, " (0 = default ",
                     std::min(options_->default_max_tokens, cap), "); got ", req.max_tokens()));
  } else {
    p.max_tokens = req.max_tokens();
  }

  SamplerOptions& s = p.sequence.sampler;
  s.temperature = req.has_temperature() ? req.temperature() : 1.0f;
  if (!std::isfinite(s.temperature) || s.temperature < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("temperature must be a finite number >= 0 (0 = greedy); got ", s.temperature));
  }
  if (req.top_k() < 0) {
    return absl::InvalidArgumentError(absl::StrCat("top_k must be >= 0 (0 = no limit); got ", req.top_k()));
  }
  s.top_k = req.top_k();
  s.top_p = req.has_top_p() ? req.top_p() : 1.0f;
  if (!(s.top_p > 0.0f && s.top_p <= 1.0f)) {
    return absl::InvalidArgumentError(absl::StrCat("top_p must be in (0, 1]; got ", s.top_p));
  }
  if (req.has_seed()) {
    s.seed = req.seed();
  } else {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    s.seed = rng();
  }
  RETURN_IF_ERROR(s.Validate());
  p.sequence.overflow_drop = options_->overflow_drop;

  if (req.stop_size() > options_->max_stop_sequences) {
    return absl::InvalidArgumentError(absl::StrCat("stop has ", req.stop_size(),
                                                   " sequences; the limit is ", options_->max_stop_sequences));
  }
  for (int i = 0; i < req.stop_size(); ++i) {
    const std::string& stop = req.stop(i);
    if (stop.empty()) return absl::InvalidArgumentError(absl::StrCat("stop[", i, "] is empty"));
    if (static_cast<int>(stop.size()) > options_->max_stop_bytes) {
      return absl::InvalidArgumentError(absl::StrCat("stop[", i, "] is ", stop.size(),
                                                     " bytes; the limit is ", options_->max_stop_bytes));
    }
    if (absl::Status st = ValidateUtf8(stop); !st.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("stop[", i, "] is not valid UTF-8: ", st.message()));
    }
    p.stop.push_back(stop);
  }

  ASSIGN_OR_RETURN(SpecialTokenPolicy policy, ToPolicy(req.special_tokens()));
  absl::StatusOr<std::vector<int32_t>> ids = assets_->tokenizer->Encode(req.prompt(), policy);
  if (!ids.ok()) {
    return absl::Status(ids.status().code(), absl::StrCat("prompt: ", ids.status().message()));
  }
  if (ids->empty()) return absl::InvalidArgumentError("prompt encodes to zero tokens");
  if (static_cast<int64_t>(ids->size()) > options_->max_prompt_tokens) {
    return absl::InvalidArgumentError(absl::StrCat("prompt is ", ids->size(), " tokens; the limit is ",
                                                   options_->max_prompt_tokens,
                                                   " (server flag --max_prompt_tokens)"));
  }
  // Long prompts keep their most recent `context` tokens (the model's
  // window, as the original's generate() slices [-context_window:]).
  const size_t context = static_cast<size_t>(assets_->model->config().context);
  if (ids->size() > context) {
    p.prompt.assign(ids->end() - static_cast<std::ptrdiff_t>(context), ids->end());
    p.prompt_truncated = true;
  } else {
    p.prompt = std::move(*ids);
  }
  p.id = next_id_.fetch_add(1);
  return p;
}

// ---------------------------------------------------------------- transport

grpc::ServerUnaryReactor* LlmServiceImpl::RunUnary(grpc::CallbackServerContext* ctx, const char* method,
                                                   bool small, std::function<absl::Status()> work) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (absl::Status s = Admit(ctx, method); !s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  if (small) {  // microseconds of work: cheaper than two thread hand-offs
    reactor->Finish(ToGrpcStatus(work()));
    return reactor;
  }
  const bool queued = pool_->TrySubmit([reactor, ctx, work = std::move(work)] {
    if (ctx->IsCancelled()) {
      reactor->Finish(ToGrpcStatus(absl::CancelledError("the call was cancelled")));
      return;
    }
    reactor->Finish(ToGrpcStatus(work()));
  });
  if (!queued) {
    reactor->Finish(ToGrpcStatus(absl::ResourceExhaustedError(absl::StrCat(
        method, ": server is at capacity (", options_->max_unary_queue,
        " tokenizer calls already waiting); retry later"))));
  }
  return reactor;
}

grpc::ServerUnaryReactor* LlmServiceImpl::Tokenize(grpc::CallbackServerContext* ctx,
                                                   const v1::TokenizeRequest* req,
                                                   v1::TokenizeResponse* resp) {
  return RunUnary(ctx, "Tokenize", req->text().size() <= kInlineBytes,
                  [this, req, resp] { return DoTokenize(*req, resp); });
}

grpc::ServerUnaryReactor* LlmServiceImpl::TokenizeBatch(grpc::CallbackServerContext* ctx,
                                                        const v1::TokenizeBatchRequest* req,
                                                        v1::TokenizeBatchResponse* resp) {
  return RunUnary(ctx, "TokenizeBatch", /*small=*/false, [this, req, resp] { return DoTokenizeBatch(*req, resp); });
}

grpc::ServerUnaryReactor* LlmServiceImpl::CountTokens(grpc::CallbackServerContext* ctx,
                                                      const v1::CountTokensRequest* req,
                                                      v1::CountTokensResponse* resp) {
  return RunUnary(ctx, "CountTokens", req->text().size() <= kInlineBytes,
                  [this, req, resp] { return DoCountTokens(*req, resp); });
}

grpc::ServerUnaryReactor* LlmServiceImpl::Detokenize(grpc::CallbackServerContext* ctx,
                                                     const v1::DetokenizeRequest* req,
                                                     v1::DetokenizeResponse* resp) {
  return RunUnary(ctx, "Detokenize", req->ids_size() <= kInlineIds,
                  [this, req, resp] { return DoDetokenize(*req, resp); });
}

grpc::ServerUnaryReactor* LlmServiceImpl::GetInfo(grpc::CallbackServerContext* ctx,
                                                  const v1::GetInfoRequest* /*req*/,
                                                  v1::GetInfoResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (absl::Status s = Admit(ctx, "GetInfo"); !s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  DoGetInfo(resp);  // cheap: no need for the pool
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<CompleteResponse>* LlmServiceImpl::Complete(grpc::CallbackServerContext* ctx,
                                                                     const v1::CompleteRequest* req) {
  if (absl::Status s = Admit(ctx, "Complete"); !s.ok()) return new CompleteReactor(s);
  absl::StatusOr<GenerationParams> params = PrepareGeneration(*req);
  if (!params.ok()) {
    spdlog::info("complete rejected: {}", params.status().ToString());
    return new CompleteReactor(params.status());
  }
  // Deadline: the client's, capped by --max_deadline_ms. gRPC reports "no
  // deadline" as a time point far in the future.
  const auto sys_now = std::chrono::system_clock::now();
  const auto steady_now = std::chrono::steady_clock::now();
  const auto remaining = ctx->deadline() - sys_now;
  if (remaining < std::chrono::hours(24 * 365)) {
    params->deadline = steady_now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(remaining);
  }
  if (options_->max_deadline_ms > 0) {
    params->deadline = std::min(params->deadline, steady_now + std::chrono::milliseconds(options_->max_deadline_ms));
  }
  const SamplerOptions& s = params->sequence.sampler;
  if (options_->log_prompts) {
    spdlog::info("complete #{}: prompt_tokens={}{} max_tokens={} temperature={} top_k={} top_p={} seed={} "
                 "prompt={:?}",
                 params->id, params->prompt.size(), params->prompt_truncated ? " (truncated)" : "",
                 params->max_tokens, s.temperature, s.top_k, s.top_p, s.seed, req->prompt());
  } else {
    spdlog::info("complete #{}: prompt_tokens={}{} max_tokens={} temperature={} top_k={} top_p={} seed={}",
                 params->id, params->prompt.size(), params->prompt_truncated ? " (truncated)" : "",
                 params->max_tokens, s.temperature, s.top_k, s.top_p, s.seed);
  }
  return new CompleteReactor(std::make_shared<Generation>(std::move(*params)), scheduler_);
}

}  // namespace llm
