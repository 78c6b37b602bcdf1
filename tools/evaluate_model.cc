// evaluate_model: loss and perplexity of a model checkpoint on token splits
// (the C++ port of the original's scripts/evaluate_model.py).
//
//   evaluate_model -t default_10k -n v2 -c 100            # val and test
//   evaluate_model -t default_10k -n v2 -s test -nb 20    # first 20 batches
//
// Unlike the original (16 batches of random windows), the split is covered by
// consecutive non-overlapping windows of `context` predictions (the last one
// shorter), so every token after the first is predicted exactly once and the
// result is deterministic. -nb/--num_batches bounds the work to the first
// N batches of -bs windows. Each window starts without earlier context, so
// this perplexity is a little higher than a sliding-window evaluation.
#include <cblas.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "core/model/batch_sampler.h"
#include "core/model/checkpoint.h"
#include "core/model/training.h"
#include "core/model/transformer.h"
#include "core/util/flags.h"
#include "core/util/paths.h"
#include "core/util/progress.h"
#include "core/util/status_macros.h"
#include "tools/model_tool_util.h"

namespace llm {
namespace {

struct Args {
  std::string tokenizer;
  std::string name;
  int64_t iter = 0;
  std::string splits = "val,test";
  int64_t batch_size = 32;
  int64_t num_batches = 0;
  int64_t threads = 0;
  std::string assets;
  bool quiet = false;
};

absl::Status Run(const Args& a) {
  if (!a.assets.empty()) SetAssetsDir(a.assets);
  if (a.threads > 0) openblas_set_num_threads(static_cast<int>(a.threads));
  if (a.batch_size < 1) return absl::InvalidArgumentError("--batch_size must be >= 1");
  std::vector<std::string> splits = absl::StrSplit(a.splits, ',', absl::SkipEmpty());
  for (const auto& s : splits)
    if (s != "train" && s != "val" && s != "test")
      return absl::InvalidArgumentError(
          absl::StrCat("--split must list train, val and/or test, got '", s, "'"));

  ASSIGN_OR_RETURN(const std::string ckpt_path, FindCheckpoint(a.name, a.iter, a.tokenizer));
  ASSIGN_OR_RETURN(TokenizerInfo tok, LoadTokenizerInfo(a.tokenizer));
  ASSIGN_OR_RETURN(CheckpointData ckpt, LoadCheckpoint(ckpt_path));
  RETURN_IF_ERROR(CheckCompatible(ckpt, tok.vocab_size, tok.fingerprint));
  Transformer model(ckpt.config);
  std::copy(ckpt.params.begin(), ckpt.params.end(), model.params());
  std::printf("Loaded model %s:%lld (%s; %s params)\n", a.name.c_str(),
              static_cast<long long>(ckpt.step), ckpt.config.DebugString().c_str(),
              WithCommas(model.num_params()).c_str());
  ckpt = CheckpointData();  // free the copy

  for (const std::string& split : splits) {
    ASSIGN_OR_RETURN(TokenFile data, LoadSplit(tok, split));
    std::vector<EvalWindow> windows =
        EvalWindows(data.tokens.size(), model.config().context,
                    a.num_batches > 0 ? a.num_batches * a.batch_size : 0);
    if (windows.empty())
      return absl::FailedPreconditionError(
          absl::StrCat("split '", split, "' has fewer than 2 tokens"));
    size_t predictions = 0;
    for (const EvalWindow& w : windows) predictions += static_cast<size_t>(w.length);
    ProgressBar bar(absl::StrCat("eval ", split), static_cast<int64_t>(windows.size()), "win",
                    !a.quiet);
    const double loss = EvaluateLoss(model, data.tokens.data(), windows,
                                     static_cast<int>(a.batch_size),
                                     [&](size_t done) { bar.Update(static_cast<int64_t>(done)); });
    bar.Finish();
    std::printf("%-5s: %s predictions (%s tokens)  loss %.4f  perplexity %.2f\n", split.c_str(),
                WithCommas(predictions).c_str(), WithCommas(data.tokens.size()).c_str(), loss,
                std::exp(loss));
    std::fflush(stdout);
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace llm

int main(int argc, char** argv) {
  llm::Args a;
  llm::FlagParser p("evaluate_model",
                    "Evaluate the loss and perplexity of a trained model on data splits.");
  p.AddString({"-t", "--tokenizer_name"}, &a.tokenizer, "The name of the saved tokenizer checkpoint",
              /*required=*/true);
  p.AddString({"-n", "--checkpoint_name"}, &a.name, "The name of the saved model checkpoint",
              /*required=*/true);
  p.AddInt({"-c", "--checkpoint_iter"}, &a.iter,
           "The iteration number of the checkpoint (0: the latest)");
  p.AddString({"-s", "--split"}, &a.splits, "Comma-separated splits: train, val, test");
  p.AddInt({"-bs", "--batch_size"}, &a.batch_size, "Windows per forward pass");
  p.AddInt({"-nb", "--num_batches", "--max_batches"}, &a.num_batches,
           "Evaluate only the first N batches per split (0: the whole split)");
  p.AddInt({"--threads"}, &a.threads, "OpenBLAS threads (0: OpenBLAS default)");
  p.AddString({"--assets"}, &a.assets, "Assets root (default $LLM_ASSETS_DIR or ./assets)");
  p.AddBool({"-q", "--quiet"}, &a.quiet, "No progress bar");
  p.SetEpilog(
      "Windows: consecutive, non-overlapping, `context` predictions each (the last may be\n"
      "shorter), covering the whole split unless -nb is given; deterministic.");
  if (int rc = p.ParseOrExit(argc, argv); rc >= 0) return rc;
  absl::Status s = llm::Run(a);
  if (!s.ok()) {
    llm::ClearProgressLine();
    std::fprintf(stderr, "evaluate_model: error: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  return 0;
}
