// Checkpoint format: round trip, documented byte layout, every load error,
// and crash-safety of writes.
#include "core/model/checkpoint.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <string>

#include "core/util/file_util.h"
#include "core/util/paths.h"

namespace llm {
namespace {

std::string TempDir() {
  std::string tmpl = std::filesystem::temp_directory_path().string() + "/llm_ckpt_XXXXXX";
  char* d = ::mkdtemp(tmpl.data());
  EXPECT_NE(d, nullptr);
  return tmpl;
}

ModelConfig TinyConfig() {
  ModelConfig c;
  c.vocab_size = 11;
  c.context = 5;
  c.n_blocks = 2;
  c.d_model = 4;
  c.n_heads = 2;
  c.d_head = 3;
  c.d_ff = 7;
  c.activation = Activation::kGelu;
  return c;
}

CheckpointData MakeData(bool with_optimizer, uint32_t seed = 1) {
  CheckpointData d;
  d.config = TinyConfig();
  d.tokenizer_name = "tiny_tok";
  d.tokenizer_fingerprint = "0123456789abcdef";
  d.step = 123;
  d.seed = 0xfeedfacecafebeefull;
  const size_t n = NumParameters(d.config);
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist;
  d.params.resize(n);
  for (float& p : d.params) p = dist(rng);
  // Values whose bits must survive exactly.
  d.params[0] = -0.0f;
  d.params[1] = std::numeric_limits<float>::denorm_min();
  d.params[2] = std::numeric_limits<float>::quiet_NaN();
  d.params[3] = std::numeric_limits<float>::infinity();
  if (with_optimizer) {
    d.has_optimizer = true;
    d.adam_m.resize(n);
    d.adam_v.resize(n);
    for (float& p : d.adam_m) p = dist(rng);
    for (float& p : d.adam_v) p = std::abs(dist(rng));
    d.adam_step = 123;
  }
  d.extra = "{\"lr\": 0.001, \"note\": \"hello\"}";
  return d;
}

bool SameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::string ReadAll(const std::string& path) {
  auto r = ReadFile(path);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : std::string();
}

void WriteRaw(const std::string& path, const std::string& bytes) {
  ASSERT_TRUE(WriteFileAtomic(path, bytes).ok());
}

// Recomputes the trailing checksum after a deliberate edit, so the structural
// checks (not the checksum) are what rejects the file.
void FixChecksum(std::string* bytes) {
  size_t body = bytes->size() - 8;
  uint64_t h = Fnv1a64(bytes->data(), body);
  std::memcpy(bytes->data() + body, &h, 8);
}

template <typename T>
T At(const std::string& b, size_t off) {
  T v;
  std::memcpy(&v, b.data() + off, sizeof(T));
  return v;
}

void ExpectErrorContains(const absl::Status& s, absl::StatusCode code,
                         const std::vector<std::string>& parts) {
  EXPECT_EQ(s.code(), code) << s;
  for (const auto& p : parts)
    EXPECT_NE(s.message().find(p), absl::string_view::npos) << "'" << p << "' not in: " << s;
}

TEST(Fnv1a64Test, KnownVectors) {
  // Published FNV-1a 64 test vectors.
  EXPECT_EQ(Fnv1a64("", 0), 0xcbf29ce484222325ull);
  EXPECT_EQ(Fnv1a64("a", 1), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(Fnv1a64("foobar", 6), 0x85944171f73967e8ull);
  // Streaming equals one shot.
  EXPECT_EQ(Fnv1a64("bar", 3, Fnv1a64("foo", 3)), Fnv1a64("foobar", 6));
}

TEST(CheckpointTest, RoundTripIsBitwiseWithOptimizer) {
  std::string dir = TempDir();
  std::string path = dir + "/checkpoint.123.bin";
  CheckpointData d = MakeData(true);
  ASSERT_TRUE(SaveCheckpoint(path, d).ok());
  auto r = LoadCheckpoint(path);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->config, d.config);
  EXPECT_EQ(r->tokenizer_name, d.tokenizer_name);
  EXPECT_EQ(r->tokenizer_fingerprint, d.tokenizer_fingerprint);
  EXPECT_EQ(r->tokenizer_vocab_size, d.config.vocab_size);  // 0 on save = config's
  EXPECT_EQ(r->step, 123);
  EXPECT_EQ(r->seed, d.seed);
  EXPECT_TRUE(r->has_optimizer);
  EXPECT_EQ(r->adam_step, 123);
  EXPECT_EQ(r->extra, d.extra);
  EXPECT_EQ(r->path, path);
  EXPECT_TRUE(SameBits(r->params, d.params));
  EXPECT_TRUE(SameBits(r->adam_m, d.adam_m));
  EXPECT_TRUE(SameBits(r->adam_v, d.adam_v));
  // No temporary files are left behind.
  int n = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) (void)e, ++n;
  EXPECT_EQ(n, 1);
  ASSERT_TRUE(RemoveAll(dir).ok());
}

TEST(CheckpointTest, RoundTripWithoutOptimizer) {
  std::string dir = TempDir();
  std::string path = dir + "/c.bin";
  CheckpointData d = MakeData(false);
  ASSERT_TRUE(SaveCheckpoint(path, d).ok());
  auto r = LoadCheckpoint(path);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->has_optimizer);
  EXPECT_TRUE(r->adam_m.empty());
  EXPECT_TRUE(SameBits(r->params, d.params));
  ASSERT_TRUE(RemoveAll(dir).ok());
}

