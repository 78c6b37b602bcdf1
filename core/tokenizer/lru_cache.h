// Bounded, thread-safe LRU cache from piece text to its token ids, used by
// Tokenizer::Encode for pieces that miss the trained piece cache.
//
// The cache is split into shards chosen by a hash of the piece; each shard is
// an independent LRU list guarded by its own mutex, so concurrent encoders
// rarely contend. Eviction is exact LRU within a shard (and globally when the
// capacity is small enough that a single shard is used). The total number of
// entries never exceeds the capacity.
#ifndef LLM_CORE_TOKENIZER_LRU_CACHE_H_
#define LLM_CORE_TOKENIZER_LRU_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace llm {

class PieceLruCache {
 public:
  // Capacities below this use a single shard (exact global LRU order).
  static constexpr size_t kMinShardedCapacity = 1024;
  static constexpr size_t kNumShards = 32;

  // `capacity` = maximum number of pieces kept (0: the cache stores nothing).
  explicit PieceLruCache(size_t capacity) : capacity_(capacity) {
    const size_t num_shards = capacity >= kMinShardedCapacity ? kNumShards : 1;
    shards_.reserve(num_shards);
    for (size_t i = 0; i < num_shards; ++i) {
      // Spread the capacity; the shard sizes sum exactly to `capacity`.
      size_t cap = capacity / num_shards + (i < capacity % num_shards ? 1 : 0);
      shards_.push_back(std::make_unique<Shard>(cap));
    }
  }

  // On a hit, appends the cached tokens to `*out`, marks the piece as most
  // recently used and returns true. Counts a hit or a miss.
  bool Lookup(std::string_view piece, std::vector<int32_t>* out) {
    const absl::string_view key(piece.data(), piece.size());
    Shard& s = ShardFor(key);
    std::lock_guard<std::mutex> lock(s.mu);
    auto it = s.index.find(key);
    if (it == s.index.end()) {
      ++s.misses;
      return false;
    }
    ++s.hits;
    const uint32_t n = it->second;
    s.MoveToFront(n);
    const std::vector<int32_t>& t = s.nodes[n].tokens;
    out->insert(out->end(), t.begin(), t.end());
    return true;
  }

  // Stores `tokens` for `piece` (replacing an existing entry), evicting the
  // least recently used entry of the shard when it is full.
  void Insert(std::string_view piece, absl::Span<const int32_t> tokens) {
    const absl::string_view key(piece.data(), piece.size());
    Shard& s = ShardFor(key);
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.capacity == 0) return;
    auto it = s.index.find(key);
    uint32_t n;
    if (it != s.index.end()) {
      n = it->second;
    } else if (s.index.size() < s.capacity) {
      n = static_cast<uint32_t>(s.nodes.size());
      s.nodes.emplace_back();
      s.nodes[n].key = std::string(piece);
      s.index.emplace(s.nodes[n].key, n);
      s.LinkFront(n);
    } else {
      n = s.tail;  // evict the least recently used entry, reuse its node
      s.index.erase(s.nodes[n].key);
      s.nodes[n].key = std::string(piece);
      s.index.emplace(s.nodes[n].key, n);
    }
    s.nodes[n].tokens.assign(tokens.begin(), tokens.end());
    s.MoveToFront(n);
  }

  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    size_t size = 0;
  };
  Stats GetStats() const {
    Stats st;
    for (const auto& s : shards_) {
      std::lock_guard<std::mutex> lock(s->mu);
      st.hits += s->hits;
      st.misses += s->misses;
      st.size += s->index.size();
    }
    return st;
  }

  // Drops all entries and resets the counters.
  void Clear() {
    for (auto& s : shards_) {
      std::lock_guard<std::mutex> lock(s->mu);
      s->index.clear();
      s->nodes.clear();
      s->head = s->tail = kNil;
      s->hits = s->misses = 0;
    }
  }

  size_t capacity() const { return capacity_; }

 private:
  static constexpr uint32_t kNil = 0xFFFFFFFFu;

  struct Node {
    std::string key;
    std::vector<int32_t> tokens;
    uint32_t prev = kNil;
    uint32_t next = kNil;
  };

  // One LRU list: nodes linked most-recent (head) to least-recent (tail).
  struct Shard {
    explicit Shard(size_t cap) : capacity(cap) {}
    // std::mutex rather than absl::Mutex: ThreadSanitizer intercepts pthread
    // mutexes, but cannot see inside Debian's uninstrumented libabsl (every
    // access would be reported as a race).
    mutable std::mutex mu;
    size_t capacity;
    absl::flat_hash_map<std::string, uint32_t> index;
    std::vector<Node> nodes;
    uint32_t head = kNil;
    uint32_t tail = kNil;
    uint64_t hits = 0;
    uint64_t misses = 0;

    void Unlink(uint32_t n) {
      Node& x = nodes[n];
      if (x.prev != kNil) nodes[x.prev].next = x.next; else head = x.next;
      if (x.next != kNil) nodes[x.next].prev = x.prev; else tail = x.prev;
      x.prev = x.next = kNil;
    }
    void LinkFront(uint32_t n) {
      nodes[n].prev = kNil;
      nodes[n].next = head;
      if (head != kNil) nodes[head].prev = n;
      head = n;
      if (tail == kNil) tail = n;
    }
    void MoveToFront(uint32_t n) {
      if (head == n) return;
      Unlink(n);
      LinkFront(n);
    }
  };

  Shard& ShardFor(absl::string_view key) {
    if (shards_.size() == 1) return *shards_[0];
    const size_t h = absl::Hash<absl::string_view>()(key);
    return *shards_[(h >> 7) % shards_.size()];
  }

  size_t capacity_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace llm

#endif  // LLM_CORE_TOKENIZER_LRU_CACHE_H_
