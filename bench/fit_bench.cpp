// Fit timings: the 240-point Chinchilla fit with its full grid search, and
// the same analysis with 1000 bootstrap resamples on all TBB threads.
// Usage: fit_bench [CSV] (default: tests/data/chinchilla_svg_extracted_data.csv
// under the working directory).
#include <tbb/info.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include "fit/points.h"
#include "fit/scaling_report.h"

namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// CPU seconds used so far by clock (CLOCK_THREAD_CPUTIME_ID or
// CLOCK_PROCESS_CPUTIME_ID); unlike wall time it barely changes when other
// processes share the cores.
double CpuSeconds(clockid_t clock) {
  timespec now{};
  clock_gettime(clock, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace scalelock;
  const std::string path =
      argc > 1 ? argv[1] : "tests/data/chinchilla_svg_extracted_data.csv";
  const std::vector<ScalingPoint> points =
      DropHighestLoss(ReadPointsCsv(path, Form::kChinchilla), 5);

  // Single fits: best of 5 runs, wall and CPU time of this thread.
  double best = 1e9;
  double best_cpu = 1e9;
  ScalingFit fit;
  for (int i = 0; i < 5; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = CpuSeconds(CLOCK_THREAD_CPUTIME_ID);
    fit = FitScalingLaw(points, Form::kChinchilla, Residuals::kLog);
    best = std::min(best, SecondsSince(start));
    best_cpu = std::min(best_cpu, CpuSeconds(CLOCK_THREAD_CPUTIME_ID) - cpu_start);
  }
  std::printf(
      "chinchilla fit, %zu points, full search: %.3f s wall, %.3f s CPU (best of 5), "
      "%s, alpha %.4f beta %.4f E %.4f\n",
      points.size(), best, best_cpu, fit.status.c_str(), fit.values[3], fit.values[4],
      fit.values[0]);

  // The full analysis: fit, extrapolation check and the bootstrap.
  ScalingOptions options;
  options.form = Form::kChinchilla;
  options.bootstrap = 1000;
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = CpuSeconds(CLOCK_PROCESS_CPUTIME_ID);
  const ScalingReport report = AnalyzeScaling(points, options);
  std::printf(
      "chinchilla analysis with %d bootstrap resamples on %d threads: %.2f s wall, "
      "%.2f s CPU (%d ok), alpha CI [%.4f, %.4f]\n",
      options.bootstrap, tbb::info::default_concurrency(), SecondsSince(start),
      CpuSeconds(CLOCK_PROCESS_CPUTIME_ID) - cpu_start, report.bootstrap_ok,
      report.ci.at("alpha").low, report.ci.at("alpha").high);
  return 0;
}
