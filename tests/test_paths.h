// Where tests find the source and build trees. tests/test_main.cc sets
// $LLM_SOURCE_DIR and $LLM_BINARY_DIR (from CMake, unless already set), so
// every test binary -- under ctest or run by hand -- finds the built tools.
#ifndef LLM_TESTS_TEST_PATHS_H_
#define LLM_TESTS_TEST_PATHS_H_

#include <cstdlib>
#include <string>

namespace llm {

// The build tree, e.g. "/work/main/build".
inline std::string TestBuildDir() {
  const char* dir = std::getenv("LLM_BINARY_DIR");
  return dir != nullptr && dir[0] != '\0' ? dir : "build";
}

// A binary built by this project, by its path in the build tree, e.g.
// TestBinary("tools/download_data") or TestBinary("server/llm_server").
inline std::string TestBinary(const std::string& relative_path) {
  return TestBuildDir() + "/" + relative_path;
}

}  // namespace llm

#endif  // LLM_TESTS_TEST_PATHS_H_
