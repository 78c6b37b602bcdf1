// File helpers: whole-file reads and crash-safe (temp file + fsync + rename)
// writes. All functions return absl::Status errors that name the file.
#ifndef LLM_CORE_UTIL_FILE_UTIL_H_
#define LLM_CORE_UTIL_FILE_UTIL_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace llm {

// Reads the whole file at `path`. NotFound if it does not exist.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Writes `contents` to `path` atomically: the data goes to a temporary file
// in the same directory, is fsync'ed, then renamed over `path`. A crash at any
// point leaves either the old file or the new one, never a partial file.
absl::Status WriteFileAtomic(const std::string& path, std::string_view contents);

// Streams data to a temporary file next to `path` and renames it into place on
// Commit(). If the writer is destroyed without Commit(), the temporary file is
// removed and `path` is untouched. Not thread-safe.
class AtomicFileWriter {
 public:
  // Opens the temporary file. Check status() before writing.
  explicit AtomicFileWriter(std::string path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  const absl::Status& status() const { return status_; }
  // Appends bytes; errors are sticky and reported by Commit().
  void Write(const void* data, size_t size);
  void Write(std::string_view s) { Write(s.data(), s.size()); }
  // Flushes, fsyncs, renames over the destination and fsyncs the directory.
  absl::Status Commit();

 private:
  std::string path_;
  std::string tmp_path_;
  int fd_ = -1;
  absl::Status status_;
  std::string buffer_;
  void Flush();
};

// Creates `dir` and its parents if missing.
absl::Status MakeDirs(const std::string& dir);
bool PathExists(const std::string& path);
// Removes a directory tree (like rm -rf). OK if it does not exist.
absl::Status RemoveAll(const std::string& path);

}  // namespace llm

#endif  // LLM_CORE_UTIL_FILE_UTIL_H_
