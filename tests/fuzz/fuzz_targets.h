// The fuzz target bodies (one per tests/fuzz/fuzz_*.cc). Each accepts any
// bytes, returns 0, and abort()s if a property is violated.
#ifndef LLM_TESTS_FUZZ_FUZZ_TARGETS_H_
#define LLM_TESTS_FUZZ_FUZZ_TARGETS_H_

#include <cstddef>
#include <cstdint>

namespace llm {
namespace fuzz {

// Byte 0 picks the split pattern; the rest is the text. Pre-tokenizer pieces
// tile valid UTF-8; Encode round-trips valid UTF-8 exactly (cold and warm
// cache, with and without the LRU) and rejects invalid UTF-8 with
// InvalidArgument.
int FuzzEncode(const uint8_t* data, size_t size);
// Bytes 0-1 pick a SpecialTokenPolicy; the rest is the text. Checks tiktoken's
// special-token semantics against an independent leftmost-longest splitter.
int FuzzSpecialTokens(const uint8_t* data, size_t size);
// The input is a tokenizer directory (files separated by "\n--8<--\n");
// Tokenizer::Load and ReadTiktokenFile must fail cleanly or give a tokenizer
// that round-trips text and survives Save + Load unchanged.
int FuzzTokenizerFiles(const uint8_t* data, size_t size);
// Byte 0 = mode (bit 0: repair file_size + checksum), rest = checkpoint file.
int FuzzCheckpoint(const uint8_t* data, size_t size);
// Byte 0 = mode (bit 0: repair the CRC), rest = token file.
int FuzzTokenFile(const uint8_t* data, size_t size);
// Byte 0 picks the RPC, the rest is the serialized request: the server's
// transport-free handlers return OK or a client-error code, and OK answers are
// consistent (see tests/fuzz/fuzz_request.cc).
int FuzzRequest(const uint8_t* data, size_t size);

}  // namespace fuzz
}  // namespace llm

#endif  // LLM_TESTS_FUZZ_FUZZ_TARGETS_H_
