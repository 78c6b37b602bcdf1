#include "server/text_stream.h"

#include <algorithm>

#include "core/tokenizer/utf8.h"

namespace llm {
namespace {

// Number of bytes of the character started by lead byte `b`, or 0 if `b`
// cannot start a character (continuation byte or never-valid byte).
int SequenceLength(unsigned char b) {
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) return 2;
  if (b >= 0xE0 && b <= 0xEF) return 3;
  if (b >= 0xF0 && b <= 0xF4) return 4;
  return 0;
}

// Allowed range of the byte after lead byte `b` (RFC 3629 table; excludes
// overlong forms, surrogates and code points above U+10FFFF).
void SecondByteRange(unsigned char b, unsigned char* lo, unsigned char* hi) {
  *lo = 0x80;
  *hi = 0xBF;
  if (b == 0xE0) *lo = 0xA0;
  if (b == 0xED) *hi = 0x9F;
  if (b == 0xF0) *lo = 0x90;
  if (b == 0xF4) *hi = 0x8F;
}

}  // namespace

size_t IncompleteUtf8Suffix(std::string_view s) {
  // The lead byte of an incomplete character is at most 3 bytes from the end.
  const size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const auto lead = static_cast<unsigned char>(s[n - back]);
    if (lead >= 0x80 && lead <= 0xBF) continue;  // continuation byte: look further back
    const int len = SequenceLength(lead);
    if (len <= static_cast<int>(back)) return 0;  // complete (or invalid) character
    // Check that the bytes present so far are a valid prefix.
    if (back >= 2) {
      unsigned char lo, hi;
      SecondByteRange(lead, &lo, &hi);
      const auto b1 = static_cast<unsigned char>(s[n - back + 1]);
      if (b1 < lo || b1 > hi) return 0;
    }
    if (back >= 3) {
      const auto b2 = static_cast<unsigned char>(s[n - back + 2]);
      if (b2 < 0x80 || b2 > 0xBF) return 0;
    }
    return back;
  }
  return 0;
}

TextStream::TextStream(std::vector<std::string> stop) : stop_(std::move(stop)) {
  for (const auto& s : stop_) max_stop_len_ = std::max(max_stop_len_, s.size());
}

std::string TextStream::Append(std::string_view token_bytes) {
  if (stopped_) return "";
  const size_t old_size = generated_.size();
  generated_.append(token_bytes.data(), token_bytes.size());

  // Earliest stop sequence occurrence that ends in the new bytes. Anything
  // that could start one was held back, so it cannot start before emitted_.
  size_t stop_at = std::string::npos;
  for (const auto& s : stop_) {
    const size_t from = old_size + 1 > s.size() ? std::max(emitted_, old_size + 1 - s.size()) : emitted_;
    const size_t pos = generated_.find(s, from);
    if (pos != std::string::npos) stop_at = std::min(stop_at, pos);
  }
  if (stop_at != std::string::npos) {
    stopped_ = true;
    std::string out = Utf8Lossy(std::string_view(generated_).substr(emitted_, stop_at - emitted_));
    emitted_ = stop_at;
    return out;
  }

  // Hold back the longest suffix that is a proper prefix of a stop sequence.
  size_t safe_end = generated_.size();
  const size_t max_hold = std::min(generated_.size() - emitted_, max_stop_len_);
  for (size_t len = max_hold; len >= 1; --len) {
    const std::string_view suffix = std::string_view(generated_).substr(generated_.size() - len);
    bool is_prefix = false;
    for (const auto& s : stop_) {
      if (s.size() > len && std::string_view(s).substr(0, len) == suffix) {
        is_prefix = true;
        break;
      }
    }
    if (is_prefix) {
      safe_end = generated_.size() - len;
      break;
    }
  }
  // Then hold back an incomplete trailing character.
  const std::string_view candidate = std::string_view(generated_).substr(emitted_, safe_end - emitted_);
  const size_t cut = emitted_ + candidate.size() - IncompleteUtf8Suffix(candidate);
  std::string out = Utf8Lossy(std::string_view(generated_).substr(emitted_, cut - emitted_));
  emitted_ = cut;
  return out;
}

std::string TextStream::Flush() {
  if (stopped_) return "";
  std::string out = Utf8Lossy(std::string_view(generated_).substr(emitted_));
  emitted_ = generated_.size();
  return out;
}

}  // namespace llm
