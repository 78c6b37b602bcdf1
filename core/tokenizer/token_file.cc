#include "core/tokenizer/token_file.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/util/file_util.h"
#include "core/util/status_macros.h"

namespace llm {
namespace {

constexpr size_t kMagicSize = 8;
constexpr size_t kFixedHeaderSize = 32;   // magic .. name length
constexpr size_t kFingerprintSize = 16;
constexpr size_t kChecksumSize = 4;
constexpr uint32_t kMaxNameSize = 4096;

// Table for the byte-at-a-time reflected CRC-32.
const std::array<uint32_t, 256>& CrcTable() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return table;
}

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
uint32_t GetU32(std::string_view b, size_t off) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[off + i]);
  return v;
}
uint64_t GetU64(std::string_view b, size_t off) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[off + i]);
  return v;
}

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Largest vocab_size: every id must fit in an int32 token.
constexpr uint32_t kMaxVocabSize = 0x7FFFFFFF;

uint32_t DtypeFor(uint32_t vocab_size) { return vocab_size <= 65536 ? 2 : 4; }

// Validates the caller's header and tokens; returns the serialized header
// (everything before the tokens).
absl::StatusOr<std::string> BuildHeader(const TokenFileHeader& h,
                                        absl::Span<const int32_t> tokens) {
  if (h.vocab_size == 0) return absl::InvalidArgumentError("token file: vocab_size must be > 0");
  if (h.vocab_size > kMaxVocabSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("token file: vocab_size ", h.vocab_size, " exceeds the limit ", kMaxVocabSize));
  }
  if (h.tokenizer_name.size() > kMaxNameSize) {
    return absl::InvalidArgumentError(absl::StrCat("token file: tokenizer name is ",
                                                   h.tokenizer_name.size(),
                                                   " bytes, the limit is ", kMaxNameSize));
  }
  if (h.tokenizer_fingerprint.size() != kFingerprintSize || !IsLowerHex(h.tokenizer_fingerprint)) {
    return absl::InvalidArgumentError(
        absl::StrCat("token file: tokenizer fingerprint must be 16 lowercase hex chars, got '",
                     h.tokenizer_fingerprint, "'"));
  }
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || static_cast<uint32_t>(tokens[i]) >= h.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat("token file: token ", tokens[i], " at index ",
                                                     i, " is outside [0, vocab_size=",
                                                     h.vocab_size, ")"));
    }
  }
  std::string out(kTokenFileMagic, kMagicSize);
  PutU32(&out, kTokenFileVersion);
  PutU32(&out, DtypeFor(h.vocab_size));
  PutU32(&out, h.vocab_size);
  PutU64(&out, tokens.size());
  PutU32(&out, static_cast<uint32_t>(h.tokenizer_name.size()));
  out += h.tokenizer_name;
  out += h.tokenizer_fingerprint;
  return out;
}

// Appends tokens [begin, end) as little-endian integers of `dtype` bytes.
void AppendTokens(std::string* out, absl::Span<const int32_t> tokens, uint32_t dtype) {
  size_t base = out->size();
  out->resize(base + tokens.size() * dtype);
  unsigned char* p = reinterpret_cast<unsigned char*>(out->data() + base);
  for (int32_t t : tokens) {
    uint32_t v = static_cast<uint32_t>(t);
    for (uint32_t k = 0; k < dtype; ++k) *p++ = static_cast<unsigned char>((v >> (8 * k)) & 0xFF);
  }
}

