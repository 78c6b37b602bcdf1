// No code here relies on floating-point exception flags; without this GCC
// refuses to if-convert the clamps in ExpKernel and the exp loop stays scalar.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include "core/model/fast_math.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace llm {

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LLM_MULTIVERSION __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define LLM_MULTIVERSION
#endif

#define LLM_INLINE inline __attribute__((always_inline))

// The 8-float vector helpers below are always inlined into the kernels and
// never cross a call boundary, so the ABI note GCC emits for them in the
// baseline (SSE) clone does not apply.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace {
constexpr int kLanes = 16;

// 8-float vectors (GCC/Clang vector extensions): one AVX register in the
// x86-64-v3 clone, two SSE registers in the baseline one.
typedef float V8 __attribute__((vector_size(32)));
typedef int32_t V8i __attribute__((vector_size(32)));

LLM_INLINE V8 Load8(const float* p) {
  V8 v;
  std::memcpy(&v, p, sizeof(v));  // unaligned load
  return v;
}
LLM_INLINE void Store8(float* p, V8 v) { std::memcpy(p, &v, sizeof(v)); }
LLM_INLINE V8 Splat(float a) { return V8{} + a; }
LLM_INLINE float HorizontalSum(V8 v) {
  const float a = (v[0] + v[4]) + (v[1] + v[5]);
  const float b = (v[2] + v[6]) + (v[3] + v[7]);
  return a + b;
}
LLM_INLINE float HorizontalMax(V8 v) {
  float m = v[0];
  for (int l = 1; l < 8; ++l) m = v[l] > m ? v[l] : m;
  return m;
}
}  // namespace

// exp(v) = 2^k exp(r), k = round(v / ln 2), |r| <= ln(2) / 2, with the
// Cephes degree-6 polynomial for exp(r). Branch-free so loops vectorise.
static inline float ExpKernel(float v) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;
  constexpr float kLn2Lo = -2.12194440e-4f;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float v0 = v;
  v = v < 88.0f ? v : 88.0f;
  v = v > -87.0f ? v : -87.0f;
  const float t = v * kLog2e + kRound;
  const float k = t - kRound;
  const float r = v - k * kLn2Hi - k * kLn2Lo;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float er = p * r * r + r + 1.0f;
  // 2^k from the low bits of t (t = 1.5 * 2^23 + k exactly), k in [-126, 127].
  uint32_t tbits;
  std::memcpy(&tbits, &t, sizeof(tbits));
  const uint32_t bits = (tbits + 127u) << 23;
  float two_k;
  std::memcpy(&two_k, &bits, sizeof(two_k));
  float e = er * two_k;
  // Flush to 0 below -87 with a bit mask (a select here blocks vectorisation).
  uint32_t ebits;
  std::memcpy(&ebits, &e, sizeof(ebits));
  ebits &= static_cast<uint32_t>(-static_cast<int32_t>(v0 >= -87.0f));
  std::memcpy(&e, &ebits, sizeof(e));
  return e;
}

// ExpKernel on 8 lanes at once (same formula, same clamps).
static LLM_INLINE V8 Exp8(V8 v) {
  const V8 v0 = v;
  v = v < 88.0f ? v : Splat(88.0f);
  v = v > -87.0f ? v : Splat(-87.0f);
  const V8 t = v * 1.44269504088896341f + 12582912.0f;
  const V8 k = t - 12582912.0f;
  const V8 r = v - k * 0.693359375f - k * -2.12194440e-4f;
  V8 p = Splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const V8 er = p * r * r + r + 1.0f;
  const V8i two_k = ((V8i)t + 127) << 23;
  const V8 e = er * (V8)two_k;
  return (V8)((V8i)e & (v0 >= -87.0f));
}

LLM_MULTIVERSION
float ExpShiftScaleSum(const float* x, size_t n, float shift, float scale, float* out) {
  float acc[kLanes] = {};
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      const float e = ExpKernel((x[i + l] - shift) * scale);
      out[i + l] = e;
      acc[l] += e;
    }
  }
  float sum = 0.0f;
  for (; i < n; ++i) {
    const float e = ExpKernel((x[i] - shift) * scale);
    out[i] = e;
    sum += e;
  }
  for (int l = 0; l < kLanes; ++l) sum += acc[l];
  return sum;
}

