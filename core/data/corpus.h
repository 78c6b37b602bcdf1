// The text corpus: fetching it (local file, HTTPS, or a shared offline copy),
// verifying it (size + SHA-256), and cutting it into train/val/test splits.
// This is the C++ counterpart of the original's `make download_text`
// (scripts/download_and_split_data.py); tools/download_data.cc is a thin
// command-line wrapper around DownloadAndSplit().
//
// Layout written under TextDir() (assets/text by default):
//   raw.txt    the whole corpus, byte-for-byte as fetched and verified
//   train.txt  the first train_chars characters
//   val.txt    the next val_chars characters
//   test.txt   the last test_chars characters
// Splits are cut by Unicode characters (code points), exactly as the
// original slices a Python str; for the ASCII Shakespeare corpus characters
// and bytes coincide.
#ifndef LLM_CORE_DATA_CORPUS_H_
#define LLM_CORE_DATA_CORPUS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace llm {

// Everything that identifies a corpus and how it is split.
struct CorpusSpec {
  std::string name;          // for messages, e.g. "shakespeare"
  std::string url;           // where the original downloads it
  int64_t total_bytes = 0;   // size of raw.txt in bytes
  int64_t total_chars = 0;   // size of raw.txt in characters (code points)
  std::string sha256_hex;    // lowercase hex SHA-256 of raw.txt
  int64_t train_chars = 0;   // train + val + test == total_chars
  int64_t val_chars = 0;
  int64_t test_chars = 0;
};

// The complete works of Shakespeare (the original's TextDataRegistry):
// 5,458,199 bytes of ASCII, val and test are 1 MiB (1,048,576 chars) each and
// train is the remaining first 3,361,047 chars.
const CorpusSpec& ShakespeareCorpus();

// Lowercase hex SHA-256 of `data`, computed with OpenSSL's EVP API.
// Thread-safe.
std::string Sha256Hex(std::string_view data);

// Checks `data` against spec.total_bytes and spec.sha256_hex. On mismatch
// returns DataLoss with a message naming `source`, the expected and the actual
// value. Thread-safe.
absl::Status VerifyCorpus(std::string_view data, const CorpusSpec& spec, const std::string& source);

// Views into the text passed to SplitCorpus (they do not own memory).
struct CorpusSplits {
  std::string_view train;
  std::string_view val;
  std::string_view test;
};

// Cuts `text` into train/val/test by character counts from `spec`. The text
// must be valid UTF-8 with exactly spec.total_chars characters; otherwise
// InvalidArgument (naming the byte offset of invalid UTF-8, or the counts).
absl::StatusOr<CorpusSplits> SplitCorpus(std::string_view text, const CorpusSpec& spec);

// Options for HttpGet.
struct FetchOptions {
  long connect_timeout_seconds = 5;   // DNS + TCP + TLS handshake
  long total_timeout_seconds = 600;   // whole transfer
  long low_speed_seconds = 30;        // abort if below 1 KiB/s for this long
  size_t max_bytes = 64u << 20;       // refuse larger bodies
  int64_t expected_bytes = 0;         // progress-bar total if the server sends none
  bool show_progress = true;          // progress bar on stderr
};

// Downloads `url` (http/https only; follows up to 5 redirects) into memory
// with libcurl. Errors name the URL:
//   Unavailable       DNS / connect / TLS / timeout failures (no network)
//   NotFound etc.     HTTP status >= 400 (message includes the status)
//   ResourceExhausted body larger than max_bytes
// Thread-compatible (uses curl_global_init on first call).
absl::StatusOr<std::string> HttpGet(const std::string& url, const FetchOptions& options = {});

// The offline copies DownloadAndSplit falls back to, in order:
// $LLM_SHARED_DIR/data/shakespeare.txt (if the variable is set) and
// ../shared/data/shakespeare.txt (relative to the working directory, which
// is the repo root for tools and tests).
std::vector<std::string> DefaultFallbackPaths();

struct DownloadOptions {
  CorpusSpec spec = ShakespeareCorpus();
  std::string from;               // local source file; if set, nothing else is tried
  std::string url;                // empty = spec.url
  bool overwrite = false;         // redo even if valid files are present
  bool allow_network = true;      // false = never touch the network
  std::vector<std::string> fallback_paths = DefaultFallbackPaths();
  FetchOptions fetch;
  // Receives one human-readable line per step (may be null).
  std::function<void(const std::string&)> log;
};

struct DownloadReport {
  bool skipped = false;           // files were already present and valid
  std::string source;             // e.g. "https://..." or "file ../shared/..."
  std::string text_dir;           // where the files are
  int64_t raw_bytes = 0;
  int64_t train_bytes = 0, val_bytes = 0, test_bytes = 0;
  int64_t train_chars = 0, val_chars = 0, test_chars = 0;
};

// Makes TextDir()/{raw,train,val,test}.txt exist and be valid.
//  1. Unless `overwrite`, if all four files exist and are valid (raw.txt
//     matches size + SHA-256 and the splits equal its slices), does nothing.
//  2. Fetches the corpus from, in order: `from` if set (errors are final);
//     else `url` over HTTPS (when allow_network); else, if that failed or the
//     network is disallowed, the first existing `fallback_paths` entry.
//  3. Verifies it (a wrong size or checksum is DataLoss naming expected and
//     actual values; never accepted), splits it and writes all four files
//     atomically.
// If no source is available, returns FailedPrecondition explaining how to
// supply the file (`--from PATH`). Not thread-safe (writes files).
absl::StatusOr<DownloadReport> DownloadAndSplit(const DownloadOptions& options);

}  // namespace llm

#endif  // LLM_CORE_DATA_CORPUS_H_
