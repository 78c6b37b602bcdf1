// tokenize_splits: encode assets/text/{train,val,test}.txt with a trained
// tokenizer and save assets/tokens/NAME/{train,val,test} as token files
// (core/tokenizer/token_file.h). The original's scripts/tokenize_splits.py.
//
//   tokenize_splits -n default_10k [--threads 4] [--verify]
//
// Encoding is multi-threaded by cutting each split at provably safe places
// (core/tokenizer/chunked_encode.h); --verify re-encodes single-threaded
// and checks the tokens are identical.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "core/tokenizer/chunked_encode.h"
#include "core/tokenizer/token_file.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/file_util.h"
#include "core/util/flags.h"
#include "core/util/paths.h"
#include "core/util/progress.h"

namespace {

std::string Commas(int64_t n) {
  std::string digits = absl::StrFormat("%d", n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// Unicode characters (code points) in valid UTF-8 text.
int64_t CountChars(std::string_view s) {
  int64_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

int Fail(const std::string& msg) {
  std::fflush(stdout);
  std::fprintf(stderr, "tokenize_splits: error: %s\n", msg.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string name, assets;
  int64_t threads = 0, chunk_bytes = 256 << 10;
  bool verify = false, no_progress = false;
  llm::FlagParser p("tokenize_splits",
                    "Tokenize assets/text/{train,val,test}.txt with the tokenizer "
                    "assets/bpe_checkpoints/NAME and save assets/tokens/NAME/{train,val,test}.");
  p.AddString({"-n", "--name"}, &name, "The name of the saved tokenizer checkpoint",
              /*required=*/true);
  p.AddInt({"--threads"}, &threads, "Encoding threads (0 = all cores)");
  p.AddInt({"--chunk_bytes"}, &chunk_bytes, "Target chunk size for parallel encoding");
  p.AddString({"--assets"}, &assets, "Assets directory [default: $LLM_ASSETS_DIR or ./assets]");
  p.AddBool({"--verify"}, &verify, "Also encode single-threaded and check the tokens match");
  p.AddBool({"--no-progress"}, &no_progress, "Do not draw progress bars");
  if (int rc = p.ParseOrExit(argc, argv); rc >= 0) return rc;
  if (threads < 0 || chunk_bytes <= 0) {
    return Fail("--threads must be >= 0 and --chunk_bytes > 0");
  }
  if (!assets.empty()) llm::SetAssetsDir(assets);

  const std::string tok_dir = llm::TokenizerDir(name);
  if (!llm::PathExists(tok_dir)) {
    return Fail(absl::StrFormat(
        "tokenizer checkpoint %s does not exist. Did you train the tokenizer? Run "
        "`train_tokenizer -n %s` first.",
        tok_dir, name));
  }
  auto t0 = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<llm::Tokenizer>> loaded = llm::Tokenizer::Load(tok_dir);
  if (!loaded.ok()) return Fail(std::string(loaded.status().message()));
  const llm::Tokenizer& tok = **loaded;
  std::printf("Loaded tokenizer '%s' with vocab_size=%s (%s merges, fingerprint %s) in %.2fs\n",
              name.c_str(), Commas(tok.vocab_size()).c_str(), Commas(tok.num_merges()).c_str(),
              tok.Fingerprint().c_str(), Seconds(t0));
  std::fflush(stdout);  // keep stdout ordered with the progress bars on stderr

  const std::string out_dir = llm::TokensDir(name);
  if (absl::Status s = llm::MakeDirs(out_dir); !s.ok()) return Fail(std::string(s.message()));

  llm::TokenFileHeader header;
  header.vocab_size = static_cast<uint32_t>(tok.vocab_size());
  header.tokenizer_name = name;
  header.tokenizer_fingerprint = tok.Fingerprint();

  for (const char* split : {"train", "val", "test"}) {
    const std::string src = absl::StrFormat("%s/%s.txt", llm::TextDir(), split);
    const std::string dst = absl::StrFormat("%s/%s", out_dir, split);
    if (!llm::PathExists(src)) {
      return Fail(absl::StrFormat("%s does not exist. Run `download_data` first.", src));
    }
    absl::StatusOr<std::string> text = llm::ReadFile(src);
    if (!text.ok()) return Fail(std::string(text.status().message()));

    llm::ProgressBar bar(split, static_cast<int64_t>(text->size()), "B", !no_progress);
    llm::ChunkedEncodeOptions opts;
    opts.num_threads = static_cast<int>(threads);
    opts.target_chunk_bytes = static_cast<size_t>(chunk_bytes);
    opts.progress = [&](size_t done, size_t) { bar.Update(static_cast<int64_t>(done)); };
    auto start = std::chrono::steady_clock::now();
    absl::StatusOr<std::vector<int32_t>> tokens = llm::EncodeChunked(tok, *text, opts);
    const double secs = Seconds(start);
    bar.Finish();
    if (!tokens.ok()) {
      return Fail(absl::StrFormat("%s: %s", src, std::string(tokens.status().message())));
    }
    if (verify) {
      auto vstart = std::chrono::steady_clock::now();
      absl::StatusOr<std::vector<int32_t>> single = tok.Encode(*text);
      if (!single.ok()) return Fail(std::string(single.status().message()));
      if (*single != *tokens) {
        return Fail(absl::StrFormat("%s: chunked encoding differs from single-threaded Encode",
                                    src));
      }
      std::printf("  verify: single-threaded Encode gives the same %s tokens (%.2fs vs %.2fs)\n",
                  Commas(static_cast<int64_t>(single->size())).c_str(), Seconds(vstart), secs);
    }

    const int64_t n_chars = CountChars(*text);
    const int64_t n_bytes = static_cast<int64_t>(text->size());
    const int64_t n_tokens = static_cast<int64_t>(tokens->size());
    const double compression = n_chars > 0 ? 1.0 - static_cast<double>(n_tokens) / n_chars : 0;
    std::printf(
        "Encoded %s characters to %s tokens. compression=%.1f%%. chars/token=%.3f "
        "bytes/token=%.3f. %.2fs (%.1f MB/s). Saving to: %s\n",
        Commas(n_chars).c_str(), Commas(n_tokens).c_str(), 100.0 * compression,
        n_tokens > 0 ? static_cast<double>(n_chars) / n_tokens : 0.0,
        n_tokens > 0 ? static_cast<double>(n_bytes) / n_tokens : 0.0, secs,
        secs > 0 ? n_bytes / secs / 1e6 : 0.0, dst.c_str());
    std::fflush(stdout);
    if (absl::Status s = llm::WriteTokenFile(dst, header, *tokens); !s.ok()) {
      return Fail(std::string(s.message()));
    }
  }
  return 0;
}
