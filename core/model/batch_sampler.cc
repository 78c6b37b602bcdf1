#include "core/model/batch_sampler.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace llm {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

BatchSampler::BatchSampler(const int32_t* tokens, size_t n_tokens, int context, int batch_size,
                           uint64_t seed)
    : tokens_(tokens), n_(n_tokens), context_(context), batch_size_(batch_size), seed_(seed) {}

absl::Status BatchSampler::Validate() const {
  if (context_ < 1 || batch_size_ < 1)
    return absl::InvalidArgumentError(
        absl::StrCat("batch sampler: context (", context_, ") and batch size (", batch_size_,
                     ") must be >= 1"));
  if (n_ < static_cast<size_t>(context_) + 1)
    return absl::FailedPreconditionError(
        absl::StrCat("token sequence has ", n_, " tokens; need at least context + 1 = ",
                     context_ + 1, " for one training window"));
  return absl::OkStatus();
}

size_t BatchSampler::WindowStart(int64_t batch_index, int row) const {
  // Chain the three inputs through the mixer so nearby (seed, k, r) triples
  // give unrelated streams.
  uint64_t h = SplitMix64(seed_);
  h = SplitMix64(h ^ static_cast<uint64_t>(batch_index));
  h = SplitMix64(h ^ static_cast<uint64_t>(row));
  const uint64_t range = n_ - static_cast<uint64_t>(context_);  // number of full windows
  return static_cast<size_t>((static_cast<unsigned __int128>(h) * range) >> 64);
}

void BatchSampler::Fill(int64_t batch_index, int32_t* inputs, int32_t* targets) const {
  const size_t T = static_cast<size_t>(context_);
  for (int r = 0; r < batch_size_; ++r) {
    const size_t s = WindowStart(batch_index, r);
    std::memcpy(inputs + r * T, tokens_ + s, T * sizeof(int32_t));
    std::memcpy(targets + r * T, tokens_ + s + 1, T * sizeof(int32_t));
  }
}

std::vector<EvalWindow> EvalWindows(size_t n_tokens, int context, int64_t max_windows) {
  std::vector<EvalWindow> out;
  if (n_tokens < 2 || context < 1) return out;
  const size_t predictions = n_tokens - 1;
  for (size_t s = 0; s < predictions; s += static_cast<size_t>(context)) {
    if (max_windows > 0 && static_cast<int64_t>(out.size()) >= max_windows) break;
    const size_t len = std::min(predictions - s, static_cast<size_t>(context));
    out.push_back({s, static_cast<int>(len)});
  }
  return out;
}

}  // namespace llm
