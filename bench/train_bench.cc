// Training-step benchmark for the default model (not a test).
//
//   build/bench/train_bench [--batch 16] [--seq 128] [--steps 20] [--threads 0]
//
// Prints median ms/step and tokens/s for 1 and 2 OpenBLAS threads (the model's
// own loops use the same number of threads), then the process's peak RSS.
// --threads N (N >= 1) measures only N threads (handy under a profiler).
#include <cblas.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/model/optimizer.h"
#include "core/model/transformer.h"
#include "core/util/flags.h"

namespace {
// User + system CPU time of the whole process (all threads), in seconds. On a
// machine shared with other jobs this is steadier than wall time.
double CpuSeconds() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}
}  // namespace

int main(int argc, char** argv) {
  int64_t batch = 16, seq = 128, num_steps = 20, threads = 0;
  llm::FlagParser flags("train_bench",
                        "Training-step benchmark of the default model (random data): ms/step, tokens/s, "
                        "process CPU time and peak RSS, with 1 and 2 threads.");
  flags.AddInt({"--batch"}, &batch, "Batch size B");
  flags.AddInt({"--seq"}, &seq, "Sequence length T (<= context)");
  flags.AddInt({"--steps"}, &num_steps, "Timed steps per thread count (after 2 warm-up steps)");
  flags.AddInt({"--threads"}, &threads, "Thread count to measure (0 = both 1 and 2)");
  if (int rc = flags.ParseOrExit(argc, argv); rc >= 0) return rc;
  int B = static_cast<int>(batch), T = static_cast<int>(seq), steps = static_cast<int>(num_steps),
      only_threads = static_cast<int>(threads);
  llm::ModelConfig config;
  if (B < 1 || T < 1 || T > config.context || steps < 1 || only_threads < 0) {
    std::fprintf(stderr,
                 "usage: train_bench [--batch B>=1] [--seq 1..%d] [--steps N>=1] "
                 "[--threads N>=0 (0 = both 1 and 2)]\n",
                 config.context);
    return 2;
  }
  llm::Transformer model(config);
  model.InitParameters(1);
  llm::Adam adam(model.num_params());
  std::vector<int32_t> tokens(B * T + 1);
  uint64_t s = 42;
  for (int32_t& t : tokens) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    t = static_cast<int32_t>((s >> 33) % config.vocab_size);
  }
  std::printf("model: %s, %zu params; batch %d x %d\n", config.DebugString().c_str(),
              model.num_params(), B, T);
  std::vector<int> thread_counts = {1, 2};
  if (only_threads > 0) thread_counts = {only_threads};
  for (int threads : thread_counts) {
    openblas_set_num_threads(threads);
    std::vector<double> ms;
    float loss = 0;
    const double cpu0 = CpuSeconds();
    for (int i = 0; i < steps + 2; ++i) {  // 2 warm-up steps
      const auto t0 = std::chrono::steady_clock::now();
      loss = model.ForwardBackward(tokens.data(), tokens.data() + 1, B, T);
      llm::ClipGradNorm(model.grads(), model.num_params(), 1.0f);
      adam.Step(model.params(), model.grads(), 1e-3f);
      const auto t1 = std::chrono::steady_clock::now();
      if (i >= 2) ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    const double cpu_ms = (CpuSeconds() - cpu0) * 1000.0 / (steps + 2);
    std::sort(ms.begin(), ms.end());
    const double med = ms[ms.size() / 2];
    std::printf(
        "threads %d: median %.1f ms/step (min %.1f, max %.1f), %.0f tokens/s, loss %.3f; "
        "process CPU %.1f ms/step\n",
        threads, med, ms.front(), ms.back(), B * T / (med / 1000.0), loss, cpu_ms);
  }
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  std::printf("peak RSS: %.1f MB (activations %.1f MB)\n", ru.ru_maxrss / 1024.0,
              model.activation_bytes() / 1048576.0);
  return 0;
}
