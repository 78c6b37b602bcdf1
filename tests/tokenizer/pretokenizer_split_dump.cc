// pretokenizer_split_dump PATTERN_FILE CORPUS_FILE [--no-fast-path]
//
// Prints our pre-tokenizer's pieces for every document of CORPUS_FILE in the
// format of tests/tokenizer/split_reference.py: one line per document, the
// byte offsets where pieces end, space-separated. PATTERN_FILE holds the exact
// pattern text (no trailing newline). Used by the differential ctest.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/tokenizer/pretokenizer.h"
#include "core/tokenizer/pretokenizer_internal.h"
#include "core/tokenizer/utf8.h"
#include "core/util/file_util.h"

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    std::fprintf(stderr, "usage: %s PATTERN_FILE CORPUS_FILE [--no-fast-path]\n", argv[0]);
    return 2;
  }
  const bool fast = !(argc == 4 && std::string_view(argv[3]) == "--no-fast-path");
  auto pattern = llm::ReadFile(argv[1]);
  auto corpus = llm::ReadFile(argv[2]);
  if (!pattern.ok() || !corpus.ok()) {
    std::fprintf(stderr, "cannot read inputs: %s %s\n", pattern.status().ToString().c_str(),
                 corpus.status().ToString().c_str());
    return 1;
  }
  auto pre = llm::pretokenizer_internal::CreateWithOptions(*pattern, fast);
  if (!pre.ok()) {
    std::fprintf(stderr, "%s\n", pre.status().ToString().c_str());
    return 1;
  }
  const std::string& data = *corpus;
  std::string out;
  size_t i = 0;
  while (i < data.size()) {
    const size_t nl = data.find('\n', i);
    if (nl == std::string::npos) break;
    const size_t n = std::strtoull(data.c_str() + i, nullptr, 10);
    if (nl + 1 + n > data.size()) {
      std::fprintf(stderr, "corrupt corpus at byte %zu\n", i);
      return 1;
    }
    const std::string_view doc(data.data() + nl + 1, n);
    if (!llm::ValidateUtf8(doc).ok()) {
      std::fprintf(stderr, "invalid UTF-8 in document at byte %zu\n", i);
      return 1;
    }
    bool first = true;
    (*pre)->Split(doc, [&](size_t, size_t end) {
      if (!first) out.push_back(' ');
      first = false;
      out += std::to_string(end);
    });
    out.push_back('\n');
    i = nl + 1 + n + 1;
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}
