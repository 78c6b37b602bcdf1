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
  return static_cast<int32_t>(ArgMaxOf(x.data(), x.size()));
}

void Softmax(absl::Span<const float> x, float temperature, absl::Span<float> out) {
  const float mx = MaxOf(x.data(), x.size());
  const float sum = ExpShiftScaleSum(x.data(), x.size(), mx, 1.0f / temperature, out.data());
  Scale(1.0f / sum, out.data(), out.size());
}

namespace {

// Indices of the k largest values of x (ties: lower index first), sorted in
// that order, into *out. Min-heap of the current best k, scanning once: after
// the first k elements almost every value fails the single comparison with
// the heap's worst entry, so this costs about one compare per element.
void TopK(absl::Span<const float> x, int32_t k, std::vector<int32_t>* out) {
  const int32_t n = static_cast<int32_t>(x.size());
  k = std::min(k, n);
  // "a is better than b": larger value, or equal value and lower index.
  auto better = [&x](int32_t a, int32_t b) { return x[a] > x[b] || (x[a] == x[b] && a < b); };
  out->resize(k);
  for (int32_t i = 0; i < k; ++i) (*out)[i] = i;
  std::make_heap(out->begin(), out->end(), better);  // front = worst kept
  float threshold = x[out->front()];
  // Blocks whose (vectorised) maximum does not beat the threshold are
  // skipped whole; the threshold only rises, so skipping is exact.
  constexpr int32_t kBlock = 64;
  for (int32_t i0 = k; i0 < n; i0 += kBlock) {
    const int32_t i1 = std::min(n, i0 + kBlock);
    if (MaxOf(x.data() + i0, i1 - i0) <= threshold) continue;  // (NaN max: scan)
    for (int32_t i = i0; i < i1; ++i) {
      // A later index with an equal value is worse, so strictly greater only.
      if (x[i] > threshold) {
        std::pop_heap(out->begin(), out->end(), better);
        out->back() = i;
        std::push_heap(out->begin(), out->end(), better);
        threshold = x[out->front()];
      }
    }
  }
  std::sort(out->begin(), out->end(), better);
}

// Returns the first index i with prefix_sum(w[0..i]) > target, scanning in
// blocks (block sums are vectorised); falls back to the last positive weight
// when rounding leaves target just above the total.
int32_t InverseCdf(const float* w, int32_t n, double target) {
  constexpr int32_t kBlock = 256;
  double acc = 0.0;
  int32_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    const double b = SumOf(w + i, kBlock);
    if (acc + b > target) break;
    acc += b;
  }
  for (; i < n; ++i) {
    acc += w[i];
    if (acc > target && w[i] > 0.0f) return i;
  }
  for (int32_t j = n - 1; j > 0; --j)
    if (w[j] > 0.0f) return j;
  return 0;
}

}  // namespace

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
  const float inv_t = 1.0f / options_.temperature;
  const double u = rng_.NextUniform();
  const bool use_k = options_.top_k > 0 && options_.top_k < V;
  const bool use_p = options_.top_p < 1.0f;

  if (!use_k && !use_p) {
    // Unnormalised weights exp((l - max) / T); draw u * total.
    probs_.resize(V);
    const float mx = MaxOf(logits.data(), V);
    const float total = ExpShiftScaleSum(logits.data(), V, mx, inv_t, probs_.data());
    return InverseCdf(probs_.data(), V, u * total);
  }

  // Candidates in decreasing order of probability (= of logit). With top-k
  // they are the k best; for top-p alone a growing prefix is selected until
  // it holds top_p of the total mass (the nucleus of a trained model is
  // usually small, so this rarely looks at more than a few hundred tokens).
  const float mx = MaxOf(logits.data(), V);
  double mass = 0.0;  // the mass the nucleus is measured against
  int32_t want = use_k ? options_.top_k : std::min<int32_t>(V, 64);
  if (!use_k) {
    probs_.resize(V);
    mass = ExpShiftScaleSum(logits.data(), V, mx, inv_t, probs_.data());
  }
  while (true) {
    TopK(logits, want, &order_);
    const int32_t k = static_cast<int32_t>(order_.size());
    weights_.resize(k);
    for (int32_t i = 0; i < k; ++i) weights_[i] = (logits[order_[i]] - mx) * inv_t;
    ExpShiftScaleSum(weights_.data(), k, 0.0f, 1.0f, weights_.data());
    if (use_k) {
      mass = 0.0;
      for (int32_t i = 0; i < k; ++i) mass += weights_[i];
    }
    int32_t kept = k;
    if (use_p) {
      const double need = static_cast<double>(options_.top_p) * mass;
      double acc = 0.0;
      kept = -1;
      for (int32_t i = 0; i < k; ++i) {
        acc += weights_[i];
        if (acc >= need) {
          kept = i + 1;
          break;
        }
      }
      if (kept < 0) {
        if (use_k || k == V) {
          kept = k;  // rounding: the whole candidate set
        } else {
          want = std::min<int32_t>(V, want * 4);
          continue;
        }
      }
    }
    double total = 0.0;
    for (int32_t i = 0; i < kept; ++i) total += weights_[i];
    const double target = u * total;
    double acc = 0.0;
    for (int32_t i = 0; i < kept; ++i) {
      acc += weights_[i];
      if (acc > target) return order_[i];
    }
    return order_[kept - 1];
  }
}

}  // namespace llm
