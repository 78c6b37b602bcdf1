// Fuzz target: the tokenizer directory loaders (pattern.txt, merges.txt,
// vocab.txt, cache.txt, special_tokens.txt, ranks.tiktoken) and
// ReadTiktokenFile.
//
// Input format: the files' contents in the order above, separated by the line
// "--8<--" (i.e. "\n--8<--\n"); a part that is exactly "<absent>", or a
// missing trailing part, means the file does not exist. The seed corpus holds
// real directories written by Tokenizer::Save, so mutations mostly perturb
// one file of an otherwise valid tokenizer.
#include <string>
#include <string_view>
#include <vector>

#include "core/tokenizer/tokenizer.h"
#include "core/util/file_util.h"
#include "tests/fuzz/fuzz_targets.h"
#include "tests/fuzz/fuzz_util.h"

namespace llm {
namespace fuzz {
namespace {

const char* const kFiles[] = {"pattern.txt", "merges.txt", "vocab.txt",
                              "cache.txt", "special_tokens.txt", "ranks.tiktoken"};

void CheckLoaded(const Tokenizer& tok, const std::string& resaved_dir) {
  static const char* const kTexts[] = {"", "hello world", "  the end\n\n", "caf\xC3\xA9 \xE2\x82\xAC",
                                       "\xE6\x97\xA5\xE6\x9C\xAC 123's"};
  std::vector<std::vector<int32_t>> encoded;
  for (const char* text : kTexts) {
    auto r = tok.Encode(text, SpecialTokenPolicy::PlainText());
    FUZZ_CHECK(r.ok(), "loaded tokenizer cannot encode: " + r.status().ToString());
    auto back = tok.DecodeBytes(*r);
    FUZZ_CHECK(back.ok() && *back == text, "loaded tokenizer does not round-trip");
    encoded.push_back(*r);
  }
  for (int32_t id = 0; id < tok.vocab_size() && id < 4096; ++id) (void)tok.Render(id);

  // Save + Load gives the same tokenizer.
  absl::Status st = tok.Save(resaved_dir);
  FUZZ_CHECK(st.ok(), "Save of a loaded tokenizer failed: " + st.ToString());
  auto again = Tokenizer::Load(resaved_dir);
  FUZZ_CHECK(again.ok(), "re-Load of a saved tokenizer failed: " + again.status().ToString());
  FUZZ_CHECK((*again)->Fingerprint() == tok.Fingerprint(), "fingerprint changed by Save + Load");
  FUZZ_CHECK((*again)->vocab_size() == tok.vocab_size(), "vocab_size changed by Save + Load");
  for (size_t i = 0; i < encoded.size(); ++i) {
    auto r = (*again)->Encode(kTexts[i], SpecialTokenPolicy::PlainText());
    FUZZ_CHECK(r.ok() && *r == encoded[i], "encoding changed by Save + Load");
  }
}

int Run(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  for (size_t pos = 0;;) {  // split on the separator line
    const size_t sep = input.find("\n--8<--\n", pos);
    parts.push_back(input.substr(pos, sep == std::string_view::npos ? std::string_view::npos
                                                                     : sep - pos));
    if (sep == std::string_view::npos) break;
    pos = sep + 8;
  }
  const std::string dir = ScratchDir() + "/tok";
  const std::string resaved = ScratchDir() + "/tok_resaved";
  (void)MakeDirs(dir);
  for (size_t i = 0; i < 6; ++i) {
    const std::string path = dir + "/" + kFiles[i];
    if (i < parts.size() && parts[i] != "<absent>") {
      WriteRaw(path, parts[i]);
    } else {
      RemoveIfExists(path);
    }
  }

  if (parts.size() > 5 && parts[5] != "<absent>") {
    const std::string path = dir + "/" + kFiles[5];
    auto ranks = ReadTiktokenFile(path);
    auto parsed = ParseTiktokenRanks(parts[5], path);
    FUZZ_CHECK(ranks.ok() == parsed.ok(), "ReadTiktokenFile and ParseTiktokenRanks disagree");
    if (ranks.ok()) FUZZ_CHECK(*ranks == *parsed, "ReadTiktokenFile and ParseTiktokenRanks differ");
    if (!ranks.ok()) {
      FUZZ_CHECK(ranks.status().message().find(path) != absl::string_view::npos,
                 "tiktoken error does not name the file: " + ranks.status().ToString());
    }
  }

  auto tok = Tokenizer::Load(dir);
  if (!tok.ok()) {
    FUZZ_CHECK(tok.status().code() != absl::StatusCode::kOk, "");
    FUZZ_CHECK(tok.status().code() != absl::StatusCode::kInternal &&
                   tok.status().code() != absl::StatusCode::kUnknown,
               "unexpected error code: " + tok.status().ToString());
    return 0;
  }
  (void)RemoveAll(resaved);
  CheckLoaded(**tok, resaved);
  return 0;
}

}  // namespace

int FuzzTokenizerFiles(const uint8_t* data, size_t size) { return Run(data, size); }

}  // namespace fuzz
}  // namespace llm

LLM_DEFINE_FUZZ_ENTRY(llm::fuzz::FuzzTokenizerFiles)
