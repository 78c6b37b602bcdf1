// Fuzz target: token files (ParseTokenFile, ReadTokenFile,
// ReadTokenFileHeader). Byte 0 is a mode; the rest is the file. With mode
// bit 0 set the harness rewrites the trailing CRC-32 so mutations reach the
// header and token checks.
#include <cstring>
#include <string>
#include <string_view>

#include "core/tokenizer/token_file.h"
#include "tests/fuzz/fuzz_targets.h"
#include "tests/fuzz/fuzz_util.h"

namespace llm {
namespace fuzz {
namespace {

int Run(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string file(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) && file.size() >= 4) {
    const uint32_t crc = Crc32(std::string_view(file.data(), file.size() - 4));
    std::memcpy(file.data() + file.size() - 4, &crc, 4);
  }
  auto parsed = ParseTokenFile(file, "fuzz.tokens");
  const std::string path = ScratchDir() + "/split.tokens";
  WriteRaw(path, file);
  auto read = ReadTokenFile(path);
  auto header = ReadTokenFileHeader(path);
  FUZZ_CHECK(parsed.ok() == read.ok(), "ParseTokenFile and ReadTokenFile disagree");
  if (!parsed.ok()) {
    const auto code = parsed.status().code();
    FUZZ_CHECK(code == absl::StatusCode::kDataLoss || code == absl::StatusCode::kInvalidArgument ||
                   code == absl::StatusCode::kUnimplemented,
               "unexpected error code: " + parsed.status().ToString());
    FUZZ_CHECK(parsed.status().message().find("fuzz.tokens") != absl::string_view::npos,
               "error does not name the source: " + parsed.status().ToString());
    return 0;
  }
  const TokenFileHeader& h = parsed->header;
  FUZZ_CHECK(h.num_tokens == parsed->tokens.size(), "num_tokens != tokens.size()");
  for (int32_t t : parsed->tokens) {
    FUZZ_CHECK(t >= 0 && static_cast<uint32_t>(t) < h.vocab_size, "token outside the vocabulary");
  }
  FUZZ_CHECK(read->tokens == parsed->tokens, "ReadTokenFile tokens differ");
  FUZZ_CHECK(header.ok(), "header unreadable for a valid file: " + header.status().ToString());
  FUZZ_CHECK(header->num_tokens == h.num_tokens && header->vocab_size == h.vocab_size &&
                 header->dtype_bytes == h.dtype_bytes && header->tokenizer_name == h.tokenizer_name &&
                 header->tokenizer_fingerprint == h.tokenizer_fingerprint,
             "ReadTokenFileHeader differs from ParseTokenFile");
  // Serialize + Parse round trip; a file in the writer's dtype is reproduced
  // byte for byte.
  auto bytes = SerializeTokenFile(h, parsed->tokens);
  FUZZ_CHECK(bytes.ok(), "cannot serialize a parsed file: " + bytes.status().ToString());
  const uint32_t writer_dtype = h.vocab_size <= 65536 ? 2 : 4;
  if (h.dtype_bytes == writer_dtype) FUZZ_CHECK(*bytes == file, "re-serialized bytes differ");
  auto again = ParseTokenFile(*bytes, "again");
  FUZZ_CHECK(again.ok() && again->tokens == parsed->tokens, "re-parsed tokens differ");
  return 0;
}

}  // namespace

int FuzzTokenFile(const uint8_t* data, size_t size) { return Run(data, size); }

}  // namespace fuzz
}  // namespace llm

LLM_DEFINE_FUZZ_ENTRY(llm::fuzz::FuzzTokenFile)
