// A tiny fixed-size pool of std::threads for the model's own parallel loops
// (attention, softmax). Deliberately not OpenMP: OpenMP's spin-waiting fights
// OpenBLAS's threads on small machines. Workers sleep on a condition variable.
#ifndef LLM_CORE_MODEL_THREAD_POOL_H_
#define LLM_CORE_MODEL_THREAD_POOL_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace llm {

class ThreadPool {
 public:
  // n_threads >= 1 counts the calling thread: n_threads - 1 workers are started.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Range callback: fn(begin, end, part) handles [begin, end), part in [0, size()).
  using RangeFn = std::function<void(int64_t, int64_t, int)>;

  // Calls fn over a static, deterministic partition of [0, n) into size()
  // contiguous ranges (part p = [n*p/size(), n*(p+1)/size()); the caller runs
  // part 0; empty parts are skipped) and returns when all are done. Not
  // re-entrant; call from one thread at a time.
  void ParallelFor(int64_t n, const RangeFn& fn);

 private:
  void WorkerLoop(int index);

  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  const RangeFn* job_ = nullptr;
  int64_t job_n_ = 0;
  uint64_t generation_ = 0;
  int pending_ = 0;
  bool stop_ = false;
};

}  // namespace llm

#endif  // LLM_CORE_MODEL_THREAD_POOL_H_
