#include "core/util/paths.h"

#include <cstdlib>
#include <mutex>

namespace llm {
namespace {
std::mutex g_mu;
std::string* g_assets = nullptr;
}  // namespace

std::string AssetsDir() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_assets != nullptr) return *g_assets;
  const char* env = std::getenv("LLM_ASSETS_DIR");
  if (env != nullptr && env[0] != '\0') return env;
  return "assets";
}

void SetAssetsDir(const std::string& dir) {
  std::lock_guard<std::mutex> lock(g_mu);
  delete g_assets;
  g_assets = new std::string(dir);
}

std::string TextDir() { return AssetsDir() + "/text"; }
std::string TokenizerDir(const std::string& name) { return AssetsDir() + "/bpe_checkpoints/" + name; }
std::string TokensDir(const std::string& tokenizer) { return AssetsDir() + "/tokens/" + tokenizer; }
std::string ModelDir(const std::string& name) { return AssetsDir() + "/model_checkpoints/" + name; }

}  // namespace llm
