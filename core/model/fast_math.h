// Small vectorised math kernels used by inference: softmax pieces for
// attention and for the sampler, dot products and axpy, attention of one query
// row against a KV cache, and a small-M matrix product over pre-packed
// weights. Written as plain loops or with GCC/Clang vector extensions (8-float
// vectors); each kernel is compiled twice (baseline x86-64 and x86-64-v3 =
// AVX2 + FMA) and the best version is picked at load time (GCC function
// multi-versioning), so the library stays portable.
//
// Sums are accumulated in several independent lanes (not strictly left to
// right), so results may differ from a naive loop in the last bits. Each
// kernel is deterministic: the same inputs give bit-identical outputs
// whatever the batch size or the row's position in the batch.
#ifndef LLM_CORE_MODEL_FAST_MATH_H_
#define LLM_CORE_MODEL_FAST_MATH_H_

#include <cstddef>
#include <vector>

namespace llm {

// out[i] = exp((x[i] - shift) * scale) for i < n; returns the sum of out.
// Relative error < 3e-7 for arguments in [-87, 88]; arguments below -87
// give exactly 0 (no denormals); above 88 saturate at exp(88). `out` may
// alias `x`.
float ExpShiftScaleSum(const float* x, size_t n, float shift, float scale, float* out);

// x[i] = exp(x[i]) (same accuracy as above).
inline void ExpInPlace(float* x, size_t n) { ExpShiftScaleSum(x, n, 0.0f, 1.0f, x); }

// max_i x[i]; n >= 1.
float MaxOf(const float* x, size_t n);
// The first index i with x[i] == MaxOf(x, n); 0 if there is none (NaNs
// only). n >= 1.
size_t ArgMaxOf(const float* x, size_t n);
// sum_i x[i].
float SumOf(const float* x, size_t n);
// sum_i a[i] b[i].
float Dot(const float* a, const float* b, size_t n);
// y[i] += a x[i].
void Axpy(float a, const float* x, float* y, size_t n);
// x[i] *= a.
void Scale(float a, float* x, size_t n);

// LayerNorm of `rows` rows of C floats: out[r] = (x[r] - mean) / sqrt(var +
// eps) * g + b with the population variance (sums in 8 lanes). x and out may
// be the same buffer.
void LayerNormRows(const float* x, int rows, int C, const float* g, const float* b, float eps,
                   float* out);

// KV-cache layout used by AttentionRow ("tiled transposed"): for one block
// of the model, the keys (or values) of H heads x `capacity` positions, cut
// into tiles of 8 positions. Tile t of head h holds, for each channel d of
// the head, the 8 values of positions 8t .. 8t+7 contiguously, so a score
// vector for 8 positions is D contiguous 8-float loads. `tiles` =
// ceil(capacity / 8); the buffer holds H * tiles * D * 8 floats.
inline size_t KvCacheIndex(int h, int d, int p, int D, int tiles) {
  return ((static_cast<size_t>(h) * tiles + p / 8) * D + d) * 8 + p % 8;
}

// Causal attention of one query row against the first `len` (1 <= len <=
// 8 * tiles) cached positions, for every head:
//   q       (H*D)                 query
//   K, V    (H, tiles, D, 8)      keys / values in the layout above
//   scores  (8 * tiles)           scratch
//   out     (H*D)                 concatenated head outputs:
//   out[h*D+d] = sum_p softmax_p(scale * q_h . k_h[p]) v_h[p][d]
// Positions len .. (tile end) are read but ignored, whatever their values
// (NaN included).
void AttentionRow(const float* q, const float* K, const float* V, int tiles, int len, int H,
                  int D, float scale, float* scores, float* out);

// The weights W (K, N) of a linear layer y = x W (+ b), repacked once so that
// GemmPacked streams them exactly once per call whatever the number of rows:
// column panels of 16 (the last one zero-padded), each stored as K rows of
// 16 contiguous floats, 64-byte aligned. Immutable after construction;
// copyable; safe to share between threads.
class PackedMatrix {
 public:
  static constexpr int kPanel = 16;

  PackedMatrix() = default;
  // W is (K, N) row-major with row stride ldw >= N; K, N >= 1.
  PackedMatrix(const float* W, int K, int N, size_t ldw);
  PackedMatrix(const PackedMatrix& o) { *this = o; }
  PackedMatrix& operator=(const PackedMatrix& o);

  int K() const { return K_; }
  int N() const { return N_; }
  int panels() const { return (N_ + kPanel - 1) / kPanel; }
  // Panel j: (K, 16) at data() + j * K * 16.
  const float* data() const { return storage_.data() + offset_; }

 private:
  int K_ = 0, N_ = 0;
  size_t offset_ = 0;           // floats from storage_.data() to the aligned start
  std::vector<float> storage_;  // panels() * K * 16 floats + alignment slack
};

// What GemmPacked does with each product row z = x_r W (+ bias).
enum class GemmOutput {
  kStore,       // y_r = z
  kStoreRelu,   // y_r = max(z, 0)
  kAccumulate,  // y_r += z
};

// For each of the M >= 0 rows r: z = x[r * ldx .. + K) W + bias (bias of N
// floats, or null for none), written to y + r * ldy as `out` says. x and y
// must not overlap. Every output element is the same sequential FMA chain
// over k = 0..K-1, so a row's result does not depend on M or on the other
// rows. Thread-safe (no shared state).
void GemmPacked(int M, const float* x, size_t ldx, const PackedMatrix& W, const float* bias,
                GemmOutput out, float* y, size_t ldy);
// As above, but row r is written to y_rows[r] (N floats each).
void GemmPackedRows(int M, const float* x, size_t ldx, const PackedMatrix& W, const float* bias,
                    GemmOutput out, float* const* y_rows);

}  // namespace llm

#endif  // LLM_CORE_MODEL_FAST_MATH_H_
