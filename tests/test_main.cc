// main() for every GoogleTest binary of the project. Sets LLM_SOURCE_DIR and
// LLM_BINARY_DIR (unless already set) so tests can find the repo and the built
// tools whether they run under ctest or by hand. (CTest's ENVIRONMENT property
// cannot carry several variables through gtest_discover_tests in CMake 3.25.)
#include <gtest/gtest.h>

#include <cstdlib>

int main(int argc, char** argv) {
  ::setenv("LLM_SOURCE_DIR", LLM_TEST_SOURCE_DIR, /*overwrite=*/0);
  ::setenv("LLM_BINARY_DIR", LLM_TEST_BINARY_DIR, /*overwrite=*/0);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
