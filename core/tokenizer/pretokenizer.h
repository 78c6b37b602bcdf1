// Pre-tokenization: splitting text into pieces with a split pattern, exactly
// as Python's `regex` module (and tiktoken's fancy-regex) interpret it, on
// top of RE2. RE2 lacks lookahead, possessive quantifiers and Unicode `\s`;
// each known pattern is stored as data (an RE2 translation) plus small
// emulation rules that restore the reference semantics.
//
// Thread-safety: a PreTokenizer is immutable after Create() and may be used
// from many threads at once.
#ifndef LLM_CORE_TOKENIZER_PRETOKENIZER_H_
#define LLM_CORE_TOKENIZER_PRETOKENIZER_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"

namespace llm {

// Names of the split patterns this library reproduces exactly.
//   "gpt-4"       GPT-4 / cl100k_base pattern (the original's default)
//   "cl100k_base" same pattern as "gpt-4"
//   "o200k_base"  GPT-4o pattern
//   "gpt2"        GPT-2 / r50k_base / p50k_base pattern ("r50k_base" and
//                 "p50k_base" are accepted as aliases)
// Returns NotFound for an unknown name.
absl::StatusOr<std::string> SplitPatternByName(std::string_view name);
// The default pattern name ("gpt-4").
std::string_view DefaultSplitPatternName();

class PreTokenizer {
 public:
  // `pattern` is the reference regex text (as stored in pattern.txt), e.g.
  // the GPT-4 pattern. Known patterns are recognised by their exact text and
  // get exact emulation. Unknown patterns: InvalidArgument (we refuse rather
  // than split differently from the reference).
  static absl::StatusOr<std::unique_ptr<PreTokenizer>> Create(std::string_view pattern);

  virtual ~PreTokenizer() = default;

  // The reference pattern text this splitter reproduces.
  virtual const std::string& pattern() const = 0;

  // Calls `fn(begin, end)` for each piece of `text`, in order; the pieces
  // tile the text exactly (pieces are non-empty, contiguous, cover all bytes).
  // `text` must be valid UTF-8 (callers validate first).
  virtual void Split(std::string_view text,
                     absl::FunctionRef<void(size_t begin, size_t end)> fn) const = 0;

  // Convenience: the pieces as views into `text`.
  std::vector<std::string_view> SplitToVector(std::string_view text) const;
};

}  // namespace llm

#endif  // LLM_CORE_TOKENIZER_PRETOKENIZER_H_
