// Writes the seed corpora under OUT/TARGET/ (usage: fuzz_make_seeds OUT).
// The checked-in tests/fuzz/corpus/ was produced by this program; rerun it
// only when a file format changes.
#include <cstdio>
#include <string>
#include <vector>

#include "core/model/checkpoint.h"
#include "core/model/config.h"
#include "core/tokenizer/token_file.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/file_util.h"
#include "tests/fuzz/fuzz_tokenizers.h"

namespace llm {
namespace fuzz {
namespace {

void Put(const std::string& out, const std::string& target, const std::string& name,
         const std::string& bytes) {
  FUZZ_CHECK(MakeDirs(out + "/" + target).ok(), "mkdir");
  WriteRaw(out + "/" + target + "/" + name, bytes);
}

std::string DirAsInput(const std::string& dir) {
  static const char* const kFiles[] = {"pattern.txt", "merges.txt", "vocab.txt",
                                       "cache.txt", "special_tokens.txt", "ranks.tiktoken"};
  std::string in;
  for (int i = 0; i < 6; ++i) {
    if (i) in += "\n--8<--\n";
    auto r = ReadFile(dir + "/" + kFiles[i]);
    in += r.ok() ? *r : "<absent>";
  }
  return in;
}

int Main(int argc, char** argv) {
  FUZZ_CHECK(argc == 2, "usage: fuzz_make_seeds OUT_DIR");
  const std::string out = argv[1];

  const std::vector<std::string> texts = {
      "hello world, the end\n\n    x = 123's; caf\xC3\xA9 \xE2\x82\xAC",
      "I'm   don't\tTHE\r\n\r\n  \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E 12345 !!?",
      "\xF0\x9F\x98\x80 emoji, \xCC\x81 combining, \xC2\xA0nbsp \xE3\x80\x80 ideographic space",
      "bad \xC3 utf8 \xED\xA0\x80 surrogate \xF5 \xFF\xFE end"};
  for (size_t i = 0; i < texts.size(); ++i) {
    for (char pattern = 0; pattern < 3; ++pattern) {
      Put(out, "fuzz_encode", "seed" + std::to_string(i) + "_" + std::to_string(pattern),
          std::string(1, pattern) + texts[i]);
    }
  }

  const std::string special_text =
      "a<|endoftext|>b<|end|><|endoftext|>!<|fim_prefix|><|a|><|\xC3\xA9|><|end<|endo";
  for (char mode = 0; mode < 5; ++mode) {
    Put(out, "fuzz_special_tokens", "seed" + std::to_string(mode),
        std::string(1, mode) + "\x55" + special_text);
  }
  Put(out, "fuzz_special_tokens", "plain", std::string("\0\0hello world", 13));

  {  // Trained-style directory with specials and a cache.txt entry.
    const std::string dir = ScratchDir() + "/seed_merges";
    auto t = Tokenizer::FromMerges(SplitPatternByName("gpt-4").value(), FuzzMerges());
    FUZZ_CHECK(t.ok(), t.status().ToString());
    FUZZ_CHECK((*t)->AddSpecialTokens({{"<|endoftext|>", 400}, {"<|x|>", 401}}).ok(), "specials");
    (*t)->AddTrainedPieces({{" cafe", {(*t)->EncodePieceBpe(" cafe")}}});
    FUZZ_CHECK((*t)->Save(dir).ok(), "save");
    Put(out, "fuzz_tokenizer_files", "merges_dir", DirAsInput(dir));
  }
  {  // tiktoken-style directory: 256 bytes + a few multi-byte ranks.
    const std::string dir = ScratchDir() + "/seed_ranks";
    std::vector<std::string> ranks;
    for (int b = 0; b < 256; ++b) ranks.push_back(std::string(1, static_cast<char>(b)));
    for (const char* s : {"th", "the", " t", " the", "in", "ing", "\xC3\xA9", "\xE2\x82"}) {
      ranks.push_back(s);
    }
    auto t = Tokenizer::FromRanks(SplitPatternByName("o200k_base").value(), ranks);
    FUZZ_CHECK(t.ok(), t.status().ToString());
    FUZZ_CHECK((*t)->Save(dir).ok(), "save");
    Put(out, "fuzz_tokenizer_files", "ranks_dir", DirAsInput(dir));
  }

  {  // Tiny checkpoints, with and without Adam state.
    CheckpointData d;
    d.config.vocab_size = 7;
    d.config.context = 3;
    d.config.n_blocks = 1;
    d.config.d_model = 4;
    d.config.n_heads = 2;
    d.config.d_head = 2;
    d.config.d_ff = 5;
    d.tokenizer_name = "tiny";
    d.tokenizer_fingerprint = "0123456789abcdef";
    d.step = 3;
    d.seed = 42;
    d.extra = "{\"lr\": 0.001}";
    const size_t n = NumParameters(d.config);
    for (size_t i = 0; i < n; ++i) d.params.push_back(0.01f * static_cast<float>(i % 17) - 0.05f);
    const std::string path = ScratchDir() + "/seed.bin";
    FUZZ_CHECK(SaveCheckpoint(path, d).ok(), "save checkpoint");
    const std::string plain = ReadFile(path).value();
    d.has_optimizer = true;
    d.adam_m.assign(n, 0.5f);
    d.adam_v.assign(n, 0.25f);
    d.adam_step = 3;
    FUZZ_CHECK(SaveCheckpoint(path, d).ok(), "save checkpoint");
    const std::string with_adam = ReadFile(path).value();
    Put(out, "fuzz_checkpoint", "plain_raw", std::string(1, '\0') + plain);
    Put(out, "fuzz_checkpoint", "plain_repair", std::string(1, '\1') + plain);
    Put(out, "fuzz_checkpoint", "adam_repair", std::string(1, '\1') + with_adam);
  }

  {  // Token files, uint16 and uint32.
    TokenFileHeader h;
    h.tokenizer_name = "default_10k";
    h.tokenizer_fingerprint = "0123456789abcdef";
    h.vocab_size = 300;
    auto small = SerializeTokenFile(h, {1, 2, 3, 299, 0, 256});
    h.vocab_size = 100277;
    h.tokenizer_name = "cl100k";
    auto big = SerializeTokenFile(h, {100276, 5, 70000});
    FUZZ_CHECK(small.ok() && big.ok(), "serialize");
    Put(out, "fuzz_token_file", "u16_raw", std::string(1, '\0') + *small);
    Put(out, "fuzz_token_file", "u16_repair", std::string(1, '\1') + *small);
    Put(out, "fuzz_token_file", "u32_repair", std::string(1, '\1') + *big);
  }
  std::printf("seeds written to %s\n", out.c_str());
  return 0;
}

}  // namespace
}  // namespace fuzz
}  // namespace llm

int main(int argc, char** argv) { return llm::fuzz::Main(argc, argv); }
