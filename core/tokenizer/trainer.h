// Byte-pair-encoding (BPE) training: learns the ordered merge list and the
// trained piece cache from a text corpus, reproducing the original project's
// RegexTokenizer.train / train_piece_cache exactly (same merges, same cache).
//
// The rule (identical to the original's heap of TokenPairNode, ordered by
// (-count, first, second)):
//   1. The text is pre-tokenized into pieces; each piece starts as its UTF-8
//      bytes (ids 0..255). Pairs are counted inside pieces only, at every
//      adjacent position (so "aaa" holds the pair (a, a) twice).
//   2. Repeatedly pick the pair with the highest count; ties go to the
//      smallest (left id, right id). Stop early when that count is below 2.
//   3. The pair becomes token 256 + merge index; in every piece its
//      occurrences are replaced left to right without overlap, and the pair
//      counts are updated to the exact counts of the new sequences.
//
// Algorithm (scales to corpora of hundreds of MB): identical pieces are
// deduplicated with a count, so work is proportional to the number of unique
// pieces. We keep pair -> (count, list of pieces containing it), update only
// the pieces that contain the merged pair (adjusting just the pairs around
// each replaced occurrence), and pick the best pair with a lazy max-heap whose
// stale entries are detected by comparing with the current count.
//
// Thread-safety: the functions below are pure (no shared state); the
// progress callback runs on the calling thread.
#ifndef LLM_CORE_TOKENIZER_TRAINER_H_
#define LLM_CORE_TOKENIZER_TRAINER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/tokenizer/tokenizer.h"  // Merge

namespace llm {

class PreTokenizer;

// A unique pre-tokenized piece and how many times it occurs in the text.
struct PieceCount {
  std::string_view piece;  // view into the text passed to CountPieces
  int64_t count = 0;
};

// Splits `text` with `pretokenizer` and counts identical pieces. The result
// lists each unique piece once, in order of first occurrence (the order of the
// original's dict), with views into `text` (which must outlive the result).
// Errors: InvalidArgument (with byte offset) if `text` is not valid UTF-8.
absl::StatusOr<std::vector<PieceCount>> CountPieces(const PreTokenizer& pretokenizer,
                                                    std::string_view text);

// Reported after every merge, for progress output.
struct MergeEvent {
  int64_t index = 0;  // 0-based merge number
  Merge merge;        // the pair and its new id (256 + index)
  int64_t count = 0;  // occurrences of the pair when it was chosen
};

struct BpeTrainOptions {
  // Upper bound on the number of merges (training may stop earlier when no
  // pair occurs at least twice). Must be >= 0.
  int64_t num_merges = 10000;
  // Optional; called after each merge.
  std::function<void(const MergeEvent&)> on_merge;
};

// Output of TrainBpe.
class BpeTrainingResult {
 public:
  // Learned merges in order; merges[i].id == 256 + i.
  const std::vector<Merge>& merges() const { return merges_; }
  // Pair count at the moment each merge was chosen (parallel to merges()).
  const std::vector<int64_t>& merge_counts() const { return merge_counts_; }
  // Number of pieces given to TrainBpe.
  size_t num_pieces() const { return lengths_.size(); }
  // Tokens of piece `i` after all merges. Because training applies merges in
  // rank order to every occurrence, this equals the BPE encoding of the piece
  // with the learned merges.
  absl::Span<const int32_t> PieceTokens(size_t i) const {
    return absl::Span<const int32_t>(tokens_.data() + offsets_[i], lengths_[i]);
  }

 private:
  friend BpeTrainingResult TrainBpe(absl::Span<const PieceCount>, const BpeTrainOptions&);
  std::vector<Merge> merges_;
  std::vector<int64_t> merge_counts_;
  std::vector<int32_t> tokens_;   // all pieces' tokens, back to back
  std::vector<size_t> offsets_;   // start of piece i in tokens_
  std::vector<uint32_t> lengths_; // current length of piece i
};

// Learns merges from weighted pieces (each piece counts `count` times; pieces
// need not be unique, but duplicates waste work). Empty pieces are ignored.
// CHECK-fails if options.num_merges < 0 (validate user input first).
BpeTrainingResult TrainBpe(absl::Span<const PieceCount> pieces, const BpeTrainOptions& options);

// Byte strings of every token (index = id) for a trained merge list:
// ids 0..255 are single bytes, merge i is bytes(left) + bytes(right).
// CHECK-fails on a malformed list (id != 256 + i or an operand >= id).
std::vector<std::string> VocabFromMerges(absl::Span<const Merge> merges);

// The original's train_piece_cache: among `pieces` (unique, in first-
// occurrence order, as from CountPieces, and the same pieces given to
// TrainBpe), drops those whose text is already a single vocabulary token
// (a token whose bytes are valid UTF-8), orders the rest by count descending
// (equal counts keep first-occurrence order, like Python's stable sort with
// reverse=True) and returns the first `cache_size` with their encodings.
// `cache_size` <= 0 gives an empty cache.
std::vector<std::pair<std::string, std::vector<int32_t>>> SelectPieceCache(
    absl::Span<const PieceCount> pieces, const BpeTrainingResult& training, int64_t cache_size);

}  // namespace llm

#endif  // LLM_CORE_TOKENIZER_TRAINER_H_
