// Scaling-law fits: one form fitted to (x, loss) or (N, D, loss) points.
//
// Forms (parameter names in output order):
//   power       L = E + A x^-alpha                                (E, A, alpha)
//   power0      L = A x^-alpha                                    (A, alpha)
//   chinchilla  L = E + A N^-alpha + B D^-beta          (E, A, B, alpha, beta)
//   bpl         L = E + A x^-alpha (1 + (x/d)^(1/f))^(-beta f)
//                                                   (E, A, alpha, beta, d, f)
// bpl is the smoothly broken power law with one break of Caballero et al.
// (2022), y = a + b x^-c0 (1 + (x/d1)^(1/f1))^(-c1 f1), with E=a, A=b,
// alpha=c0, beta=c1, d=d1, f=f1: the exponent is alpha below the break d and
// alpha + beta above it, and f sets how sharp the break is.
//
// Method: the objective is the Huber loss (delta 1e-3) of each point's residual,
// summed over points. Log residuals are log(pred) - log(loss); linear residuals
// are pred - loss. The exponents (and the bpl break) are searched on a grid,
// with the linear coefficients (E, A, B) solved by nonnegative least squares at
// each grid point; the best grid points then start a joint Ceres refinement of
// all parameters (E, A, B as logs, so they stay positive). Exponents are boxed
// to [0, 2.5] (bpl beta to [-2.5, 2.5], d to the data range); a minimum on a box
// edge is reported as a failed fit.
//
// All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace scalelock {

enum class Form { kPower, kPower0, kChinchilla, kBpl };
enum class Residuals { kLog, kLinear };

// Parses "power", "power0", "chinchilla" or "bpl"; throws Error(kInvalidInput).
Form ParseForm(const std::string& name);
const char* FormName(Form form);
// Parses "log" or "linear"; throws Error(kInvalidInput).
Residuals ParseResiduals(const std::string& name);
const char* ResidualsName(Residuals residuals);
// Objective description for output, e.g. "huber-log, delta=1e-3, summed".
std::string ObjectiveName(Residuals residuals);

// Parameter names of a form, in the order of ScalingFit::values.
const std::vector<std::string>& ParameterNames(Form form);

// One observation. For chinchilla x is N (parameters) and d is D (training
// tokens or samples); other forms use x only.
struct ScalingPoint {
  double x = 0.0;
  double d = 0.0;
  double loss = 0.0;   // > 0
  std::string group;   // bootstrap group: points of one group resample together
  int64_t run_id = 0;  // database run id, 0 for points from a CSV file
};

struct ScalingFit {
  Form form = Form::kPower;
  Residuals residuals = Residuals::kLog;
  bool ok = false;
  std::string status;          // "ok" or "failed: <reason>"
  std::vector<double> values;  // parameters in ParameterNames(form) order
  double objective = 0.0;      // summed Huber loss at values
};

// Fits form to points. A warm start (a fit of the same form, e.g. on all
// points when this call fits a bootstrap resample) replaces the coarse grid by
// a fine grid within half a coarse step of its exponents, and refinement starts from it
// and from the best fine-grid point only; bpl still scans its coarse grid. Throws
// Error(kInvalidInput) when there are fewer points than parameters or a point has a
// nonpositive or non-finite x, d or loss. A minimum on the search box edge or a solver
// failure returns ok = false with the reason in status.
ScalingFit FitScalingLaw(const std::vector<ScalingPoint>& points, Form form,
                         Residuals residuals, const ScalingFit* warm_start = nullptr);

// Predicted loss of the fitted form at a point.
double PredictLoss(Form form, const std::vector<double>& values,
                   const ScalingPoint& point);

// The x used to order points for the extrapolation check: x, or N * D for
// chinchilla (proportional to training compute).
double ScaleOf(Form form, const ScalingPoint& point);

}  // namespace scalelock
