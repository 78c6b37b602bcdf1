#include "core/tokenizer/trainer.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <numeric>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "core/tokenizer/pretokenizer.h"
#include "core/tokenizer/utf8.h"
#include "core/util/status_macros.h"

namespace llm {
namespace {

// A pair of token ids packed into one integer key (left in the high half).
inline uint64_t PairKey(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}
inline int32_t PairLeft(uint64_t key) { return static_cast<int32_t>(key >> 32); }
inline int32_t PairRight(uint64_t key) { return static_cast<int32_t>(key & 0xffffffffu); }

// Everything we track for one live pair.
struct PairStats {
  int64_t count = 0;            // exact weighted number of occurrences
  std::vector<int32_t> pieces;  // pieces that contained it when it appeared
                                // (a superset of those containing it now)
};

// A heap entry: the pair's count when the entry was pushed. The entry is
// stale if the pair's count has changed since.
struct HeapEntry {
  int64_t count;
  uint64_t pair;
};

// Max-heap order: higher count first; equal counts -> smaller (left, right)
// first. Packed keys compare like (left, right) tuples since ids are >= 0.
// std::push_heap keeps the "largest" element at the front, so "a < b" means
// "a has lower priority than b".
struct LowerPriority {
  bool operator()(const HeapEntry& a, const HeapEntry& b) const {
    if (a.count != b.count) return a.count < b.count;
    return a.pair > b.pair;
  }
};

// Aborts with a message when an invariant (a documented precondition) fails.
void CheckOrDie(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "trainer: invariant violated: %s\n", what);
  std::abort();
}

}  // namespace

absl::StatusOr<std::vector<PieceCount>> CountPieces(const PreTokenizer& pretokenizer,
                                                    std::string_view text) {
  RETURN_IF_ERROR(ValidateUtf8(text));
  std::vector<PieceCount> pieces;
  absl::flat_hash_map<std::string_view, size_t> index;  // piece -> position in `pieces`
  pretokenizer.Split(text, [&](size_t begin, size_t end) {
    std::string_view piece = text.substr(begin, end - begin);
    auto [it, inserted] = index.try_emplace(piece, pieces.size());
    if (inserted) pieces.push_back(PieceCount{piece, 0});
    ++pieces[it->second].count;
  });
  return pieces;
}

