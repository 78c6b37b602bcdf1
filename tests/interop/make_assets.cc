// interop_make_assets DIR: writes the tiny test tokenizer ("tiny") and model
// ("tiny", iteration 0) of tests/server/test_util.h under DIR, for the Python
// interoperability test (which cannot call Tokenizer::Save itself).
#include <cstdio>
#include <string>

#include "tests/server/test_util.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: interop_make_assets DIR\n");
    return 2;
  }
  absl::Status s = llm::testing::WriteTinyAssets(argv[1]);
  if (!s.ok()) {
    std::fprintf(stderr, "interop_make_assets: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  return 0;
}
