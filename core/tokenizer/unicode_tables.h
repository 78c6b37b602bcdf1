// Unicode property tables generated from Python's unicodedata (see
// tools/gen/gen_unicode_tables.py) so that rendering matches the original.
#ifndef LLM_CORE_TOKENIZER_UNICODE_TABLES_H_
#define LLM_CORE_TOKENIZER_UNICODE_TABLES_H_

#include <cstddef>
#include <cstdint>

namespace llm {

struct UnicodeRange {
  uint32_t lo;  // inclusive
  uint32_t hi;  // inclusive
};

// Sorted, disjoint ranges of code points whose general category starts with
// "C" (control, format, surrogate, private use, unassigned).
extern const UnicodeRange kCategoryCRanges[];
extern const size_t kNumCategoryCRanges;
// Unicode version the tables were generated from (e.g. "14.0.0").
extern const char kUnicodeTablesVersion[];

// True if unicodedata.category(chr(cp))[0] == "C". Code points above
// U+10FFFF count as C (unassigned). Binary search; thread-safe.
bool IsUnicodeCategoryC(uint32_t cp);

}  // namespace llm

#endif  // LLM_CORE_TOKENIZER_UNICODE_TABLES_H_
