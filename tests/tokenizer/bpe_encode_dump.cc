// bpe_encode_dump TIKTOKEN_FILE NUM_MERGES TEXT_FILE OUT_DIR
//
// Test helper for tokenizer_bpe_vs_python_reference: builds a trained-style
// tokenizer from cl100k's first NUM_MERGES recovered merges (renumbered from
// 256), adds three trained-cache pieces, saves it to OUT_DIR in the original's
// directory format, encodes TEXT_FILE and writes one token id per line to
// OUT_DIR/ids.txt.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/tokenizer/pretokenizer.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/file_util.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: bpe_encode_dump TIKTOKEN_FILE NUM_MERGES TEXT_FILE OUT_DIR\n");
    return 2;
  }
  auto ranks = llm::ReadTiktokenFile(argv[1]);
  auto text = llm::ReadFile(argv[3]);
  if (!ranks.ok() || !text.ok()) {
    std::fprintf(stderr, "cannot read inputs\n");
    return 1;
  }
  const std::string pattern = llm::SplitPatternByName("gpt-4").value();
  auto cl = llm::Tokenizer::FromRanks(pattern, std::move(ranks).value()).value();
  absl::flat_hash_map<int32_t, int32_t> remap;
  for (int b = 0; b < 256; ++b) remap[cl->EncodePieceBpe(std::string(1, char(b)))[0]] = b;
  std::vector<llm::Merge> merges;
  const int n = std::atoi(argv[2]);
  for (const llm::Merge& m : cl->merges()) {
    if (static_cast<int>(merges.size()) >= n) break;
    auto l = remap.find(m.left), r = remap.find(m.right);
    if (l == remap.end() || r == remap.end()) continue;
    const int32_t id = 256 + static_cast<int32_t>(merges.size());
    merges.push_back({l->second, r->second, id});
    remap[m.id] = id;
  }
  auto tok = llm::Tokenizer::FromMerges(pattern, merges).value();
  std::vector<std::pair<std::string, std::vector<int32_t>>> extra;
  for (std::string w : {" Bolingbroke", " Northumberland", "Gloucester"}) {
    extra.emplace_back(w, tok->EncodePieceBpe(w));
  }
  tok->AddTrainedPieces(extra);
  if (auto s = tok->Save(argv[4]); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 1;
  }
  auto ids = tok->Encode(*text, llm::SpecialTokenPolicy::PlainText());
  if (!ids.ok()) {
    std::fprintf(stderr, "%s\n", std::string(ids.status().message()).c_str());
    return 1;
  }
  std::string out;
  for (int32_t id : *ids) out += std::to_string(id) + "\n";
  return llm::WriteFileAtomic(std::string(argv[4]) + "/ids.txt", out).ok() ? 0 : 1;
}