LLM_MULTIVERSION
float MaxOf(const float* x, size_t n) {
  float m[kLanes];
  for (int l = 0; l < kLanes; ++l) m[l] = x[0];
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) m[l] = x[i + l] > m[l] ? x[i + l] : m[l];
  float r = x[0];
  for (; i < n; ++i) r = x[i] > r ? x[i] : r;
  for (int l = 0; l < kLanes; ++l) r = m[l] > r ? m[l] : r;
  return r;
}

LLM_MULTIVERSION
size_t ArgMaxOf(const float* x, size_t n) {
  // One pass of block maxima (exact), keeping the first block whose maximum
  // is strictly the largest so far, then a scan of that block.
  constexpr size_t kBlock = 512;
  float best = x[0];
  size_t best_block = 0;
  for (size_t b = 0; b < n; b += kBlock) {
    const float m = MaxOf(x + b, std::min(kBlock, n - b));
    if (m > best) {
      best = m;
      best_block = b;
    }
  }
  const size_t end = std::min(n, best_block + kBlock);
  for (size_t i = best_block; i < end; ++i)
    if (x[i] == best) return i;
  return 0;
}

LLM_MULTIVERSION
float SumOf(const float* x, size_t n) {
  float acc[kLanes] = {};
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += x[i + l];
  float s = 0.0f;
  for (; i < n; ++i) s += x[i];
  for (int l = 0; l < kLanes; ++l) s += acc[l];
  return s;
}

LLM_MULTIVERSION
float Dot(const float* a, const float* b, size_t n) {
  float acc[kLanes] = {};
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += a[i + l] * b[i + l];
  float s = 0.0f;
  for (; i < n; ++i) s += a[i] * b[i];
  for (int l = 0; l < kLanes; ++l) s += acc[l];
  return s;
}

LLM_MULTIVERSION
void Axpy(float a, const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] += a * x[i];
}

LLM_MULTIVERSION
void Scale(float a, float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] *= a;
}

LLM_MULTIVERSION
void LayerNormRows(const float* x, int rows, int C, const float* g, const float* b, float eps,
                   float* out) {
  const int c8 = C / 8 * 8;
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + static_cast<size_t>(r) * C;
    float* yr = out + static_cast<size_t>(r) * C;
    V8 acc = {};
    for (int i = 0; i < c8; i += 8) acc += Load8(xr + i);
    float sum = HorizontalSum(acc);
    for (int i = c8; i < C; ++i) sum += xr[i];
    const float mean = sum / static_cast<float>(C);
    V8 vacc = {};
    for (int i = 0; i < c8; i += 8) {
      const V8 d = Load8(xr + i) - mean;
      vacc += d * d;
    }
    float var = HorizontalSum(vacc);
    for (int i = c8; i < C; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    var /= static_cast<float>(C);
    const float rstd = 1.0f / std::sqrt(var + eps);
    for (int i = 0; i < c8; i += 8)
      Store8(yr + i, (Load8(xr + i) - mean) * rstd * Load8(g + i) + Load8(b + i));
    for (int i = c8; i < C; ++i) yr[i] = (xr[i] - mean) * rstd * g[i] + b[i];
  }
}

// Scores of the 8 positions of one cache tile k (D, 8) for the scaled query
// qs (D). Two partial sums halve the FMA dependency chain.
template <int D>
static LLM_INLINE V8 ScoreTile(const float* qs, const float* k) {
  V8 s0 = qs[0] * Load8(k);
  V8 s1 = D > 1 ? qs[1] * Load8(k + 8) : V8{};
  for (int d = 2; d + 1 < D; d += 2) {
    s0 += qs[d] * Load8(k + 8 * d);
    s1 += qs[d + 1] * Load8(k + 8 * d + 8);
  }
  if (D % 2 == 1 && D > 1) s0 += qs[D - 1] * Load8(k + 8 * (D - 1));
  return s0 + s1;
}

