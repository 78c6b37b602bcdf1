// Bearer-token authentication and TLS credential loading for llm_server.
//
// Tokens travel in call metadata as `authorization: Bearer TOKEN` (the
// scheme is case-insensitive, as in RFC 6750). The server holds a set of
// accepted tokens, read from a file (one per line) or an environment
// variable; they are never logged. LlmServiceImpl checks every llm.v1 call
// with TokenAuthenticator::Check before doing any work; the standard health
// service (grpc.health.v1) and reflection are not checked (see
// server/server.h).
#ifndef LLM_SERVER_AUTH_H_
#define LLM_SERVER_AUTH_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace llm {

// Parses a token file: one token per line; blank lines and lines starting
// with '#' are skipped; surrounding spaces/tabs/CR are trimmed. A token must
// be 1..4096 printable ASCII characters without spaces (so it fits an HTTP/2
// header value). Errors (InvalidArgument) name `source` and the line number,
// never the token text; a file without any token is an error.
absl::StatusOr<std::vector<std::string>> ParseAuthTokens(absl::string_view contents,
                                                         absl::string_view source);

// Reads and parses a token file (errors name the path).
absl::StatusOr<std::vector<std::string>> ReadAuthTokenFile(const std::string& path);

// Accepts calls whose `authorization` metadata is "Bearer T" for one of the
// configured tokens T. Immutable after construction: thread-safe.
class TokenAuthenticator {
 public:
  explicit TokenAuthenticator(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {}

  // `header` is the value of the `authorization` metadata, or nullptr when
  // the call has none. Returns OK or Unauthenticated (the message says what
  // is expected, never echoes the header). The comparison takes the same
  // time whichever byte differs (no timing oracle for guessing tokens).
  absl::Status Check(const absl::string_view* header) const;

  size_t size() const { return tokens_.size(); }

 private:
  std::vector<std::string> tokens_;
};

// Reads a PEM file for a TLS flag; errors name the flag and the path, and
// reject files that do not look like PEM ("-----BEGIN").
absl::StatusOr<std::string> ReadPemFile(const std::string& path, absl::string_view flag);

}  // namespace llm

#endif  // LLM_SERVER_AUTH_H_