// Reads the fields back at the offsets documented in checkpoint.h.
TEST(CheckpointTest, ByteLayoutMatchesDocumentation) {
  std::string dir = TempDir();
  std::string path = dir + "/c.bin";
  CheckpointData d = MakeData(true);
  ASSERT_TRUE(SaveCheckpoint(path, d).ok());
  std::string b = ReadAll(path);
  const size_t n = NumParameters(d.config);
  // Hand count for TinyConfig: wte 11*4 + wpe 5*4 + 2 blocks * (4+4 + 3*4*6 + 6*4 + 4+4 +
  // 4*7 + 7 + 7*4 + 4) + lnf 4+4 + wu 4*11 + bu 11.
  ASSERT_EQ(n, size_t{44 + 20 + 2 * (8 + 72 + 24 + 8 + 28 + 7 + 28 + 4) + 8 + 44 + 11});
  EXPECT_EQ(b.substr(0, 8), std::string("LLMCKPT\0", 8));
  EXPECT_EQ(At<uint32_t>(b, 8), 1u);
  EXPECT_EQ(At<uint32_t>(b, 12), 1u);
  EXPECT_EQ(At<uint64_t>(b, 16), b.size());
  EXPECT_EQ(At<int32_t>(b, 24), 11);  // vocab
  EXPECT_EQ(At<int32_t>(b, 28), 5);   // context
  EXPECT_EQ(At<int32_t>(b, 52), 1);   // gelu
  EXPECT_EQ(At<int64_t>(b, 56), 123);
  EXPECT_EQ(At<uint64_t>(b, 64), d.seed);
  EXPECT_EQ(At<int64_t>(b, 72), 123);
  EXPECT_EQ(At<int32_t>(b, 80), 11);
  EXPECT_EQ(At<uint32_t>(b, 84), 8u);
  EXPECT_EQ(b.substr(88, 8), "tiny_tok");
  // Float arrays: params, m, v, then the checksum; params start 64-aligned.
  const size_t floats_at = b.size() - 8 - 3 * n * 4;
  EXPECT_EQ(floats_at % 64, 0u);
  EXPECT_EQ(std::memcmp(b.data() + floats_at, d.params.data(), n * 4), 0);
  EXPECT_EQ(std::memcmp(b.data() + floats_at + 2 * n * 4, d.adam_v.data(), n * 4), 0);
  EXPECT_EQ(At<uint64_t>(b, b.size() - 8), Fnv1a64(b.data(), b.size() - 8));
  ASSERT_TRUE(RemoveAll(dir).ok());
}

TEST(CheckpointTest, MissingFileIsNotFound) {
  auto r = LoadCheckpoint("/nonexistent/checkpoint.1.bin");
  ExpectErrorContains(r.status(), absl::StatusCode::kNotFound, {"/nonexistent/checkpoint.1.bin"});
}

TEST(CheckpointTest, TruncatedAtManyPointsIsDataLoss) {
  std::string dir = TempDir();
  std::string good = dir + "/good.bin", bad = dir + "/bad.bin";
  ASSERT_TRUE(SaveCheckpoint(good, MakeData(true)).ok());
  std::string b = ReadAll(good);
  for (size_t len : {size_t{0}, size_t{5}, size_t{8}, size_t{20}, size_t{83}, size_t{200},
                     b.size() / 2, b.size() - 9, b.size() - 8, b.size() - 1}) {
    SCOPED_TRACE(len);
    WriteRaw(bad, b.substr(0, len));
    auto r = LoadCheckpoint(bad);
    ExpectErrorContains(r.status(), absl::StatusCode::kDataLoss, {bad, "truncated"});
  }
  // Trailing garbage is also rejected.
  WriteRaw(bad, b + "x");
  ExpectErrorContains(LoadCheckpoint(bad).status(), absl::StatusCode::kDataLoss,
                      {bad, "trailing"});
  ASSERT_TRUE(RemoveAll(dir).ok());
}

