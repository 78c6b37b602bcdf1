// A fixed pool of worker threads with a bounded task queue, for the unary
// RPCs (Tokenize, Detokenize, ...) so they run in parallel across cores
// without blocking gRPC's own threads.
#ifndef LLM_SERVER_THREAD_POOL_H_
#define LLM_SERVER_THREAD_POOL_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace llm {

class ThreadPool {
 public:
  // Starts `num_threads` (>= 1) workers; at most `max_queue` tasks wait.
  ThreadPool(int num_threads, size_t max_queue);
  // Runs the tasks already queued, then joins the workers.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Queues `task`; false (task not queued) if the queue is full or the pool
  // is shutting down. Thread-safe.
  bool TrySubmit(std::function<void()> task);
  // Number of tasks queued or running.
  size_t pending() const;
  int num_threads() const { return static_cast<int>(threads_.size()); }

 private:
  void Work();

  const size_t max_queue_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  size_t running_ = 0;                        // guarded by mu_
  bool stop_ = false;                         // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace llm

#endif  // LLM_SERVER_THREAD_POOL_H_
