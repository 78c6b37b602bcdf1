// Fuzz target: request validation and handling without the transport. Byte 0
// picks the RPC; the rest is the serialized request as it arrives on the wire
// (bytes that do not parse are what gRPC itself rejects, so they are skipped).
// The handlers run against a tiny tokenizer (with a special token) and a tiny
// random model. For ANY request: the handler returns OK or one of the
// documented client-error codes (INVALID_ARGUMENT, RESOURCE_EXHAUSTED), never
// crashes, and an OK answer is consistent:
//   Tokenize: token bytes concatenate to the text, spans tile it, ids match
//             the token list, and DecodeBytes(ids) == text;
//   TokenizeBatch / CountTokens: agree with Tokenize on the same text;
//   Detokenize: bytes == DecodeBytes(ids) and text is its lossy UTF-8;
//   Complete: the prepared prompt holds 1..context valid ids, max_tokens is
//             in 1..cap, stop sequences are non-empty.
#include <memory>
#include <string>

#include "core/tokenizer/utf8.h"
#include "google/protobuf/stubs/logging.h"
#include "server/llm_service.h"
#include "server/server.h"
#include "tests/fuzz/fuzz_targets.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/server/test_util.h"

namespace llm {
namespace fuzz {
namespace {

struct Service {
  std::shared_ptr<ServingAssets> assets = testing::TinyAssets();
  ServerOptions options;
  // No scheduler or worker pool: only the transport-free Do*/Prepare* paths run.
  LlmServiceImpl impl{assets.get(), &options, nullptr, nullptr};
};

const Service& GetService() {
  // Requests that do not parse are skipped; protobuf's parse-error logs
  // would only flood the fuzzer's output.
  static const bool quiet = (google::protobuf::SetLogHandler(nullptr), true);
  (void)quiet;
  static const Service* service = new Service();
  return *service;
}

bool IsClientError(const absl::Status& s) {
  return s.code() == absl::StatusCode::kInvalidArgument ||
         s.code() == absl::StatusCode::kResourceExhausted;
}

void CheckTokenize(const Service& svc, const v1::TokenizeRequest& req) {
  v1::TokenizeResponse resp;
  const absl::Status s = svc.impl.DoTokenize(req, &resp);
  FUZZ_CHECK(s.ok() || IsClientError(s), "Tokenize: unexpected status " + s.ToString());
  if (!s.ok()) return;
  const std::string& text = req.text();
  auto decoded = svc.assets->tokenizer->DecodeBytes(resp.ids());
  FUZZ_CHECK(decoded.ok() && *decoded == text, "Tokenize: ids do not decode to the text");
  if (req.ids_only()) return;
  FUZZ_CHECK(resp.tokens_size() == resp.ids_size(), "Tokenize: tokens and ids differ in length");
  std::string joined;
  uint32_t at = 0;
  for (int i = 0; i < resp.tokens_size(); ++i) {
    const v1::Token& t = resp.tokens(i);
    FUZZ_CHECK(t.id() == resp.ids(i), "Tokenize: token id differs from ids");
    FUZZ_CHECK(t.start() == at && t.end() == at + t.bytes().size(), "Tokenize: spans do not tile the text");
    FUZZ_CHECK(ValidateUtf8(t.display()).ok(), "Tokenize: display is not UTF-8");
    at = t.end();
    joined += t.bytes();
  }
  FUZZ_CHECK(joined == text, "Tokenize: token bytes do not concatenate to the text");
}

int Run(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Service& svc = GetService();
  const char* bytes = reinterpret_cast<const char*>(data) + 1;
  const int n = static_cast<int>(size - 1);
  switch (data[0] % 5) {
    case 0: {
      v1::TokenizeRequest req;
      if (!req.ParseFromArray(bytes, n)) return 0;
      CheckTokenize(svc, req);
      break;
    }
    case 1: {
      v1::TokenizeBatchRequest req;
      if (!req.ParseFromArray(bytes, n)) return 0;
      v1::TokenizeBatchResponse resp;
      const absl::Status s = svc.impl.DoTokenizeBatch(req, &resp);
      FUZZ_CHECK(s.ok() || IsClientError(s), "TokenizeBatch: unexpected status " + s.ToString());
      if (!s.ok()) return 0;
      FUZZ_CHECK(resp.results_size() == req.texts_size(), "TokenizeBatch: one result per text");
      for (int i = 0; i < req.texts_size(); ++i) {
        auto decoded = svc.assets->tokenizer->DecodeBytes(resp.results(i).ids());
        FUZZ_CHECK(decoded.ok() && *decoded == req.texts(i), "TokenizeBatch: ids do not decode");
      }
      break;
    }
    case 2: {
      v1::CountTokensRequest req;
      if (!req.ParseFromArray(bytes, n)) return 0;
      v1::CountTokensResponse resp;
      const absl::Status s = svc.impl.DoCountTokens(req, &resp);
      FUZZ_CHECK(s.ok() || IsClientError(s), "CountTokens: unexpected status " + s.ToString());
      if (!s.ok()) return 0;
      v1::TokenizeRequest tok;
      tok.set_text(req.text());
      *tok.mutable_special_tokens() = req.special_tokens();
      tok.set_ids_only(true);
      v1::TokenizeResponse tresp;
      FUZZ_CHECK(svc.impl.DoTokenize(tok, &tresp).ok() && tresp.ids_size() == resp.count(),
                 "CountTokens disagrees with Tokenize");
      break;
    }
    case 3: {
      v1::DetokenizeRequest req;
      if (!req.ParseFromArray(bytes, n)) return 0;
      v1::DetokenizeResponse resp;
      const absl::Status s = svc.impl.DoDetokenize(req, &resp);
      FUZZ_CHECK(s.ok() || IsClientError(s), "Detokenize: unexpected status " + s.ToString());
      if (!s.ok()) return 0;
      auto exact = svc.assets->tokenizer->DecodeBytes(req.ids());
      FUZZ_CHECK(exact.ok() && *exact == resp.bytes(), "Detokenize: bytes differ from DecodeBytes");
      FUZZ_CHECK(resp.text() == Utf8Lossy(resp.bytes()), "Detokenize: text is not the lossy decode");
      break;
    }
    case 4: {
      v1::CompleteRequest req;
      if (!req.ParseFromArray(bytes, n)) return 0;
      auto params = svc.impl.PrepareGeneration(req);
      FUZZ_CHECK(params.ok() || IsClientError(params.status()),
                 "Complete: unexpected status " + params.status().ToString());
      if (!params.ok()) return 0;
      const int32_t context = svc.assets->model->config().context;
      FUZZ_CHECK(!params->prompt.empty() && static_cast<int32_t>(params->prompt.size()) <= context,
                 "Complete: prompt length outside 1..context");
      for (int32_t id : params->prompt) {
        FUZZ_CHECK(svc.assets->tokenizer->IsValidToken(id), "Complete: invalid prompt id");
      }
      FUZZ_CHECK(params->max_tokens >= 1 && params->max_tokens <= svc.options.max_tokens_cap,
                 "Complete: max_tokens outside 1..cap");
      for (const std::string& stop : params->stop) FUZZ_CHECK(!stop.empty(), "Complete: empty stop");
      break;
    }
  }
  return 0;
}

}  // namespace

int FuzzRequest(const uint8_t* data, size_t size) { return Run(data, size); }

}  // namespace fuzz
}  // namespace llm

LLM_DEFINE_FUZZ_ENTRY(llm::fuzz::FuzzRequest)
