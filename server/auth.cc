#include "server/auth.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/util/file_util.h"

namespace llm {
namespace {

constexpr size_t kMaxTokenBytes = 4096;

// Equal iff a == b; for equal lengths the time does not depend on where the
// strings differ.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseAuthTokens(absl::string_view contents, absl::string_view source) {
  std::vector<std::string> tokens;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(contents, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    if (line.size() > kMaxTokenBytes) {
      return absl::InvalidArgumentError(absl::StrCat(source, ":", line_no, ": token is longer than ",
                                                     kMaxTokenBytes, " bytes"));
    }
    for (char c : line) {
      if (c <= ' ' || c > '~') {
        return absl::InvalidArgumentError(absl::StrCat(
            source, ":", line_no, ": a token must be printable ASCII without spaces (one token per line)"));
      }
    }
    tokens.emplace_back(line);
  }
  if (tokens.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": no token found (one token per line; '#' starts a comment)"));
  }
  return tokens;
}

absl::StatusOr<std::vector<std::string>> ReadAuthTokenFile(const std::string& path) {
  absl::StatusOr<std::string> contents = ReadFile(path);
  if (!contents.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--auth_token_file: ", contents.status().message()));
  }
  return ParseAuthTokens(*contents, path);
}

absl::Status TokenAuthenticator::Check(const absl::string_view* header) const {
  constexpr char kExpected[] = "expected call metadata 'authorization: Bearer TOKEN'";
  if (header == nullptr) {
    return absl::UnauthenticatedError(absl::StrCat("missing credentials: ", kExpected));
  }
  absl::string_view value = absl::StripAsciiWhitespace(*header);
  constexpr absl::string_view kScheme = "bearer ";
  if (value.size() <= kScheme.size() || !absl::StartsWithIgnoreCase(value, kScheme)) {
    return absl::UnauthenticatedError(absl::StrCat("malformed credentials: ", kExpected));
  }
  value = absl::StripLeadingAsciiWhitespace(value.substr(kScheme.size()));
  bool match = false;
  for (const std::string& token : tokens_) match |= ConstantTimeEquals(value, token);  // no early exit
  if (!match) return absl::UnauthenticatedError("invalid bearer token");
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadPemFile(const std::string& path, absl::string_view flag) {
  absl::StatusOr<std::string> contents = ReadFile(path);
  if (!contents.ok()) return absl::InvalidArgumentError(absl::StrCat(flag, ": ", contents.status().message()));
  if (!absl::StrContains(*contents, "-----BEGIN ")) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", path, " is not a PEM file (no '-----BEGIN' line)"));
  }
  return contents;
}

}  // namespace llm
