// generate_text: stream text from a trained model (the original's
// scripts/generate_text.py, with a KV cache and sampling options).
//
//   generate_text -t default_10k -n v2 -c 100 [--prompt "ACT I. Scene I.\n\n"]
//                 [--max-tokens 500] [--temperature 1.0] [--top-k K] [--top-p P]
//                 [--seed S] [--greedy]
//
// Reads   assets/bpe_checkpoints/TOKENIZER      (made by train_tokenizer)
//         assets/model_checkpoints/NAME/checkpoint.ITER.bin (made by train_model)
// Writes  the prompt and then the generated text to stdout, token by token;
//         status lines go to stderr. A multi-byte UTF-8 character split
//         across tokens is printed only once complete; invalid bytes print
//         as U+FFFD.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/model/checkpoint.h"
#include "core/model/inference.h"
#include "core/model/inference_checkpoint.h"
#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/utf8.h"
#include "core/util/file_util.h"
#include "core/util/flags.h"
#include "core/util/paths.h"
#include "tools/model_tool_util.h"

namespace llm {
namespace {

struct Args {
  std::string tokenizer_name, checkpoint_name;
  int64_t checkpoint_iter = -1;
  std::string prompt = "ACT I. Scene I.\\n\\n";
  int64_t max_tokens = 500;
  double temperature = 1.0;
  int64_t top_k = 0;
  double top_p = 1.0;
  int64_t seed = -1;
  bool greedy = false;
  std::string assets;
};

// Replaces the two-character sequence backslash-n with a newline (and a
// doubled backslash with one backslash), so prompts can span lines.
std::string UnescapePrompt(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == 'n' || s[i + 1] == '\\')) {
      out.push_back(s[i + 1] == 'n' ? '\n' : '\\');
      ++i;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Number of bytes at the end of `s` that start a UTF-8 character more bytes
// could still complete (0..3); such a tail is held back until the next token.
size_t IncompleteTail(const std::string& s) {
  const size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const unsigned char c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    size_t need = 0;
    if ((c & 0xE0) == 0xC0) need = 2;
    else if ((c & 0xF0) == 0xE0) need = 3;
    else if ((c & 0xF8) == 0xF0) need = 4;
    return need > back ? back : 0;
  }
  return 0;
}

// Prints token bytes as UTF-8 text without ever splitting a character.
class Utf8Printer {
 public:
  void Add(const std::string& bytes) {
    pending_ += bytes;
    const size_t hold = IncompleteTail(pending_);
    const std::string ready = pending_.substr(0, pending_.size() - hold);
    pending_.erase(0, pending_.size() - hold);
    Print(ready);
  }
  void Flush() {
    Print(pending_);
    pending_.clear();
  }

 private:
  static void Print(const std::string& bytes) {
    if (bytes.empty()) return;
    const std::string text = Utf8Lossy(bytes);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  }
  std::string pending_;
};

absl::Status Run(const Args& a) {
  if (!a.assets.empty()) SetAssetsDir(a.assets);
  if (a.max_tokens < 0)
    return absl::InvalidArgumentError(absl::StrCat("--max-tokens must be >= 0, got ", a.max_tokens));
  SequenceOptions opts;
  opts.sampler.temperature = a.greedy ? 0.0f : static_cast<float>(a.temperature);
  if (a.top_k < 0 || a.top_k > (1 << 30))
    return absl::InvalidArgumentError(absl::StrCat("--top-k must be >= 0, got ", a.top_k));
  opts.sampler.top_k = static_cast<int32_t>(a.top_k);
  opts.sampler.top_p = static_cast<float>(a.top_p);
  uint64_t seed = static_cast<uint64_t>(a.seed);
  if (a.seed < 0)
    seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) &
           0x7FFFFFFF;
  opts.sampler.seed = seed;
  if (absl::Status s = opts.sampler.Validate(); !s.ok())
    return absl::InvalidArgumentError(absl::StrCat(
        std::string(s.message()), " (flags --temperature / --top-k / --top-p)"));

  // Tokenizer.
  const std::string tok_dir = TokenizerDir(a.tokenizer_name);
  if (!PathExists(tok_dir))
    return absl::NotFoundError(absl::StrCat("tokenizer dir ", tok_dir,
                                            " doesn't exist. Did you train the tokenizer? "
                                            "(train_tokenizer -n ",
                                            a.tokenizer_name, ")"));
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::Load(tok_dir);
  if (!tok.ok()) return tok.status();
  std::fprintf(stderr, "Loaded tokenizer '%s' with vocab_size=%d\n", a.tokenizer_name.c_str(),
               (*tok)->vocab_size());

