// Where generated artifacts live. Every tool resolves paths through these
// helpers so `--assets` / $LLM_ASSETS_DIR relocate everything at once.
#ifndef LLM_CORE_UTIL_PATHS_H_
#define LLM_CORE_UTIL_PATHS_H_

#include <string>

namespace llm {

// The assets root: the value set by SetAssetsDir(), else $LLM_ASSETS_DIR,
// else "assets" (relative to the working directory, i.e. the repo root).
std::string AssetsDir();
void SetAssetsDir(const std::string& dir);

std::string TextDir();                                   // assets/text
std::string TokenizerDir(const std::string& name);       // assets/bpe_checkpoints/NAME
std::string TokensDir(const std::string& tokenizer);     // assets/tokens/NAME
std::string ModelDir(const std::string& name);           // assets/model_checkpoints/NAME

}  // namespace llm

#endif  // LLM_CORE_UTIL_PATHS_H_