// One head of AttentionRow with the head size D known at compile time,
// vectorised across key positions: a score vector covers one tile of 8
// positions (D FMAs with the scaled query in registers); the value sums keep
// one 8-lane accumulator per channel, so every cached float is read once
// and the exponentials never leave registers. The last tile is masked: its
// scores beyond len become -inf (weight exactly 0) and its values beyond len
// are replaced by 0, so stale cache contents, even NaN, cannot leak in.
//
// The cache usually comes from L3 (a batch's caches and the weights exceed
// L2), so each pass prefetches what the next one reads: the score pass
// prefetches this head's values, the value pass the next head's keys
// (`next_k`, null for the last head).
template <int D>
static LLM_INLINE void AttentionHeadFixed(const float* qh, const float* Kh, const float* Vh,
                                          const float* next_k, int len, float scale,
                                          float* scores, float* out) {
  float qs[D];
  for (int d = 0; d < D; ++d) qs[d] = qh[d] * scale;
  const V8i lane = {0, 1, 2, 3, 4, 5, 6, 7};
  const V8 neg_inf = Splat(-std::numeric_limits<float>::infinity());
  const int last = (len - 1) / 8;  // index of the last (possibly partial) tile
  const V8i valid = lane < (len - 8 * last);
  V8 vmax = neg_inf;
  for (int t = 0; t <= last; ++t)
    for (int i = 0; i < D * 8; i += 16) __builtin_prefetch(Vh + t * (D * 8) + i);
  for (int t = 0; t < last; ++t) {
    const V8 s = ScoreTile<D>(qs, Kh + t * (D * 8));
    Store8(scores + 8 * t, s);
    vmax = s > vmax ? s : vmax;
  }
  {
    const V8 s = valid ? ScoreTile<D>(qs, Kh + last * (D * 8)) : neg_inf;
    Store8(scores + 8 * last, s);
    vmax = s > vmax ? s : vmax;
  }
  const float mx = HorizontalMax(vmax);
  V8 esum = {};
  V8 acc[D];
  for (int d = 0; d < D; ++d) acc[d] = V8{};
  if (next_k != nullptr)
    for (int t = 0; t <= last; ++t)
      for (int i = 0; i < D * 8; i += 16) __builtin_prefetch(next_k + t * (D * 8) + i);
  for (int t = 0; t < last; ++t) {
    const V8 e = Exp8(Load8(scores + 8 * t) - mx);
    esum += e;
    const float* v = Vh + t * (D * 8);
    for (int d = 0; d < D; ++d) acc[d] += e * Load8(v + 8 * d);
  }
  {
    const V8 e = Exp8(Load8(scores + 8 * last) - mx);  // 0 where masked
    esum += e;
    const float* v = Vh + last * (D * 8);
    for (int d = 0; d < D; ++d) acc[d] += e * (valid ? Load8(v + 8 * d) : V8{});
  }
  const float inv = 1.0f / HorizontalSum(esum);
  for (int d = 0; d < D; ++d) out[d] = HorizontalSum(acc[d]) * inv;
}

// The same for any head size: exponentials go through `scores`, and the
// value sums run one channel at a time.
static LLM_INLINE void AttentionHeadAny(const float* qh, const float* Kh, const float* Vh,
                                        int D, int len, float scale, float* scores, float* out) {
  const V8i lane = {0, 1, 2, 3, 4, 5, 6, 7};
  const V8 neg_inf = Splat(-std::numeric_limits<float>::infinity());
  const int tiles = (len + 7) / 8;
  const V8i valid = lane < (len - 8 * (tiles - 1));
  V8 vmax = neg_inf;
  for (int t = 0; t < tiles; ++t) {
    const float* k = Kh + static_cast<size_t>(t) * D * 8;
    V8 s = (qh[0] * scale) * Load8(k);
    for (int d = 1; d < D; ++d) s += (qh[d] * scale) * Load8(k + 8 * d);
    if (t == tiles - 1) s = valid ? s : neg_inf;
    Store8(scores + 8 * t, s);
    vmax = s > vmax ? s : vmax;
  }
  const float mx = HorizontalMax(vmax);
  V8 esum = {};
  for (int t = 0; t < tiles; ++t) {
    const V8 e = Exp8(Load8(scores + 8 * t) - mx);
    Store8(scores + 8 * t, e);
    esum += e;
  }
  const float inv = 1.0f / HorizontalSum(esum);
  for (int d = 0; d < D; ++d) {
    V8 acc = {};
    for (int t = 0; t < tiles; ++t) {
      const V8 v = Load8(Vh + (static_cast<size_t>(t) * D + d) * 8);
      acc += Load8(scores + 8 * t) * (t == tiles - 1 ? (valid ? v : V8{}) : v);
    }
    out[d] = HorizontalSum(acc) * inv;
  }
}

