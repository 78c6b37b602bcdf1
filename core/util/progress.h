// A terminal progress bar for long-running tools, written to stderr.
//
//   llm::ProgressBar bar("train", total_steps, "step");
//   for (...) { bar.Update(step + 1, absl::StrFormat("loss %.3f", loss)); }
//   bar.Finish();
//
// On a terminal it redraws one line (at most ~10 times per second) with the
// count, percentage, rate, elapsed time, ETA and a caller-provided suffix. When
// stderr is not a terminal it prints a plain line every few seconds instead,
// so logs stay readable. Disabled bars print nothing. Not thread-safe.
#ifndef LLM_CORE_UTIL_PROGRESS_H_
#define LLM_CORE_UTIL_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <string>

namespace llm {

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total, std::string unit = "it", bool enabled = true);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // Sets the absolute progress (0..total) and an optional suffix.
  void Update(int64_t done, const std::string& suffix = "");
  // Draws the final state and ends the line. Idempotent.
  void Finish(const std::string& suffix = "");
  double ElapsedSeconds() const;

  // Formats seconds as "1h02m03s" / "2m03s" / "3.4s".
  static std::string FormatDuration(double seconds);

 private:
  void Draw(bool final);

  std::string label_;
  int64_t total_;
  std::string unit_;
  bool enabled_;
  bool tty_;
  bool finished_ = false;
  int64_t done_ = 0;
  std::string suffix_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace llm

#endif  // LLM_CORE_UTIL_PROGRESS_H_
