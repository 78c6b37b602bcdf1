// train_tokenizer: learn BPE merges and the piece cache from the training
// text and save a tokenizer checkpoint (the original's
// scripts/train_tokenizer.py, same flags and output format).
//
//   train_tokenizer -n default_10k                # 10,000 merges, 10,000 cached pieces
//   train_tokenizer -n small -m 1000 -c 500 --no-verbose
//   train_tokenizer -n x -y --input my.txt --assets /tmp/assets
//
// Output: ASSETS/bpe_checkpoints/NAME/{pattern,merges,vocab,cache}.txt.
// The algorithm lives in core/tokenizer/trainer.h; this file maps flags,
// reports progress and validates the result.
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/tokenizer/pretokenizer.h"
#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/trainer.h"
#include "core/util/file_util.h"
#include "core/util/flags.h"
#include "core/util/paths.h"
#include "core/util/progress.h"
#include "core/util/status_macros.h"

namespace {

constexpr char kSample[] = "hello world!!!? (안녕하세요!) joined123 😉";

struct Args {
  std::string name;
  bool overwrite = false;
  int64_t num_merges = 10000;
  int64_t cache_size = 10000;
  std::string split_pattern = std::string(llm::DefaultSplitPatternName());
  bool verbose = true;
  std::string input;
  std::string assets;
};

// Seconds since `start` on the monotonic clock.
double Since(const struct timespec& start) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<double>(now.tv_sec - start.tv_sec) +
         1e-9 * static_cast<double>(now.tv_nsec - start.tv_nsec);
}

// Python's repr() of a str for the sample line (ASCII-only quoting is enough
// here: the sample has no quotes or backslashes).
std::string Quote(const std::string& s) { return "'" + s + "'"; }