LLM_MULTIVERSION
void AttentionRow(const float* q, const float* K, const float* V, int tiles, int len, int H,
                  int D, float scale, float* scores, float* out) {
  const size_t head = static_cast<size_t>(tiles) * D * 8;  // floats per head
  for (int h = 0; h < H; ++h) {
    const float* qh = q + h * D;
    const float* Kh = K + h * head;
    const float* Vh = V + h * head;
    const float* next_k = h + 1 < H ? Kh + head : nullptr;
    float* oh = out + h * D;
    switch (D) {
      case 4: AttentionHeadFixed<4>(qh, Kh, Vh, next_k, len, scale, scores, oh); break;
      case 8: AttentionHeadFixed<8>(qh, Kh, Vh, next_k, len, scale, scores, oh); break;
      case 16: AttentionHeadFixed<16>(qh, Kh, Vh, next_k, len, scale, scores, oh); break;
      default: AttentionHeadAny(qh, Kh, Vh, D, len, scale, scores, oh); break;
    }
  }
}

// ---------------------------------------------------------------- GEMM

PackedMatrix::PackedMatrix(const float* W, int K, int N, size_t ldw) : K_(K), N_(N) {
  const size_t panel = static_cast<size_t>(K) * kPanel;
  storage_.assign(static_cast<size_t>(panels()) * panel + kPanel, 0.0f);
  offset_ = ((64 - reinterpret_cast<uintptr_t>(storage_.data()) % 64) % 64) / sizeof(float);
  float* dst = storage_.data() + offset_;
  for (int j = 0; j < panels(); ++j) {
    const int c0 = j * kPanel, nc = std::min(kPanel, N - c0);
    for (int k = 0; k < K; ++k)
      std::memcpy(dst + j * panel + static_cast<size_t>(k) * kPanel,
                  W + static_cast<size_t>(k) * ldw + c0, sizeof(float) * nc);
  }
}

PackedMatrix& PackedMatrix::operator=(const PackedMatrix& o) {
  if (this == &o) return *this;
  K_ = o.K_;
  N_ = o.N_;
  storage_.assign(o.storage_.size(), 0.0f);
  offset_ = ((64 - reinterpret_cast<uintptr_t>(storage_.data()) % 64) % 64) / sizeof(float);
  if (!storage_.empty())
    std::memcpy(storage_.data() + offset_, o.data(),
                sizeof(float) * static_cast<size_t>(panels()) * K_ * kPanel);
  return *this;
}

