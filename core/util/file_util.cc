#include "core/util/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace llm {
namespace {

absl::Status ErrnoError(absl::string_view what, const std::string& path, int err) {
  std::string msg = absl::StrCat(what, " '", path, "': ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(msg);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(msg);
  return absl::InternalError(msg);
}

std::string DirName(const std::string& path) {
  auto parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", path, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoError("cannot stat", path, err);
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat("'", path, "' is a directory, not a file"));
  }
  // Read the size fstat reported, then keep reading in case the file grew
  // (or is a pipe/proc file reporting 0); the common case allocates once.
  std::string out;
  out.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  char extra[65536];
  while (true) {
    char* dst = done < out.size() ? out.data() + done : extra;
    size_t room = done < out.size() ? out.size() - done : sizeof(extra);
    ssize_t n = ::read(fd, dst, room);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return ErrnoError("cannot read", path, err);
    }
    if (n == 0) break;
    if (dst == extra) {
      out.resize(done);
      out.append(extra, static_cast<size_t>(n));
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(done);
  return out;
}

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)) {
  static std::atomic<uint64_t> counter{0};
  tmp_path_ = absl::StrCat(path_, ".tmp.", ::getpid(), ".", counter.fetch_add(1));
  fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) status_ = ErrnoError("cannot create", tmp_path_, errno);
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_path_.c_str());
  }
}

void AtomicFileWriter::Flush() {
  size_t done = 0;
  while (status_.ok() && done < buffer_.size()) {
    ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      status_ = ErrnoError("cannot write", tmp_path_, errno);
      break;
    }
    done += static_cast<size_t>(n);
  }
  buffer_.clear();
}

void AtomicFileWriter::Write(const void* data, size_t size) {
  if (!status_.ok()) return;
  buffer_.append(static_cast<const char*>(data), size);
  if (buffer_.size() >= (1u << 20)) Flush();
}

absl::Status AtomicFileWriter::Commit() {
  if (fd_ < 0) return status_.ok() ? absl::FailedPreconditionError("already committed") : status_;
  Flush();
  if (status_.ok() && ::fsync(fd_) != 0) status_ = ErrnoError("cannot fsync", tmp_path_, errno);
  if (::close(fd_) != 0 && status_.ok()) status_ = ErrnoError("cannot close", tmp_path_, errno);
  fd_ = -1;
  if (!status_.ok()) {
    ::unlink(tmp_path_.c_str());
    return status_;
  }
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    status_ = ErrnoError("cannot rename into place", path_, errno);
    ::unlink(tmp_path_.c_str());
    return status_;
  }
  int dfd = ::open(DirName(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return absl::OkStatus();
}

absl::Status WriteFileAtomic(const std::string& path, std::string_view contents) {
  AtomicFileWriter w(path);
  if (!w.status().ok()) return w.status();
  w.Write(contents);
  return w.Commit();
}

absl::Status MakeDirs(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create directory '", dir, "': ", ec.message()));
  return absl::OkStatus();
}

bool PathExists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

absl::Status RemoveAll(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot remove '", path, "': ", ec.message()));
  return absl::OkStatus();
}

}  // namespace llm
