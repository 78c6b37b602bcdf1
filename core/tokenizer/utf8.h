// UTF-8 helpers shared by the pre-tokenizer, the BPE tokenizer and tools.
#ifndef LLM_CORE_TOKENIZER_UTF8_H_
#define LLM_CORE_TOKENIZER_UTF8_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace llm {

// Length of the longest valid UTF-8 prefix of `s` (s.size() if all valid).
// Valid means: shortest-form encodings, no surrogates (U+D800..U+DFFF), no
// code points above U+10FFFF, as Python's strict decoder requires.
size_t ValidUtf8Prefix(std::string_view s);

// OK if `s` is valid UTF-8, else InvalidArgument "invalid UTF-8 at byte
// offset N" (N = first offending byte).
absl::Status ValidateUtf8(std::string_view s);

// Decodes the code point starting at s[i] (which must start a valid sequence)
// and returns it; `*len` receives its byte length (1..4).
inline uint32_t DecodeUtf8At(std::string_view s, size_t i, int* len) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + i;
  if (p[0] < 0x80) {
    *len = 1;
    return p[0];
  }
  if (p[0] < 0xE0) {
    *len = 2;
    return ((p[0] & 0x1Fu) << 6) | (p[1] & 0x3Fu);
  }
  if (p[0] < 0xF0) {
    *len = 3;
    return ((p[0] & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
  }
  *len = 4;
  return ((p[0] & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
}

// Appends the UTF-8 encoding of code point `cp` to `out`.
void AppendUtf8(uint32_t cp, std::string* out);

// Decodes bytes as UTF-8 replacing each invalid sequence with U+FFFD the way
// Python's bytes.decode("utf-8", errors="replace") does (one U+FFFD per
// maximal invalid subpart).
std::string Utf8Lossy(std::string_view bytes);

}  // namespace llm

#endif  // LLM_CORE_TOKENIZER_UTF8_H_
