#include "core/util/progress.h"

#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_format.h"

namespace llm {

ProgressBar::ProgressBar(std::string label, int64_t total, std::string unit, bool enabled)
    : label_(std::move(label)),
      total_(total),
      unit_(std::move(unit)),
      enabled_(enabled),
      tty_(::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_ - std::chrono::hours(1)) {}

ProgressBar::~ProgressBar() {
  if (enabled_ && !finished_ && done_ > 0) Finish();
}

double ProgressBar::ElapsedSeconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string ProgressBar::FormatDuration(double s) {
  if (s < 0) s = 0;
  if (s < 60) return absl::StrFormat("%.1fs", s);
  int64_t t = static_cast<int64_t>(s + 0.5);
  if (t < 3600) return absl::StrFormat("%dm%02ds", t / 60, t % 60);
  return absl::StrFormat("%dh%02dm%02ds", t / 3600, (t / 60) % 60, t % 60);
}

void ProgressBar::Update(int64_t done, const std::string& suffix) {
  done_ = done;
  suffix_ = suffix;
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  auto min_gap = tty_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(5000);
  if (now - last_draw_ < min_gap) return;
  last_draw_ = now;
  Draw(false);
}

void ProgressBar::Finish(const std::string& suffix) {
  if (finished_) return;
  finished_ = true;
  if (!suffix.empty()) suffix_ = suffix;
  if (!enabled_) return;
  Draw(true);
}

void ProgressBar::Draw(bool final) {
  double elapsed = ElapsedSeconds();
  double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  std::string eta = "?";
  if (final) {
    eta = "done";
  } else if (rate > 0 && total_ > 0) {
    eta = FormatDuration(static_cast<double>(total_ - done_) / rate);
  }
  double frac = total_ > 0 ? static_cast<double>(done_) / static_cast<double>(total_) : 0.0;
  if (frac > 1) frac = 1;
  constexpr int kWidth = 24;
  int filled = static_cast<int>(frac * kWidth);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(kWidth - filled), '.');
  std::string line = absl::StrFormat("%s [%s] %d/%d %3.0f%% | %.1f %s/s | %s | ETA %s", label_, bar,
                                     done_, total_, 100.0 * frac, rate, unit_,
                                     FormatDuration(elapsed), eta);
  if (!suffix_.empty()) line += " | " + suffix_;
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

}  // namespace llm
