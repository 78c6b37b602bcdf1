// tokenizer_bench [--tokenizer DIR] [--tiktoken FILE] [--text PATH] [--runs N]
//
// Encode throughput of the BPE Tokenizer in MB/s (median of N runs), both
// per wall-clock second and per CPU-second (the latter is robust when other
// jobs share the machine; for 2 threads it sums both threads' CPU time):
//   - single thread, runtime LRU cache disabled
//   - single thread, cold cache (cleared before every run)
//   - single thread, warm cache
//   - EncodeBatch over 64 KiB chunks with 1 and 2 threads (warm cache)
// Defaults: tokenizer assets/bpe_checkpoints/default_10k, or, if absent, a
// 10k-merge tokenizer made of cl100k_base's first 10k merges (renumbered);
// text = assets/text/test.txt, or the last 1 MiB of the Shakespeare corpus.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/tokenizer/pretokenizer.h"
#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/utf8.h"
#include "core/util/file_util.h"

namespace {

using llm::Tokenizer;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Wall and CPU seconds of one call (CPU = whole process, so it sums threads).
struct Timing {
  double wall;
  double cpu;
};

double ProcessCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

Timing Time(const std::function<void()>& fn) {
  const double c0 = ProcessCpuSeconds();
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return {wall, ProcessCpuSeconds() - c0};
}

// Prints "label: X MB/s wall (Y MB/s per CPU-second)" using medians.
void Report(const char* label, double mb, const std::vector<Timing>& t, const char* extra = "") {
  std::vector<double> wall, cpu;
  for (const Timing& x : t) {
    wall.push_back(x.wall);
    cpu.push_back(x.cpu);
  }
  std::printf("%-28s: %7.1f MB/s wall  %7.1f MB/s per CPU-second%s\n", label, mb / Median(wall),
              mb / Median(cpu), extra);
}

// cl100k's first `n` recovered merges renumbered as a trained merge list.
absl::StatusOr<std::unique_ptr<Tokenizer>> Cl100kStyle(const std::string& path, int n,
                                                       llm::TokenizerOptions opts) {
  auto ranks = llm::ReadTiktokenFile(path);
  if (!ranks.ok()) return ranks.status();
  const std::string pattern = llm::SplitPatternByName("gpt-4").value();
  auto cl = Tokenizer::FromRanks(pattern, std::move(ranks).value());
  if (!cl.ok()) return cl.status();
  absl::flat_hash_map<int32_t, int32_t> remap;
  for (int b = 0; b < 256; ++b) remap[(*cl)->EncodePieceBpe(std::string(1, char(b)))[0]] = b;
  std::vector<llm::Merge> merges;
  for (const llm::Merge& m : (*cl)->merges()) {
    if (static_cast<int>(merges.size()) >= n) break;
    auto l = remap.find(m.left), r = remap.find(m.right);
    if (l == remap.end() || r == remap.end()) continue;
    const int32_t id = 256 + static_cast<int32_t>(merges.size());
    merges.push_back({l->second, r->second, id});
    remap[m.id] = id;
  }
  return Tokenizer::FromMerges(pattern, std::move(merges), opts);
}

}  // namespace