// Parses and checks the header of a file of `file_size` bytes whose first
// bytes are `b` (at least the whole header, or the whole file if shorter).
// Sets *header_size to the offset of the first token.
absl::StatusOr<TokenFileHeader> ParseHeader(std::string_view b, uint64_t file_size,
                                            const std::string& source, size_t* header_size) {
  auto err = [&](absl::StatusCode code, const std::string& what) {
    return absl::Status(code, absl::StrCat("token file '", source, "': ", what));
  };
  if (b.size() < kMagicSize && std::memcmp(b.data(), kTokenFileMagic, b.size()) == 0) {
    return err(absl::StatusCode::kDataLoss, absl::StrCat("truncated header: ", file_size, " bytes"));
  }
  if (b.size() < kMagicSize || std::memcmp(b.data(), kTokenFileMagic, kMagicSize) != 0) {
    return err(absl::StatusCode::kInvalidArgument,
               "bad magic (expected \"LLMTOKS1\"): not a token file");
  }
  if (b.size() < kFixedHeaderSize) {
    return err(absl::StatusCode::kDataLoss,
               absl::StrCat("truncated header: ", file_size, " bytes"));
  }
  TokenFileHeader h;
  h.version = GetU32(b, 8);
  h.dtype_bytes = GetU32(b, 12);
  h.vocab_size = GetU32(b, 16);
  h.num_tokens = GetU64(b, 20);
  uint32_t name_size = GetU32(b, 28);
  if (h.version != kTokenFileVersion) {
    return err(absl::StatusCode::kUnimplemented,
               absl::StrCat("unsupported version ", h.version, " (this build reads version ",
                            kTokenFileVersion, ")"));
  }
  if (h.dtype_bytes != 2 && h.dtype_bytes != 4) {
    return err(absl::StatusCode::kInvalidArgument,
               absl::StrCat("bad dtype ", h.dtype_bytes, " (expected 2 or 4 bytes per token)"));
  }
  if (h.vocab_size == 0) return err(absl::StatusCode::kInvalidArgument, "vocab_size is 0");
  // Tokens are int32 in memory: larger ids would come back negative.
  if (h.vocab_size > kMaxVocabSize) {
    return err(absl::StatusCode::kInvalidArgument,
               absl::StrCat("vocab_size ", h.vocab_size, " exceeds the limit ", kMaxVocabSize));
  }
  if (h.dtype_bytes == 2 && h.vocab_size > 65536) {
    return err(absl::StatusCode::kInvalidArgument,
               absl::StrCat("dtype uint16 cannot hold vocab_size ", h.vocab_size));
  }
  if (name_size > kMaxNameSize) {
    return err(absl::StatusCode::kInvalidArgument,
               absl::StrCat("tokenizer name length ", name_size, " exceeds ", kMaxNameSize));
  }
  *header_size = kFixedHeaderSize + name_size + kFingerprintSize;
  // Compare sizes without overflow: num_tokens may be garbage.
  const uint64_t fixed = *header_size + kChecksumSize;
  const uint64_t max_tokens = file_size >= fixed ? (file_size - fixed) / h.dtype_bytes : 0;
  if (file_size < fixed || h.num_tokens > max_tokens) {
    return err(absl::StatusCode::kDataLoss,
               absl::StrCat("truncated: the header promises ", h.num_tokens, " tokens (",
                            fixed, " + ", h.num_tokens, " * ", h.dtype_bytes,
                            " bytes) but the file has ", file_size, " bytes"));
  }
  const uint64_t expected = fixed + h.num_tokens * h.dtype_bytes;
  if (file_size != expected) {
    return err(absl::StatusCode::kDataLoss,
               absl::StrCat("size mismatch: expected ", expected, " bytes for ", h.num_tokens,
                            " tokens, the file has ", file_size));
  }
  if (b.size() < *header_size) {
    return err(absl::StatusCode::kDataLoss, "truncated header");
  }
  h.tokenizer_name = std::string(b.substr(kFixedHeaderSize, name_size));
  h.tokenizer_fingerprint = std::string(b.substr(kFixedHeaderSize + name_size, kFingerprintSize));
  if (!IsLowerHex(h.tokenizer_fingerprint)) {
    return err(absl::StatusCode::kInvalidArgument,
               "tokenizer fingerprint is not 16 lowercase hex chars");
  }
  return h;
}

}  // namespace

