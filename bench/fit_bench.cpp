// Fit timings: the 240-point Chinchilla fit with its full grid search, and
// the same analysis with 1000 bootstrap resamples on all TBB threads.
// Usage: fit_bench [CSV] (default: tests/data/chinchilla_svg_extracted_data.csv
// under the working directory).
#include <tbb/info.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "fit/points.h"
#include "fit/scaling_report.h"

namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace scalelock;
  const std::string path =
      argc > 1 ? argv[1] : "tests/data/chinchilla_svg_extracted_data.csv";
  const std::vector<ScalingPoint> points =
      DropHighestLoss(ReadPointsCsv(path, Form::kChinchilla), 5);

  // Single fits: best of 5 runs.
  double best = 1e9;
  ScalingFit fit;
  for (int i = 0; i < 5; ++i) {
    const auto start = std::chrono::steady_clock::now();
    fit = FitScalingLaw(points, Form::kChinchilla, Residuals::kLog);
    best = std::min(best, SecondsSince(start));
  }
  std::printf(
      "chinchilla fit, %zu points, full search: %.3f s (best of 5), %s, alpha %.4f "
      "beta %.4f E %.4f\n",
      points.size(), best, fit.status.c_str(), fit.values[3], fit.values[4],
      fit.values[0]);

  ScalingOptions options;
  options.form = Form::kChinchilla;
  options.bootstrap = 1000;
  const auto start = std::chrono::steady_clock::now();
  const ScalingReport report = AnalyzeScaling(points, options);
  std::printf(
      "chinchilla analysis with %d bootstrap resamples on %d threads: %.2f s "
      "(%d ok), alpha CI [%.4f, %.4f]\n",
      options.bootstrap, tbb::info::default_concurrency(), SecondsSince(start),
      report.bootstrap_ok, report.ci.at("alpha").low, report.ci.at("alpha").high);
  return 0;
}
