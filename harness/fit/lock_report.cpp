#include "fit/lock_report.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "util/error.h"

namespace scalelock {
namespace {

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

nlohmann::json NumberOrNull(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
}

nlohmann::json IntervalJson(const Interval& interval) {
  return {NumberOrNull(interval.low), NumberOrNull(interval.high)};
}

}  // namespace

LockReport AnalyzeLock(const std::vector<RunRow>& rows, bool has_erf,
                       const LockOptions& options) {
  LockReport report;
  report.options = options;
  report.has_erf = has_erf;

  std::map<std::pair<std::string, int64_t>, std::vector<const RunRow*>> by_curve;
  for (const RunRow& row : rows) {
    if (std::isfinite(row.scale_ratio) && std::isfinite(row.final_eval_accuracy)) {
      by_curve[{row.family, row.rf}].push_back(&row);
    }
  }
  if (by_curve.empty()) {
    Fail(ErrorCode::kInvalidInput,
         "none of the {} finished runs has a scale ratio (lambda_min > 0); lock needs "
         "runs "
         "of a multiscale task",
         rows.size());
  }

  // One curve per (family, RF).
  for (const auto& [key, members] : by_curve) {
    std::vector<LockPoint> points;
    std::vector<double> lambdas, erfs;
    for (const RunRow* row : members) {
      points.push_back(
          {row->scale_ratio, row->final_eval_accuracy, row->group, row->run_id});
      lambdas.push_back(row->lambda_min);
      if (std::isfinite(row->erf)) erfs.push_back(row->erf);
    }
    LockCurve curve = FitLockCurve(points, options);
    curve.family = key.first;
    curve.rf = key.second;
    // NOTE: a curve whose runs differ in lambda_min uses the median value.
    curve.lambda_min = Median(lambdas);
    if (!erfs.empty()) {
      double sum = 0.0;
      for (double e : erfs)
        sum += e;
      curve.erf = sum / static_cast<double>(erfs.size());
    }
    if (std::isfinite(curve.threshold.r_star) && curve.rf > 0) {
      curve.r_star_lambda_over_rf =
          curve.threshold.r_star * curve.lambda_min / static_cast<double>(curve.rf);
      curve.delta = 1.0 / curve.r_star_lambda_over_rf;
    }
    report.curves.push_back(std::move(curve));
  }

  // Cross-RF regressions per family.
  std::map<std::string, std::vector<LockCurve>> by_family;
  for (const LockCurve& curve : report.curves)
    by_family[curve.family].push_back(curve);
  for (const auto& [family, curves] : by_family) {
    FamilyRegressions regressions;
    regressions.family = family;
    regressions.rf = RegressThreshold(curves, false);
    if (has_erf) {
      regressions.erf = RegressThreshold(curves, true);
    } else {
      regressions.erf.x_name = "erf";
      regressions.erf.status = "skipped: run_summary has no erf column";
    }
    if (regressions.rf.status == "ok" && regressions.erf.status == "ok") {
      regressions.better =
          regressions.erf.r_squared > regressions.rf.r_squared ? "erf" : "rf";
    }
    report.families.push_back(regressions);
  }
  return report;
}

nlohmann::json CurveToJson(const LockCurve& curve) {
  const Threshold& t = curve.threshold;
  return {{"family", curve.family},
          {"rf", curve.rf},
          {"erf", NumberOrNull(curve.erf)},
          {"lambda_min", NumberOrNull(curve.lambda_min)},
          {"n_runs", curve.runs},
          {"status", t.status},
          {"r_star", NumberOrNull(t.r_star)},
          {"r_star_ci", IntervalJson(curve.r_star_ci)},
          {"r_star_se", NumberOrNull(curve.r_star_se)},
          {"slope", NumberOrNull(t.slope)},
          {"crossing_r_star", NumberOrNull(t.crossing)},
          {"r_star_lambda_min_over_rf", NumberOrNull(curve.r_star_lambda_over_rf)},
          {"delta", NumberOrNull(curve.delta)},
          {"bootstrap_ok", curve.bootstrap_ok}};
}

namespace {

nlohmann::json RegressionJson(const ThresholdRegression& r) {
  return {{"x", r.x_name},
          {"status", r.status},
          {"n_curves", r.curves},
          {"slope", NumberOrNull(r.slope)},
          {"slope_ci", IntervalJson(r.slope_ci)},
          {"intercept", NumberOrNull(r.intercept)},
          {"r_squared", NumberOrNull(r.r_squared)},
          {"delta", NumberOrNull(r.delta)},
          {"delta_ci", IntervalJson(r.delta_ci)}};
}

}  // namespace

nlohmann::json RegressionsToJson(const FamilyRegressions& regressions) {
  return {{"family", regressions.family},
          {"rf", RegressionJson(regressions.rf)},
          {"erf", RegressionJson(regressions.erf)},
          {"better_predictor", regressions.better.empty()
                                   ? nlohmann::json(nullptr)
                                   : nlohmann::json(regressions.better)}};
}

nlohmann::json LockReportToJson(const LockReport& report) {
  nlohmann::json curves = nlohmann::json::array();
  for (const LockCurve& curve : report.curves)
    curves.push_back(CurveToJson(curve));
  nlohmann::json families = nlohmann::json::array();
  for (const FamilyRegressions& f : report.families)
    families.push_back(RegressionsToJson(f));
  return {{"model", "acc(r) = c + (top - c) / (1 + exp(s (log r - log r*)))"},
          {"ceiling", report.options.ceiling},
          {"top", report.options.top},
          {"bootstrap",
           {{"requested", report.options.bootstrap},
            {"seed", report.options.seed},
            {"interval", "percentile 95%"}}},
          {"has_erf", report.has_erf},
          {"curves", curves},
          {"regressions", families}};
}

}  // namespace scalelock
