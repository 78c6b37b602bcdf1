#include "core/tokenizer/chunked_encode.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/tokenizer/utf8.h"
#include "core/util/status_macros.h"

namespace llm {

bool IsSafeChunkBoundary(std::string_view text, size_t p) {
  if (p < 2 || p >= text.size()) return false;
  const unsigned char before = static_cast<unsigned char>(text[p - 2]);
  const unsigned char c = static_cast<unsigned char>(text[p]);
  const bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
  return text[p - 1] == '\n' && before >= 0x21 && before <= 0x7E && letter;
}

std::vector<size_t> SafeChunkBoundaries(std::string_view text, size_t target_chunk_bytes) {
  std::vector<size_t> cuts = {0};
  const size_t step = std::max<size_t>(target_chunk_bytes, 1);
  size_t p = step;
  while (p < text.size()) {
    // Next newline at or after p - 1, so text[q] == '\n' and the cut is q + 1 >= p.
    size_t q = text.find('\n', p - 1);
    if (q == std::string_view::npos) break;
    if (IsSafeChunkBoundary(text, q + 1)) {
      cuts.push_back(q + 1);
      p = q + 1 + step;
    } else {
      p = q + 2;
    }
  }
  if (!text.empty()) cuts.push_back(text.size());
  return cuts;
}

absl::StatusOr<std::vector<int32_t>> EncodeChunked(const Tokenizer& tokenizer,
                                                   std::string_view text,
                                                   const ChunkedEncodeOptions& options) {
  // Validate up front so invalid-UTF-8 errors carry whole-text offsets.
  RETURN_IF_ERROR(ValidateUtf8(text));

  bool specials_safe = true;
  for (const auto& [special, id] : tokenizer.special_tokens()) {
    if (special.find('\n') != std::string::npos) specials_safe = false;
  }
  std::vector<size_t> cuts = specials_safe ? SafeChunkBoundaries(text, options.target_chunk_bytes)
                                           : std::vector<size_t>{0, text.size()};
  if (cuts.size() < 2) return std::vector<int32_t>{};
  const size_t num_chunks = cuts.size() - 1;

  int threads = options.num_threads > 0 ? options.num_threads
                                        : static_cast<int>(std::thread::hardware_concurrency());
  threads = std::max(1, std::min<int>(threads, static_cast<int>(num_chunks)));

  // results[i] is set once chunk i is encoded. After a failure in chunk f,
  // chunks above f are skipped but those below are still encoded, so the
  // error reported is always the one of the lowest failing chunk.
  std::vector<std::optional<absl::StatusOr<std::vector<int32_t>>>> results(num_chunks);
  std::atomic<size_t> next{0};
  std::atomic<size_t> first_failed{num_chunks};
  std::mutex mu;
  std::condition_variable cv;
  size_t done_bytes = 0;
  size_t finished_workers = 0;

  auto worker = [&] {
    while (true) {
      const size_t i = next.fetch_add(1);
      if (i >= num_chunks || i > first_failed.load()) break;
      std::string_view chunk = text.substr(cuts[i], cuts[i + 1] - cuts[i]);
      absl::StatusOr<std::vector<int32_t>> r = tokenizer.Encode(chunk, options.policy);
      if (!r.ok()) {
        size_t f = first_failed.load();
        while (i < f && !first_failed.compare_exchange_weak(f, i)) {
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      results[i] = std::move(r);
      done_bytes += chunk.size();
      cv.notify_one();
    }
    std::lock_guard<std::mutex> lock(mu);
    ++finished_workers;
    cv.notify_one();
  };

  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
  {
    // The calling thread only reports progress while the pool works.
    std::unique_lock<std::mutex> lock(mu);
    while (finished_workers < pool.size()) {
      cv.wait(lock);
      if (options.progress) options.progress(done_bytes, text.size());
    }
    if (options.progress) options.progress(done_bytes, text.size());  // final state
  }
  for (std::thread& t : pool) t.join();

  size_t total = 0;
  for (size_t i = 0; i < num_chunks; ++i) {
    if (!results[i].has_value()) continue;  // skipped: above a failed chunk
    const absl::StatusOr<std::vector<int32_t>>& r = *results[i];
    if (!r.ok()) {
      return absl::Status(r.status().code(),
                          absl::StrCat("in text bytes [", cuts[i], ", ", cuts[i + 1],
                                       ") (offsets are relative to byte ", cuts[i],
                                       "): ", r.status().message()));
    }
    total += r->size();
  }
  std::vector<int32_t> out;
  out.reserve(total);
  for (const auto& r : results) out.insert(out.end(), (*r)->begin(), (*r)->end());
  return out;
}

}  // namespace llm
