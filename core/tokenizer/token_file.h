// Token files: a compact, checksummed binary format for a tokenized text
// split (assets/tokens/NAME/{train,val,test}, written by tokenize_splits and
// read by the model trainer).
//
// Format, version 1. All integers are little-endian; offsets in bytes;
// n = length of the tokenizer name.
//
//   offset   size        field
//   0        8           magic, the ASCII bytes "LLMTOKS1"
//   8        4           version (u32) = 1
//   12       4           dtype (u32): bytes per token, 2 = uint16, 4 = uint32.
//                        Writers use 2 when vocab_size <= 65536, else 4.
//   16       4           vocab_size (u32), 0 < vocab_size < 2^31; every token is < vocab_size
//   20       8           num_tokens (u64)
//   28       4           n (u32) <= 4096
//   32       n           tokenizer name (bytes, e.g. "default_10k")
//   32+n     16          tokenizer fingerprint: 16 lowercase hex ASCII chars
//                        (Tokenizer::Fingerprint()), to detect a token file
//                        made by a different tokenizer
//   48+n     num_tokens*dtype   the tokens
//   end-4    4           CRC-32 (u32; the zlib/IEEE 802.3 polynomial, as
//                        Python's zlib.crc32) of every preceding byte
//
// The file size is therefore exactly 52 + n + num_tokens * dtype. Reading in
// Python: data = open(p, "rb").read(); check zlib.crc32(data[:-4]); tokens =
// numpy.frombuffer(data, "<u2" or "<u4", num_tokens, offset=48 + n).
#ifndef LLM_CORE_TOKENIZER_TOKEN_FILE_H_
#define LLM_CORE_TOKENIZER_TOKEN_FILE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace llm {

inline constexpr char kTokenFileMagic[] = "LLMTOKS1";  // 8 bytes, no NUL on disk
inline constexpr uint32_t kTokenFileVersion = 1;

struct TokenFileHeader {
  // Filled in by the reader; ignored by the writer (which writes the current
  // version, picks the dtype from vocab_size, and counts the tokens).
  uint32_t version = kTokenFileVersion;
  uint32_t dtype_bytes = 0;   // 2 or 4
  uint64_t num_tokens = 0;
  // Set by the caller before writing.
  uint32_t vocab_size = 0;
  std::string tokenizer_name;
  std::string tokenizer_fingerprint;  // exactly 16 lowercase hex chars
};

struct TokenFile {
  TokenFileHeader header;
  std::vector<int32_t> tokens;
};

// CRC-32 (zlib polynomial 0xEDB88320, init/xorout 0xFFFFFFFF) of `data`,
// continuing from `crc` (pass the previous result to checksum in pieces;
// start with 0). Crc32("123456789") == 0xCBF43926. Thread-safe.
uint32_t Crc32(std::string_view data, uint32_t crc = 0);

// Serializes to the format above. InvalidArgument if vocab_size is 0, the
// name is longer than 4096 bytes, the fingerprint is not 16 lowercase hex
// chars, or a token is outside [0, vocab_size) (naming its index).
absl::StatusOr<std::string> SerializeTokenFile(const TokenFileHeader& header,
                                               absl::Span<const int32_t> tokens);

// Parses bytes in the format above. `source` (usually the path) is named in
// every error. DataLoss for a truncated file, trailing bytes, a bad checksum
// or a token >= vocab_size (naming its index); InvalidArgument for a bad
// magic (not a token file) or a malformed header; Unimplemented for an
// unknown version.
absl::StatusOr<TokenFile> ParseTokenFile(std::string_view bytes, const std::string& source);

// Writes `tokens` to `path` atomically (temp file + fsync + rename). Same
// validation as SerializeTokenFile; I/O errors name the path.
absl::Status WriteTokenFile(const std::string& path, const TokenFileHeader& header,
                            absl::Span<const int32_t> tokens);

// Reads and fully validates `path` (see ParseTokenFile). NotFound if absent.
absl::StatusOr<TokenFile> ReadTokenFile(const std::string& path);

// Reads only the header of `path` (cheap; does not verify the checksum or the
// tokens, but does check that the file size matches the header).
absl::StatusOr<TokenFileHeader> ReadTokenFileHeader(const std::string& path);

}  // namespace llm

#endif  // LLM_CORE_TOKENIZER_TOKEN_FILE_H_
