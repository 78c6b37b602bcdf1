// Shared helpers for the fuzz targets (tests/fuzz/fuzz_*.cc).
//
// Every target is a function `int FuzzNAME(const uint8_t* data, size_t size)`
// that feeds the bytes to one of our parsers / encoders and checks properties
// that must hold for ANY input (round trips, error codes, no crash). The same
// function is called by:
//   * libFuzzer (LLVMFuzzerTestOneInput, compiled with -DLLM_FUZZ_ENTRY=FuzzNAME
//     in the clang -DLLM_FUZZ=ON build, see tests/fuzz/CMakeLists.txt), and
//   * tests/fuzz/replay_test.cc, an ordinary GoogleTest binary in every build
//     that replays the checked-in seed corpora and crash regressions.
// A violated property prints a message and abort()s, which libFuzzer reports
// as a crash (and saves the input) and which fails the replay test.
#ifndef LLM_TESTS_FUZZ_FUZZ_UTIL_H_
#define LLM_TESTS_FUZZ_FUZZ_UTIL_H_

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace llm {
namespace fuzz {

// Aborts with a message when a property does not hold.
#define FUZZ_CHECK(cond, msg)                                                       \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed: %s\n", __FILE__, __LINE__, \
                   #cond, std::string(msg).c_str());                                \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

// A private scratch directory for this process (created once, under $TMPDIR
// or /tmp). Targets overwrite their files in it on every input.
inline const std::string& ScratchDir() {
  static const std::string dir = [] {
    const char* t = std::getenv("TMPDIR");
    std::string tmpl = std::string(t && *t ? t : "/tmp") + "/llm_fuzz.XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    return tmpl;
  }();
  return dir;
}

// Writes `bytes` to `path` (plain write; these are scratch files).
inline void WriteRaw(const std::string& path, std::string_view bytes) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  FUZZ_CHECK(fd >= 0, "cannot create " + path);
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    FUZZ_CHECK(n > 0, "cannot write " + path);
    done += static_cast<size_t>(n);
  }
  close(fd);
}

inline void RemoveIfExists(const std::string& path) { unlink(path.c_str()); }

}  // namespace fuzz
}  // namespace llm

// The libFuzzer entry point, only in the fuzzer build.
#ifdef LLM_FUZZ_ENTRY
#define LLM_DEFINE_FUZZ_ENTRY(fn)                                             \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { \
    return fn(data, size);                                                  \
  }
#else
#define LLM_DEFINE_FUZZ_ENTRY(fn)
#endif

#endif  // LLM_TESTS_FUZZ_FUZZ_UTIL_H_
