// Small in-memory tokenizers for the fuzz targets: byte-level BPE with a few
// merges that cover ASCII words, whitespace runs, multi-byte characters and a
// token that is only part of a UTF-8 character.
#ifndef LLM_TESTS_FUZZ_FUZZ_TOKENIZERS_H_
#define LLM_TESTS_FUZZ_FUZZ_TOKENIZERS_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/tokenizer/pretokenizer.h"
#include "core/tokenizer/tokenizer.h"
#include "tests/fuzz/fuzz_util.h"

namespace llm {
namespace fuzz {

// Merges that build each word left to right ("t"+"h", "th"+"e", ...).
inline std::vector<Merge> FuzzMerges() {
  static const char* const kWords[] = {
      "the", " the", " and", "ing", "  ", "    ", "\n\n", "hello", " world", "'s",
      "123", "\xC3\xA9", " caf\xC3\xA9",          // é (complete character)
      "\xE2\x82",                                  // first 2 bytes of € (partial)
      "\xE6\x97\xA5\xE6\x9C\xAC",                  // 日本
      "<|", "|>", "end"};
  std::map<std::string, int32_t> ids;
  for (int b = 0; b < 256; ++b) ids[std::string(1, static_cast<char>(b))] = b;
  std::vector<Merge> merges;
  for (const char* w : kWords) {
    const std::string word(w);
    std::string prefix(1, word[0]);
    for (size_t i = 1; i < word.size(); ++i) {
      const std::string next = prefix + word[i];
      if (!ids.count(next)) {
        const int32_t id = 256 + static_cast<int32_t>(merges.size());
        merges.push_back({ids[prefix], ids[std::string(1, word[i])], id});
        ids[next] = id;
      }
      prefix = next;
    }
  }
  return merges;
}

// The split patterns the fuzzers cycle through.
inline const std::vector<std::string>& FuzzPatternNames() {
  static const std::vector<std::string> names = {"gpt-4", "o200k_base", "gpt2"};
  return names;
}

// A tokenizer for FuzzPatternNames()[i]; built once per process.
inline const Tokenizer& FuzzTokenizer(size_t pattern_index, bool use_cache) {
  static const auto* toks = [] {
    auto* v = new std::vector<std::unique_ptr<Tokenizer>>();
    for (const std::string& name : FuzzPatternNames()) {
      for (bool cache : {false, true}) {
        TokenizerOptions opts;
        opts.use_cache = cache;
        opts.lru_capacity = 64;  // small, so eviction is exercised too
        auto t = Tokenizer::FromMerges(SplitPatternByName(name).value(), FuzzMerges(), opts);
        FUZZ_CHECK(t.ok(), t.status().ToString());
        v->push_back(std::move(t).value());
      }
    }
    return v;
  }();
  return *(*toks)[pattern_index * 2 + (use_cache ? 1 : 0)];
}

}  // namespace fuzz
}  // namespace llm

#endif  // LLM_TESTS_FUZZ_FUZZ_TOKENIZERS_H_