  // Model.
  absl::StatusOr<std::string> ckpt_path =
      FindCheckpoint(a.checkpoint_name, a.checkpoint_iter, a.tokenizer_name);
  if (!ckpt_path.ok()) return ckpt_path.status();
  CheckpointData info;
  absl::StatusOr<std::shared_ptr<const InferenceModel>> model = LoadInferenceModel(*ckpt_path, &info);
  if (!model.ok()) return model.status();
  if (absl::Status s = CheckCompatible(info, (*tok)->vocab_size(), (*tok)->Fingerprint()); !s.ok())
    return s;
  std::fprintf(stderr, "Loaded model '%s' iteration %lld (%s, step %lld)\n",
               a.checkpoint_name.c_str(), static_cast<long long>(a.checkpoint_iter),
               info.config.DebugString().c_str(), static_cast<long long>(info.step));

  // Prompt.
  const std::string prompt = UnescapePrompt(a.prompt);
  absl::StatusOr<std::vector<int32_t>> prompt_tokens = (*tok)->Encode(prompt);
  if (!prompt_tokens.ok())
    return absl::InvalidArgumentError(
        absl::StrCat("--prompt: ", std::string(prompt_tokens.status().message())));
  if (prompt_tokens->empty())
    return absl::InvalidArgumentError("--prompt must not be empty (generation needs a first token)");

  std::fprintf(stderr, "Generating %lld tokens (temperature %g, top-k %d, top-p %g, seed %llu)...\n",
               static_cast<long long>(a.max_tokens), opts.sampler.temperature, opts.sampler.top_k,
               opts.sampler.top_p, static_cast<unsigned long long>(seed));
  std::fprintf(stderr, "=================================================================================\n");
  std::fwrite(prompt.data(), 1, prompt.size(), stdout);
  std::fflush(stdout);

  Utf8Printer printer;
  Generator gen(*model);
  const Tokenizer& t = **tok;
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::vector<int32_t>> out =
      gen.Generate(*prompt_tokens, a.max_tokens, opts, [&](int32_t token) {
        if (t.IsValidToken(token)) printer.Add(t.TokenBytes(token));
        return true;
      });
  printer.Flush();
  if (!out.ok()) return out.status();
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stdout, "\n");
  std::fflush(stdout);
  std::fprintf(stderr, "=================================================================================\n");
  std::fprintf(stderr, "%zu tokens in %.3f s (%.0f tokens/s)\n", out->size(), secs,
               secs > 0 ? out->size() / secs : 0.0);
  return absl::OkStatus();
}

}  // namespace
}  // namespace llm

int main(int argc, char** argv) {
  llm::Args a;
  llm::FlagParser p("generate_text", "Generate text from a trained Transformer model.");
  p.AddString({"-t", "--tokenizer_name"}, &a.tokenizer_name,
              "The name of the saved tokenizer checkpoint", /*required=*/true);
  p.AddString({"-n", "--checkpoint_name"}, &a.checkpoint_name,
              "The name of a previously saved model checkpoint", /*required=*/true);
  p.AddInt({"-c", "--checkpoint_iter"}, &a.checkpoint_iter,
           "The iteration number of the previously saved model checkpoint", /*required=*/true);
  p.AddString({"--prompt"}, &a.prompt, "Text to start from; a literal \\n becomes a newline");
  p.AddInt({"--max-tokens", "--max_tokens"}, &a.max_tokens, "Tokens to generate");
  p.AddDouble({"--temperature"}, &a.temperature, "Sampling temperature (0 = greedy)");
  p.AddInt({"--top-k", "--top_k"}, &a.top_k, "Keep only the K most likely tokens (0 = off)");
  p.AddDouble({"--top-p", "--top_p"}, &a.top_p, "Nucleus sampling mass in (0, 1] (1 = off)");
  p.AddInt({"--seed"}, &a.seed, "Random seed (default: from the clock, printed to stderr)");
  p.AddBool({"--greedy"}, &a.greedy, "Always pick the most likely token (temperature 0)");
  p.AddString({"--assets"}, &a.assets, "Assets root (default $LLM_ASSETS_DIR or ./assets)");
  p.SetEpilog(
      "The context window slides: when it is full the oldest half is dropped and the\n"
      "cache is recomputed over the kept tokens.\n\n"
      "Examples:\n"
      "  generate_text -t default_10k -n v2 -c 100\n"
      "  generate_text -t default_10k -n v2 -c 100 --prompt \"ROMEO.\\n\" --top-p 0.9 --seed 1");
  if (int rc = p.ParseOrExit(argc, argv); rc >= 0) return rc;
  absl::Status s = llm::Run(a);
  if (!s.ok()) {
    std::fflush(stdout);
    std::fprintf(stderr, "generate_text: error: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  return 0;
}
