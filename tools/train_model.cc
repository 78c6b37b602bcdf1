// train_model: trains the transformer on a tokenized split (the C++ port of
// the original's scripts/train_model.py, same flags plus a few more).
//
//   train_model -y -n v1 -t default_10k -bs 4 -nb 100
//   train_model -n v2 -s v1 -c 100 -t default_10k -lr 0.0001    # resume
//
// Reads   assets/bpe_checkpoints/TOKENIZER (vocab size + fingerprint),
//         assets/tokens/TOKENIZER/{train,val} (made by tokenize_splits).
// Writes  assets/model_checkpoints/NAME/checkpoint.STEP.bin every
//         --checkpoint_every steps and after the last step, where STEP is the
//         global optimizer step (a run resumed from step 100 that takes 50
//         steps writes checkpoint.150.bin), plus NAME/train_log.tsv.
#include <cblas.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/model/batch_sampler.h"
#include "core/model/checkpoint.h"
#include "core/model/training.h"
#include "core/tokenizer/token_file.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/file_util.h"
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
  bool overwrite = false;
  std::string start_name;
  int64_t start_iter = 0;
  double lr = 0.001;
  int64_t batch_size = 32;
  int64_t num_batches = 50000;
  int64_t checkpoint_every = 1000;
  int64_t eval_every = 0;
  int64_t eval_batches = 8;
  int64_t seed = 0;
  int64_t threads = 0;
  std::string schedule = "constant";
  int64_t warmup = 0;
  double min_lr = 0.0;
  int64_t total_steps = 0;
  double weight_decay = 0.0;
  double grad_clip = 0.0;
  int64_t context = 128, n_blocks = 6, d_model = 64, n_heads = 8, d_head = 8, d_ff = 256;
  std::string activation = "relu";
  std::string assets;
  bool quiet = false;
};

// Model flags and the config field they set, for the resume consistency check.
struct ModelFlag {
  const char* flag;
  int64_t* value;
  int32_t ModelConfig::*field;
};

absl::StatusOr<LrSchedule::Kind> ParseSchedule(const std::string& s) {
  if (s == "constant") return LrSchedule::kConstant;
  if (s == "cosine") return LrSchedule::kCosine;
  if (s == "linear") return LrSchedule::kLinear;
  return absl::InvalidArgumentError(
      absl::StrCat("--schedule must be constant, cosine or linear, got '", s, "'"));
}