int main(int argc, char** argv) {
  std::string tok_dir = "assets/bpe_checkpoints/default_10k";
  std::string tiktoken_path = "../shared/data/tiktoken/cl100k_base.tiktoken";
  std::string text_path;
  int runs = 7;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--tokenizer") {
      tok_dir = value();
    } else if (a == "--tiktoken") {
      tiktoken_path = value();
      tok_dir.clear();
    } else if (a == "--text") {
      text_path = value();
    } else if (a == "--runs") {
      runs = std::max(1, std::atoi(value().c_str()));
    } else {
      std::fprintf(stderr,
                   "usage: tokenizer_bench [--tokenizer DIR] [--tiktoken FILE] [--text PATH] "
                   "[--runs N]\n");
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }

  // Text: the test split (last 1 MiB of Shakespeare).
  std::string text;
  for (const std::string& p : {text_path, std::string("assets/text/test.txt"),
                               std::string("../shared/data/shakespeare.txt")}) {
    if (p.empty() || !llm::PathExists(p)) continue;
    text = llm::ReadFile(p).value();
    if (p.find("shakespeare.txt") != std::string::npos && text.size() > (1 << 20)) {
      text = text.substr(text.size() - (1 << 20));
    }
    std::printf("text: %s (%zu bytes)\n", p.c_str(), text.size());
    break;
  }
  if (text.empty()) {
    std::fprintf(stderr, "no text found (use --text)\n");
    return 1;
  }
  text.resize(llm::ValidUtf8Prefix(text));

  auto make = [&](llm::TokenizerOptions opts) -> std::unique_ptr<Tokenizer> {
    absl::StatusOr<std::unique_ptr<Tokenizer>> t;
    if (!tok_dir.empty() && llm::PathExists(tok_dir)) {
      t = Tokenizer::Load(tok_dir, opts);
    } else if (!tok_dir.empty()) {
      t = Cl100kStyle(tiktoken_path, 10000, opts);
    } else {
      auto ranks = llm::ReadTiktokenFile(tiktoken_path);
      if (!ranks.ok()) t = ranks.status();
      else t = Tokenizer::FromRanks(llm::SplitPatternByName("gpt-4").value(), std::move(*ranks), opts);
    }
    if (!t.ok()) {
      std::fprintf(stderr, "cannot build tokenizer: %s\n", std::string(t.status().message()).c_str());
      std::exit(1);
    }
    return std::move(t).value();
  };
  auto tok = make({});
  if (!tok_dir.empty() && llm::PathExists(tok_dir)) {
    std::printf("tokenizer: %s", tok_dir.c_str());
  } else if (!tok_dir.empty()) {
    std::printf("tokenizer: cl100k's first 10k merges (%s)", tiktoken_path.c_str());
  } else {
    std::printf("tokenizer: %s (ranks)", tiktoken_path.c_str());
  }
  std::printf(", %d merges, vocab %d, fingerprint %s\n", tok->num_merges(), tok->vocab_size(),
              tok->Fingerprint().c_str());
  const double mb = text.size() / 1e6;
  size_t num_tokens = 0;

  llm::TokenizerOptions off;
  off.use_cache = false;
  auto no_cache = make(off);
  std::vector<Timing> t_off, t_cold, t_warm;
  for (int r = 0; r < runs; ++r) {
    t_off.push_back(Time([&] { num_tokens = no_cache->Encode(text)->size(); }));
  }
  for (int r = 0; r < runs; ++r) {
    tok->ClearCache();
    t_cold.push_back(Time([&] { (void)tok->Encode(text); }));
  }
  for (int r = 0; r < runs; ++r) t_warm.push_back(Time([&] { (void)tok->Encode(text); }));
  std::printf("tokens: %zu (%.2f bytes/token); medians of %d runs\n", num_tokens,
              double(text.size()) / num_tokens, runs);
  Report("single thread, no LRU cache", mb, t_off);
  Report("single thread, cold cache", mb, t_cold);
  Report("single thread, warm cache", mb, t_warm);

  // 64 KiB chunks cut at line ends.
  std::vector<std::string> chunks;
  for (size_t i = 0; i < text.size();) {
    size_t end = std::min(text.size(), i + 65536);
    const size_t nl = text.find('\n', end);
    end = nl == std::string::npos ? text.size() : nl + 1;
    chunks.push_back(text.substr(i, end - i));
    i = end;
  }
  for (int threads : {1, 2}) {
    std::vector<Timing> t;
    for (int r = 0; r < runs; ++r) {
      t.push_back(Time([&] { (void)tok->EncodeBatch(chunks, {}, threads); }));
    }
    const std::string label = "EncodeBatch, " + std::to_string(threads) + " thread(s)";
    const std::string extra = " (" + std::to_string(chunks.size()) + " chunks)";
    Report(label.c_str(), mb, t, extra.c_str());
  }
  const llm::CacheStats st = tok->cache_stats();
  std::printf("LRU: %zu/%zu entries, %llu hits, %llu misses\n", st.size, st.capacity,
              static_cast<unsigned long long>(st.hits), static_cast<unsigned long long>(st.misses));
  return 0;
}
