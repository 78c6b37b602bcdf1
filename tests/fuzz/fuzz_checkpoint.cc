// Fuzz target: LoadCheckpoint on arbitrary bytes.
//
// Byte 0 is a mode; the rest is the file. With mode bit 0 set, the harness
// first rewrites the header's file_size and the trailing FNV-1a checksum so
// that mutations get past the integrity checks and reach the structural
// parser (config, strings, tensor table, float arrays).
#include <cstring>
#include <string>

#include "core/model/checkpoint.h"
#include "core/model/config.h"
#include "tests/fuzz/fuzz_targets.h"
#include "tests/fuzz/fuzz_util.h"

namespace llm {
namespace fuzz {
namespace {

int Run(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string file(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) && file.size() >= 32) {
    const uint64_t file_size = file.size();
    std::memcpy(file.data() + 16, &file_size, 8);
    const uint64_t h = Fnv1a64(file.data(), file.size() - 8);
    std::memcpy(file.data() + file.size() - 8, &h, 8);
  }
  const std::string path = ScratchDir() + "/checkpoint.1.bin";
  WriteRaw(path, file);
  auto ck = LoadCheckpoint(path);
  if (!ck.ok()) {
    const auto code = ck.status().code();
    FUZZ_CHECK(code == absl::StatusCode::kDataLoss || code == absl::StatusCode::kInvalidArgument,
               "unexpected error code: " + ck.status().ToString());
    FUZZ_CHECK(ck.status().message().find(path) != absl::string_view::npos,
               "error does not name the file: " + ck.status().ToString());
    return 0;
  }
  FUZZ_CHECK(ck->config.Validate().ok(), "loaded an invalid config");
  FUZZ_CHECK(ck->params.size() == NumParameters(ck->config), "wrong param count");
  if (ck->has_optimizer) {
    FUZZ_CHECK(ck->adam_m.size() == ck->params.size() && ck->adam_v.size() == ck->params.size(),
               "wrong Adam buffer sizes");
  }
  // Save + Load reproduces every field bit for bit.
  const std::string again_path = ScratchDir() + "/checkpoint.2.bin";
  absl::Status st = SaveCheckpoint(again_path, *ck);
  FUZZ_CHECK(st.ok(), "cannot re-save a loaded checkpoint: " + st.ToString());
  auto again = LoadCheckpoint(again_path);
  FUZZ_CHECK(again.ok(), "cannot load a re-saved checkpoint: " + again.status().ToString());
  FUZZ_CHECK(again->config == ck->config && again->step == ck->step && again->seed == ck->seed &&
                 again->adam_step == ck->adam_step && again->has_optimizer == ck->has_optimizer &&
                 again->tokenizer_name == ck->tokenizer_name &&
                 again->tokenizer_fingerprint == ck->tokenizer_fingerprint &&
                 again->extra == ck->extra,
             "re-saved checkpoint differs");
  auto same_bits = [](const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() &&
           (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
  };
  FUZZ_CHECK(same_bits(again->params, ck->params) && same_bits(again->adam_m, ck->adam_m) &&
                 same_bits(again->adam_v, ck->adam_v),
             "re-saved tensors differ");
  return 0;
}

}  // namespace

int FuzzCheckpoint(const uint8_t* data, size_t size) { return Run(data, size); }

}  // namespace fuzz
}  // namespace llm

LLM_DEFINE_FUZZ_ENTRY(llm::fuzz::FuzzCheckpoint)
