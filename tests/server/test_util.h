// Tiny assets for server tests: a hand-made BPE tokenizer and a small random
// model, so no test depends on trained files.
#ifndef LLM_TESTS_SERVER_TEST_UTIL_H_
#define LLM_TESTS_SERVER_TEST_UTIL_H_

#include <memory>
#include <string>

#include "core/model/checkpoint.h"
#include "core/model/config.h"
#include "server/assets.h"

namespace llm::testing {

// Merges (ids in order): 256 = "he", 257 = "ll", 258 = "hell", 259 = " w".
// Special token "<|endoftext|>" = 260. vocab_size 261.
std::unique_ptr<Tokenizer> TinyTokenizer();
inline constexpr int kEndOfText = 260;

// vocab 261, context 16, 2 blocks, d_model 16, 2 heads x 8, d_ff 32.
ModelConfig TinyConfig();
// Deterministic pseudo-random weights (LayerNorm gains 1, biases small).
std::vector<float> TinyParams(const ModelConfig& c, uint64_t seed = 1);

// Tokenizer "tiny" + model "tiny" iteration 0.
std::shared_ptr<ServingAssets> TinyAssets();

// Writes TinyTokenizer() to DIR/bpe_checkpoints/tiny and the model to
// DIR/model_checkpoints/tiny/checkpoint.0.bin.
absl::Status WriteTinyAssets(const std::string& dir);

}  // namespace llm::testing

#endif  // LLM_TESTS_SERVER_TEST_UTIL_H_
