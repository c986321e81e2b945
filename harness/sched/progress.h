// Progress reporting for a grid: a live line on a terminal, or one log line
// per run event otherwise. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace scalelock {

class Progress {
 public:
  // total_flops: training FLOPs of all runs to do, for the ETA.
  Progress(int64_t runs, double total_flops, bool live);

  void Started(int64_t run_id, const std::string& hash, const std::string& what);
  void Ended(int64_t run_id, const std::string& hash, const std::string& status,
             const std::string& detail, double flops, int64_t samples);
  // Redraws the live line; call about once a second.
  void Tick();
  // Clears the live line before the final summary.
  void Finish();

 private:
  std::string Line();
  void Print(const std::string& text);

  std::mutex mutex_;
  const int64_t runs_;
  const double total_flops_;
  const bool live_;
  int64_t done_ = 0;
  int64_t failed_ = 0;
  int64_t running_ = 0;
  double flops_done_ = 0.0;
  int64_t samples_done_ = 0;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace scalelock