absl::Status Run(const Args& args) {
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);

  // --- Checkpoint location (refuse to clobber without -y).
  std::string name = args.name.empty() ? absl::StrCat(static_cast<int64_t>(std::time(nullptr)))
                                       : args.name;
  const std::string dir = llm::TokenizerDir(name);
  if (llm::PathExists(dir) && !args.overwrite) {
    return absl::AlreadyExistsError(absl::StrFormat(
        "Checkpoint dir %s already exists. Change name (-n) or provide -y to overwrite.", dir));
  }

  // --- Inputs.
  absl::StatusOr<std::string> pattern = llm::SplitPatternByName(args.split_pattern);
  if (!pattern.ok()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "unknown --split_pattern '%s' (choose from gpt-4, cl100k_base, o200k_base, gpt2)",
        args.split_pattern));
  }
  const std::string input = args.input.empty() ? llm::TextDir() + "/train.txt" : args.input;
  if (!llm::PathExists(input)) {
    return absl::NotFoundError(absl::StrFormat(
        "training text %s not found; run `download_data` first (or pass --input PATH)", input));
  }
  ASSIGN_OR_RETURN(std::string text, llm::ReadFile(input));
  ASSIGN_OR_RETURN(std::unique_ptr<llm::PreTokenizer> pretokenizer,
                   llm::PreTokenizer::Create(*pattern));

  // --- Merges.
  if (args.verbose) std::printf("-- Training RegexTokenizer --------------------------------------------\n");
  absl::StatusOr<std::vector<llm::PieceCount>> pieces = llm::CountPieces(*pretokenizer, text);
  if (!pieces.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(input, ": ", std::string(pieces.status().message())));
  }
  int64_t total_pieces = 0;
  for (const llm::PieceCount& p : *pieces) total_pieces += p.count;
  if (args.verbose) {
    std::printf("  input: %s (%zu bytes), %lld pieces, %zu unique, split pattern '%s'\n",
                input.c_str(), text.size(), static_cast<long long>(total_pieces), pieces->size(),
                args.split_pattern.c_str());
    std::printf("  initialization: elapsed=%.3fs\n", Since(start));
    std::fflush(stdout);
  }

  llm::ProgressBar bar("merges", args.num_merges, "merge", args.verbose);
  llm::BpeTrainOptions opts;
  opts.num_merges = args.num_merges;
  if (args.verbose) {
    opts.on_merge = [&bar](const llm::MergeEvent& e) {
      bar.Update(e.index + 1, absl::StrFormat("[%d] <- [%5d][%5d] freq=%d", e.merge.id,
                                              e.merge.left, e.merge.right, e.count));
    };
  }
  const double merge_start = Since(start);
  llm::BpeTrainingResult training = llm::TrainBpe(*pieces, opts);
  const double merge_seconds = Since(start) - merge_start;
  const size_t num_merges = training.merges().size();
  bar.Finish();
  if (args.verbose) {
    std::printf("  merges: %zu in %.3fs (%.0f merges/s)%s\n", num_merges, merge_seconds,
                merge_seconds > 0 ? static_cast<double>(num_merges) / merge_seconds : 0.0,
                static_cast<int64_t>(num_merges) < args.num_merges
                    ? " -- stopped early: no pair occurs twice"
                    : "");
    std::printf("  vocab_size=%zu, elapsed=%.3fs\n", 256 + num_merges, Since(start));
  }

  // --- Piece cache.
  if (args.verbose) std::printf("-- Training RegexTokenizer : piece cache -------------------------------\n");
  auto cache = llm::SelectPieceCache(*pieces, training, args.cache_size);
  const size_t num_cached = cache.size();
  ASSIGN_OR_RETURN(std::unique_ptr<llm::Tokenizer> tokenizer,
                   llm::Tokenizer::FromMerges(*pattern, training.merges()));
  tokenizer->AddTrainedPieces(std::move(cache));
  if (args.verbose) {
    std::printf("  DONE: effective_num_extra_pieces=%zu, elapsed=%.3fs\n", num_cached, Since(start));
  }

  // --- Validate encode/decode on a sample (as the original does, always).
  std::printf("-- Validating ----------------------------------------------------\n");
  std::printf("sample_unicode=%s\n", Quote(kSample).c_str());
  ASSIGN_OR_RETURN(std::vector<int32_t> tokens, tokenizer->Encode(kSample));
  std::printf("tokens=[%s]\n", absl::StrJoin(tokens, ", ").c_str());
  ASSIGN_OR_RETURN(std::string recreated, tokenizer->Decode(tokens));
  std::printf("recreated_input=%s\n", Quote(recreated).c_str());
  if (recreated != kSample) {
    return absl::InternalError("validation failed: decode(encode(sample)) != sample; not saving");
  }

  // --- Save. With -y, drop files a previous checkpoint may hold that this
  // one does not write, so the directory describes exactly this tokenizer.
  for (const char* stale : {"special_tokens.txt", "ranks.tiktoken"}) {
    RETURN_IF_ERROR(llm::RemoveAll(dir + "/" + stale));
  }
  RETURN_IF_ERROR(tokenizer->Save(dir));
  std::printf("Saved %s (vocab_size=%d, %zu cached pieces) in %.3fs\n", dir.c_str(),
              tokenizer->vocab_size(), num_cached, Since(start));
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  llm::FlagParser p("train_tokenizer", "Train a BPE text encoder with regex split pattern.");
  p.AddString({"-n", "--name"}, &args.name,
              "A name for the emitted checkpoint [default: unix timestamp]");
  p.AddBool({"-y", "--overwrite"}, &args.overwrite,
            "Overwrite an existing checkpoint if it already exists");
  p.AddString({"-s", "--split_pattern"}, &args.split_pattern,
              "The regex pattern used to split the text (gpt-4, cl100k_base, o200k_base, gpt2)");
  p.AddInt({"-m", "--num_merges"}, &args.num_merges, "The number of merges to perform");
  p.AddInt({"-c", "--cache_size"}, &args.cache_size,
           "The number of extra text pieces to cache beyond the base merges");
  p.AddBool({"--verbose"}, &args.verbose, "Progress output (--no-verbose disables it)");
  p.AddString({"--input"}, &args.input, "Training text [default: ASSETS/text/train.txt]");
  p.AddString({"--assets"}, &args.assets, "Assets directory [default: $LLM_ASSETS_DIR or ./assets]");
  p.SetEpilog(
      "Writes ASSETS/bpe_checkpoints/NAME/{pattern,merges,vocab,cache}.txt in the original "
      "project's format.\nExample: train_tokenizer -n default_10k");
  if (int rc = p.ParseOrExit(argc, argv); rc >= 0) return rc;
  if (args.num_merges < 0 || args.num_merges > 100000000) {
    std::fprintf(stderr,
                 "train_tokenizer: error: -m/--num_merges must be in [0, 100000000] (got %ld)\n",
                 static_cast<long>(args.num_merges));
    return 2;
  }
  if (args.cache_size < 0) {
    std::fprintf(stderr, "train_tokenizer: error: -c/--cache_size must be >= 0 (got %ld)\n",
                 static_cast<long>(args.cache_size));
    return 2;
  }
  if (!args.assets.empty()) llm::SetAssetsDir(args.assets);

  absl::Status status = Run(args);
  if (!status.ok()) {
    std::fflush(stdout);
    std::fprintf(stderr, "train_tokenizer: error: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
