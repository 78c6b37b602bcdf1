// pretokenizer_bench [SHAKESPEARE_PATH] [--runs N]
//
// Single-thread pre-tokenizer throughput (MB/s, median of N runs) for every
// named split pattern, on the Shakespeare text and on a mixed multilingual
// text, with and without the ASCII fast path.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/tokenizer/pretokenizer.h"
#include "core/tokenizer/pretokenizer_internal.h"
#include "core/util/file_util.h"
#include "core/util/flags.h"

namespace {

// ~5 MB of text mixing scripts, emoji, numbers, code and whitespace kinds.
std::string MultilingualText() {
  const char* paragraphs[] = {
      "The quick brown fox doesn't jump over 1234567 lazy dogs; it's 3.14159 times faster!\n",
      "Le cœur a ses raisons que la raison ne connaît point. C'était l'été 1998 — déjà vu.\n",
      "Привет, как дела? Всё хорошо: 42 рубля, 7 копеек.\r\n",
      "こんにちは世界！東京は晴れです。価格は３００円。\n",
      "안녕하세요! 오늘 날씨가 좋네요 (정말?) 😉👍🏽\n",
      "مرحبا بالعالم، هذا نص عربي مع أرقام ١٢٣٤.\n",
      "שלום עולם, זהו טקסט בעברית.\n",
      "नमस्ते दुनिया! यह हिन्दी पाठ है।\n",
      "สวัสดีชาวโลก นี่คือข้อความภาษาไทย\n",
      "    def HelloWorld(self, x_1: int) -> str:\n        return f\"{x_1}\\t/path/to\"  \n",
      "Ελληνικά: Καλημέρα κόσμε!\u00a0\u2009\u3000👨‍👩‍👧 family\n\n\n",
  };
  std::string out;
  while (out.size() < 5'000'000) {
    for (const char* p : paragraphs) out += p;
  }
  return out;
}

double MedianMBps(const llm::PreTokenizer& pre, std::string_view text, int runs, size_t* pieces) {
  std::vector<double> rates;
  for (int r = 0; r < runs; ++r) {
    size_t count = 0;
    const auto t0 = std::chrono::steady_clock::now();
    pre.Split(text, [&](size_t, size_t) { ++count; });
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rates.push_back(text.size() / 1e6 / secs);
    *pieces = count;
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> positional;
  int64_t num_runs = 5;
  llm::FlagParser flags("pretokenizer_bench",
                        "Pre-tokenizer splitting speed (MB/s) per split pattern, with and without the "
                        "ASCII fast path, on TEXT (default ../shared/data/shakespeare.txt) and a "
                        "generated multilingual text.");
  flags.AddInt({"--runs"}, &num_runs, "Runs per measurement (the median is reported)");
  flags.AllowPositional(&positional, "[TEXT]");
  if (int rc = flags.ParseOrExit(argc, argv); rc >= 0) return rc;
  const std::string path = positional.empty() ? "../shared/data/shakespeare.txt" : positional[0];
  const int runs = std::max<int>(1, static_cast<int>(num_runs));
  auto shakespeare = llm::ReadFile(path);
  if (!shakespeare.ok()) {
    std::fprintf(stderr, "cannot read %s: %s\n", path.c_str(),
                 shakespeare.status().ToString().c_str());
    return 1;
  }
  const std::string multi = MultilingualText();
  std::printf("%-12s %-13s %-12s %10s %12s\n", "pattern", "text", "path", "MB/s", "pieces");
  for (const char* name : {"gpt-4", "cl100k_base", "o200k_base", "gpt2"}) {
    auto pattern = llm::SplitPatternByName(name);
    for (bool fast : {true, false}) {
      auto pre = llm::pretokenizer_internal::CreateWithOptions(*pattern, fast);
      if (!pre.ok()) {
        std::fprintf(stderr, "%s\n", pre.status().ToString().c_str());
        return 1;
      }
      for (const auto& [label, text] :
           {std::pair<const char*, std::string_view>{"shakespeare", *shakespeare},
            std::pair<const char*, std::string_view>{"multilingual", multi}}) {
        size_t pieces = 0;
        const double mbps = MedianMBps(**pre, text, runs, &pieces);
        std::printf("%-12s %-13s %-12s %10.1f %12zu\n", name, label,
                    fast ? "fast+re2" : "re2-only", mbps, pieces);
      }
    }
  }
  return 0;
}
