// A scaling fit with its uncertainty, extrapolation check and, for the
// chinchilla form, the compute-optimal frontier.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "fit/bootstrap.h"
#include "fit/scaling.h"

namespace scalelock {

struct ScalingOptions {
  Form form = Form::kPower;
  Residuals residuals = Residuals::kLog;
  int bootstrap = 1000;  // resamples; 0 skips the bootstrap
  uint64_t seed = 0;     // bootstrap seed
};

// Fit on the points with the smallest 3/4 of ScaleOf, scored on the rest.
struct Extrapolation {
  std::string status;  // "ok", "failed: ..." or "skipped: ..."
  size_t fit_points = 0;
  size_t test_points = 0;
  double mean_relative_error = 0.0;  // mean of |pred - loss| / loss on the test points
  double max_relative_error = 0.0;
};

// Compute-optimal allocation from L(N, D) with C = 6 N D:
// N_opt = G (C/6)^a, D_opt = (C/6)^b / G, a = beta/(alpha+beta), b = 1 - a,
// G = (alpha A / (beta B))^(1/(alpha+beta)).
struct Frontier {
  double a = 0.0;
  Interval a_ci;
  double b = 0.0;
  double g = 0.0;
  struct Budget {
    double compute = 0.0;  // C in FLOPs (6 N D)
    double n_opt = 0.0;
    double d_opt = 0.0;
    double loss = 0.0;  // predicted loss at (N_opt, D_opt)
  };
  std::vector<Budget> budgets;  // smallest, geometric middle and largest C of the points
};

struct ScalingReport {
  ScalingFit fit;
  size_t points = 0;
  size_t groups = 0;
  int bootstrap_requested = 0;
  int bootstrap_ok = 0;  // resamples whose fit succeeded
  uint64_t seed = 0;
  std::map<std::string, Interval> ci;  // 95% percentile interval per parameter
  std::map<std::string, double> se;    // bootstrap standard deviation per parameter
  Extrapolation extrapolation;
  std::optional<Frontier> frontier;  // chinchilla only, when the fit succeeded
};

// Fits, bootstraps (resampling point groups, replicates in parallel on TBB),
// runs the extrapolation check and computes the frontier. Deterministic given
// options.seed. Throws like FitScalingLaw.
ScalingReport AnalyzeScaling(const std::vector<ScalingPoint>& points,
                             const ScalingOptions& options);

// One JSON object: form, residuals, objective ("huber-log, delta=1e-3,
// summed"), objective_value, status, n_points, n_groups, each parameter by
// name, ci {name: [low, high]}, se {name: value}, bootstrap, extrapolation and
// frontier (chinchilla only).
nlohmann::json ReportToJson(const ScalingReport& report);

}  // namespace scalelock
