#include "core/model/checkpoint.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/util/file_util.h"
#include "core/util/paths.h"

namespace llm {

static_assert(std::endian::native == std::endian::little,
              "checkpoint I/O assumes a little-endian host");

uint64_t Fnv1a64(const void* data, size_t size, uint64_t state) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < size; ++i) {
    state ^= p[i];
    state *= 1099511628211ull;
  }
  return state;
}

namespace {

constexpr size_t kFixedHeaderSize = 84;  // up to and including tokenizer vocab size
constexpr size_t kAlign = 64;
constexpr uint32_t kFlagOptimizer = 1;
// Smallest possible file: fixed header, three empty strings, tensor count,
// param count, checksum.
constexpr size_t kMinFileSize = kFixedHeaderSize + 3 * 4 + 4 + 8 + 8;

// Appends little-endian scalars and strings to a byte buffer.
class ByteWriter {
 public:
  template <typename T>
  void Put(T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    out_.append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  void PutString(const std::string& s) {
    Put<uint32_t>(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  std::string& bytes() { return out_; }

 private:
  std::string out_;
};

// Bounds-checked reader over a byte buffer; the first failure is sticky and
// records what was being read.
class ByteReader {
 public:
  ByteReader(const std::string& data, size_t end) : data_(data), end_(end) {}
  template <typename T>
  bool Get(T* v, const char* what) {
    if (!Need(sizeof(T), what)) return false;
    std::memcpy(v, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool GetString(std::string* s, const char* what) {
    uint32_t n;
    if (!Get(&n, what)) return false;
    if (!Need(n, what)) return false;
    s->assign(data_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  bool GetFloats(std::vector<float>* v, size_t n, const char* what) {
    if (n > (end_ - pos_) / sizeof(float)) return Need(SIZE_MAX, what);
    v->resize(n);
    std::memcpy(v->data(), data_.data() + pos_, n * sizeof(float));
    pos_ += n * sizeof(float);
    return true;
  }
  bool Skip(size_t n, const char* what) {
    if (!Need(n, what)) return false;
    pos_ += n;
    return true;
  }
  size_t pos() const { return pos_; }
  const std::string& error() const { return error_; }

 private:
  bool Need(size_t n, const char* what) {
    if (!error_.empty()) return false;
    if (n > end_ - pos_) {
      error_ = absl::StrCat("malformed: ", what, " at byte ", pos_, " runs past the data section");
      return false;
    }
    return true;
  }
  const std::string& data_;
  size_t end_;
  size_t pos_ = 0;
  std::string error_;
};

size_t PaddingFor(size_t pos) { return (kAlign - pos % kAlign) % kAlign; }

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("(", absl::StrJoin(shape, ","), ")");
}

}  // namespace

absl::Status SaveCheckpoint(const std::string& path, const CheckpointData& data) {
  auto bad = [&](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat("cannot save checkpoint '", path, "': ", what));
  };
  if (absl::Status s = data.config.Validate(); !s.ok()) return bad(std::string(s.message()));
  const ParamLayout layout(data.config);
  if (data.params.size() != layout.total)
    return bad(absl::StrCat("params has ", data.params.size(), " floats, config needs ",
                            layout.total));
  if (data.has_optimizer &&
      (data.adam_m.size() != layout.total || data.adam_v.size() != layout.total))
    return bad(absl::StrCat("Adam state sizes m=", data.adam_m.size(), " v=", data.adam_v.size(),
                            " do not match ", layout.total, " params"));

  ByteWriter w;
  w.bytes().append(kCheckpointMagic, sizeof(kCheckpointMagic));
  w.Put<uint32_t>(kCheckpointVersion);
  w.Put<uint32_t>(data.has_optimizer ? kFlagOptimizer : 0);
  w.Put<uint64_t>(0);  // file_size, patched below
  const ModelConfig& c = data.config;
  for (int32_t v : {c.vocab_size, c.context, c.n_blocks, c.d_model, c.n_heads, c.d_head, c.d_ff,
                    static_cast<int32_t>(c.activation)})
    w.Put<int32_t>(v);
  w.Put<int64_t>(data.step);
  w.Put<uint64_t>(data.seed);
  w.Put<int64_t>(data.adam_step);
  w.Put<int32_t>(data.tokenizer_vocab_size > 0 ? data.tokenizer_vocab_size : c.vocab_size);
  w.PutString(data.tokenizer_name);
  w.PutString(data.tokenizer_fingerprint);
  w.PutString(data.extra);
  w.Put<uint32_t>(static_cast<uint32_t>(layout.tensors.size()));
  for (const TensorInfo& t : layout.tensors) {
    w.PutString(t.name);
    w.Put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (int64_t d : t.shape) w.Put<int64_t>(d);
    w.Put<uint64_t>(t.offset);
  }
  w.Put<uint64_t>(layout.total);
  w.bytes().append(PaddingFor(w.bytes().size()), '\0');

  const size_t float_bytes = layout.total * sizeof(float) * (data.has_optimizer ? 3 : 1);
  const uint64_t file_size = w.bytes().size() + float_bytes + sizeof(uint64_t);
  std::memcpy(w.bytes().data() + 16, &file_size, sizeof(file_size));

  AtomicFileWriter out(path);
  if (!out.status().ok()) return out.status();
  uint64_t hash = Fnv1a64(w.bytes().data(), w.bytes().size());
  out.Write(w.bytes());
  auto write_floats = [&](const std::vector<float>& v) {
    hash = Fnv1a64(v.data(), v.size() * sizeof(float), hash);
    out.Write(v.data(), v.size() * sizeof(float));
  };
  write_floats(data.params);
  if (data.has_optimizer) {
    write_floats(data.adam_m);
    write_floats(data.adam_v);
  }
  out.Write(&hash, sizeof(hash));
  return out.Commit();
}

namespace {

// NumParameters(c) computed without overflow for any positive config, or
// UINT64_MAX if it does not fit in 64 bits.
uint64_t ParamCountBound(const ModelConfig& c) {
  using U = unsigned __int128;
  const U V = static_cast<uint32_t>(c.vocab_size), T = static_cast<uint32_t>(c.context),
          C = static_cast<uint32_t>(c.d_model), F = static_cast<uint32_t>(c.d_ff),
          HD = U{static_cast<uint32_t>(c.n_heads)} * static_cast<uint32_t>(c.d_head);
  const U block = 4 * C + 4 * C * HD + 2 * C * F + F + C;
  const U total = V * C + T * C + U{static_cast<uint32_t>(c.n_blocks)} * block + 2 * C + C * V + V;
  return total > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(total);
}

}  // namespace

absl::StatusOr<CheckpointData> LoadCheckpoint(const std::string& path) {
  auto contents = ReadFile(path);
  if (!contents.ok()) return contents.status();
  const std::string& bytes = *contents;
  auto prefix = [&] { return absl::StrCat("checkpoint '", path, "': "); };
  auto data_loss = [&](const std::string& what) {
    return absl::DataLossError(absl::StrCat(prefix(), what));
  };
  auto invalid = [&](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat(prefix(), what));
  };

  if (bytes.size() >= sizeof(kCheckpointMagic) &&
      std::memcmp(bytes.data(), kCheckpointMagic, sizeof(kCheckpointMagic)) != 0)
    return invalid("not a model checkpoint (bad magic bytes)");
  if (bytes.size() < kMinFileSize)
    return data_loss(absl::StrCat("truncated: only ", bytes.size(),
                                  " bytes, smaller than the minimal header"));
  uint32_t version, flags;
  uint64_t file_size;
  std::memcpy(&version, bytes.data() + 8, 4);
  std::memcpy(&flags, bytes.data() + 12, 4);
  std::memcpy(&file_size, bytes.data() + 16, 8);
  if (version != kCheckpointVersion)
    return invalid(absl::StrCat("unsupported format version ", version, " (this build reads version ",
                                kCheckpointVersion, ")"));
  if (bytes.size() < file_size)
    return data_loss(absl::StrCat("truncated: header says ", file_size, " bytes, file has ",
                                  bytes.size()));
  if (bytes.size() > file_size)
    return data_loss(absl::StrCat("has ", bytes.size() - file_size,
                                  " trailing bytes after the recorded size ", file_size));
  const size_t body = bytes.size() - sizeof(uint64_t);
  uint64_t stored_hash;
  std::memcpy(&stored_hash, bytes.data() + body, sizeof(stored_hash));
  const uint64_t hash = Fnv1a64(bytes.data(), body);
  if (hash != stored_hash)
    return data_loss(absl::StrFormat("corrupted: checksum mismatch (stored %016x, computed %016x)",
                                     stored_hash, hash));

  CheckpointData d;
  d.path = path;
  ByteReader r(bytes, body);
  r.Skip(24, "header");
  int32_t cfg[8];
  for (int32_t& v : cfg) r.Get(&v, "model config");
  d.config.vocab_size = cfg[0];
  d.config.context = cfg[1];
  d.config.n_blocks = cfg[2];
  d.config.d_model = cfg[3];
  d.config.n_heads = cfg[4];
  d.config.d_head = cfg[5];
  d.config.d_ff = cfg[6];
  d.config.activation = static_cast<Activation>(cfg[7]);
  r.Get(&d.step, "step");
  r.Get(&d.seed, "seed");
  r.Get(&d.adam_step, "adam step");
  r.Get(&d.tokenizer_vocab_size, "tokenizer vocab size");
  r.GetString(&d.tokenizer_name, "tokenizer name");
  r.GetString(&d.tokenizer_fingerprint, "tokenizer fingerprint");
  r.GetString(&d.extra, "metadata");
  if (!r.error().empty()) return invalid(r.error());
  if (absl::Status s = d.config.Validate(); !s.ok()) return invalid(std::string(s.message()));

  // Before building the layout (its size grows with the config), check that
  // the file can hold the config's parameters at all: a corrupted or crafted
  // header must not make us build a huge table (found by fuzz_checkpoint).
  if (uint64_t need = ParamCountBound(d.config); need > body / sizeof(float))
    return invalid(absl::StrCat("config (", d.config.DebugString(), ") needs ",
                                need == UINT64_MAX ? std::string("more than 2^64")
                                                   : absl::StrCat(need),
                                " floats, more than the file's ", bytes.size(), " bytes hold"));
  // The tensor table must be exactly the layout implied by the config.
  const ParamLayout layout(d.config);
  uint32_t n_tensors = 0;
  r.Get(&n_tensors, "tensor count");
  if (!r.error().empty()) return invalid(r.error());
  if (n_tensors != layout.tensors.size())
    return invalid(absl::StrCat("tensor table has ", n_tensors, " tensors, config (",
                                d.config.DebugString(), ") needs ", layout.tensors.size()));
  for (uint32_t i = 0; i < n_tensors; ++i) {
    const TensorInfo& want = layout.tensors[i];
    std::string name;
    uint32_t ndim = 0;
    r.GetString(&name, "tensor name");
    r.Get(&ndim, "tensor rank");
    if (!r.error().empty()) return invalid(r.error());
    if (ndim > 8) return invalid(absl::StrCat("tensor '", name, "' has implausible rank ", ndim));
    std::vector<int64_t> shape(ndim);
    for (int64_t& dim : shape) r.Get(&dim, "tensor shape");
    uint64_t offset = 0;
    r.Get(&offset, "tensor offset");
    if (!r.error().empty()) return invalid(r.error());
    if (name != want.name || shape != want.shape || offset != want.offset)
      return invalid(absl::StrCat("tensor table entry ", i, " is '", name, "' ", ShapeString(shape),
                                  " at ", offset, " but the config needs '", want.name, "' ",
                                  ShapeString(want.shape), " at ", want.offset));
  }
  uint64_t n_params = 0;
  r.Get(&n_params, "param count");
  if (!r.error().empty()) return invalid(r.error());
  if (n_params != layout.total)
    return invalid(absl::StrCat("param count ", n_params, " does not match the config's ",
                                layout.total));
  r.Skip(PaddingFor(r.pos()), "alignment padding");
  d.has_optimizer = (flags & kFlagOptimizer) != 0;
  r.GetFloats(&d.params, n_params, "params");
  if (d.has_optimizer) {
    r.GetFloats(&d.adam_m, n_params, "Adam m");
    r.GetFloats(&d.adam_v, n_params, "Adam v");
  }
  if (!r.error().empty()) return invalid(r.error());
  if (r.pos() != body)
    return invalid(absl::StrCat(body - r.pos(), " unexpected bytes after the float data"));
  return d;
}

absl::Status CheckCompatible(const CheckpointData& data, int32_t vocab_size,
                             const std::string& fingerprint) {
  const std::string name = data.path.empty() ? std::string("checkpoint") : absl::StrCat("checkpoint '", data.path, "'");
  if (data.config.vocab_size != vocab_size)
    return absl::FailedPreconditionError(absl::StrCat(
        name, " has vocab_size ", data.config.vocab_size, " (trained with tokenizer '",
        data.tokenizer_name, "') but the tokenizer in use has vocab_size ", vocab_size));
  if (!fingerprint.empty() && !data.tokenizer_fingerprint.empty() &&
      fingerprint != data.tokenizer_fingerprint)
    return absl::FailedPreconditionError(absl::StrCat(
        name, " was trained with tokenizer '", data.tokenizer_name, "' fingerprint ",
        data.tokenizer_fingerprint, " but the tokenizer in use has fingerprint ", fingerprint));
  return absl::OkStatus();
}

std::string CheckpointPath(const std::string& model_name, int64_t iteration) {
  return absl::StrCat(ModelDir(model_name), "/checkpoint.", iteration, ".bin");
}

std::vector<int64_t> ListCheckpointIterations(const std::string& model_name) {
  std::vector<int64_t> out;
  std::error_code ec;
  std::filesystem::directory_iterator it(ModelDir(model_name), ec);
  if (ec) return out;
  for (const auto& e : it) {
    std::string f = e.path().filename().string();
    constexpr absl::string_view kPre = "checkpoint.", kSuf = ".bin";
    if (f.size() <= kPre.size() + kSuf.size() || f.rfind(std::string(kPre), 0) != 0 ||
        f.compare(f.size() - kSuf.size(), kSuf.size(), std::string(kSuf)) != 0)
      continue;
    int64_t n;
    if (absl::SimpleAtoi(f.substr(kPre.size(), f.size() - kPre.size() - kSuf.size()), &n) && n >= 0)
      out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace llm
