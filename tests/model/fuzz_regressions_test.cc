// Unit tests for checkpoint-loader bugs found by fuzz_checkpoint (the raw
// inputs are in tests/fuzz/regressions/fuzz_checkpoint/).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <unistd.h>
#include <string>

#include "core/model/checkpoint.h"
#include "core/model/config.h"
#include "core/util/file_util.h"

namespace llm {
namespace {

// A config field set to INT32_MAX in an otherwise valid file (checksum
// repaired) made LoadCheckpoint build a tensor table with billions of
// entries (a hang / out of memory). Now it is rejected at once because the
// file cannot hold that many parameters.
TEST(FuzzRegressionTest, HugeConfigInSmallCheckpointIsRejectedQuickly) {
  const std::string dir = std::filesystem::temp_directory_path().string();
  const std::string path = dir + "/llm_fuzz_regression_" + std::to_string(::getpid()) + ".bin";
  CheckpointData d;
  d.config.vocab_size = 7;
  d.config.context = 3;
  d.config.n_blocks = 1;
  d.config.d_model = 4;
  d.config.n_heads = 2;
  d.config.d_head = 2;
  d.config.d_ff = 5;
  d.params.assign(NumParameters(d.config), 0.5f);
  ASSERT_TRUE(SaveCheckpoint(path, d).ok());
  const std::string good = ReadFile(path).value();
  // ModelConfig fields are i32 at offsets 24 (vocab) .. 52 (activation).
  for (size_t field_offset : {24u, 28u, 32u, 36u, 40u, 44u, 48u}) {
    std::string bad = good;
    const int32_t huge = 0x7FFFFFFF;
    std::memcpy(bad.data() + field_offset, &huge, 4);
    const uint64_t h = Fnv1a64(bad.data(), bad.size() - 8);
    std::memcpy(bad.data() + bad.size() - 8, &h, 8);
    ASSERT_TRUE(WriteFileAtomic(path, bad).ok());
    const auto t0 = std::chrono::steady_clock::now();
    auto r = LoadCheckpoint(path);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_FALSE(r.ok()) << "field at " << field_offset;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
    EXPECT_NE(r.status().message().find(path), absl::string_view::npos) << r.status();
    EXPECT_LT(secs, 1.0) << "field at " << field_offset;
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace llm
