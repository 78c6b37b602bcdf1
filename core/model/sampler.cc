#include "core/model/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "core/model/fast_math.h"

namespace llm {

absl::Status SamplerOptions::Validate() const {
  if (!std::isfinite(temperature) || temperature < 0.0f)
    return absl::InvalidArgumentError(
        absl::StrCat("sampler: temperature must be a finite number >= 0, got ", temperature));
  if (top_k < 0)
    return absl::InvalidArgumentError(absl::StrCat("sampler: top_k must be >= 0, got ", top_k));
  if (!(top_p > 0.0f && top_p <= 1.0f))
    return absl::InvalidArgumentError(
        absl::StrCat("sampler: top_p must be in (0, 1], got ", top_p));
  return absl::OkStatus();
}

// ---- Rng: xoshiro256** (Blackman & Vigna), seeded with splitmix64. ----

void Rng::Seed(uint64_t seed) {
  uint64_t z = seed;
  for (uint64_t& s : s_) {
    z += 0x9E3779B97F4A7C15ull;
    uint64_t x = z;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    s = x ^ (x >> 31);
  }
}

uint64_t Rng::NextU64() {
  auto rotl = [](uint64_t x, int k) { return (x << k) | (x >> (64 - k)); };
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::NextUniform() { return static_cast<double>(NextU64() >> 40) * 0x1.0p-24; }

// ---- helpers ----

int32_t ArgMax(absl::Span<const float> x) {
  int32_t best = 0;
  float best_v = x[0];
  for (size_t i = 1; i < x.size(); ++i) {
    if (x[i] > best_v) {
      best_v = x[i];
      best = static_cast<int32_t>(i);
    }
  }
  return best;
}

void Softmax(absl::Span<const float> x, float temperature, absl::Span<float> out) {
  const size_t n = x.size();
  float mx = x[0];
  for (size_t i = 1; i < n; ++i) mx = std::max(mx, x[i]);
  const float inv_t = 1.0f / temperature;
  for (size_t i = 0; i < n; ++i) out[i] = (x[i] - mx) * inv_t;
  ExpInPlace(out.data(), n);
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) sum += out[i];
  const float inv = static_cast<float>(1.0 / sum);
  for (size_t i = 0; i < n; ++i) out[i] *= inv;
}

// ---- Sampler ----

absl::StatusOr<Sampler> Sampler::Create(const SamplerOptions& options) {
  absl::Status s = options.Validate();
  if (!s.ok()) return s;
  return Sampler(options);
}

void Sampler::Reseed(uint64_t seed) {
  options_.seed = seed;
  rng_.Seed(seed);
}

int32_t Sampler::Sample(absl::Span<const float> logits) {
  const int32_t V = static_cast<int32_t>(logits.size());
  if (options_.temperature == 0.0f) return ArgMax(logits);

  probs_.resize(V);
  Softmax(logits, options_.temperature, absl::MakeSpan(probs_));
  const double u = rng_.NextUniform();

  const bool use_k = options_.top_k > 0 && options_.top_k < V;
  const bool use_p = options_.top_p < 1.0f;
  if (!use_k && !use_p) {
    // Inverse-CDF draw over the full distribution.
    double target = u, acc = 0.0;
    // Probabilities sum to 1 up to rounding: scale the target by the actual sum.
    double total = 0.0;
    for (float p : probs_) total += p;
    target *= total;
    int32_t last_nonzero = 0;
    for (int32_t i = 0; i < V; ++i) {
      if (probs_[i] <= 0.0f) continue;
      acc += probs_[i];
      last_nonzero = i;
      if (acc > target) return i;
    }
    return last_nonzero;
  }

  // Candidate set sorted by decreasing probability (ties: lower index first).
  auto better = [this](int32_t a, int32_t b) {
    return probs_[a] > probs_[b] || (probs_[a] == probs_[b] && a < b);
  };
  order_.resize(V);
  for (int32_t i = 0; i < V; ++i) order_[i] = i;
  int32_t kept = use_k ? options_.top_k : V;
  if (!use_p) {
    std::nth_element(order_.begin(), order_.begin() + (kept - 1), order_.end(), better);
    std::sort(order_.begin(), order_.begin() + kept, better);
  } else {
    // Sort a growing prefix until it covers top_p of the (top-k) mass; a
    // trained model's nucleus is usually small, so this rarely sorts all V.
    double mass_k = 1.0;
    if (use_k) {
      std::nth_element(order_.begin(), order_.begin() + (kept - 1), order_.end(), better);
      mass_k = 0.0;
      for (int32_t i = 0; i < kept; ++i) mass_k += probs_[order_[i]];
    }
    const double need = static_cast<double>(options_.top_p) * mass_k;
    int32_t sorted = 0;
    int32_t chunk = std::min<int32_t>(kept, 64);
    double acc = 0.0;
    int32_t cut = kept;
    while (true) {
      if (chunk < kept) {
        std::nth_element(order_.begin() + sorted, order_.begin() + (chunk - 1),
                         order_.begin() + kept, better);
      }
      std::sort(order_.begin() + sorted, order_.begin() + chunk, better);
      bool done = false;
      for (int32_t i = sorted; i < chunk; ++i) {
        acc += probs_[order_[i]];
        if (acc >= need) {
          cut = i + 1;
          done = true;
          break;
        }
      }
      sorted = chunk;
      if (done || chunk == kept) break;
      chunk = std::min<int32_t>(kept, chunk * 4);
    }
    kept = cut;
  }
  double total = 0.0;
  for (int32_t i = 0; i < kept; ++i) total += probs_[order_[i]];
  const double target = u * total;
  double acc = 0.0;
  for (int32_t i = 0; i < kept; ++i) {
    acc += probs_[order_[i]];
    if (acc > target) return order_[i];
  }
  return order_[kept - 1];
}

}  // namespace llm
