#include "core/util/file_util.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace llm {
namespace {

std::string TempDir() {
  std::string tmpl = std::filesystem::temp_directory_path().string() + "/llm_fileutil_XXXXXX";
  char* d = ::mkdtemp(tmpl.data());
  EXPECT_NE(d, nullptr);
  return tmpl;
}

TEST(FileUtilTest, AtomicWriteThenRead) {
  std::string dir = TempDir();
  std::string path = dir + "/a.bin";
  std::string data("hello\0world", 11);
  ASSERT_TRUE(WriteFileAtomic(path, data).ok());
  auto r = ReadFile(path);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, data);
  // Only the final file remains (no temporaries).
  int n = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) (void)e, ++n;
  EXPECT_EQ(n, 1);
  ASSERT_TRUE(RemoveAll(dir).ok());
}

TEST(FileUtilTest, ReadMissingFileIsNotFoundAndNamesPath) {
  auto r = ReadFile("/nonexistent/dir/file.txt");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("/nonexistent/dir/file.txt"), std::string::npos);
}

TEST(FileUtilTest, UncommittedWriterLeavesOldFileIntact) {
  std::string dir = TempDir();
  std::string path = dir + "/f";
  ASSERT_TRUE(WriteFileAtomic(path, "old").ok());
  {
    AtomicFileWriter w(path);
    ASSERT_TRUE(w.status().ok());
    w.Write("new contents that are never committed");
  }
  EXPECT_EQ(*ReadFile(path), "old");
  int n = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) (void)e, ++n;
  EXPECT_EQ(n, 1);
  ASSERT_TRUE(RemoveAll(dir).ok());
}

TEST(FileUtilTest, KilledWriterLeavesOldFileIntact) {
  std::string dir = TempDir();
  std::string path = dir + "/f";
  ASSERT_TRUE(WriteFileAtomic(path, "old").ok());
  pid_t pid = ::fork();
  if (pid == 0) {
    AtomicFileWriter w(path);
    std::string big(1 << 22, 'x');
    w.Write(big);
    ::_exit(0);  // dies before Commit(), as a SIGKILL would
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_EQ(*ReadFile(path), "old");
  ASSERT_TRUE(RemoveAll(dir).ok());
}

TEST(FileUtilTest, WriteIntoMissingDirectoryFails) {
  auto s = WriteFileAtomic("/nonexistent/dir/x", "a");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/nonexistent/dir/x"), std::string::npos);
}

}  // namespace
}  // namespace llm
