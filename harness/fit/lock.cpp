#include "fit/lock.h"

#include <ceres/ceres.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>

#include "util/error.h"

namespace scalelock {
namespace {

// Mean accuracy per distinct ratio, ratios ascending.
std::vector<std::pair<double, double>> MeanByRatio(const std::vector<LockPoint>& points) {
  std::map<double, std::pair<double, int>> sums;
  for (const LockPoint& p : points) {
    sums[p.ratio].first += p.accuracy;
    sums[p.ratio].second += 1;
  }
  std::vector<std::pair<double, double>> means;
  for (const auto& [ratio, sum] : sums)
    means.emplace_back(ratio, sum.first / sum.second);
  return means;
}

struct LogisticResidual {
  double log_ratio, accuracy, ceiling, top;
  template <typename T>
  bool operator()(const T* log_r_star, const T* log_slope, T* residual) const {
    // 1 / (1 + e^z) written so that neither branch overflows.
    const T z = exp(log_slope[0]) * (T(log_ratio) - log_r_star[0]);
    const T share =
        z > T(0.0) ? exp(-z) / (T(1.0) + exp(-z)) : T(1.0) / (T(1.0) + exp(z));
    residual[0] = T(accuracy) - (T(ceiling) + T(top - ceiling) * share);
    return true;
  }
};

double SquaredError(const std::vector<LockPoint>& points, const LockOptions& options,
                    double log_r_star, double slope) {
  double total = 0.0;
  for (const LockPoint& p : points) {
    const double z = slope * (std::log(p.ratio) - log_r_star);
    const double predicted =
        options.ceiling + (options.top - options.ceiling) / (1.0 + std::exp(z));
    total += (p.accuracy - predicted) * (p.accuracy - predicted);
  }
  return total;
}

// Fits the logistic by least squares, starting at the crossing estimate. The
// start slope is the best of a few values because a sharp lock leaves the
// objective flat away from the step.
void FitLogistic(const std::vector<LockPoint>& points, const LockOptions& options,
                 Threshold* threshold) {
  double log_r_star = std::log(threshold->crossing);
  double log_slope = 0.0;
  double best = INFINITY;
  for (double slope : {0.3, 1.0, 3.0, 10.0, 30.0}) {
    const double error = SquaredError(points, options, log_r_star, slope);
    if (error < best) {
      best = error;
      log_slope = std::log(slope);
    }
  }

  ceres::Problem problem;
  for (const LockPoint& p : points) {
    problem.AddResidualBlock(
        new ceres::AutoDiffCostFunction<LogisticResidual, 1, 1, 1>(new LogisticResidual{
            std::log(p.ratio), p.accuracy, options.ceiling, options.top}),
        nullptr, &log_r_star, &log_slope);
  }
  // The slope is boxed so a step-like curve stays finite: s = e^6 = 403 per
  // unit of log r is a step within 1% of r.
  problem.SetParameterLowerBound(&log_slope, 0, std::log(0.01));
  // r* stays within the tested ratios, where the crossing put it.
  double log_low = INFINITY, log_high = -INFINITY;
  for (const LockPoint& p : points) {
    log_low = std::min(log_low, std::log(p.ratio));
    log_high = std::max(log_high, std::log(p.ratio));
  }
  problem.SetParameterLowerBound(&log_r_star, 0, log_low);
  problem.SetParameterUpperBound(&log_r_star, 0, log_high);
  problem.SetParameterUpperBound(&log_slope, 0, 6.0);
  ceres::Solver::Options solver;
  solver.linear_solver_type = ceres::DENSE_QR;
  solver.max_num_iterations = 200;
  solver.function_tolerance = 1e-12;
  solver.parameter_tolerance = 1e-10;
  solver.logging_type = ceres::SILENT;
  ceres::Solver::Summary summary;
  ceres::Solve(solver, &problem, &summary);
  if (summary.IsSolutionUsable() && std::isfinite(log_r_star)) {
    threshold->r_star = std::exp(log_r_star);
    threshold->slope = std::exp(log_slope);
  } else {
    threshold->status = "failed: logistic fit did not converge (" + summary.message + ")";
  }
}

}  // namespace

Threshold FitThreshold(const std::vector<LockPoint>& points, const LockOptions& options) {
  Threshold threshold;
  const double midpoint = (options.ceiling + options.top) / 2.0;
  const std::vector<std::pair<double, double>> means = MeanByRatio(points);
  if (means.front().second < midpoint) {
    threshold.status = "not reached: r* < min tested r";
    return threshold;
  }
  for (size_t i = 0; i + 1 < means.size(); ++i) {
    const auto [r0, m0] = means[i];
    const auto [r1, m1] = means[i + 1];
    if (m0 >= midpoint && m1 < midpoint) {
      const double t = (m0 - midpoint) / (m0 - m1);
      threshold.crossing = std::exp(std::log(r0) + t * (std::log(r1) - std::log(r0)));
      break;
    }
  }
  if (!std::isfinite(threshold.crossing)) {
    threshold.status = "not reached: r* > max tested r";
    return threshold;
  }
  threshold.status = "ok";
  FitLogistic(points, options, &threshold);
  return threshold;
}

LockCurve FitLockCurve(const std::vector<LockPoint>& points, const LockOptions& options) {
  if (points.empty()) Fail(ErrorCode::kInvalidInput, "lock curve has no runs");
  for (const LockPoint& p : points) {
    if (!(p.ratio > 0.0)) {
      Fail(ErrorCode::kInvalidInput,
           "run {} has scale ratio {}; expected a positive lambda_max / lambda_min",
           p.run_id, p.ratio);
    }
  }
  LockCurve curve;
  curve.runs = points.size();
  for (const LockPoint& p : points)
    curve.run_ids.push_back(p.run_id);
  curve.threshold = FitThreshold(points, options);

  // Bootstrap over configs: seeds of one config are drawn together.
  std::vector<std::string> keys;
  for (const LockPoint& p : points)
    keys.push_back(p.group);
  const std::vector<std::vector<size_t>> groups = GroupByKey(keys);
  curve.replicate_r_star.assign(options.bootstrap, kNaN);
  tbb::parallel_for(0, options.bootstrap, [&](int replicate) {
    std::vector<LockPoint> sample;
    for (size_t i : DrawItems(groups, options.seed, replicate))
      sample.push_back(points[i]);
    const Threshold t = FitThreshold(sample, options);
    if (t.status == "ok") curve.replicate_r_star[replicate] = t.r_star;
  });
  std::vector<double> reached;
  for (double r : curve.replicate_r_star) {
    if (std::isfinite(r)) reached.push_back(r);
  }
  curve.bootstrap_ok = static_cast<int>(reached.size());
  curve.r_star_ci = PercentileInterval(reached);
  curve.r_star_se = StandardDeviation(reached);
  return curve;
}

namespace {

struct LineFit {
  double slope = kNaN, intercept = kNaN, r_squared = kNaN;
};

LineFit FitLine(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  double mx = 0.0, my = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    mx += x[i] / n;
    my += y[i] / n;
  }
  double sxx = 0.0, sxy = 0.0, syy = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxx += (x[i] - mx) * (x[i] - mx);
    sxy += (x[i] - mx) * (y[i] - my);
    syy += (y[i] - my) * (y[i] - my);
  }
  LineFit line;
  if (sxx <= 0.0) return line;
  line.slope = sxy / sxx;
  line.intercept = my - line.slope * mx;
  line.r_squared = syy > 0.0 ? sxy * sxy / (sxx * syy) : 1.0;
  return line;
}