uint32_t Crc32(std::string_view data, uint32_t crc) {
  const auto& table = CrcTable();
  crc = ~crc;
  for (unsigned char c : data) crc = table[(crc ^ c) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

absl::StatusOr<std::string> SerializeTokenFile(const TokenFileHeader& header,
                                               absl::Span<const int32_t> tokens) {
  ASSIGN_OR_RETURN(std::string out, BuildHeader(header, tokens));
  AppendTokens(&out, tokens, DtypeFor(header.vocab_size));
  PutU32(&out, Crc32(out));
  return out;
}

absl::StatusOr<TokenFile> ParseTokenFile(std::string_view bytes, const std::string& source) {
  size_t header_size = 0;
  TokenFile f;
  ASSIGN_OR_RETURN(f.header, ParseHeader(bytes, bytes.size(), source, &header_size));
  const size_t body_end = bytes.size() - kChecksumSize;
  const uint32_t stored = GetU32(bytes, body_end);
  const uint32_t computed = Crc32(bytes.substr(0, body_end));
  if (stored != computed) {
    return absl::DataLossError(absl::StrFormat(
        "token file '%s': checksum mismatch (stored CRC-32 %08x, computed %08x): the file is "
        "corrupt",
        source, stored, computed));
  }
  const uint32_t dtype = f.header.dtype_bytes;
  f.tokens.resize(f.header.num_tokens);
  const unsigned char* p = reinterpret_cast<const unsigned char*>(bytes.data() + header_size);
  for (size_t i = 0; i < f.tokens.size(); ++i, p += dtype) {
    uint32_t v = dtype == 2 ? (uint32_t{p[0]} | uint32_t{p[1]} << 8)
                            : (uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 |
                               uint32_t{p[3]} << 24);
    if (v >= f.header.vocab_size) {
      return absl::DataLossError(absl::StrCat("token file '", source, "': token ", v,
                                              " at index ", i, " is >= vocab_size ",
                                              f.header.vocab_size));
    }
    f.tokens[i] = static_cast<int32_t>(v);
  }
  return f;
}

absl::Status WriteTokenFile(const std::string& path, const TokenFileHeader& header,
                            absl::Span<const int32_t> tokens) {
  absl::StatusOr<std::string> head = BuildHeader(header, tokens);
  if (!head.ok()) {
    return absl::Status(head.status().code(),
                        absl::StrCat(head.status().message(), " (writing '", path, "')"));
  }
  const uint32_t dtype = DtypeFor(header.vocab_size);
  AtomicFileWriter w(path);
  RETURN_IF_ERROR(w.status());
  uint32_t crc = Crc32(*head);
  w.Write(*head);
  // Stream the tokens in blocks so memory stays bounded.
  constexpr size_t kBlock = 1 << 16;
  std::string buf;
  for (size_t i = 0; i < tokens.size(); i += kBlock) {
    buf.clear();
    AppendTokens(&buf, tokens.subspan(i, kBlock), dtype);
    crc = Crc32(buf, crc);
    w.Write(buf);
  }
  std::string tail;
  PutU32(&tail, crc);
  w.Write(tail);
  return w.Commit();
}

absl::StatusOr<TokenFile> ReadTokenFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  return ParseTokenFile(bytes, path);
}

absl::StatusOr<TokenFileHeader> ReadTokenFileHeader(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    if (!PathExists(path)) return absl::NotFoundError(absl::StrCat("cannot open '", path, "'"));
    return absl::PermissionDeniedError(absl::StrCat("cannot open '", path, "'"));
  }
  const uint64_t file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  std::string prefix(std::min<uint64_t>(file_size, kFixedHeaderSize + kMaxNameSize + 16), '\0');
  in.read(prefix.data(), static_cast<std::streamsize>(prefix.size()));
  if (!in) return absl::InternalError(absl::StrCat("cannot read '", path, "'"));
  size_t header_size = 0;
  return ParseHeader(prefix, file_size, path, &header_size);
}

}  // namespace llm
