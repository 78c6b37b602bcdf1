// Shared helpers for the Tokenizer tests: locating reference data and building
// small tokenizers.
#ifndef LLM_TESTS_TOKENIZER_TOKENIZER_TEST_UTIL_H_
#define LLM_TESTS_TOKENIZER_TOKENIZER_TEST_UTIL_H_

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/tokenizer/pretokenizer.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/file_util.h"

namespace llm {
namespace testing_util {

inline std::string SourceDir() {
  const char* s = std::getenv("LLM_SOURCE_DIR");
  return s ? s : ".";
}

// Path of OpenAI's cl100k_base rank file, or "" if absent.
inline std::string Cl100kPath() {
  for (const std::string& p : {SourceDir() + "/../shared/data/tiktoken/cl100k_base.tiktoken",
                               std::string("/work/shared/data/tiktoken/cl100k_base.tiktoken")}) {
    if (PathExists(p)) return p;
  }
  return "";
}

// Shakespeare text (the test split if present, else the raw corpus), or "".
inline std::string ShakespeareText() {
  for (const std::string& p : {std::string("assets/text/test.txt"),
                               SourceDir() + "/assets/text/test.txt",
                               SourceDir() + "/../shared/data/shakespeare.txt",
                               std::string("/work/shared/data/shakespeare.txt")}) {
    if (PathExists(p)) {
      auto r = ReadFile(p);
      if (r.ok()) return *r;
    }
  }
  return "";
}

inline std::string Gpt4Pattern() { return SplitPatternByName("gpt-4").value(); }

// cl100k_base as a Tokenizer (ids = ranks) with its special tokens, or null
// if the rank file is absent. Loaded once per process.
inline const Tokenizer* Cl100k() {
  static const Tokenizer* tok = [] () -> const Tokenizer* {
    const std::string path = Cl100kPath();
    if (path.empty()) return nullptr;
    auto ranks = ReadTiktokenFile(path);
    if (!ranks.ok()) return nullptr;
    auto t = Tokenizer::FromRanks(Gpt4Pattern(), std::move(ranks).value());
    if (!t.ok()) return nullptr;
    if (!(*t)->AddSpecialTokens({{"<|endoftext|>", 100257},
                                 {"<|fim_prefix|>", 100258},
                                 {"<|fim_middle|>", 100259},
                                 {"<|fim_suffix|>", 100260},
                                 {"<|endofprompt|>", 100276}})
             .ok()) {
      return nullptr;
    }
    return t->release();
  }();
  return tok;
}

// A trained-style merge list (ids 256, 257, ...) made of cl100k's first
// `num_merges` recovered merges, renumbered. Gives realistic merges without a
// trainer. Empty if cl100k is unavailable.
inline std::vector<Merge> Cl100kStyleMerges(int num_merges) {
  const Tokenizer* cl = Cl100k();
  std::vector<Merge> out;
  if (cl == nullptr) return out;
  absl::flat_hash_map<int32_t, int32_t> remap;
  for (int b = 0; b < 256; ++b) {
    remap[cl->EncodePieceBpe(std::string(1, static_cast<char>(b)))[0]] = b;
  }
  for (const Merge& m : cl->merges()) {
    if (static_cast<int>(out.size()) >= num_merges) break;
    auto l = remap.find(m.left), r = remap.find(m.right);
    if (l == remap.end() || r == remap.end()) continue;
    const int32_t id = 256 + static_cast<int32_t>(out.size());
    out.push_back(Merge{l->second, r->second, id});
    remap[m.id] = id;
  }
  return out;
}

}  // namespace testing_util
}  // namespace llm

#endif  // LLM_TESTS_TOKENIZER_TOKENIZER_TEST_UTIL_H_
