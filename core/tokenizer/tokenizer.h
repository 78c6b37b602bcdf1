// Byte-level BPE tokenizer with regex pre-tokenization, compatible with the
// original Python project's RegexTokenizer (file formats, encode results) and
// with tiktoken rank files (cl100k_base, o200k_base, ...).
//
// Internal model: every token id has a byte string; merging is driven by a
// map (left id, right id) -> merged id, and the merged id doubles as the merge
// rank (lower id = higher priority). For trained tokenizers the merge list
// gives id = 256 + position, so rank order == list order, exactly as the
// original's `encode_tokens`. For tiktoken rank files, id = rank and the pair
// map holds every split (a, b) whose concatenation is a token, which is
// exactly tiktoken's "merge the adjacent pair whose concatenation has the
// lowest rank" rule.
//
// Encode(text):
//   validate UTF-8 -> split around allowed special tokens -> pre-tokenize ->
//   per piece: trained piece cache (vocab tokens that are valid UTF-8, plus
//   cache.txt entries) -> runtime LRU cache -> BPE (lowest rank first,
//   leftmost among equals).
//
// Thread-safety: after construction (and after any AddSpecialTokens /
// AddTrainedPieces calls, which must happen before the object is shared), all
// const methods may be called concurrently. The runtime LRU cache is
// internally synchronised (sharded locks).
#ifndef LLM_CORE_TOKENIZER_TOKENIZER_H_
#define LLM_CORE_TOKENIZER_TOKENIZER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace llm {

class PreTokenizer;
class PieceLruCache;

// One line of merges.txt: "left,right:id".
struct Merge {
  int32_t left;
  int32_t right;
  int32_t id;
};

// tiktoken's special-token semantics for Encode():
//  - tokens in `allowed` (or all registered specials if allow_all) are
//    encoded as their single id;
//  - a registered special token found in the text that is disallowed (all
//    not-allowed ones when disallow_all, the default, as tiktoken's
//    disallowed_special="all"; else those listed in `disallowed`) ->
//    InvalidArgument naming the token and its byte offset;
//  - otherwise the special token's text is encoded as plain text.
// Names that are not registered special tokens are ignored (as tiktoken).
// Matching is leftmost, then longest at that position.
struct SpecialTokenPolicy {
  bool allow_all = false;
  std::vector<std::string> allowed;
  bool disallow_all = true;
  std::vector<std::string> disallowed;

  // Every registered special token is encoded as its id.
  static SpecialTokenPolicy AllowAll();
  // Nothing allowed, nothing disallowed: special token text is plain text.
  static SpecialTokenPolicy PlainText();
};

struct TokenizerOptions {
  // Maximum number of pieces kept in the runtime LRU cache (0 disables it).
  size_t lru_capacity = 1 << 16;
  // If false, Encode never reads or writes the runtime LRU cache (the trained
  // piece cache is always used, as in the original).
  bool use_cache = true;
  // Pieces shorter than this skip the LRU: the whole-piece vocabulary lookup
  // catches the frequent short ones, and BPE of a short piece costs less than
  // an LRU round trip (hash, shard lock, key copy, eviction) -- and, unlike the
  // shared LRU, it scales with threads (EncodeBatch on 2 threads: 1.44x with
  // every piece cached, 1.96x with this threshold, on the Shakespeare text).
  size_t lru_min_piece_bytes = 16;
};

struct CacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  size_t size = 0;
  size_t capacity = 0;
};

// Reads a tiktoken rank file ("base64(token bytes) rank" per line) and
// returns the token byte strings indexed by rank. Errors (with path and line)
// on bad base64 or bad/duplicate ranks. Gaps in the rank sequence (p50k_base
// has no rank 50256) are left as empty strings, which FromRanks skips.
absl::StatusOr<std::vector<std::string>> ReadTiktokenFile(const std::string& path);
// ReadTiktokenFile on the file's contents; `path` only names it in errors.
absl::StatusOr<std::vector<std::string>> ParseTiktokenRanks(std::string_view contents,
                                                            const std::string& path);

