#include "tests/server/test_util.h"

#include <filesystem>

#include "core/model/inference.h"
#include "core/model/sampler.h"
#include "core/tokenizer/pretokenizer.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/file_util.h"
#include "core/util/status_macros.h"

namespace llm::testing {

std::unique_ptr<Tokenizer> TinyTokenizer() {
  std::string pattern = SplitPatternByName(DefaultSplitPatternName()).value();
  std::vector<Merge> merges = {
      {'h', 'e', 256}, {'l', 'l', 257}, {256, 257, 258}, {' ', 'w', 259}};
  auto tok = Tokenizer::FromMerges(pattern, merges).value();
  absl::Status s = tok->AddSpecialTokens({{"<|endoftext|>", kEndOfText}});
  if (!s.ok()) abort();
  return tok;
}

ModelConfig TinyConfig() {
  ModelConfig c;
  c.vocab_size = 261;
  c.context = 16;
  c.n_blocks = 2;
  c.d_model = 16;
  c.n_heads = 2;
  c.d_head = 8;
  c.d_ff = 32;
  return c;
}

std::vector<float> TinyParams(const ModelConfig& c, uint64_t seed) {
  ParamLayout layout(c);
  std::vector<float> p(layout.total);
  Rng rng(seed);
  for (float& x : p) x = static_cast<float>(rng.NextUniform() - 0.5);  // U(-0.5, 0.5)
  for (const auto& b : layout.blocks) {
    for (int i = 0; i < c.d_model; ++i) {
      p[b.ln1_g + i] = 1.0f;
      p[b.ln2_g + i] = 1.0f;
    }
  }
  for (int i = 0; i < c.d_model; ++i) p[layout.lnf_g + i] = 1.0f;
  // Sharper logits so that generations are varied but not uniform noise.
  for (size_t i = 0; i < static_cast<size_t>(c.d_model) * c.vocab_size; ++i) p[layout.wu + i] *= 4.0f;
  return p;
}

std::shared_ptr<ServingAssets> TinyAssets() {
  auto a = std::make_shared<ServingAssets>();
  a->tokenizer_name = "tiny";
  a->tokenizer = TinyTokenizer();
  a->model_name = "tiny";
  a->iteration = 0;
  ModelConfig c = TinyConfig();
  a->model = InferenceModel::Create(c, TinyParams(c)).value();
  return a;
}

absl::Status WriteTinyAssets(const std::string& dir) {
  auto tok = TinyTokenizer();
  RETURN_IF_ERROR(tok->Save(dir + "/bpe_checkpoints/tiny"));
  RETURN_IF_ERROR(MakeDirs(dir + "/model_checkpoints/tiny"));
  CheckpointData data;
  data.config = TinyConfig();
  data.params = TinyParams(data.config);
  data.tokenizer_name = "tiny";
  data.tokenizer_fingerprint = tok->Fingerprint();
  return SaveCheckpoint(dir + "/model_checkpoints/tiny/checkpoint.0.bin", data);
}

}  // namespace llm::testing
