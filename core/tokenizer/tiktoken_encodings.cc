#include "core/tokenizer/tiktoken_encodings.h"

namespace llm {

const std::vector<TiktokenEncoding>& TiktokenEncodings() {
  // URLs and hashes: tiktoken's tiktoken_ext/openai_public.py (the
  // expected_hash it passes to load_tiktoken_bpe). Special tokens: the npm
  // package tiktoken@1.0.22, encoders/NAME.json `special_tokens` (the same
  // values as openai_public.py). Split patterns: pretokenizer.h.
  static const std::vector<TiktokenEncoding>* const kEncodings = new std::vector<TiktokenEncoding>{
      {"r50k_base", "https://openaipublic.blob.core.windows.net/encodings/r50k_base.tiktoken",
       "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930", 50256, "r50k_base",
       {{"<|endoftext|>", 50256}}},
      {"p50k_base", "https://openaipublic.blob.core.windows.net/encodings/p50k_base.tiktoken",
       "94b5ca7dff4d00767bc256fdd1b27e5b17361d7b8a5f968547f9f23eb70d2069", 50280, "p50k_base",
       {{"<|endoftext|>", 50256}}},
      {"cl100k_base", "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
       "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7", 100256, "cl100k_base",
       {{"<|endoftext|>", 100257},
        {"<|fim_prefix|>", 100258},
        {"<|fim_middle|>", 100259},
        {"<|fim_suffix|>", 100260},
        {"<|endofprompt|>", 100276}}},
      {"o200k_base", "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
       "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d", 199998, "o200k_base",
       {{"<|endoftext|>", 199999}, {"<|endofprompt|>", 200018}}},
  };
  return *kEncodings;
}

const TiktokenEncoding* FindTiktokenEncoding(std::string_view name) {
  if (name == "gpt2") name = "r50k_base";
  for (const TiktokenEncoding& e : TiktokenEncodings()) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

const TiktokenEncoding* FindTiktokenEncodingBySha256(std::string_view sha256_hex) {
  for (const TiktokenEncoding& e : TiktokenEncodings()) {
    if (e.sha256_hex == sha256_hex) return &e;
  }
  return nullptr;
}

std::string TiktokenEncodingNames() {
  std::string s;
  for (const TiktokenEncoding& e : TiktokenEncodings()) {
    if (!s.empty()) s += ", ";
    s += e.name;
  }
  return s;
}

}  // namespace llm
