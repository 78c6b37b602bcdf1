// tiktoken_bench -t NAME|DIR --text PATH [--runs N]
//
// Our side of bench/tiktoken_compare.sh: encode throughput of a converted
// tiktoken encoding (a checkpoint made by convert_tiktoken) on one text.
// Prints one JSON line per mode, with MB/s per wall second and per CPU
// second (the latter is robust on a loaded machine), medians of N runs:
//   cold     single thread, fresh Tokenizer::Load per run (empty LRU cache;
//            converted tokenizers have no trained piece cache beyond the
//            whole-piece vocabulary lookup tiktoken also does)
//   warm     single thread, same Tokenizer again (LRU filled by a previous run)
//   batch1 / batch2   EncodeBatch over 64 KiB chunks, 1 and 2 threads (warm)
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "core/tokenizer/tokenizer.h"
#include "core/util/file_util.h"
#include "core/util/paths.h"

namespace {

double Clock(clockid_t id) {
  struct timespec t;
  clock_gettime(id, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Sample {
  double wall, cpu;
};

void Report(const char* mode, const std::string& name, size_t bytes, size_t tokens,
            const std::vector<Sample>& s) {
  std::vector<double> wall, cpu;
  for (const Sample& x : s) {
    wall.push_back(static_cast<double>(bytes) / 1e6 / x.wall);
    cpu.push_back(static_cast<double>(bytes) / 1e6 / x.cpu);
  }
  std::printf(
      "{\"impl\":\"llm\",\"mode\":\"%s\",\"encoding\":\"%s\",\"mb_per_s\":%.2f,"
      "\"cpu_mb_per_s\":%.2f,\"tokens\":%zu}\n",
      mode, name.c_str(), Median(wall), Median(cpu), tokens);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::string name, text_path;
  int runs = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "-t" || a == "--text" || a == "--runs" || a == "--assets") && i + 1 < argc) {
      const std::string v = argv[++i];
      if (a == "-t") name = v;
      else if (a == "--text") text_path = v;
      else if (a == "--assets") llm::SetAssetsDir(v);
      else runs = std::max(1, std::atoi(v.c_str()));
    } else {
      std::fprintf(stderr, "usage: tiktoken_bench -t NAME|DIR --text PATH [--runs N] [--assets DIR]\n");
      return 2;
    }
  }
  if (name.empty() || text_path.empty()) {
    std::fprintf(stderr, "usage: tiktoken_bench -t NAME|DIR --text PATH [--runs N] [--assets DIR]\n");
    return 2;
  }
  const std::string dir = name.find('/') != std::string::npos ? name : llm::TokenizerDir(name);
  auto text = llm::ReadFile(text_path);
  if (!text.ok()) {
    std::fprintf(stderr, "tiktoken_bench: %s\n", std::string(text.status().message()).c_str());
    return 1;
  }
  const llm::SpecialTokenPolicy plain = llm::SpecialTokenPolicy::PlainText();
  size_t tokens = 0;
  std::vector<Sample> cold, warm;
  std::unique_ptr<llm::Tokenizer> tok;
  for (int r = 0; r < runs; ++r) {
    auto loaded = llm::Tokenizer::Load(dir);
    if (!loaded.ok()) {
      std::fprintf(stderr, "tiktoken_bench: %s\n", std::string(loaded.status().message()).c_str());
      return 1;
    }
    tok = std::move(loaded).value();
    for (std::vector<Sample>* s : {&cold, &warm}) {
      const double w0 = Clock(CLOCK_MONOTONIC), c0 = Clock(CLOCK_THREAD_CPUTIME_ID);
      auto ids = tok->Encode(*text, plain);
      s->push_back({Clock(CLOCK_MONOTONIC) - w0, Clock(CLOCK_THREAD_CPUTIME_ID) - c0});
      if (!ids.ok()) {
        std::fprintf(stderr, "tiktoken_bench: %s\n", std::string(ids.status().message()).c_str());
        return 1;
      }
      tokens = ids->size();
    }
  }
  const std::string enc = dir.substr(dir.find_last_of('/') + 1);
  Report("cold", enc, text->size(), tokens, cold);
  Report("warm", enc, text->size(), tokens, warm);
  // Batch: 64 KiB chunks (cut at a UTF-8 boundary; tokens at the cuts may
  // differ from one whole-text Encode, which does not matter for speed).
  std::vector<std::string> chunks;
  for (size_t pos = 0; pos < text->size();) {
    size_t end = std::min(text->size(), pos + (64u << 10));
    while (end < text->size() && (static_cast<uint8_t>((*text)[end]) & 0xC0) == 0x80) ++end;
    chunks.push_back(text->substr(pos, end - pos));
    pos = end;
  }
  for (int threads : {1, 2}) {
    std::vector<Sample> s;
    size_t n = 0;
    for (int r = 0; r < runs; ++r) {
      const double w0 = Clock(CLOCK_MONOTONIC), c0 = Clock(CLOCK_PROCESS_CPUTIME_ID);
      auto out = tok->EncodeBatch(chunks, plain, threads);
      s.push_back({Clock(CLOCK_MONOTONIC) - w0, Clock(CLOCK_PROCESS_CPUTIME_ID) - c0});
      if (!out.ok()) return 1;
      n = 0;
      for (const auto& v : *out) n += v.size();
    }
    Report(threads == 1 ? "batch1" : "batch2", enc, text->size(), n, s);
  }
  return 0;
}