namespace {

// Output rows: y + r * ldy, or y_rows[r].
struct StridedRows {
  float* y;
  size_t ldy;
  LLM_INLINE float* operator()(int r) const { return y + static_cast<size_t>(r) * ldy; }
};
struct PointerRows {
  float* const* rows;
  LLM_INLINE float* operator()(int r) const { return rows[r]; }
};

LLM_INLINE V8 Finish(V8 z, GemmOutput out, const float* y) {
  if (out == GemmOutput::kAccumulate) return Load8(y) + z;
  if (out == GemmOutput::kStoreRelu) return z > 0.0f ? z : V8{};
  return z;
}
LLM_INLINE float Finish(float z, GemmOutput out, const float* y) {
  if (out == GemmOutput::kAccumulate) return *y + z;
  if (out == GemmOutput::kStoreRelu) return z > 0.0f ? z : 0.0f;
  return z;
}

// The register tile: MR rows x NP panels (16 * NP columns) of the output,
// 2 * NP * MR accumulators of 8 lanes. For each k, the tile's 2 * NP weight
// vectors are loaded once and used by all MR rows (the x values are
// broadcast), so the weights are streamed once per row group.
template <int MR, int NP, typename Rows>
LLM_INLINE void GemmTile(int K, const float* x, size_t ldx, const float* w, size_t panel_floats,
                         int row0, int col0, int ncols, const float* bias, GemmOutput out,
                         const Rows& rows) {
  constexpr int NV = 2 * NP;
  V8 acc[MR][NV];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = V8{};
  const float* xr[MR];
  for (int r = 0; r < MR; ++r) xr[r] = x + static_cast<size_t>(row0 + r) * ldx;
  for (int k = 0; k < K; ++k) {
    V8 b[NV];
    for (int p = 0; p < NP; ++p) {
      const float* wk = w + p * panel_floats + static_cast<size_t>(k) * PackedMatrix::kPanel;
      b[2 * p] = Load8(wk);
      b[2 * p + 1] = Load8(wk + 8);
    }
    for (int r = 0; r < MR; ++r) {
      const float a = xr[r][k];
      for (int v = 0; v < NV; ++v) acc[r][v] += a * b[v];
    }
  }
  for (int r = 0; r < MR; ++r) {
    float* y = rows(row0 + r) + col0;
    if (ncols == NV * 8) {
      for (int v = 0; v < NV; ++v) {
        V8 z = acc[r][v];
        if (bias != nullptr) z += Load8(bias + col0 + 8 * v);
        Store8(y + 8 * v, Finish(z, out, y + 8 * v));
      }
    } else {  // the zero-padded last panel: scalar epilogue over real columns
      float z[NV * 8];
      for (int v = 0; v < NV; ++v) Store8(z + 8 * v, acc[r][v]);
      for (int c = 0; c < ncols; ++c) {
        const float zc = bias != nullptr ? z[c] + bias[col0 + c] : z[c];
        y[c] = Finish(zc, out, y + c);
      }
    }
  }
}

// Rows row0 .. row0+MR-1 against panels [j0, j1): tiles of NP panels, then
// single panels for the remainder.
template <int MR, int NP, typename Rows>
LLM_INLINE void GemmRowGroup(int K, int N, const float* x, size_t ldx, const float* w, int row0,
                             int j0, int j1, const float* bias, GemmOutput out,
                             const Rows& rows) {
  const size_t pf = static_cast<size_t>(K) * PackedMatrix::kPanel;
  constexpr int P = PackedMatrix::kPanel;
  int j = j0;
  for (; j + NP <= j1; j += NP)
    GemmTile<MR, NP>(K, x, ldx, w + j * pf, pf, row0, j * P, std::min(NP * P, N - j * P), bias,
                     out, rows);
  for (; j < j1; ++j)
    GemmTile<MR, 1>(K, x, ldx, w + j * pf, pf, row0, j * P, std::min(P, N - j * P), bias, out,
                    rows);
}

template <typename Rows>
LLM_INLINE void GemmDriver(int M, const float* x, size_t ldx, const PackedMatrix& W,
                           const float* bias, GemmOutput out, const Rows& rows) {
  const int K = W.K(), N = W.N(), np = W.panels();
  if (M <= 0) return;
  // Column chunks of >= 4 panels, about 16 KB of weights when K is small:
  // the first row group pulls a chunk from memory, the others reuse it from
  // L1/L2. Rows go in balanced groups of at most 6 (12 accumulators + 2
  // weight vectors + 1 broadcast fit the 16 AVX registers); groups of 1-2
  // rows use wider tiles so enough FMA chains are in flight.
  const int chunk = std::max(4, 16384 / (K * PackedMatrix::kPanel * 4));
  const int groups = (M + 5) / 6;
  for (int j0 = 0; j0 < np; j0 += chunk) {
    const int j1 = std::min(np, j0 + chunk);
    int row0 = 0;
    for (int g = 0; g < groups; ++g) {
      const int mr = (M - row0) / (groups - g) + ((M - row0) % (groups - g) != 0);
      switch (mr) {
        case 1: GemmRowGroup<1, 4>(K, N, x, ldx, W.data(), row0, j0, j1, bias, out, rows); break;
        case 2: GemmRowGroup<2, 2>(K, N, x, ldx, W.data(), row0, j0, j1, bias, out, rows); break;
        case 3: GemmRowGroup<3, 2>(K, N, x, ldx, W.data(), row0, j0, j1, bias, out, rows); break;
        case 4: GemmRowGroup<4, 1>(K, N, x, ldx, W.data(), row0, j0, j1, bias, out, rows); break;
        case 5: GemmRowGroup<5, 1>(K, N, x, ldx, W.data(), row0, j0, j1, bias, out, rows); break;
        default: GemmRowGroup<6, 1>(K, N, x, ldx, W.data(), row0, j0, j1, bias, out, rows); break;
      }
      row0 += mr;
    }
  }
}

}  // namespace

LLM_MULTIVERSION
void GemmPacked(int M, const float* x, size_t ldx, const PackedMatrix& W, const float* bias,
                GemmOutput out, float* y, size_t ldy) {
  GemmDriver(M, x, ldx, W, bias, out, StridedRows{y, ldy});
}

LLM_MULTIVERSION
void GemmPackedRows(int M, const float* x, size_t ldx, const PackedMatrix& W, const float* bias,
                    GemmOutput out, float* const* y_rows) {
  GemmDriver(M, x, ldx, W, bias, out, PointerRows{y_rows});
}

}  // namespace llm
