// Generation throughput of the KV-cache inference path (core/model/inference.h).
//
//   OPENBLAS_NUM_THREADS=1 build/bench/generate_bench [--tokens 2000] [--repeats 5]
//
// Uses the default model configuration (vocab 10,256, context 128, 6 blocks,
// d_model 64, 8 heads x 8, d_ff 256) with random weights: speed does not
// depend on the values. Each run prefills a 16-token prompt per sequence and
// then decodes --tokens tokens per sequence (passing the context window many
// times, so the cost of window re-bases is included), sampling every token.
// Reports the median over --repeats runs of tokens/s, where a batch of m
// sequences produces m tokens per step, by wall clock and by the thread's CPU
// time (the latter is less sensitive to other processes on a busy machine).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <cstdio>
#include <random>
#include <vector>

#include "core/model/config.h"
#include "core/model/inference.h"
#include "core/util/flags.h"

namespace llm {
namespace {

std::vector<float> RandomParams(const ModelConfig& c) {
  ParamLayout layout(c);
  std::vector<float> p(layout.total);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const TensorInfo& t : layout.tensors) {
    const bool is_gain = t.name.find("_g") != std::string::npos;
    const float scale = t.shape.size() == 1 ? 0.02f : 1.0f / std::sqrt(static_cast<float>(t.shape[0]));
    for (size_t i = 0; i < t.size(); ++i) p[t.offset + i] = (is_gain ? 1.0f : 0.0f) + scale * normal(rng);
  }
  return p;
}

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct Rate {
  double wall;  // tokens / wall second
  double cpu;   // tokens / CPU second of this thread
};

// Decodes `tokens` tokens for each of `m` sequences.
Rate Run(const InferenceModel& model, int m, int64_t tokens, const SamplerOptions& sampler,
         int64_t* rebuilds) {
  std::vector<std::unique_ptr<Sequence>> seqs;
  std::vector<Sequence*> ptrs;
  Workspace ws;
  std::vector<int32_t> prompt(16);
  for (int i = 0; i < m; ++i) {
    SequenceOptions o;
    o.sampler = sampler;
    o.sampler.seed = sampler.seed + i;
    seqs.push_back(std::move(*model.NewSequence(o)));
    ptrs.push_back(seqs.back().get());
    for (int j = 0; j < 16; ++j) prompt[j] = (i * 131 + j * 17) % model.config().vocab_size;
  }
  std::vector<int32_t> next(m);
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = ThreadCpuSeconds();
  for (int i = 0; i < m; ++i) {
    absl::Status s = model.Prefill(*seqs[i], prompt, &ws);
    if (!s.ok()) std::abort();
  }
  for (int64_t t = 0; t < tokens; ++t) {
    for (int i = 0; i < m; ++i) next[i] = seqs[i]->SampleNext();
    absl::Status s = model.DecodeStep(ptrs, next, &ws);
    if (!s.ok()) std::abort();
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu_secs = ThreadCpuSeconds() - cpu_start;
  *rebuilds = 0;
  for (auto& s : seqs) *rebuilds += s->num_rebuilds();
  const double n = static_cast<double>(tokens) * m;
  return {n / secs, n / cpu_secs};
}

int Main(int argc, char** argv) {
  int64_t tokens = 2000, repeats = 5;
  std::string batches = "1,4,16";
  FlagParser p("generate_bench", "KV-cache generation throughput (default config, random weights).");
  p.AddInt({"--tokens"}, &tokens, "Tokens decoded per sequence per run");
  p.AddInt({"--repeats"}, &repeats, "Runs per setting (the median is reported)");
  p.AddString({"--batches"}, &batches, "Comma-separated batch sizes");
  if (int rc = p.ParseOrExit(argc, argv); rc >= 0) return rc;
  if (tokens < 1 || repeats < 1) {
    std::fprintf(stderr, "--tokens and --repeats must be >= 1\n");
    return 2;
  }
  std::vector<int> ms;
  for (size_t pos = 0; pos < batches.size();) {
    size_t end = batches.find(',', pos);
    if (end == std::string::npos) end = batches.size();
    const int m = std::atoi(batches.substr(pos, end - pos).c_str());
    if (m < 1) {
      std::fprintf(stderr, "bad --batches entry '%s'\n", batches.substr(pos, end - pos).c_str());
      return 2;
    }
    ms.push_back(m);
    pos = end + 1;
  }

  ModelConfig c;
  auto model = InferenceModel::Create(c, RandomParams(c));
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", std::string(model.status().message()).c_str());
    return 1;
  }
  std::printf("config: %s, %zu params (%.2f MB)\n", c.DebugString().c_str(), NumParameters(c),
              NumParameters(c) * 4.0 / 1e6);
  std::printf("%-10s %6s %12s %12s %12s %12s %9s\n", "sampling", "batch", "wall tok/s",
              "(min)", "(max)", "cpu tok/s", "rebuilds");
  struct Mode {
    const char* name;
    SamplerOptions opts;
  };
  SamplerOptions greedy;
  greedy.temperature = 0.0f;
  SamplerOptions t1;
  t1.temperature = 1.0f;
  t1.seed = 7;
  SamplerOptions topk;
  topk.temperature = 0.8f;
  topk.top_k = 40;
  topk.seed = 7;
  for (const Mode& mode : {Mode{"greedy", greedy}, Mode{"temp=1", t1}, Mode{"top-k=40", topk}}) {
    for (int m : ms) {
      std::vector<double> wall, cpu;
      int64_t rebuilds = 0;
      Run(**model, m, std::min<int64_t>(tokens, 200), mode.opts, &rebuilds);  // warm-up
      for (int64_t r = 0; r < repeats; ++r) {
        const Rate rate = Run(**model, m, tokens, mode.opts, &rebuilds);
        wall.push_back(rate.wall);
        cpu.push_back(rate.cpu);
      }
      std::sort(wall.begin(), wall.end());
      std::sort(cpu.begin(), cpu.end());
      std::printf("%-10s %6d %12.0f %12.0f %12.0f %12.0f %9lld\n", mode.name, m,
                  wall[wall.size() / 2], wall.front(), wall.back(), cpu[cpu.size() / 2],
                  static_cast<long long>(rebuilds));
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace
}  // namespace llm

int main(int argc, char** argv) { return llm::Main(argc, argv); }
