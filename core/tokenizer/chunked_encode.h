// Multi-threaded encoding of one large text (a corpus split) by cutting it
// into chunks at positions where the cut provably cannot change the result:
//
//   EncodeChunked(tok, text) == tok.Encode(text)   (same tokens, always)
//
// Why cutting is delicate: the split patterns look ahead. With the GPT-2
// pattern, "a  \nB" splits as "a", "  ", "\n", "B" (`\s+(?!\S)` backs off
// before the letter), but cut after the "\n" the prefix "a  \n" ends with the
// single piece "  \n" (at end of text the lookahead succeeds). Runs such as
// `\s*[\r\n]` and `[\r\n]*` have the same problem.
//
// The safe cut: a position p with
//     text[p-2]  a printable, non-space ASCII char (0x21..0x7E)
//     text[p-1]  '\n'
//     text[p]    an ASCII letter [A-Za-z]
// For every split pattern the PreTokenizer supports (GPT-2, GPT-4/cl100k,
// o200k) in the reference (Python `regex`) semantics:
//  1. No piece of the whole-text split contains both text[p-1] and text[p]:
//     the only alternatives that can contain '\n' are whitespace runs and
//     `[\r\n]*`-style suffixes, neither of which can continue with a letter;
//     the letter alternatives' optional prefix is `[^\r\n...]` or " ".
//  2. The piece holding text[p-1] is exactly "\n" or a punctuation run ending
//     in "\n" (text[p-2] is not whitespace), and it is the same whether
//     text[p] is a letter or the end of the text: `[\r\n]*` / `\s*` stop
//     either way, and `\s+(?!\S)` on the lone "\n" fails before a letter but
//     then plain `\s+` yields the same "\n" (GPT-4/o200k already match it
//     with `\s*[\r\n]`).
//  3. No pattern has lookbehind or anchors, so matching from p on depends only
//     on text[p:].
// Special tokens cannot straddle the cut either: their texts never contain a
// newline (Tokenizer::AddSpecialTokens enforces it), so an occurrence cannot
// cover text[p-1..p]. tests/tokenizer/chunked_encode_test.cc checks the
// identity for all patterns, on adversarial random text and on the corpus.
#ifndef LLM_CORE_TOKENIZER_CHUNKED_ENCODE_H_
#define LLM_CORE_TOKENIZER_CHUNKED_ENCODE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tokenizer/tokenizer.h"

namespace llm {

// True if `p` (0 < p < text.size()) is a safe cut as defined above.
bool IsSafeChunkBoundary(std::string_view text, size_t p);

// Cut points for `text`: 0 = b[0] < b[1] < ... < b[k] = text.size() (just
// {0} for empty text). Each b[i] for 0 < i < k is a safe cut, the first one
// at or after b[i-1] + target_chunk_bytes; so chunks are at least
// target_chunk_bytes long except the last, and a text with no safe cut is a
// single chunk.
std::vector<size_t> SafeChunkBoundaries(std::string_view text, size_t target_chunk_bytes);

struct ChunkedEncodeOptions {
  int num_threads = 0;                      // 0 = std::thread::hardware_concurrency()
  size_t target_chunk_bytes = 256 << 10;    // see SafeChunkBoundaries
  SpecialTokenPolicy policy;                // passed to Encode for every chunk
  // Called on the calling thread as chunks complete (bytes encoded so far,
  // total bytes); may be null.
  std::function<void(size_t done_bytes, size_t total_bytes)> progress;
};

// Encodes `text` chunk by chunk on a pool of threads and concatenates the
// results; equal to tokenizer.Encode(text, options.policy). Errors are those
// of Encode with byte offsets relative to the whole text for invalid UTF-8;
// an error inside a chunk is prefixed with the chunk's byte range. If a
// special token contains a newline (not possible through the public API),
// falls back to a single chunk. Thread-safe if `tokenizer` is.
absl::StatusOr<std::vector<int32_t>> EncodeChunked(const Tokenizer& tokenizer,
                                                   std::string_view text,
                                                   const ChunkedEncodeOptions& options = {});

}  // namespace llm

#endif  // LLM_CORE_TOKENIZER_CHUNKED_ENCODE_H_
