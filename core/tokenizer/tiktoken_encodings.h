// OpenAI's public tiktoken encodings (gpt2/r50k_base, p50k_base, cl100k_base,
// o200k_base): where their rank files live, how to recognise them, their
// split patterns and special tokens. Pure data plus lookups; fetching files
// is tools/convert_tiktoken's job (it links libcurl).
#ifndef LLM_CORE_TOKENIZER_TIKTOKEN_ENCODINGS_H_
#define LLM_CORE_TOKENIZER_TIKTOKEN_ENCODINGS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llm {

struct TiktokenEncoding {
  std::string name;           // e.g. "cl100k_base"
  std::string url;            // OpenAI's public download URL of NAME.tiktoken
  std::string sha256_hex;     // the hash tiktoken checks for that file
  int64_t num_ranks;          // number of lines (ranks) in the file
  std::string pattern_name;   // for SplitPatternByName
  std::vector<std::pair<std::string, int32_t>> special_tokens;
};

// The four encodings, in a fixed order (r50k_base, p50k_base, cl100k_base,
// o200k_base). Thread-safe (immutable static data).
const std::vector<TiktokenEncoding>& TiktokenEncodings();

// Encoding by name ("gpt2" is accepted as r50k_base's alias), or null.
const TiktokenEncoding* FindTiktokenEncoding(std::string_view name);

// Encoding whose official file has this SHA-256 (lowercase hex), or null.
const TiktokenEncoding* FindTiktokenEncodingBySha256(std::string_view sha256_hex);

// "r50k_base, p50k_base, cl100k_base, o200k_base" (for messages).
std::string TiktokenEncodingNames();

}  // namespace llm

#endif  // LLM_CORE_TOKENIZER_TIKTOKEN_ENCODINGS_H_
