// Replays the fuzz seed corpora and crash regressions through the fuzz target
// bodies (see fuzz_util.h). A property violation abort()s, failing the test;
// the input's path is printed first so the failure is easy to reproduce with
// the libFuzzer binary (`build-fuzz/tests/fuzz/fuzz_NAME FILE`).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/util/file_util.h"
#include "gtest/gtest.h"
#include "tests/fuzz/fuzz_targets.h"

namespace llm {
namespace {

using Body = int (*)(const uint8_t*, size_t);

std::string SourceDir() {
  const char* s = std::getenv("LLM_SOURCE_DIR");
  return s ? s : ".";
}

// Runs `body` on every file under tests/fuzz/{corpus,regressions}/NAME.
// Returns the number of inputs replayed.
int Replay(const std::string& name, Body body) {
  int n = 0;
  for (const char* kind : {"corpus", "regressions"}) {
    const std::filesystem::path dir = SourceDir() + "/tests/fuzz/" + kind + "/" + name;
    if (!std::filesystem::is_directory(dir)) continue;
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      if (e.is_regular_file()) files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      auto bytes = ReadFile(f.string());
      EXPECT_TRUE(bytes.ok()) << bytes.status();
      if (!bytes.ok()) continue;
      std::fprintf(stderr, "replaying %s\n", f.string().c_str());
      body(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size());
      ++n;
    }
  }
  return n;
}

TEST(FuzzReplayTest, Encode) { EXPECT_GT(Replay("fuzz_encode", fuzz::FuzzEncode), 0); }
TEST(FuzzReplayTest, SpecialTokens) {
  EXPECT_GT(Replay("fuzz_special_tokens", fuzz::FuzzSpecialTokens), 0);
}
TEST(FuzzReplayTest, TokenizerFiles) {
  EXPECT_GT(Replay("fuzz_tokenizer_files", fuzz::FuzzTokenizerFiles), 0);
}
TEST(FuzzReplayTest, Checkpoint) { EXPECT_GT(Replay("fuzz_checkpoint", fuzz::FuzzCheckpoint), 0); }
TEST(FuzzReplayTest, TokenFile) { EXPECT_GT(Replay("fuzz_token_file", fuzz::FuzzTokenFile), 0); }
TEST(FuzzReplayTest, Request) { EXPECT_GT(Replay("fuzz_request", fuzz::FuzzRequest), 0); }

}  // namespace
}  // namespace llm
