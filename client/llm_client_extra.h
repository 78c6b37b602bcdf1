// Helpers of the interactive `llm_client` tool (client/main.cc), kept in a
// library so tests can check them directly. Owned by the client tool; the
// gRPC client library itself is client/llm_client_lib.h.
#ifndef LLM_CLIENT_LLM_CLIENT_EXTRA_H_
#define LLM_CLIENT_LLM_CLIENT_EXTRA_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace llm::client {

// Decimal digits of `n` grouped by commas, as Python's format(n, ",").
// Examples: 77 -> "77", 1410 -> "1,410", -1234567 -> "-1,234,567".
std::string FormatThousands(int64_t n);

// One line of the tokenize demo, exactly the original's
// f"{token:>6,}: [{token_text}]\n": the id with thousands separators,
// right-aligned in 6 columns (wider ids are not cut), then the piece.
// Examples: (77, "M") -> "    77: [M]\n", (1410, " MACBETH") -> " 1,410: [ MACBETH]\n".
std::string FormatTokenLine(int64_t id, std::string_view piece);

// What the user typed -> the text sent: every two-character sequence
// backslash + 'n' becomes a newline; everything else is kept as is.
std::string UnescapeNewlines(std::string_view typed);

// The human-readable message for a failed call to the server at `target`
// ("host:port"). `unreachable` = the channel could not connect: the message
// then says so and how to start the server. Otherwise the server's status
// code and message. Never contains a newline.
std::string DescribeError(const absl::Status& status, const std::string& target, bool unreachable);

}  // namespace llm::client

#endif  // LLM_CLIENT_LLM_CLIENT_EXTRA_H_
