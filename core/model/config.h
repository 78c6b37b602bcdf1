// Model configuration and the flat parameter layout shared by training,
// checkpoints and inference.
//
// Parameters (and, with the same layout, gradients and the two Adam moment
// buffers) live in ONE contiguous float array. Tensors are stored row-major,
// in this order (B = n_blocks, C = d_model, H = n_heads, D = d_head,
// F = d_ff, V = vocab_size, T = context):
//
//   wte      (V, C)      token embedding
//   wpe      (T, C)      position embedding
//   for each block b = 0..B-1:
//     ln1_g  (C)         LayerNorm 1 gain
//     ln1_b  (C)         LayerNorm 1 bias
//     wq     (C, H*D)    query projection, head h uses columns [h*D, (h+1)*D)
//     wk     (C, H*D)    key projection
//     wv     (C, H*D)    value projection
//     wo     (H*D, C)    output projection (no bias, as in the original)
//     ln2_g  (C)
//     ln2_b  (C)
//     w1     (C, F)      FFN first linear
//     b1     (F)
//     w2     (F, C)      FFN second linear
//     b2     (C)
//   lnf_g    (C)         final LayerNorm
//   lnf_b    (C)
//   wu       (C, V)      unembedding (untied)
//   bu       (V)
//
// A linear layer computes y = x W + b with x of shape (N, in) and W (in, out).
// For the default configuration this is exactly 1,629,712 floats.
#ifndef LLM_CORE_MODEL_CONFIG_H_
#define LLM_CORE_MODEL_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace llm {

enum class Activation : int32_t { kRelu = 0, kGelu = 1 };

struct ModelConfig {
  int32_t vocab_size = 10256;
  int32_t context = 128;  // maximum sequence length T
  int32_t n_blocks = 6;
  int32_t d_model = 64;
  int32_t n_heads = 8;
  int32_t d_head = 8;  // d_k = d_v
  int32_t d_ff = 256;
  Activation activation = Activation::kRelu;

  // InvalidArgument naming the first bad field (all sizes must be >= 1).
  absl::Status Validate() const;
  std::string DebugString() const;
  bool operator==(const ModelConfig&) const = default;
};

// One named tensor inside the flat parameter buffer.
struct TensorInfo {
  std::string name;  // e.g. "wte", "block3.wq", "lnf_g"
  size_t offset;     // in floats from the start of the buffer
  std::vector<int64_t> shape;
  size_t size() const;
};

// Offsets of every tensor of one block, in floats from the buffer start.
struct BlockOffsets {
  size_t ln1_g, ln1_b, wq, wk, wv, wo, ln2_g, ln2_b, w1, b1, w2, b2;
};

// The layout described above, computed once from a config.
struct ParamLayout {
  explicit ParamLayout(const ModelConfig& c);
  size_t wte, wpe;
  std::vector<BlockOffsets> blocks;
  size_t lnf_g, lnf_b, wu, bu;
  size_t total;                     // number of floats
  std::vector<TensorInfo> tensors;  // in storage order
};

// Total number of parameters (ParamLayout(c).total).
size_t NumParameters(const ModelConfig& c);

}  // namespace llm

#endif  // LLM_CORE_MODEL_CONFIG_H_
