// Fuzz target: pre-tokenizer + Encode/Decode round trip on arbitrary bytes.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/tokenizer/pretokenizer.h"
#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/utf8.h"
#include "tests/fuzz/fuzz_targets.h"
#include "tests/fuzz/fuzz_tokenizers.h"
#include "tests/fuzz/fuzz_util.h"

namespace llm {
namespace fuzz {
namespace {

// Checks every property for one valid-UTF-8 text.
void CheckValidText(size_t pattern, std::string_view text) {
  const Tokenizer& cached = FuzzTokenizer(pattern, /*use_cache=*/true);
  const Tokenizer& uncached = FuzzTokenizer(pattern, /*use_cache=*/false);

  // The pre-tokenizer's pieces are non-empty and tile the text.
  static const auto* pres = [] {
    auto* v = new std::vector<std::unique_ptr<PreTokenizer>>();
    for (const std::string& name : FuzzPatternNames()) {
      auto p = PreTokenizer::Create(SplitPatternByName(name).value());
      FUZZ_CHECK(p.ok(), p.status().ToString());
      v->push_back(std::move(p).value());
    }
    return v;
  }();
  size_t pos = 0;
  (*pres)[pattern]->Split(text, [&](size_t begin, size_t end) {
    FUZZ_CHECK(begin == pos && end > begin && end <= text.size(), "pieces do not tile the text");
    pos = end;
  });
  FUZZ_CHECK(pos == text.size(), "pieces do not cover the text");

  const SpecialTokenPolicy plain = SpecialTokenPolicy::PlainText();
  auto cold = uncached.Encode(text, plain);
  FUZZ_CHECK(cold.ok(), "valid UTF-8 rejected: " + cold.status().ToString());
  auto bytes = uncached.DecodeBytes(*cold);
  FUZZ_CHECK(bytes.ok() && *bytes == text, "DecodeBytes(Encode(text)) != text");
  auto lossy = uncached.Decode(*cold);
  FUZZ_CHECK(lossy.ok() && *lossy == text, "Decode(Encode(text)) != text for valid UTF-8");
  for (int32_t t : *cold) FUZZ_CHECK(cached.IsValidToken(t), "invalid token id produced");

  // The LRU cache (cold, then warm) never changes the result.
  for (int round = 0; round < 2; ++round) {
    auto warm = cached.Encode(text, plain);
    FUZZ_CHECK(warm.ok() && *warm == *cold, "cached Encode differs from uncached Encode");
  }
  // Batch encoding of the same text (one thread) agrees too.
  auto batch = cached.EncodeBatch({std::string(text), std::string(text)}, plain, 1);
  FUZZ_CHECK(batch.ok() && batch->size() == 2 && (*batch)[0] == *cold && (*batch)[1] == *cold,
             "EncodeBatch differs from Encode");
}

int Run(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t pattern = data[0] % FuzzPatternNames().size();
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Tokenizer& tok = FuzzTokenizer(pattern, /*use_cache=*/true);

  if (ValidateUtf8(text).ok()) {
    CheckValidText(pattern, text);
  } else {
    auto r = tok.Encode(text, SpecialTokenPolicy::PlainText());
    FUZZ_CHECK(!r.ok() && r.status().code() == absl::StatusCode::kInvalidArgument,
               "invalid UTF-8 must be InvalidArgument, got " + r.status().ToString());
    // Its lossy repair is valid UTF-8 and round-trips.
    const std::string repaired = Utf8Lossy(text);
    FUZZ_CHECK(ValidateUtf8(repaired).ok(), "Utf8Lossy produced invalid UTF-8");
    CheckValidText(pattern, repaired);
  }
  return 0;
}

}  // namespace

int FuzzEncode(const uint8_t* data, size_t size) { return Run(data, size); }

}  // namespace fuzz
}  // namespace llm

LLM_DEFINE_FUZZ_ENTRY(llm::fuzz::FuzzEncode)
