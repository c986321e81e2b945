#include "fit/scaling_report.h"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace scalelock {
namespace {

double ValueOf(const ScalingFit& fit, const std::string& name) {
  const std::vector<std::string>& names = ParameterNames(fit.form);
  const auto it = std::find(names.begin(), names.end(), name);
  return fit.values.at(static_cast<size_t>(it - names.begin()));
}

double FrontierExponent(const ScalingFit& fit) {
  const double alpha = ValueOf(fit, "alpha");
  const double beta = ValueOf(fit, "beta");
  return beta / (alpha + beta);
}

// Fits every resample; entry r is empty when resample r failed.
std::vector<std::optional<ScalingFit>> BootstrapFits(
    const std::vector<ScalingPoint>& points, const ScalingOptions& options,
    const ScalingFit& full_fit) {
  std::vector<std::string> keys;
  for (const ScalingPoint& p : points)
    keys.push_back(p.group);
  const std::vector<std::vector<size_t>> groups = GroupByKey(keys);

  std::vector<std::optional<ScalingFit>> fits(options.bootstrap);
  tbb::parallel_for(0, options.bootstrap, [&](int replicate) {
    std::vector<ScalingPoint> sample;
    for (size_t i : DrawItems(groups, options.seed, replicate))
      sample.push_back(points[i]);
    try {
      ScalingFit fit = FitScalingLaw(sample, options.form, options.residuals, &full_fit);
      if (fit.ok) fits[replicate] = std::move(fit);
    } catch (const Error&) {
      // A resample with fewer distinct points than parameters counts as failed.
    }
  });
  return fits;
}

Extrapolation CheckExtrapolation(std::vector<ScalingPoint> points,
                                 const ScalingOptions& options) {
  Extrapolation check;
  std::stable_sort(points.begin(), points.end(),
                   [&](const ScalingPoint& a, const ScalingPoint& b) {
                     return ScaleOf(options.form, a) < ScaleOf(options.form, b);
                   });
  check.fit_points = points.size() * 3 / 4;
  check.test_points = points.size() - check.fit_points;
  const size_t parameters = ParameterNames(options.form).size();
  if (check.fit_points < parameters || check.test_points == 0) {
    check.status = "skipped: too few points to hold out a quarter";
    return check;
  }

  const std::vector<ScalingPoint> head(points.begin(), points.begin() + check.fit_points);
  const ScalingFit fit = FitScalingLaw(head, options.form, options.residuals);
  check.status = fit.status;
  if (!fit.ok) return check;
  for (size_t i = check.fit_points; i < points.size(); ++i) {
    const double predicted = PredictLoss(options.form, fit.values, points[i]);
    const double error = std::abs(predicted - points[i].loss) / points[i].loss;
    check.mean_relative_error += error / static_cast<double>(check.test_points);
    check.max_relative_error = std::max(check.max_relative_error, error);
  }
  return check;
}

Frontier ComputeFrontier(const ScalingFit& fit, const std::vector<ScalingPoint>& points) {
  Frontier frontier;
  const double alpha = ValueOf(fit, "alpha");
  const double beta = ValueOf(fit, "beta");
  frontier.a = beta / (alpha + beta);
  frontier.b = alpha / (alpha + beta);
  frontier.g = std::pow(alpha * ValueOf(fit, "A") / (beta * ValueOf(fit, "B")),
                        1.0 / (alpha + beta));

  double low = INFINITY, high = 0.0;
  for (const ScalingPoint& p : points) {
    low = std::min(low, 6.0 * p.x * p.d);
    high = std::max(high, 6.0 * p.x * p.d);
  }
  for (double compute : {low, std::sqrt(low * high), high}) {
    Frontier::Budget budget;
    budget.compute = compute;
    budget.n_opt = frontier.g * std::pow(compute / 6.0, frontier.a);
    budget.d_opt = std::pow(compute / 6.0, frontier.b) / frontier.g;
    ScalingPoint at;
    at.x = budget.n_opt;
    at.d = budget.d_opt;
    budget.loss = PredictLoss(fit.form, fit.values, at);
    frontier.budgets.push_back(budget);
  }
  return frontier;
}

}  // namespace

