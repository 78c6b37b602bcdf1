// Helpers shared by the model tools (train_model, evaluate_model): loading the
// tokenizer's identity and token splits with actionable errors, and small
// formatting utilities. Header-only; not a library API.
#ifndef LLM_TOOLS_MODEL_TOOL_UTIL_H_
#define LLM_TOOLS_MODEL_TOOL_UTIL_H_

#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/model/batch_sampler.h"
#include "core/model/checkpoint.h"
#include "core/tokenizer/token_file.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/file_util.h"
#include "core/util/paths.h"

namespace llm {

struct TokenizerInfo {
  std::string name;
  int32_t vocab_size = 0;
  std::string fingerprint;
};

// Loads assets/bpe_checkpoints/NAME just to learn its vocab size and
// fingerprint. NotFound (with the command that creates it) if missing.
inline absl::StatusOr<TokenizerInfo> LoadTokenizerInfo(const std::string& name) {
  const std::string dir = TokenizerDir(name);
  if (!PathExists(dir))
    return absl::NotFoundError(absl::StrCat("tokenizer dir ", dir,
                                            " doesn't exist. Did you train the tokenizer? "
                                            "(train_tokenizer -n ", name, ")"));
  auto tok = Tokenizer::Load(dir);
  if (!tok.ok()) return tok.status();
  return TokenizerInfo{name, (*tok)->vocab_size(), (*tok)->Fingerprint()};
}

// Path of a token split: assets/tokens/TOKENIZER/SPLIT.
// The path of checkpoint `iteration` of model `name` (iteration <= 0: the
// newest one). NotFound, naming what exists or the command that creates it.
inline absl::StatusOr<std::string> FindCheckpoint(const std::string& name, int64_t iteration,
                                                  const std::string& tokenizer) {
  const std::vector<int64_t> have = ListCheckpointIterations(name);
  if (have.empty()) {
    return absl::NotFoundError(absl::StrCat("no checkpoints in ", ModelDir(name),
                                            "; train one with `train_model -n ", name, " -t ",
                                            tokenizer, "`"));
  }
  if (iteration <= 0) return CheckpointPath(name, have.back());
  const std::string path = CheckpointPath(name, iteration);
  if (!PathExists(path)) {
    return absl::NotFoundError(absl::StrCat("checkpoint ", path, " doesn't exist; iterations of '",
                                            name, "': ", absl::StrJoin(have, ", ")));
  }
  return path;
}

inline std::string TokenSplitPath(const std::string& tokenizer, const std::string& split) {
  return absl::StrCat(TokensDir(tokenizer), "/", split);
}

// Reads a token split and checks it was made by `tok`. NotFound /
// FailedPrecondition name the file and the command that (re)creates it.
inline absl::StatusOr<TokenFile> LoadSplit(const TokenizerInfo& tok, const std::string& split) {
  const std::string path = TokenSplitPath(tok.name, split);
  const std::string fix = absl::StrCat("run `tokenize_splits -n ", tok.name, "` to create it");
  if (!PathExists(path))
    return absl::NotFoundError(absl::StrCat("token file ", path, " not found; ", fix));
  auto f = ReadTokenFile(path);
  if (!f.ok()) return f.status();
  if (f->header.tokenizer_fingerprint != tok.fingerprint ||
      static_cast<int32_t>(f->header.vocab_size) != tok.vocab_size)
    return absl::FailedPreconditionError(absl::StrCat(
        "token file ", path, " was made by a different tokenizer (fingerprint ",
        f->header.tokenizer_fingerprint, ", vocab ", f->header.vocab_size, ") than '", tok.name,
        "' (fingerprint ", tok.fingerprint, ", vocab ", tok.vocab_size, "); re-", fix));
  return f;
}

// `count` full-length evaluation windows spread evenly over the sequence
// (all of them if there are fewer).
inline std::vector<EvalWindow> SpacedEvalWindows(size_t n_tokens, int context, int64_t count) {
  std::vector<EvalWindow> all = EvalWindows(n_tokens, context);
  while (!all.empty() && all.back().length < context) all.pop_back();
  if (count <= 0 || static_cast<size_t>(count) >= all.size()) return all;
  std::vector<EvalWindow> out;
  for (int64_t i = 0; i < count; ++i)
    out.push_back(all[static_cast<size_t>(i) * all.size() / static_cast<size_t>(count)]);
  return out;
}

// 1234567 -> "1,234,567".
inline std::string WithCommas(uint64_t v) {
  const std::string digits = absl::StrCat(v);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

// Erases a partially drawn progress bar line on a terminal so a message can
// be printed cleanly.
inline void ClearProgressLine() {
  if (::isatty(STDERR_FILENO)) std::fputs("\r\033[K", stderr);
}

}  // namespace llm

#endif  // LLM_TOOLS_MODEL_TOOL_UTIL_H_
