// Model checkpoints: a versioned, checksummed binary file holding everything
// needed to evaluate a model, serve it, or resume its training bit-exactly.
//
// Where they live (mirroring the original's registry, which wrote
// assets/model_checkpoints/NAME/checkpoint.ITER.pkl):
//
//   assets/model_checkpoints/NAME/checkpoint.ITER.bin
//
// where ITER is the number of optimizer steps taken when the file was written.
//
// File format, version 1. All integers and floats are little-endian; strings
// are a u32 byte length followed by the bytes (no terminator).
//
//   offset size  field
//   0      8     magic "LLMCKPT\0"
//   8      4     u32 version (= 1)
//   12     4     u32 flags: bit 0 = Adam state present
//   16     8     u64 file_size: total bytes including the trailing checksum
//   24     32    ModelConfig: i32 vocab_size, context, n_blocks, d_model,
//                n_heads, d_head, d_ff, activation (0 relu, 1 gelu)
//   56     8     i64 step        optimizer steps done
//   64     8     u64 seed        training seed (batch sampling)
//   72     8     i64 adam_step   Adam's bias-correction counter
//   80     4     i32 tokenizer vocab size
//   84     ...   str tokenizer name, str tokenizer fingerprint, str extra
//                (free-form metadata: flags, schedule, losses; for humans)
//          4     u32 tensor count, then per tensor (ParamLayout order):
//                str name, u32 ndim, ndim x i64 dims, u64 offset (in floats)
//          8     u64 param count N
//          pad   zero bytes up to the next multiple of 64 (so the float
//                arrays are 64-byte aligned in the file)
//          4N    f32 params[N]
//          4N    f32 adam_m[N]   (only if flag bit 0)
//          4N    f32 adam_v[N]   (only if flag bit 0)
//   end-8  8     u64 FNV-1a 64 checksum of every preceding byte
//
// Loading validates, in order: size >= minimal header (else "truncated"),
// magic, version, recorded file_size vs. actual size ("truncated" / "trailing
// bytes"), checksum ("corrupted"), then the structure: every length within
// bounds, config.Validate(), tensor table == ParamLayout(config), N ==
// NumParameters(config). Every error message starts with the file path.
#ifndef LLM_CORE_MODEL_CHECKPOINT_H_
#define LLM_CORE_MODEL_CHECKPOINT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/model/config.h"

namespace llm {

inline constexpr char kCheckpointMagic[8] = {'L', 'L', 'M', 'C', 'K', 'P', 'T', '\0'};
inline constexpr uint32_t kCheckpointVersion = 1;

struct CheckpointData {
  ModelConfig config;
  std::string tokenizer_name;
  std::string tokenizer_fingerprint;
  // Vocab size of the tokenizer the model was trained with; 0 on save means
  // "same as config.vocab_size".
  int32_t tokenizer_vocab_size = 0;
  int64_t step = 0;   // optimizer steps taken
  uint64_t seed = 0;  // training seed (data order)
  std::vector<float> params;  // NumParameters(config) floats, ParamLayout order
  bool has_optimizer = false;
  std::vector<float> adam_m, adam_v;  // same size as params when has_optimizer
  int64_t adam_step = 0;
  std::string extra;  // free-form text (schedule, flags) for humans

  // Set by LoadCheckpoint (the file it came from); used in error messages.
  std::string path;
};

// Writes `data` to `path` atomically (temporary file + fsync + rename): a
// crash or kill at any point leaves the previous file at `path` intact.
// InvalidArgument if `data` is inconsistent (bad config, wrong param count,
// optimizer buffers of the wrong size); errors from the filesystem name the
// file. Does not create parent directories.
absl::Status SaveCheckpoint(const std::string& path, const CheckpointData& data);

// Reads and fully validates a checkpoint (see the format above). Errors:
// NotFound if missing; DataLoss for truncated / corrupted files;
// InvalidArgument for wrong magic, unsupported version or an inconsistent
// tensor table. Every message names the file and the problem.
absl::StatusOr<CheckpointData> LoadCheckpoint(const std::string& path);

// Checks that a loaded checkpoint can be used with a tokenizer of the given
// vocab size and fingerprint: FailedPrecondition naming the checkpoint file
// and both values if config.vocab_size != vocab_size, or if both fingerprints
// are non-empty and differ. An empty `fingerprint` skips that check.
absl::Status CheckCompatible(const CheckpointData& data, int32_t vocab_size,
                             const std::string& fingerprint);

// AssetsDir()/model_checkpoints/MODEL_NAME/checkpoint.ITERATION.bin
std::string CheckpointPath(const std::string& model_name, int64_t iteration);

// Iterations of every checkpoint.N.bin in the model's directory, ascending.
// Empty if the directory does not exist.
std::vector<int64_t> ListCheckpointIterations(const std::string& model_name);

// FNV-1a 64 hash of `size` bytes, continuing from `state` (start with the
// default offset basis). Exposed for tests.
inline constexpr uint64_t kFnv1a64Offset = 14695981039346656037ull;
uint64_t Fnv1a64(const void* data, size_t size, uint64_t state = kFnv1a64Offset);

}  // namespace llm

#endif  // LLM_CORE_MODEL_CHECKPOINT_H_