class Tokenizer {
 public:
  // Trained tokenizer: ids 0..255 are single bytes; merges[i] must have
  // id == 256 + i, and 0 <= left, right < id. A repeated (left, right) pair is
  // accepted; the later merge wins for encoding (as the original's dict).
  // Errors: InvalidArgument naming the offending merge index; the pattern must
  // be one the PreTokenizer supports.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromMerges(std::string pattern,
                                                               std::vector<Merge> merges,
                                                               TokenizerOptions opts = {});

  // tiktoken-style tokenizer: token id == rank, token_bytes_by_rank[r] is the
  // byte string of rank r. All 256 single bytes must be tokens; byte strings
  // must be non-empty and unique. Merges (returned by merges()) are recovered
  // by running BPE on each token with lower ranks only.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromRanks(
      std::string pattern, std::vector<std::string> token_bytes_by_rank, TokenizerOptions opts = {});

  // Loads the original's directory format (pattern.txt, merges.txt, cache.txt;
  // vocab.txt is for humans) plus optional special_tokens.txt. A directory
  // with ranks.tiktoken is loaded via FromRanks (ids == tiktoken ranks); a
  // merges.txt next to it is the original's numbering and is only checked
  // for consistency (see tokenizer_files.cc).
  // Errors name file and line.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> Load(const std::string& dir,
                                                         TokenizerOptions opts = {});

  // Writes pattern.txt, merges.txt (plus ranks.tiktoken for FromRanks
  // tokenizers), vocab.txt, cache.txt and, if any, special_tokens.txt.
  // Each file is written atomically; `dir` is created if missing.
  absl::Status Save(const std::string& dir) const;

  // Registers special tokens (text, id). Ids must not collide with an
  // existing token; texts must be non-empty, valid UTF-8, without newlines,
  // and unique. Not thread-safe: call before sharing the tokenizer.
  absl::Status AddSpecialTokens(const std::vector<std::pair<std::string, int32_t>>& tokens);

  // Trained piece cache (the original's cache.txt): piece text -> tokens,
  // consulted before BPE. Later entries override earlier ones. The caller
  // guarantees each token list is valid and decodes to its piece (Load
  // checks this for cache.txt). Not thread-safe: call before sharing the
  // tokenizer. Clears the runtime cache.
  void AddTrainedPieces(std::vector<std::pair<std::string, std::vector<int32_t>>> pieces);

  // Encodes UTF-8 text. InvalidArgument on invalid UTF-8 (with byte offset)
  // or on a disallowed special token (with token text and byte offset).
  absl::StatusOr<std::vector<int32_t>> Encode(std::string_view text,
                                              const SpecialTokenPolicy& policy = {}) const;

  // Batch encode over `num_threads` threads (0 = hardware concurrency). Same
  // output as Encode on each text; the first failing text's error (lowest
  // index) is returned, prefixed with its index.
  absl::StatusOr<std::vector<std::vector<int32_t>>> EncodeBatch(
      const std::vector<std::string>& texts, const SpecialTokenPolicy& policy = {},
      int num_threads = 0) const;

  // Encodes one pre-tokenized piece (any bytes) with BPE only: no caches, no
  // whole-piece vocabulary lookup. Exposed for tests, training and tools.
  std::vector<int32_t> EncodePieceBpe(std::string_view piece) const;

  // Concatenated token bytes. Unknown id -> InvalidArgument (id and position).
  absl::StatusOr<std::string> DecodeBytes(absl::Span<const int32_t> tokens) const;
  // DecodeBytes, then lossy UTF-8 (U+FFFD per invalid subpart, as Python).
  absl::StatusOr<std::string> Decode(absl::Span<const int32_t> tokens) const;
  // The original's render_bytes: lossy-decode the token's bytes and escape
  // every char of Unicode category C* as \uXXXX (lowercase hex, >= 4 digits).
  // Unknown id -> "" .
  std::string Render(int32_t token) const;
  // Byte string of a token (special tokens: their text). CHECK-fails on an
  // invalid id; use IsValidToken first.
  const std::string& TokenBytes(int32_t token) const;
  bool IsValidToken(int32_t token) const;
  // Id of a registered special token, or -1.
  int32_t SpecialTokenId(std::string_view text) const;

  int32_t vocab_size() const;  // max id + 1, including special tokens
  int32_t num_merges() const;
  const std::string& pattern() const { return pattern_; }
  const std::vector<Merge>& merges() const { return merges_; }
  const std::vector<std::pair<std::string, int32_t>>& special_tokens() const {
    return special_tokens_;
  }
  // True for FromRanks tokenizers (ids are tiktoken ranks).
  bool is_rank_based() const { return rank_based_; }
  // 16 lowercase hex chars: FNV-1a 64 of pattern + merges (or rank bytes) +
  // special tokens. Stable across runs and machines.
  std::string Fingerprint() const;
  CacheStats cache_stats() const;
  void ClearCache();

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

 private:
  // Location of a piece's tokens inside trained_pool_.
  struct PoolSpan {
    uint32_t offset;
    uint32_t length;
  };

  // Rank used by BPE for "no merge".
  static constexpr int32_t kNoRank = 0x7FFFFFFF;
  // Pieces up to this many bytes use the quadratic scan, longer ones a heap.
  static constexpr size_t kSmallPieceBytes = 128;
  // Pieces longer than this are not stored in the runtime LRU cache.
  static constexpr size_t kMaxCachedPieceBytes = 256;

  Tokenizer(std::string pattern, TokenizerOptions opts);
  // Creates the pre-tokenizer and the LRU cache; builds the trained cache.
  absl::Status Init();
  void BuildTrainedCache();
  // Fills byte_pair_rank_ from byte_to_id_ and pair_to_id_ (before any Bpe).
  void BuildBytePairRanks();
  void SetTokenBytes(int32_t id, std::string bytes, uint8_t kind);
  void EncodeOrdinary(std::string_view text, std::vector<int32_t>* out) const;
  void EncodePiece(std::string_view piece, std::vector<int32_t>* out) const;
  // BPE of `piece` using only merges whose rank (= merged id) < `limit`.
  void Bpe(std::string_view piece, int32_t limit, std::vector<int32_t>* out) const;
  void BpeLarge(std::string_view piece, int32_t limit, std::vector<int32_t>* out) const;
  // Merged id (= rank) of (left, right), or kNoRank if none or >= limit.
  int32_t PairRank(int32_t left, int32_t right, int32_t limit) const {
    auto it = pair_to_id_.find(PairKey(left, right));
    if (it == pair_to_id_.end() || it->second >= limit) return kNoRank;
    return it->second;
  }
  // PairRank of the single-byte tokens of bytes a and b (table lookup).
  int32_t BytePairRank(uint8_t a, uint8_t b, int32_t limit) const {
    const int32_t r = byte_pair_rank_[a * 256 + b];
    return r < limit ? r : kNoRank;
  }
  static uint64_t PairKey(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }

  enum : uint8_t { kInvalid = 0, kRegular = 1, kSpecial = 2 };

  std::string pattern_;
  TokenizerOptions opts_;
  bool rank_based_ = false;
  std::unique_ptr<PreTokenizer> pretokenizer_;
  // Bytes of every id (special tokens: their text) and its kind.
  std::vector<std::string> token_bytes_;
  std::vector<uint8_t> kind_;
  int32_t byte_to_id_[256];
  std::vector<Merge> merges_;
  absl::flat_hash_map<uint64_t, int32_t> pair_to_id_;
  // PairRank of byte a's and byte b's tokens at [a * 256 + b] (built by Init).
  std::vector<int32_t> byte_pair_rank_;
  // Trained piece cache: piece -> tokens (in trained_pool_).
  absl::flat_hash_map<std::string, PoolSpan> trained_cache_;
  std::vector<int32_t> trained_pool_;
  // Extra (cache.txt) pieces in insertion order, for Save().
  std::vector<std::pair<std::string, std::vector<int32_t>>> extra_pieces_;
  std::vector<std::pair<std::string, int32_t>> special_tokens_;
  absl::flat_hash_map<std::string, int32_t> special_to_id_;
  int32_t num_regular_ = 0;  // regular tokens (256 + merges for trained ones)
  std::unique_ptr<PieceLruCache> lru_;
};

}  // namespace llm

#endif  // LLM_CORE_TOKENIZER_TOKENIZER_H_