absl::Status Run(Args& a, FlagParser& flags) {
  if (!a.assets.empty()) SetAssetsDir(a.assets);
  if (a.threads > 0) openblas_set_num_threads(static_cast<int>(a.threads));
  if (a.batch_size < 1) return absl::InvalidArgumentError("--batch_size must be >= 1");
  if (a.num_batches < 0) return absl::InvalidArgumentError("--num_batches must be >= 0");
  if (a.checkpoint_every < 1) return absl::InvalidArgumentError("--checkpoint_every must be >= 1");
  if (a.lr <= 0) return absl::InvalidArgumentError("--learning_rate must be > 0");
  if (a.warmup < 0) return absl::InvalidArgumentError("--warmup must be >= 0");
  ASSIGN_OR_RETURN(LrSchedule::Kind kind, ParseSchedule(a.schedule));

  // Output directory (as the original: refuse to reuse a name without -y).
  const bool resume = !a.start_name.empty();
  if (a.name.empty()) a.name = absl::StrCat(static_cast<int64_t>(std::time(nullptr)));
  if (resume && a.name == a.start_name)
    return absl::InvalidArgumentError(
        "the starting checkpoint (-s) and the new checkpoint name (-n) must be different");
  if (resume && a.start_iter <= 0)
    return absl::InvalidArgumentError(
        "when providing a starting checkpoint (-s), its iteration (-c) must also be given and be "
        "positive");
  const std::string out_dir = ModelDir(a.name);
  if (PathExists(out_dir) && !a.overwrite)
    return absl::AlreadyExistsError(absl::StrCat("checkpoint dir ", out_dir,
                                                 " already exists. Change name or provide -y flag."));

  // Tokenizer and data.
  ASSIGN_OR_RETURN(TokenizerInfo tok, LoadTokenizerInfo(a.tokenizer));
  ASSIGN_OR_RETURN(TokenFile train, LoadSplit(tok, "train"));
  std::printf("Loaded tokenizer '%s' with vocab_size=%d; %s train tokens\n", a.tokenizer.c_str(),
              tok.vocab_size, WithCommas(train.tokens.size()).c_str());

  // Model config: from the flags, or from the starting checkpoint.
  std::vector<ModelFlag> model_flags = {{"--context", &a.context, &ModelConfig::context},
                                        {"--n_blocks", &a.n_blocks, &ModelConfig::n_blocks},
                                        {"--d_model", &a.d_model, &ModelConfig::d_model},
                                        {"--n_heads", &a.n_heads, &ModelConfig::n_heads},
                                        {"--d_head", &a.d_head, &ModelConfig::d_head},
                                        {"--d_ff", &a.d_ff, &ModelConfig::d_ff}};
  ModelConfig config;
  config.vocab_size = tok.vocab_size;
  for (const ModelFlag& f : model_flags) {
    if (*f.value < 1 || *f.value > (1 << 20))
      return absl::InvalidArgumentError(absl::StrCat(f.flag, " must be in [1, 1048576]"));
    config.*f.field = static_cast<int32_t>(*f.value);
  }
  if (a.activation == "relu") {
    config.activation = Activation::kRelu;
  } else if (a.activation == "gelu") {
    config.activation = Activation::kGelu;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--activation must be relu or gelu, got '", a.activation, "'"));
  }

  std::unique_ptr<CheckpointData> start;
  if (resume) {
    const std::string path = CheckpointPath(a.start_name, a.start_iter);
    auto loaded = LoadCheckpoint(path);
    if (!loaded.ok()) {
      if (absl::IsNotFound(loaded.status())) {
        std::string have;
        for (int64_t it : ListCheckpointIterations(a.start_name)) absl::StrAppend(&have, " ", it);
        return absl::NotFoundError(absl::StrCat(
            "no checkpoint '", path, "' (model '", a.start_name, "' has iterations:",
            have.empty() ? " none" : have, ")"));
      }
      return loaded.status();
    }
    start = std::make_unique<CheckpointData>(*std::move(loaded));
    RETURN_IF_ERROR(CheckCompatible(*start, tok.vocab_size, tok.fingerprint));
    for (const ModelFlag& f : model_flags)
      if (flags.WasSet(f.flag) && start->config.*f.field != *f.value)
        return absl::InvalidArgumentError(absl::StrCat(
            f.flag, "=", *f.value, " differs from the starting checkpoint's ",
            start->config.*f.field, "; the architecture cannot change when resuming"));
    if (flags.WasSet("--activation") && start->config.activation != config.activation)
      return absl::InvalidArgumentError(
          "--activation differs from the starting checkpoint's; the architecture cannot change "
          "when resuming");
    config = start->config;
    if (!flags.WasSet("--seed")) a.seed = static_cast<int64_t>(start->seed);
  }
  RETURN_IF_ERROR(config.Validate());

  TrainOptions opts;
  opts.batch_size = static_cast<int>(a.batch_size);
  opts.seed = static_cast<uint64_t>(a.seed);
  opts.adam.weight_decay = static_cast<float>(a.weight_decay);
  opts.grad_clip = static_cast<float>(a.grad_clip);
  const int64_t first_step = start ? start->step : 0;
  const int64_t last_step = first_step + a.num_batches;  // global step after the run
  opts.schedule.kind = kind;
  opts.schedule.lr = static_cast<float>(a.lr);
  opts.schedule.warmup_steps = a.warmup;
  opts.schedule.min_lr = static_cast<float>(a.min_lr);
  opts.schedule.total_steps = a.total_steps > 0 ? a.total_steps : last_step;
  Trainer run(config, opts);  // fresh init from opts.seed
  if (start) RETURN_IF_ERROR(run.Restore(*start));
  start.reset();

  BatchSampler sampler(train.tokens.data(), train.tokens.size(), config.context,
                       opts.batch_size, opts.seed);
  RETURN_IF_ERROR(sampler.Validate());

  // Validation windows (evenly spaced full windows of the val split).
  TokenFile val;
  std::vector<EvalWindow> val_windows;
  if (a.eval_batches > 0) {
    ASSIGN_OR_RETURN(val, LoadSplit(tok, "val"));
    val_windows = SpacedEvalWindows(val.tokens.size(), config.context,
                                    a.eval_batches * a.batch_size);
  }

  RETURN_IF_ERROR(MakeDirs(out_dir));
  if (a.overwrite) {
    for (int64_t it : ListCheckpointIterations(a.name))
      std::filesystem::remove(CheckpointPath(a.name, it));
  }
  std::printf("%s model %s: %s (%s params); steps %lld..%lld, batch %lld, seed %lld\n",
              resume ? "Resuming" : "Initialized", a.name.c_str(), config.DebugString().c_str(),
              WithCommas(run.model().num_params()).c_str(), static_cast<long long>(first_step),
              static_cast<long long>(last_step), static_cast<long long>(a.batch_size),
              static_cast<long long>(a.seed));
  std::fflush(stdout);

  const std::string extra_base = absl::StrFormat(
      "{\"tokenizer\": \"%s\", \"batch_size\": %d, \"lr\": %g, \"schedule\": \"%s\", "
      "\"warmup\": %d, \"min_lr\": %g, \"total_steps\": %d, \"weight_decay\": %g, "
      "\"grad_clip\": %g, \"started_from\": \"%s\"",
      a.tokenizer, a.batch_size, a.lr, a.schedule, a.warmup, a.min_lr,
      opts.schedule.total_steps, a.weight_decay, a.grad_clip,
      resume ? absl::StrCat(a.start_name, ":", a.start_iter) : std::string());
  std::string log = "step\tloss\tlr\tgrad_norm\tval_loss\n";
  double last_val = NAN;
  auto save = [&](double train_loss) -> absl::Status {
    CheckpointData d = run.Snapshot();
    d.tokenizer_name = a.tokenizer;
    d.tokenizer_fingerprint = tok.fingerprint;
    d.tokenizer_vocab_size = tok.vocab_size;
    auto num = [](double v) { return std::isfinite(v) ? absl::StrFormat("%.6f", v) : "null"; };
    d.extra = absl::StrCat(extra_base, ", \"step\": ", run.step(), ", \"train_loss\": ",
                           num(train_loss), ", \"val_loss\": ", num(last_val), "}");
    RETURN_IF_ERROR(SaveCheckpoint(CheckpointPath(a.name, run.step()), d));
    return WriteFileAtomic(out_dir + "/train_log.tsv", log);
  };
  auto evaluate = [&]() {
    if (val_windows.empty()) return;
    last_val = run.EvalLoss(val.tokens.data(), val_windows, opts.batch_size);
    ClearProgressLine();
    std::printf("  step %6lld: val loss %.4f  perplexity %.2f  (%zu windows)\n",
                static_cast<long long>(run.step()), last_val, std::exp(last_val),
                val_windows.size());
    std::fflush(stdout);
  };

  ProgressBar bar("train", a.num_batches, "step", !a.quiet);
  double ema = NAN;  // smoothed train loss for display
  const double tokens_per_step = static_cast<double>(a.batch_size) * config.context;
  for (int64_t i = 0; i < a.num_batches; ++i) {
    StepResult r = run.Step(sampler);
    if (!std::isfinite(r.loss))
      return absl::InternalError(absl::StrCat("loss became ", r.loss, " at step ", run.step(),
                                              "; try a smaller -lr or --grad_clip"));
    ema = std::isnan(ema) ? r.loss : 0.95 * ema + 0.05 * r.loss;
    const bool do_eval = a.eval_every > 0 && run.step() % a.eval_every == 0;
    if (do_eval) evaluate();
    absl::StrAppendFormat(&log, "%d\t%.6f\t%.6g\t%.4f\t%s\n", run.step(), r.loss, r.lr,
                          r.grad_norm, do_eval ? absl::StrFormat("%.6f", last_val) : "");
    const double secs = bar.ElapsedSeconds();
    bar.Update(i + 1, absl::StrFormat("loss %.3f ppl %.1f | lr %.2g | %.0f tok/s", ema,
                                      std::exp(ema), r.lr,
                                      secs > 0 ? tokens_per_step * (i + 1) / secs : 0.0));
    if (run.step() % a.checkpoint_every == 0 && i + 1 < a.num_batches) RETURN_IF_ERROR(save(ema));
  }
  bar.Finish();
  const double train_secs = bar.ElapsedSeconds();
  if (!(a.eval_every > 0 && run.step() % a.eval_every == 0) && a.num_batches > 0) evaluate();
  RETURN_IF_ERROR(save(ema));
  std::printf("Done: %lld steps in %s (%.0f tokens/s); train loss %.4f",
              static_cast<long long>(a.num_batches), ProgressBar::FormatDuration(train_secs).c_str(),
              train_secs > 0 ? tokens_per_step * a.num_batches / train_secs : 0.0, ema);
  if (!std::isnan(last_val))
    std::printf(", val loss %.4f perplexity %.2f", last_val, std::exp(last_val));
  std::printf("\nWrote %s\n", CheckpointPath(a.name, run.step()).c_str());
  return absl::OkStatus();
}

}  // namespace
}  // namespace llm

