// Estimates of the two scales of a task's inputs, lambda_min and lambda_max,
// from sample statistics computed with FFTs (Eigen's FFT module, kissfft).
//
// Two operational definitions, for two kinds of signal:
//   features  Inputs made of localized features (the marks of multiscale1d,
//             multiscale2d and dense1d). lambda_min is the extent of one
//             feature: the lag at which the central lobe of the mean
//             autocorrelation R(tau) = E[sum_t x_t x_(t+tau)] returns to zero,
//             after its negative side lobe if it has one. lambda_max is the end
//             to end span of the most consistent pair of features: tau* +
//             lambda_min (at most the input's extent), where tau* >= 0.85 *
//             lambda_min maximizes the mean squared per-sample
//             autocorrelation S(tau) = E[(sum_t x_t x_(t+tau))^2].
//             S is used because the sign of a pair's correlation can vary
//             between samples (as in the XOR tasks), which cancels it in R.
//             In 2D, lambda_min comes from the axis profiles of R and tau* is
//             the Chebyshev length of the best 2D lag.
//   periods   Inputs made of periodic components (forecast). The mean power
//             spectrum (Hann window, 16x zero padding) has one peak per
//             component. lambda_min and lambda_max are the shortest and the
//             longest period among the peaks with at least 5% of the largest
//             peak's power. Peaks are located by parabolic interpolation of the
//             log power.
// kAuto picks periods for kRegression tasks and features otherwise.
// Pure functions of their inputs; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/task.h"

namespace scalelock {

enum class ScaleMethod { kAuto, kFeatures, kPeriods };

// Parses "auto", "features" or "periods"; throws Error(kInvalidInput).
ScaleMethod ParseScaleMethod(const std::string& name);
const char* ScaleMethodName(ScaleMethod method);

struct ScaleEstimate {
  ScaleMethod method = ScaleMethod::kFeatures;  // kFeatures or kPeriods, never kAuto
  int64_t samples = 0;      // inputs the statistics were computed from
  double lambda_min = 0.0;  // samples (pixels in 2D); 0 when not found
  double lambda_max = 0.0;  // samples; 0 when not found
  // features: S(tau*) / median S over the searched lags (near 1: no pair
  // structure); periods: power of the weakest accepted peak / largest peak.
  double contrast = 0.0;
  std::vector<double> periods;  // periods: every accepted peak, ascending
  double ratio() const { return lambda_min > 0.0 ? lambda_max / lambda_min : 0.0; }
};

// Estimates the scales of the batch's inputs, whose samples have shape
// sample_shape ({C, W} or {C, H, W}; channels are pooled). Throws
// Error(kInvalidInput) for an empty batch, a shape that does not match the
// inputs, or kAuto (resolve it with the task first).
ScaleEstimate EstimateScales(const Batch& batch, const std::vector<int64_t>& sample_shape,
                             ScaleMethod method);

// Draws `samples` training inputs (batch 0) from the task and estimates their
// scales; kAuto is resolved from task.target_kind().
ScaleEstimate EstimateTaskScales(Task& task, int64_t samples, ScaleMethod method);

}  // namespace scalelock
