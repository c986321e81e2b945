#include "sched/progress.h"

#include <cstdio>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace scalelock {

namespace {
std::string FormatDuration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "?";
  int64_t s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}
}  // namespace

Progress::Progress(int64_t runs, double total_flops, bool live)
    : runs_(runs), total_flops_(total_flops), live_(live),
      start_(std::chrono::steady_clock::now()) {}

void Progress::Started(int64_t run_id, const std::string& hash, const std::string& what) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++running_;
  if (!live_) spdlog::info("run {} ({}) started: {}", run_id, hash, what);
}

void Progress::Ended(int64_t run_id, const std::string& hash, const std::string& status,
                     const std::string& detail, double flops, int64_t samples) {
  std::lock_guard<std::mutex> lock(mutex_);
  --running_;
  ++done_;
  if (status != "finished") ++failed_;
  flops_done_ += flops;
  samples_done_ += samples;
  std::string text = fmt::format("run {} ({}) {}: {}", run_id, hash, status, detail);
  if (live_) std::fputs("\r\033[K", stderr);
  if (status == "finished") {
    spdlog::info("{}", text);
  } else {
    spdlog::warn("{}", text);
  }
  if (live_) Print(Line());
}

void Progress::Tick() {
  if (!live_) return;
  std::lock_guard<std::mutex> lock(mutex_);
  Print(Line());
}

void Progress::Finish() {
  if (live_) std::fputs("\r\033[K", stderr);
}

std::string Progress::Line() {
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double eta = flops_done_ > 0 ? elapsed * (total_flops_ - flops_done_) / flops_done_ : -1;
  double rate = elapsed > 0 ? samples_done_ / elapsed : 0.0;
  return fmt::format("[{}] {}/{} done, {} failed, {} running, {} pending, ETA {}, "
                     "{:.0f} samples/s",
                     FormatDuration(elapsed), done_, runs_, failed_, running_,
                     runs_ - done_ - running_, FormatDuration(eta), rate);
}

void Progress::Print(const std::string& text) {
  std::fprintf(stderr, "\r\033[K%s", text.c_str());
  std::fflush(stderr);
}

}  // namespace scalelock