TEST(CheckpointTest, FlippedByteIsChecksumError) {
  std::string dir = TempDir();
  std::string good = dir + "/good.bin", bad = dir + "/bad.bin";
  ASSERT_TRUE(SaveCheckpoint(good, MakeData(true)).ok());
  std::string b = ReadAll(good);
  // Anywhere after the fixed prefix checked before the checksum (magic,
  // version, size): config, strings, tensor table, params, Adam state, checksum.
  for (size_t pos : {size_t{30}, size_t{60}, size_t{90}, size_t{300}, b.size() / 2,
                     b.size() - 20, b.size() - 1}) {
    SCOPED_TRACE(pos);
    std::string c = b;
    c[pos] ^= 0x10;
    WriteRaw(bad, c);
    ExpectErrorContains(LoadCheckpoint(bad).status(), absl::StatusCode::kDataLoss,
                        {bad, "checksum mismatch"});
  }
  ASSERT_TRUE(RemoveAll(dir).ok());
}

TEST(CheckpointTest, WrongMagicAndVersion) {
  std::string dir = TempDir();
  std::string good = dir + "/good.bin", bad = dir + "/bad.bin";
  ASSERT_TRUE(SaveCheckpoint(good, MakeData(false)).ok());
  std::string b = ReadAll(good);
  std::string c = b;
  c[0] = 'X';
  WriteRaw(bad, c);
  ExpectErrorContains(LoadCheckpoint(bad).status(), absl::StatusCode::kInvalidArgument,
                      {bad, "bad magic"});
  // The original's pickle files are not checkpoints either.
  WriteRaw(bad, std::string("\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00", 10) + std::string(200, 'p'));
  ExpectErrorContains(LoadCheckpoint(bad).status(), absl::StatusCode::kInvalidArgument,
                      {bad, "bad magic"});
  c = b;
  uint32_t v2 = 2;
  std::memcpy(c.data() + 8, &v2, 4);
  FixChecksum(&c);
  WriteRaw(bad, c);
  ExpectErrorContains(LoadCheckpoint(bad).status(), absl::StatusCode::kInvalidArgument,
                      {bad, "unsupported format version 2"});
  ASSERT_TRUE(RemoveAll(dir).ok());
}

TEST(CheckpointTest, TensorTableInconsistentWithConfig) {
  std::string dir = TempDir();
  std::string good = dir + "/good.bin", bad = dir + "/bad.bin";
  ASSERT_TRUE(SaveCheckpoint(good, MakeData(false)).ok());
  std::string b = ReadAll(good);
  // 1) Rename a tensor ("block1.wq" -> "block1.wz").
  std::string c = b;
  size_t at = c.find("block1.wq");
  ASSERT_NE(at, std::string::npos);
  c[at + 8] = 'z';
  FixChecksum(&c);
  WriteRaw(bad, c);
  ExpectErrorContains(LoadCheckpoint(bad).status(), absl::StatusCode::kInvalidArgument,
                      {bad, "block1.wz", "block1.wq"});
  // 2) Change d_ff in the config (offset 48): the table's shapes no longer match.
  c = b;
  int32_t dff = 8;
  std::memcpy(c.data() + 48, &dff, 4);
  FixChecksum(&c);
  WriteRaw(bad, c);
  ExpectErrorContains(LoadCheckpoint(bad).status(), absl::StatusCode::kInvalidArgument,
                      {bad, "tensor table entry", "block0.w1"});
  // 3) Invalid config value (n_heads = 0).
  c = b;
  int32_t zero = 0;
  std::memcpy(c.data() + 40, &zero, 4);
  FixChecksum(&c);
  WriteRaw(bad, c);
  ExpectErrorContains(LoadCheckpoint(bad).status(), absl::StatusCode::kInvalidArgument,
                      {bad, "n_heads"});
  // 4) A string length that runs past the end.
  c = b;
  uint32_t huge = 0x7fffffff;
  std::memcpy(c.data() + 84, &huge, 4);
  FixChecksum(&c);
  WriteRaw(bad, c);
  ExpectErrorContains(LoadCheckpoint(bad).status(), absl::StatusCode::kInvalidArgument,
                      {bad, "tokenizer name"});
  ASSERT_TRUE(RemoveAll(dir).ok());
}

