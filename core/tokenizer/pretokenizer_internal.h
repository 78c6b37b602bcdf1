// Private to the pre-tokenizer and its tests: switches that exist only so the
// tests can check one implementation path against another.
#ifndef LLM_CORE_TOKENIZER_PRETOKENIZER_INTERNAL_H_
#define LLM_CORE_TOKENIZER_PRETOKENIZER_INTERNAL_H_

#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/tokenizer/pretokenizer.h"

namespace llm {
namespace pretokenizer_internal {

// Like PreTokenizer::Create, but `use_ascii_fast_path` = false makes every
// piece go through the general RE2 path (the fast path is an optimisation
// that must give identical pieces; tests compare the two).
absl::StatusOr<std::unique_ptr<PreTokenizer>> CreateWithOptions(std::string_view pattern,
                                                                bool use_ascii_fast_path);

// The RE2 program text the known pattern `pattern` is translated to (with
// the emulated tail branches removed); NotFound for unknown patterns.
absl::StatusOr<std::string> Re2TranslationOf(std::string_view pattern);

// True if `cp` is in the reference's `\s` (Python `regex` module).
bool IsReferenceWhiteSpace(uint32_t cp);

}  // namespace pretokenizer_internal
}  // namespace llm

#endif  // LLM_CORE_TOKENIZER_PRETOKENIZER_INTERNAL_H_