ScalingReport AnalyzeScaling(const std::vector<ScalingPoint>& points,
                             const ScalingOptions& options) {
  ScalingReport report;
  report.fit = FitScalingLaw(points, options.form, options.residuals);
  report.points = points.size();
  std::vector<std::string> keys;
  for (const ScalingPoint& p : points)
    keys.push_back(p.group);
  report.groups = GroupByKey(keys).size();
  report.bootstrap_requested = options.bootstrap;
  report.seed = options.seed;
  report.extrapolation = CheckExtrapolation(points, options);
  if (!report.fit.ok) return report;

  // Bootstrap: percentile intervals and standard deviations per parameter.
  const std::vector<std::optional<ScalingFit>> fits =
      options.bootstrap > 0 ? BootstrapFits(points, options, report.fit)
                            : std::vector<std::optional<ScalingFit>>{};
  const std::vector<std::string>& names = ParameterNames(options.form);
  std::vector<std::vector<double>> samples(names.size());
  std::vector<double> frontier_samples;
  for (const std::optional<ScalingFit>& fit : fits) {
    if (!fit) continue;
    ++report.bootstrap_ok;
    for (size_t k = 0; k < names.size(); ++k)
      samples[k].push_back(fit->values[k]);
    if (options.form == Form::kChinchilla)
      frontier_samples.push_back(FrontierExponent(*fit));
  }
  for (size_t k = 0; k < names.size() && report.bootstrap_ok > 0; ++k) {
    report.ci[names[k]] = PercentileInterval(samples[k]);
    report.se[names[k]] = StandardDeviation(samples[k]);
  }

  if (options.form == Form::kChinchilla) {
    report.frontier = ComputeFrontier(report.fit, points);
    report.frontier->a_ci = PercentileInterval(frontier_samples);
  }
  return report;
}

nlohmann::json ReportToJson(const ScalingReport& report) {
  const ScalingFit& fit = report.fit;
  nlohmann::json out = {{"form", FormName(fit.form)},
                        {"residuals", ResidualsName(fit.residuals)},
                        {"objective", ObjectiveName(fit.residuals)},
                        {"objective_value", fit.objective},
                        {"status", fit.status},
                        {"n_points", report.points},
                        {"n_groups", report.groups}};
  const std::vector<std::string>& names = ParameterNames(fit.form);
  for (size_t k = 0; k < names.size(); ++k) {
    out[names[k]] = fit.ok ? nlohmann::json(fit.values[k]) : nlohmann::json(nullptr);
  }
  out["ci"] = nlohmann::json::object();
  for (const auto& [name, interval] : report.ci) {
    out["ci"][name] = {interval.low, interval.high};
  }
  out["se"] = report.se;
  out["bootstrap"] = {{"requested", report.bootstrap_requested},
                      {"ok", report.bootstrap_ok},
                      {"seed", report.seed},
                      {"interval", "percentile 95%"}};

  const Extrapolation& e = report.extrapolation;
  out["extrapolation"] = {{"status", e.status},
                          {"fit_points", e.fit_points},
                          {"test_points", e.test_points},
                          {"mean_relative_error", e.mean_relative_error},
                          {"max_relative_error", e.max_relative_error}};
  if (report.frontier) {
    const Frontier& f = *report.frontier;
    nlohmann::json budgets = nlohmann::json::array();
    for (const Frontier::Budget& b : f.budgets) {
      budgets.push_back(
          {{"C", b.compute}, {"N_opt", b.n_opt}, {"D_opt", b.d_opt}, {"loss", b.loss}});
    }
    out["frontier"] = {{"a", f.a},
                       {"a_ci", {f.a_ci.low, f.a_ci.high}},
                       {"b", f.b},
                       {"G", f.g},
                       {"budgets", budgets}};
  }
  return out;
}

}  // namespace scalelock