TEST(CheckpointTest, CheckCompatibleVocabAndFingerprint) {
  std::string dir = TempDir();
  std::string path = dir + "/c.bin";
  ASSERT_TRUE(SaveCheckpoint(path, MakeData(false)).ok());
  auto r = LoadCheckpoint(path);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(CheckCompatible(*r, 11, "0123456789abcdef").ok());
  EXPECT_TRUE(CheckCompatible(*r, 11, "").ok());
  ExpectErrorContains(CheckCompatible(*r, 12, ""), absl::StatusCode::kFailedPrecondition,
                      {path, "vocab_size 11", "vocab_size 12", "tiny_tok"});
  ExpectErrorContains(CheckCompatible(*r, 11, "ffffffffffffffff"),
                      absl::StatusCode::kFailedPrecondition,
                      {path, "0123456789abcdef", "ffffffffffffffff"});
  ASSERT_TRUE(RemoveAll(dir).ok());
}

TEST(CheckpointTest, SaveRejectsInconsistentData) {
  std::string dir = TempDir();
  CheckpointData d = MakeData(true);
  d.params.pop_back();
  EXPECT_EQ(SaveCheckpoint(dir + "/c.bin", d).code(), absl::StatusCode::kInvalidArgument);
  d = MakeData(true);
  d.adam_v.clear();
  EXPECT_EQ(SaveCheckpoint(dir + "/c.bin", d).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(PathExists(dir + "/c.bin"));
  // Missing directory: error names the path.
  auto s = SaveCheckpoint(dir + "/nodir/c.bin", MakeData(false));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("nodir"), absl::string_view::npos);
  ASSERT_TRUE(RemoveAll(dir).ok());
}

// A writer that dies before committing leaves the previous checkpoint intact.
TEST(CheckpointTest, WriterKilledBeforeCommitKeepsPreviousFile) {
  std::string dir = TempDir();
  std::string path = dir + "/checkpoint.1.bin";
  CheckpointData old_data = MakeData(true, 1);
  ASSERT_TRUE(SaveCheckpoint(path, old_data).ok());
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Child: stream half a checkpoint to the same destination, then die
    // without Commit() and without running destructors.
    AtomicFileWriter w(path);
    std::string junk(100000, 'j');
    w.Write(junk);
    w.Write(junk);
    ::_exit(0);
  }
  int st = 0;
  ASSERT_EQ(::waitpid(pid, &st, 0), pid);
  auto r = LoadCheckpoint(path);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(SameBits(r->params, old_data.params));
  ASSERT_TRUE(RemoveAll(dir).ok());
}

// SIGKILL a process that keeps rewriting the checkpoint at arbitrary moments:
// the file on disk is always one complete version.
TEST(CheckpointTest, SigkillDuringRepeatedSavesLeavesLoadableFile) {
  std::string dir = TempDir();
  std::string path = dir + "/checkpoint.1.bin";
  CheckpointData a = MakeData(true, 1), b = MakeData(true, 2);
  ASSERT_TRUE(SaveCheckpoint(path, a).ok());
  for (int trial = 0; trial < 4; ++trial) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      for (int i = 0;; ++i) (void)SaveCheckpoint(path, (i % 2) ? a : b);
    }
    ::usleep(3000 + 7000 * trial);
    ::kill(pid, SIGKILL);
    int st = 0;
    ASSERT_EQ(::waitpid(pid, &st, 0), pid);
    auto r = LoadCheckpoint(path);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(SameBits(r->params, a.params) || SameBits(r->params, b.params));
  }
  ASSERT_TRUE(RemoveAll(dir).ok());
}

TEST(CheckpointTest, PathsAndListing) {
  std::string dir = TempDir();
  SetAssetsDir(dir);
  EXPECT_EQ(CheckpointPath("v1", 100), dir + "/model_checkpoints/v1/checkpoint.100.bin");
  EXPECT_TRUE(ListCheckpointIterations("v1").empty());
  ASSERT_TRUE(MakeDirs(dir + "/model_checkpoints/v1").ok());
  for (int64_t it : {100, 20, 3}) ASSERT_TRUE(SaveCheckpoint(CheckpointPath("v1", it), MakeData(false)).ok());
  WriteRaw(dir + "/model_checkpoints/v1/checkpoint.x.bin", "x");
  WriteRaw(dir + "/model_checkpoints/v1/notes.txt", "x");
  EXPECT_EQ(ListCheckpointIterations("v1"), (std::vector<int64_t>{3, 20, 100}));
  SetAssetsDir("assets");
  ASSERT_TRUE(RemoveAll(dir).ok());
}

}  // namespace
}  // namespace llm
