// Temporary stub so dependants can compile; the implementation follows.
#include "core/tokenizer/tokenizer.h"

#include "core/tokenizer/pretokenizer.h"

#include <cstdio>
#include <cstdlib>

namespace llm {

class PieceLruCache {};


SpecialTokenPolicy SpecialTokenPolicy::AllowAll() {
  SpecialTokenPolicy p;
  p.allow_all = true;
  return p;
}
SpecialTokenPolicy SpecialTokenPolicy::PlainText() {
  SpecialTokenPolicy p;
  p.disallow_all = false;
  return p;
}

absl::StatusOr<std::vector<std::string>> ReadTiktokenFile(const std::string&) {
  return absl::UnimplementedError("tokenizer: not implemented yet");
}
absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromMerges(std::string, std::vector<Merge>,
                                                                 TokenizerOptions) {
  return absl::UnimplementedError("tokenizer: not implemented yet");
}
absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromRanks(std::string, std::vector<std::string>,
                                                                TokenizerOptions) {
  return absl::UnimplementedError("tokenizer: not implemented yet");
}
absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::Load(const std::string&, TokenizerOptions) {
  return absl::UnimplementedError("tokenizer: not implemented yet");
}
absl::Status Tokenizer::Save(const std::string&) const {
  return absl::UnimplementedError("tokenizer: not implemented yet");
}
absl::Status Tokenizer::AddSpecialTokens(const std::vector<std::pair<std::string, int32_t>>&) {
  return absl::UnimplementedError("tokenizer: not implemented yet");
}
void Tokenizer::AddTrainedPieces(std::vector<std::pair<std::string, std::vector<int32_t>>>) {}
absl::StatusOr<std::vector<int32_t>> Tokenizer::Encode(std::string_view,
                                                       const SpecialTokenPolicy&) const {
  return absl::UnimplementedError("tokenizer: not implemented yet");
}
absl::StatusOr<std::vector<std::vector<int32_t>>> Tokenizer::EncodeBatch(
    const std::vector<std::string>&, const SpecialTokenPolicy&, int) const {
  return absl::UnimplementedError("tokenizer: not implemented yet");
}
std::vector<int32_t> Tokenizer::EncodePieceBpe(std::string_view) const { return {}; }
absl::StatusOr<std::string> Tokenizer::DecodeBytes(absl::Span<const int32_t>) const {
  return absl::UnimplementedError("tokenizer: not implemented yet");
}
absl::StatusOr<std::string> Tokenizer::Decode(absl::Span<const int32_t>) const {
  return absl::UnimplementedError("tokenizer: not implemented yet");
}
std::string Tokenizer::Render(int32_t) const { return ""; }
const std::string& Tokenizer::TokenBytes(int32_t token) const {
  std::fprintf(stderr, "Tokenizer::TokenBytes: not implemented (id %d)\n", token);
  std::abort();
}
bool Tokenizer::IsValidToken(int32_t) const { return false; }
int32_t Tokenizer::SpecialTokenId(std::string_view) const { return -1; }
int32_t Tokenizer::vocab_size() const { return 0; }
int32_t Tokenizer::num_merges() const { return 0; }
std::string Tokenizer::Fingerprint() const { return "0000000000000000"; }
CacheStats Tokenizer::cache_stats() const { return {}; }
void Tokenizer::ClearCache() {}
Tokenizer::~Tokenizer() = default;

}  // namespace llm