int main(int argc, char** argv) {
  llm::Args a;
  llm::FlagParser p("train_model", "Train the Transformer model.");
  p.AddString({"-t", "--tokenizer_name"}, &a.tokenizer, "The name of the saved tokenizer checkpoint",
              /*required=*/true);
  p.AddString({"-n", "--name"}, &a.name,
              "A name for the emitted checkpoint (default: the current unix time)");
  p.AddBool({"-y", "--overwrite"}, &a.overwrite,
            "Overwrite an existing checkpoint if it already exists");
  p.AddString({"-s", "--starting_checkpoint_name"}, &a.start_name,
              "The name of a previously saved model checkpoint to continue from");
  p.AddInt({"-c", "--starting_checkpoint_iter"}, &a.start_iter,
           "The iteration number of the previously saved model checkpoint");
  p.AddDouble({"-lr", "--learning_rate"}, &a.lr, "The (peak) learning rate for Adam");
  p.AddInt({"-bs", "--batch_size"}, &a.batch_size, "The batch size");
  p.AddInt({"-nb", "--num_batches"}, &a.num_batches,
           "The number of batches (optimizer steps) to run");
  p.AddInt({"--checkpoint_every"}, &a.checkpoint_every,
           "Write a checkpoint every N global steps (and always after the last step)");
  p.AddInt({"--eval_every"}, &a.eval_every,
           "Report validation loss/perplexity every N global steps (0: only at the end)");
  p.AddInt({"--eval_batches"}, &a.eval_batches,
           "Validation batches (of --batch_size evenly spaced windows) per report; 0 disables");
  p.AddInt({"--seed"}, &a.seed,
           "Seed for initialization and batch sampling (default when resuming: the checkpoint's)");
  p.AddInt({"--threads"}, &a.threads, "OpenBLAS threads (0: OpenBLAS default)");
  p.AddString({"--schedule"}, &a.schedule, "Learning-rate schedule: constant, cosine or linear");
  p.AddInt({"--warmup"}, &a.warmup, "Linear warm-up steps (cosine/linear schedules)");
  p.AddDouble({"--min_lr"}, &a.min_lr, "Final learning rate of cosine/linear decay");
  p.AddInt({"--total_steps"}, &a.total_steps,
           "Global step where decay ends (0: the last step of this run); set it when a run will "
           "be resumed");
  p.AddDouble({"--weight_decay"}, &a.weight_decay, "Decoupled (AdamW) weight decay; 0 = Adam");
  p.AddDouble({"--grad_clip"}, &a.grad_clip, "Clip the global gradient norm to this; 0 = off");
  p.AddInt({"--context"}, &a.context, "Model: context length T");
  p.AddInt({"--n_blocks"}, &a.n_blocks, "Model: transformer blocks");
  p.AddInt({"--d_model"}, &a.d_model, "Model: embedding width");
  p.AddInt({"--n_heads"}, &a.n_heads, "Model: attention heads");
  p.AddInt({"--d_head"}, &a.d_head, "Model: per-head width (d_k = d_v)");
  p.AddInt({"--d_ff"}, &a.d_ff, "Model: feed-forward width");
  p.AddString({"--activation"}, &a.activation, "Model: feed-forward activation, relu or gelu");
  p.AddString({"--assets"}, &a.assets, "Assets root (default $LLM_ASSETS_DIR or ./assets)");
  p.AddBool({"-q", "--quiet"}, &a.quiet, "No progress bar");
  p.SetEpilog(
      "The vocab size comes from the tokenizer. Checkpoints go to\n"
      "assets/model_checkpoints/NAME/checkpoint.STEP.bin, STEP = global optimizer steps.\n"
      "Resuming (-s/-c) restores the weights, Adam state, step and seed, so N steps then M\n"
      "more equal N+M steps at once (same flags; pass --total_steps for decaying schedules).\n\n"
      "Examples:\n"
      "  train_model -y -n v1 -t default_10k -bs 4 -nb 100\n"
      "  train_model -n v2 -s v1 -c 100 -t default_10k -lr 0.0001");
  if (int rc = p.ParseOrExit(argc, argv); rc >= 0) return rc;
  absl::Status s = llm::Run(a, p);
  if (!s.ok()) {
    llm::ClearProgressLine();
    std::fprintf(stderr, "train_model: error: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  return 0;
}