BpeTrainingResult TrainBpe(absl::Span<const PieceCount> pieces, const BpeTrainOptions& options) {
  CheckOrDie(options.num_merges >= 0, "TrainBpe: num_merges must be non-negative");
  BpeTrainingResult result;

  // --- Piece storage: every piece's tokens back to back; a piece shrinks in
  // place as merges are applied, so its offset never changes.
  size_t total_bytes = 0;
  for (const PieceCount& p : pieces) total_bytes += p.piece.size();
  std::vector<int32_t>& tokens = result.tokens_;
  std::vector<size_t>& offsets = result.offsets_;
  std::vector<uint32_t>& lengths = result.lengths_;
  tokens.reserve(total_bytes);
  offsets.reserve(pieces.size());
  lengths.reserve(pieces.size());
  for (const PieceCount& p : pieces) {
    offsets.push_back(tokens.size());
    lengths.push_back(static_cast<uint32_t>(p.piece.size()));
    for (char c : p.piece) tokens.push_back(static_cast<unsigned char>(c));
  }

  // --- Initial pair statistics. Each piece is listed once per pair it holds.
  absl::flat_hash_map<uint64_t, PairStats> pairs;
  for (size_t i = 0; i < pieces.size(); ++i) {
    const int32_t* t = tokens.data() + offsets[i];
    for (uint32_t j = 0; j + 1 < lengths[i]; ++j) {
      PairStats& s = pairs[PairKey(t[j], t[j + 1])];
      s.count += pieces[i].count;
      if (s.pieces.empty() || s.pieces.back() != static_cast<int32_t>(i)) {
        s.pieces.push_back(static_cast<int32_t>(i));
      }
    }
  }
  std::vector<HeapEntry> heap;
  heap.reserve(pairs.size() * 2);
  for (const auto& [key, s] : pairs) heap.push_back(HeapEntry{s.count, key});
  std::make_heap(heap.begin(), heap.end(), LowerPriority());

  auto current_count = [&pairs](uint64_t key) -> int64_t {
    auto it = pairs.find(key);
    return it == pairs.end() ? 0 : it->second.count;
  };

  std::vector<uint64_t> increased;  // pairs that gained occurrences in this merge
  absl::flat_hash_set<uint64_t> increased_set;

  for (int64_t m = 0; m < options.num_merges; ++m) {
    // --- Pick the best pair: pop until the top entry is current. Every
    // increase pushes a fresh entry, so an entry's count is never below the
    // pair's current count; a stale entry is re-pushed with the current
    // count, which preserves the exact (count, pair) order.
    uint64_t best = 0;
    int64_t best_count = 0;
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), LowerPriority());
      HeapEntry top = heap.back();
      heap.pop_back();
      int64_t now = current_count(top.pair);
      if (now == top.count) {
        best = top.pair;
        best_count = now;
        break;
      }
      if (now > 0 && now < top.count) {
        heap.push_back(HeapEntry{now, top.pair});
        std::push_heap(heap.begin(), heap.end(), LowerPriority());
      }
      // now > top.count: a newer entry for this pair is already in the heap.
    }
    if (best_count < 2) break;  // no pair occurs twice: nothing left to learn

    const int32_t a = PairLeft(best);
    const int32_t b = PairRight(best);
    const int32_t x = 256 + static_cast<int32_t>(m);
    std::vector<int32_t> where = std::move(pairs[best].pieces);
    pairs.erase(best);  // after the merge no (a, b) remains anywhere

    // Pair count updates for one piece occurrence weight `w`. Pairs with the
    // merged pair itself are skipped (it is gone). A pair's count reaching 0
    // removes it: a pair can only (re)appear when its newer token is created,
    // so it will never come back.
    auto decrease = [&](int32_t l, int32_t r, int64_t w) {
      uint64_t key = PairKey(l, r);
      if (key == best) return;
      auto it = pairs.find(key);
      CheckOrDie(it != pairs.end() && it->second.count >= w, "TrainBpe: pair count underflow");
      it->second.count -= w;
      if (it->second.count <= 0) pairs.erase(it);
    };
    auto increase = [&](int32_t l, int32_t r, int64_t w, int32_t piece) {
      uint64_t key = PairKey(l, r);
      PairStats& s = pairs[key];
      s.count += w;
      if (s.pieces.empty() || s.pieces.back() != piece) s.pieces.push_back(piece);
      if (increased_set.insert(key).second) increased.push_back(key);
    };

    for (int32_t piece : where) {
      int32_t* t = tokens.data() + offsets[piece];
      const uint32_t n = lengths[piece];
      const int64_t w = pieces[piece].count;
      uint32_t read = 0;
      uint32_t write = 0;
      // In-place left-to-right replacement. t[0..write) is the new sequence,
      // t[read..n) the untouched rest. The left neighbour is read from the new
      // sequence (it may be x from the previous replacement) and the right
      // neighbour from the old one, which makes consecutive replacements
      // ("abab" -> "xx") come out exact.
      while (read < n) {
        if (read + 1 < n && t[read] == a && t[read + 1] == b) {
          if (write > 0) {
            decrease(t[write - 1], a, w);
            increase(t[write - 1], x, w, piece);
          }
          if (read + 2 < n) {
            decrease(b, t[read + 2], w);
            increase(x, t[read + 2], w, piece);
          }
          t[write++] = x;
          read += 2;
        } else {
          t[write++] = t[read++];
        }
      }
      lengths[piece] = write;
    }

    // Push one fresh heap entry per pair that gained occurrences.
    for (uint64_t key : increased) {
      int64_t now = current_count(key);
      if (now > 0) {
        heap.push_back(HeapEntry{now, key});
        std::push_heap(heap.begin(), heap.end(), LowerPriority());
      }
    }
    increased.clear();
    increased_set.clear();

    Merge merge{a, b, x};
    result.merges_.push_back(merge);
    result.merge_counts_.push_back(best_count);
    if (options.on_merge) options.on_merge(MergeEvent{m, merge, best_count});
  }
  return result;
}

std::vector<std::string> VocabFromMerges(absl::Span<const Merge> merges) {
  std::vector<std::string> vocab;
  vocab.reserve(256 + merges.size());
  for (int i = 0; i < 256; ++i) vocab.emplace_back(1, static_cast<char>(i));
  for (size_t i = 0; i < merges.size(); ++i) {
    const Merge& m = merges[i];
    CheckOrDie(m.id == static_cast<int32_t>(256 + i), "VocabFromMerges: merge id != 256 + index");
    CheckOrDie(m.left >= 0 && m.left < m.id && m.right >= 0 && m.right < m.id,
               "VocabFromMerges: merge refers to a later token");
    vocab.push_back(vocab[m.left] + vocab[m.right]);
  }
  return vocab;
}

std::vector<std::pair<std::string, std::vector<int32_t>>> SelectPieceCache(
    absl::Span<const PieceCount> pieces, const BpeTrainingResult& training, int64_t cache_size) {
  std::vector<std::pair<std::string, std::vector<int32_t>>> cache;
  if (cache_size <= 0) return cache;
  CheckOrDie(pieces.size() == training.num_pieces(),
             "SelectPieceCache: pieces differ from the training pieces");

  // Texts that are already one token (the original's vocabulary cache holds
  // every token whose bytes decode as strict UTF-8).
  const std::vector<std::string> vocab = VocabFromMerges(training.merges());
  absl::flat_hash_set<std::string_view> single_tokens;
  for (const std::string& bytes : vocab) {
    if (ValidUtf8Prefix(bytes) == bytes.size()) single_tokens.insert(bytes);
  }

  std::vector<size_t> order;
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (pieces[i].piece.empty()) continue;
    if (single_tokens.contains(pieces[i].piece)) continue;
    order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t l, size_t r) { return pieces[l].count > pieces[r].count; });
  if (order.size() > static_cast<size_t>(cache_size)) order.resize(static_cast<size_t>(cache_size));

  cache.reserve(order.size());
  for (size_t i : order) {
    absl::Span<const int32_t> t = training.PieceTokens(i);
    cache.emplace_back(std::string(pieces[i].piece), std::vector<int32_t>(t.begin(), t.end()));
  }
  return cache;
}

}  // namespace llm
