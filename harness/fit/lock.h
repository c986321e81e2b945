// Lock thresholds: the scale ratio r* at which a network of fixed receptive
// field (RF) stops learning a multiscale task.
//
// Per (family, RF), eval accuracy against r = lambda_max / lambda_min is fitted
// by a logistic curve in log r between the blind ceiling c and the top
// accuracy (default 1.0):
//   acc(r) = c + (top - c) / (1 + exp(s (log r - log r*))),  s > 0,
// by least squares with Ceres, so r* is where accuracy falls to the midpoint
// (c + top) / 2, with r* kept within the tested ratios. The crossing estimate
// interpolates log r linearly between the two tested ratios where the mean accuracy over
// seeds first falls below the midpoint. When the mean accuracy stays above (or below) the
// midpoint at every tested ratio, r* is "not reached" and no number is reported.
// Bootstrap resamples configs (all seeds of a config together).
//
// Across RFs of one family, log r* is regressed on log RF; delta = RF / (r*
// lambda_min) is the fraction of the RF that the largest learnable feature
// fills. All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "fit/bootstrap.h"

namespace scalelock {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// One finished run of a multiscale task.
struct LockPoint {
  double ratio = 0.0;     // r = lambda_max / lambda_min
  double accuracy = 0.0;  // final eval accuracy in [0, 1]
  std::string group;      // config without its seed
  int64_t run_id = 0;
};

struct LockOptions {
  double ceiling = 0.5;  // blind-ceiling accuracy c
  double top = 1.0;      // accuracy of a network whose RF covers every scale
  int bootstrap = 1000;  // resamples; 0 skips the bootstrap
  uint64_t seed = 0;
};

// r* of one point set without uncertainty.
struct Threshold {
  std::string status;      // "ok" or "not reached: ..."
  double r_star = kNaN;    // logistic fit
  double slope = kNaN;     // s, per unit of log r
  double crossing = kNaN;  // crossing estimate
};

// Fits the logistic curve and the crossing estimate.
Threshold FitThreshold(const std::vector<LockPoint>& points, const LockOptions& options);

// One (family, RF) curve with its bootstrap.
struct LockCurve {
  std::string family;
  int64_t rf = 0;
  double erf = kNaN;         // mean effective RF of its runs; NaN when not stored
  double lambda_min = kNaN;  // median lambda_min of its runs
  size_t runs = 0;
  Threshold threshold;
  Interval r_star_ci;                    // 95% percentile interval
  double r_star_se = kNaN;               // bootstrap standard deviation
  double delta = kNaN;                   // RF / (r* lambda_min)
  double r_star_lambda_over_rf = kNaN;   // r* lambda_min / RF = 1 / delta
  int bootstrap_ok = 0;                  // resamples with r* reached
  std::vector<double> replicate_r_star;  // per resample, NaN where not reached
  std::vector<int64_t> run_ids;
};

// Fits one curve. Throws Error(kInvalidInput) when points is empty or a ratio
// is not positive.
LockCurve FitLockCurve(const std::vector<LockPoint>& points, const LockOptions& options);

// log r* = intercept + slope log X over the curves of one family whose r* was
// reached, with X = RF or effective RF.
struct ThresholdRegression {
  std::string x_name;  // "rf" or "erf"
  std::string status;  // "ok" or "skipped: ..."
  size_t curves = 0;
  double slope = kNaN;
  Interval slope_ci;
  double intercept = kNaN;
  double r_squared = kNaN;
  double delta = kNaN;  // geometric mean over curves of X / (r* lambda_min)
  Interval delta_ci;
};

// Regresses over curves (one family). Bootstrap intervals use the curves'
// replicate r* values with matching replicate numbers; replicates where a
// curve did not reach r* are left out.
ThresholdRegression RegressThreshold(const std::vector<LockCurve>& curves, bool use_erf);

}  // namespace scalelock
