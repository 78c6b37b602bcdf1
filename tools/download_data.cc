// download_data: fetch the Shakespeare corpus, verify it and write the
// train/val/test splits to assets/text/ (the original's `make download_text`).
//
//   download_data                       # HTTPS, else the offline copy in ../shared
//   download_data --from t8.shakespeare.txt
//   download_data --no-network -y
//
// All logic lives in core/data/corpus.h; this file only maps flags to
// DownloadOptions and prints the result.
#include <cstdio>
#include <string>

#include "absl/strings/str_format.h"
#include "core/data/corpus.h"
#include "core/util/flags.h"
#include "core/util/paths.h"

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

}  // namespace

int main(int argc, char** argv) {
  const llm::CorpusSpec& spec = llm::ShakespeareCorpus();
  std::string from, url = spec.url, assets;
  bool overwrite = false, no_network = false;
  int64_t connect_timeout = 5;

  llm::FlagParser p("download_data",
                    "Download the Shakespeare corpus, verify its size and SHA-256, and write "
                    "assets/text/{raw,train,val,test}.txt (train = first 3,361,047 chars, "
                    "val = next 1 MiB, test = last 1 MiB).");
  p.AddString({"--from"}, &from, "Read the corpus from this local file instead of downloading");
  p.AddString({"--url"}, &url, "Download URL");
  p.AddString({"--assets"}, &assets, "Assets directory [default: $LLM_ASSETS_DIR or ./assets]");
  p.AddBool({"-y", "--overwrite"}, &overwrite, "Redo even if valid files are already present");
  p.AddBool({"--no-network"}, &no_network,
            "Never use the network; use --from or the offline copy in ../shared/data");
  p.AddInt({"--connect_timeout"}, &connect_timeout, "Seconds to wait for DNS + connect");
  p.SetEpilog(absl::StrFormat(
      "Sources, in order: --from PATH; the URL over HTTPS; the offline copy "
      "$LLM_SHARED_DIR/data/shakespeare.txt or ../shared/data/shakespeare.txt.\n"
      "The corpus must be %s bytes with SHA-256 %s.",
      Commas(spec.total_bytes), spec.sha256_hex));
  if (int rc = p.ParseOrExit(argc, argv); rc >= 0) return rc;
  if (connect_timeout <= 0) {
    std::fprintf(stderr, "download_data: error: --connect_timeout must be positive\n");
    return 2;
  }
  if (!assets.empty()) llm::SetAssetsDir(assets);

  llm::DownloadOptions opts;
  opts.from = from;
  opts.url = url;
  opts.overwrite = overwrite;
  opts.allow_network = !no_network;
  opts.fetch.connect_timeout_seconds = static_cast<long>(connect_timeout);
  opts.log = [](const std::string& line) { std::printf("%s\n", line.c_str()); };

  absl::StatusOr<llm::DownloadReport> r = llm::DownloadAndSplit(opts);
  if (!r.ok()) {
    std::fflush(stdout);
    std::fprintf(stderr, "download_data: error: %s\n", std::string(r.status().message()).c_str());
    return 1;
  }
  if (!r->skipped) {
    std::printf("Verified %s bytes from %s (SHA-256 %s)\n", Commas(r->raw_bytes).c_str(),
                r->source.c_str(), spec.sha256_hex.c_str());
  }
  std::printf("%s/raw.txt   %13s chars\n", r->text_dir.c_str(), Commas(r->raw_bytes).c_str());
  std::printf("%s/train.txt %13s chars\n", r->text_dir.c_str(), Commas(r->train_chars).c_str());
  std::printf("%s/val.txt   %13s chars\n", r->text_dir.c_str(), Commas(r->val_chars).c_str());
  std::printf("%s/test.txt  %13s chars\n", r->text_dir.c_str(), Commas(r->test_chars).c_str());
  return 0;
}