// Geometric mean of X / (r* lambda_min).
double PooledDelta(const std::vector<double>& log_x, const std::vector<double>& log_r,
                   const std::vector<double>& log_lambda) {
  double sum = 0.0;
  for (size_t i = 0; i < log_x.size(); ++i)
    sum += log_x[i] - log_r[i] - log_lambda[i];
  return std::exp(sum / static_cast<double>(log_x.size()));
}

}  // namespace

ThresholdRegression RegressThreshold(const std::vector<LockCurve>& curves, bool use_erf) {
  ThresholdRegression regression;
  regression.x_name = use_erf ? "erf" : "rf";
  std::vector<const LockCurve*> used;
  for (const LockCurve& c : curves) {
    const double x = use_erf ? c.erf : static_cast<double>(c.rf);
    if (std::isfinite(c.threshold.r_star) && x > 0.0 && c.lambda_min > 0.0)
      used.push_back(&c);
  }
  regression.curves = used.size();
  std::vector<double> log_x, log_r, log_lambda;
  for (const LockCurve* c : used) {
    log_x.push_back(std::log(use_erf ? c->erf : static_cast<double>(c->rf)));
    log_r.push_back(std::log(c->threshold.r_star));
    log_lambda.push_back(std::log(c->lambda_min));
  }
  if (used.size() < 2 || *std::max_element(log_x.begin(), log_x.end()) ==
                             *std::min_element(log_x.begin(), log_x.end())) {
    regression.status =
        "skipped: fewer than 2 distinct " + regression.x_name + " values with r* reached";
    if (!used.empty()) regression.delta = PooledDelta(log_x, log_r, log_lambda);
    return regression;
  }
  const LineFit line = FitLine(log_x, log_r);
  regression.status = "ok";
  regression.slope = line.slope;
  regression.intercept = line.intercept;
  regression.r_squared = line.r_squared;
  regression.delta = PooledDelta(log_x, log_r, log_lambda);

  // Bootstrap: refit the line on each replicate where every curve reached r*.
  std::vector<double> slopes, deltas;
  const size_t replicates = used.front()->replicate_r_star.size();
  for (size_t b = 0; b < replicates; ++b) {
    std::vector<double> log_rb;
    for (const LockCurve* c : used) {
      if (b < c->replicate_r_star.size() && std::isfinite(c->replicate_r_star[b])) {
        log_rb.push_back(std::log(c->replicate_r_star[b]));
      }
    }
    if (log_rb.size() != used.size()) continue;
    slopes.push_back(FitLine(log_x, log_rb).slope);
    deltas.push_back(PooledDelta(log_x, log_rb, log_lambda));
  }
  regression.slope_ci = PercentileInterval(slopes);
  regression.delta_ci = PercentileInterval(deltas);
  return regression;
}

}  // namespace scalelock
