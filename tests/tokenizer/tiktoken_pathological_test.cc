// Pathological inputs for OpenAI's cl100k_base and o200k_base (built from the
// rank files with FromRanks, as convert_tiktoken's checkpoints load): 1 MiB of
// one letter, 1 MiB of spaces and a 1 MiB base64 blob must each encode in
// under 1 s of thread CPU time (no quadratic blow-up; CPU time rather than
// wall time because the test machine is shared).
//
// Correctness: the 32 KiB versions are compared with npm tiktoken@1.0.22
// (token count, "all tokens equal" and FNV-1a-32 over the ids, computed in
// node by:
//   ids = Array.from(get_encoding(E).encode(t, [], []));
//   h = 0x811c9dc5; for (v of ids) { h ^= v; h = Math.imul(h, 0x01000193) >>> 0; }
// ). tiktoken itself (WASM and tiktoken-rs) aborts with a regex stack
// overflow on the 1 MiB letter run, so the 1 MiB results are checked by the
// decode round trip and by consistency with the 32 KiB reference.
#include <time.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "core/tokenizer/pretokenizer.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/file_util.h"

namespace llm {
namespace {

std::string RankFile(const std::string& name) {
  const char* s = std::getenv("LLM_SOURCE_DIR");
  const std::string src = s ? s : ".";
  const std::string p = src + "/../shared/data/tiktoken/" + name + ".tiktoken";
  return PathExists(p) ? p : "";
}

std::unique_ptr<Tokenizer> Load(const std::string& name) {
  const std::string path = RankFile(name);
  if (path.empty()) return nullptr;
  auto ranks = ReadTiktokenFile(path);
  if (!ranks.ok()) return nullptr;
  auto t = Tokenizer::FromRanks(SplitPatternByName(name).value(), std::move(ranks).value());
  return t.ok() ? std::move(t).value() : nullptr;
}

double ThreadCpuSeconds() {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Base64 of `n` bytes from the LCG x = x * 1103515245 + 12345 (mod 2^32),
// byte = x >> 24, starting at x = 12345 (in node: x = (Math.imul(x,
// 1103515245) + 12345) >>> 0; buf[i] = x >>> 24; then buf.toString("base64")).
std::string Base64Blob(size_t n) {
  uint32_t x = 12345;
  std::string bytes(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    bytes[i] = static_cast<char>(x >> 24);
  }
  return absl::Base64Escape(bytes);
}

uint32_t Fnv1a32(const std::vector<int32_t>& ids) {
  uint32_t h = 0x811c9dc5u;
  for (int32_t v : ids) {
    h ^= static_cast<uint32_t>(v);
    h *= 0x01000193u;
  }
  return h;
}

bool AllSame(const std::vector<int32_t>& ids) {
  for (int32_t v : ids) {
    if (v != ids[0]) return false;
  }
  return true;
}

struct Reference {
  const char* input;  // "a", "spaces" or "b64"
  size_t tokens;      // for the 32 KiB input
  bool all_same;
  uint32_t fnv;
};

struct EncodingCase {
  const char* name;
  std::vector<Reference> refs;
};

class TiktokenPathologicalTest : public ::testing::TestWithParam<EncodingCase> {};

std::string Input(const std::string& kind, size_t size) {
  if (kind == "a") return std::string(size, 'a');
  if (kind == "spaces") return std::string(size, ' ');
  return Base64Blob(size / 4 * 3);  // exactly `size` chars for size % 4 == 0
}

TEST_P(TiktokenPathologicalTest, MatchesTiktokenAt32KiBAndIsFastAt1MiB) {
  const EncodingCase& c = GetParam();
  std::unique_ptr<Tokenizer> tok = Load(c.name);
  if (tok == nullptr) {
    GTEST_SKIP() << c.name << ".tiktoken not found in $LLM_SOURCE_DIR/../shared/data/tiktoken";
  }
  for (const Reference& r : c.refs) {
    SCOPED_TRACE(std::string(c.name) + " " + r.input);
    const std::string small = Input(r.input, 1 << 15);
    ASSERT_EQ(small.size(), 1u << 15);
    auto ids = tok->Encode(small, SpecialTokenPolicy::PlainText());
    ASSERT_TRUE(ids.ok()) << ids.status();
    EXPECT_EQ(ids->size(), r.tokens);
    EXPECT_EQ(AllSame(*ids), r.all_same);
    EXPECT_EQ(Fnv1a32(*ids), r.fnv);

    const std::string big = Input(r.input, 1 << 20);
    ASSERT_EQ(big.size(), 1u << 20);
    tok->ClearCache();
    const double t0 = ThreadCpuSeconds();
    auto big_ids = tok->Encode(big, SpecialTokenPolicy::PlainText());
    const double secs = ThreadCpuSeconds() - t0;
    ASSERT_TRUE(big_ids.ok()) << big_ids.status();
    EXPECT_LT(secs, 1.0) << "1 MiB encode took " << secs << " s CPU";
    EXPECT_EQ(*tok->DecodeBytes(*big_ids), big);
    if (r.all_same) {
      // Same structure as the reference: 32x the tokens, all equal to the
      // 32 KiB result's token.
      EXPECT_EQ(big_ids->size(), 32 * r.tokens);
      EXPECT_TRUE(AllSame(*big_ids));
      EXPECT_EQ((*big_ids)[0], (*ids)[0]);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Encodings, TiktokenPathologicalTest,
    ::testing::Values(EncodingCase{"cl100k_base",
                                   {{"a", 4096, true, 0x34ff9dc5u},
                                    {"spaces", 256, true, 0x1fed91c5u},
                                    {"b64", 23504, false, 0x234d255fu}}},
                      EncodingCase{"o200k_base",
                                   {{"a", 4096, true, 0x87ededc5u},
                                    {"spaces", 256, true, 0x2087d1c5u},
                                    {"b64", 22299, false, 0x490f36ccu}}}),
    [](const ::testing::TestParamInfo<EncodingCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace llm
