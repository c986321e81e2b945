// scalelock fit: scaling-law fits on finished runs or a CSV file; scalelock
// lock: lock thresholds r* per (family, RF). Both store what they fit in the
// fits table with the run ids used (see docs/fitting.md).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "fit/lock_report.h"
#include "fit/points.h"
#include "fit/runs.h"
#include "fit/scaling_report.h"
#include "store/store.h"
#include "util/error.h"

namespace scalelock {
namespace {

struct FitCommandOptions {
  std::string db;
  std::string experiment;
  std::string family;
  std::string x = "params";
  std::string form = "power";
  std::string residuals = "log";
  std::string points_path;
  int drop_highest = 0;
  int bootstrap = 1000;
  uint64_t seed = 0;
  std::string format;
};

std::string Formula(Form form) {
  switch (form) {
    case Form::kPower:
      return "L = E + A*x^-alpha";
    case Form::kPower0:
      return "L = A*x^-alpha";
    case Form::kChinchilla:
      return "L = E + A*N^-alpha + B*D^-beta";
    case Form::kBpl:
      return "L = E + A*x^-alpha*(1 + (x/d)^(1/f))^(-beta*f)";
  }
  return "";
}

std::string Number(double value) {
  return std::isfinite(value) ? fmt::format("{:.6g}", value) : "-";
}

// A CSV field: empty where the value is missing.
std::string CsvNumber(double value) {
  return std::isfinite(value) ? fmt::format("{:.6g}", value) : "";
}

// Table text of one scaling report; label names the family or file.
std::string FormatScalingTable(const std::string& label, const nlohmann::json& j,
                               const ScalingReport& report) {
  std::string out = fmt::format("fit {}: {} (x = {}), residuals {}, objective {}\n",
                                label, Formula(report.fit.form), j.value("x", "x"),
                                ResidualsName(report.fit.residuals),
                                ObjectiveName(report.fit.residuals));
  out += fmt::format("status: {}   points: {} in {} groups   bootstrap: {} of {} ok\n",
                     report.fit.status, report.points, report.groups, report.bootstrap_ok,
                     report.bootstrap_requested);
  out += fmt::format("{:<10} {:>14} {:>14} {:>14} {:>14}\n", "parameter", "value", "se",
                     "ci95_low", "ci95_high");
  const std::vector<std::string>& names = ParameterNames(report.fit.form);
  for (size_t k = 0; k < names.size() && report.fit.ok; ++k) {
    const auto ci = report.ci.find(names[k]);
    const auto se = report.se.find(names[k]);
    out += fmt::format("{:<10} {:>14} {:>14} {:>14} {:>14}\n", names[k],
                       Number(report.fit.values[k]),
                       Number(se == report.se.end() ? NAN : se->second),
                       Number(ci == report.ci.end() ? NAN : ci->second.low),
                       Number(ci == report.ci.end() ? NAN : ci->second.high));
  }
  const Extrapolation& e = report.extrapolation;
  out += fmt::format(
      "extrapolation: {}; fit on the {} smallest, relative error on the {} largest: mean "
      "{}, max {}\n",
      e.status, e.fit_points, e.test_points, Number(e.mean_relative_error),
      Number(e.max_relative_error));
  if (report.frontier) {
    const Frontier& f = *report.frontier;
    out += fmt::format("frontier: N_opt = G (C/6)^a with a = {} [{}, {}], G = {}\n",
                       Number(f.a), Number(f.a_ci.low), Number(f.a_ci.high), Number(f.g));
    for (const Frontier::Budget& b : f.budgets) {
      out += fmt::format("  C = {}: N_opt = {}, D_opt = {}, L = {}\n", Number(b.compute),
                         Number(b.n_opt), Number(b.d_opt), Number(b.loss));
    }
  }
  return out + "\n";
}

std::string FormatScalingCsvRows(const std::string& label, const ScalingReport& report,
                                 const std::string& x) {
  std::string out;
  const std::vector<std::string>& names = ParameterNames(report.fit.form);
  for (size_t k = 0; k < names.size(); ++k) {
    const auto ci = report.ci.find(names[k]);
    const auto se = report.se.find(names[k]);
    out += fmt::format(
        "{},{},{},{},\"{}\",{},{},{},{},{},{}\n", label, FormName(report.fit.form), x,
        ResidualsName(report.fit.residuals), report.fit.status, names[k],
        report.fit.ok ? Number(report.fit.values[k]) : "",
        se == report.se.end() ? "" : Number(se->second),
        ci == report.ci.end() ? "" : Number(ci->second.low),
        ci == report.ci.end() ? "" : Number(ci->second.high), report.points);
  }
  return out;
}

struct LabelledReport {
  std::string label;
  nlohmann::json json;
  ScalingReport report;
};

void PrintScaling(const std::vector<LabelledReport>& reports, const std::string& format,
                  bool single_object) {
  std::string text;
  if (format == "json") {
    nlohmann::json all = nlohmann::json::array();
    for (const LabelledReport& r : reports)
      all.push_back(r.json);
    text = (single_object ? all.front() : all).dump(2) + "\n";
  } else if (format == "csv") {
    text =
        "source,form,x,residuals,status,parameter,value,se,ci95_low,ci95_high,n_points\n";
    for (const LabelledReport& r : reports) {
      text += FormatScalingCsvRows(r.label, r.report, r.json.value("x", ""));
    }
  } else {
    for (const LabelledReport& r : reports)
      text += FormatScalingTable(r.label, r.json, r.report);
  }
  std::fputs(text.c_str(), stdout);
}

int RunFit(const FitCommandOptions& options) {
  const Form form = ParseForm(options.form);
  ScalingOptions scaling;
  scaling.form = form;
  scaling.residuals = ParseResiduals(options.residuals);
  scaling.bootstrap = options.bootstrap;
  scaling.seed = options.seed;

  // Points from a CSV file: one fit, nothing stored.
  if (!options.points_path.empty()) {
    std::vector<ScalingPoint> points = ReadPointsCsv(options.points_path, form);
    if (options.drop_highest > 0) points = DropHighestLoss(points, options.drop_highest);
    LabelledReport r{options.points_path, {}, AnalyzeScaling(points, scaling)};
    r.json = ReportToJson(r.report);
    r.json["source"] = options.points_path;
    r.json["x"] = form == Form::kChinchilla ? "N, D" : "x";
    PrintScaling({r}, options.format, true);
    return 0;
  }

  // Database runs: one fit per family, each stored with its run ids.
  auto store = Store::Open(options.db, Store::Mode::kReadWrite);
  const std::vector<RunRow> rows =
      LoadFinishedRuns(*store, options.experiment, options.family);
  const std::string x = form == Form::kChinchilla ? "params, train_samples" : options.x;
  std::vector<LabelledReport> reports;
  for (const std::string& family : FamiliesOf(rows)) {
    std::vector<RunRow> members;
    for (const RunRow& row : rows) {
      if (row.family == family) members.push_back(row);
    }
    std::vector<ScalingPoint> points = ScalingPointsFromRuns(members, form, options.x);
    if (options.drop_highest > 0) points = DropHighestLoss(points, options.drop_highest);
    LabelledReport r{family, {}, AnalyzeScaling(points, scaling)};
    r.json = ReportToJson(r.report);
    r.json["family"] = family;
    r.json["experiment"] = options.experiment;
    r.json["x"] = x;

    FitRecord record;
    record.kind = FormName(form);
    record.experiment = options.experiment;
    record.family = family;
    record.x = x;
    record.form = Formula(form);
    record.result = r.json;
    for (const ScalingPoint& p : points)
      record.run_ids.push_back(p.run_id);
    r.json["fit_id"] = store->RecordFit(record);
    spdlog::info("fit {}: family {}, {} runs, status {}", r.json["fit_id"].get<int64_t>(),
                 family, points.size(), r.report.fit.status);
    reports.push_back(std::move(r));
  }
  PrintScaling(reports, options.format, false);
  return 0;
}

struct LockCommandOptions {
  std::string db;
  std::string experiment;
  double ceiling = 0.5;
  double top = 1.0;
  int bootstrap = 1000;
  uint64_t seed = 0;
  std::string format;
};

std::string FormatLockTable(const LockReport& report) {
  std::string out = fmt::format(
      "lock: acc(r) = c + (top - c) / (1 + exp(s (log r - log r*))), c = {}, top = {}\n",
      report.options.ceiling, report.options.top);
  out += fmt::format("{:<12} {:>6} {:>6} {:>10} {:>10} {:>10} {:>10} {:>12}  {}\n",
                     "family", "rf", "runs", "r*", "ci95_low", "ci95_high", "crossing",
                     "r*lmin/rf", "status");
  for (const LockCurve& c : report.curves) {
    out += fmt::format("{:<12} {:>6} {:>6} {:>10} {:>10} {:>10} {:>10} {:>12}  {}\n",
                       c.family, c.rf, c.runs, Number(c.threshold.r_star),
                       Number(c.r_star_ci.low), Number(c.r_star_ci.high),
                       Number(c.threshold.crossing), Number(c.r_star_lambda_over_rf),
                       c.threshold.status);
  }
  for (const FamilyRegressions& f : report.families) {
    for (const ThresholdRegression* r : {&f.rf, &f.erf}) {
      if (r->status != "ok") {
        out += fmt::format("{} log r* on log {}: {}\n", f.family, r->x_name, r->status);
        continue;
      }
      out += fmt::format(
          "{} log r* on log {}: slope {} [{}, {}], R^2 {}, delta {} [{}, {}], {} "
          "curves\n",
          f.family, r->x_name, Number(r->slope), Number(r->slope_ci.low),
          Number(r->slope_ci.high), Number(r->r_squared), Number(r->delta),
          Number(r->delta_ci.low), Number(r->delta_ci.high), r->curves);
    }
    if (!f.better.empty())
      out += fmt::format("{}: {} explains r* better (R^2)\n", f.family, f.better);
  }
  return out;
}

std::string FormatLockCsv(const LockReport& report) {
  std::string out =
      "family,rf,erf,n_runs,r_star,ci95_low,ci95_high,crossing_r_star,"
      "r_star_lambda_min_over_rf,delta,status\n";
  for (const LockCurve& c : report.curves) {
    out += fmt::format(
        "{},{},{},{},{},{},{},{},{},{},\"{}\"\n", c.family, c.rf, CsvNumber(c.erf),
        c.runs, CsvNumber(c.threshold.r_star), CsvNumber(c.r_star_ci.low),
        CsvNumber(c.r_star_ci.high), CsvNumber(c.threshold.crossing),
        CsvNumber(c.r_star_lambda_over_rf), CsvNumber(c.delta), c.threshold.status);
  }
  return out;
}

int RunLock(const LockCommandOptions& options) {
  if (!(options.ceiling >= 0.0 && options.ceiling < options.top && options.top <= 1.0)) {
    Fail(ErrorCode::kInvalidInput,
         "--ceiling {} and --top {} must satisfy 0 <= ceiling < top <= 1",
         options.ceiling, options.top);
  }
  auto store = Store::Open(options.db, Store::Mode::kReadWrite);
  const std::vector<RunRow> rows = LoadFinishedRuns(*store, options.experiment, "");
  LockOptions lock;
  lock.ceiling = options.ceiling;
  lock.top = options.top;
  lock.bootstrap = options.bootstrap;
  lock.seed = options.seed;
  const LockReport report = AnalyzeLock(rows, HasErfColumn(*store), lock);

  // One stored record per family: its curves and its cross-RF regressions.
  nlohmann::json out = LockReportToJson(report);
  for (const FamilyRegressions& f : report.families) {
    FitRecord record;
    record.kind = "lock";
    record.experiment = options.experiment;
    record.family = f.family;
    record.x = "scale_ratio";
    record.form = "acc(r) = c + (top - c) / (1 + exp(s (log r - log r*)))";
    nlohmann::json curves = nlohmann::json::array();
    for (const LockCurve& c : report.curves) {
      if (c.family != f.family) continue;
      curves.push_back(CurveToJson(c));
      record.run_ids.insert(record.run_ids.end(), c.run_ids.begin(), c.run_ids.end());
    }
    record.result = {{"ceiling", lock.ceiling},
                     {"top", lock.top},
                     {"bootstrap", lock.bootstrap},
                     {"seed", lock.seed},
                     {"curves", curves},
                     {"regressions", RegressionsToJson(f)}};
    const int64_t fit_id = store->RecordFit(record);
    spdlog::info("lock fit {}: family {}, {} curves, {} runs", fit_id, f.family,
                 curves.size(), record.run_ids.size());
  }

  std::string text;
  if (options.format == "json") {
    text = out.dump(2) + "\n";
  } else if (options.format == "csv") {
    text = FormatLockCsv(report);
  } else {
    text = FormatLockTable(report);
  }
  std::fputs(text.c_str(), stdout);
  return 0;
}

}  // namespace

CommandHandler SetupFit(CLI::App& app) {
  auto options = std::make_shared<FitCommandOptions>();
  AddDatabaseOption(app, &options->db);
  app.add_option("--experiment", options->experiment, "experiment name (default: all)");
  app.add_option("--family", options->family, "model family (default: each family)");
  app.add_option("--x", options->x, "scaling variable of power, power0 and bpl")
      ->check(CLI::IsMember({"params", "flops", "samples"}))
      ->capture_default_str();
  app.add_option("--form", options->form, "fitted form: power, power0, chinchilla or bpl")
      ->capture_default_str();
  app.add_option("--residuals", options->residuals,
                 "residuals inside the Huber loss: log (log pred - log L) or linear")
      ->capture_default_str();
  app.add_option("--points", options->points_path,
                 "fit a CSV file instead of the database: columns x, loss (N, D, loss or "
                 "Model Size, Training FLOP, loss for chinchilla)");
  app.add_option("--drop-highest", options->drop_highest,
                 "drop this many highest-loss points before fitting")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--bootstrap", options->bootstrap, "bootstrap resamples (0 = none)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--seed", options->seed, "bootstrap seed")->capture_default_str();
  AddFormatOption(app, &options->format);
  return [options] { return RunFit(*options); };
}

CommandHandler SetupLock(CLI::App& app) {
  auto options = std::make_shared<LockCommandOptions>();
  AddDatabaseOption(app, &options->db);
  app.add_option("--experiment", options->experiment, "experiment name (default: all)");
  app.add_option("--ceiling", options->ceiling,
                 "blind-ceiling accuracy c (0.5 for multiscale1d)")
      ->capture_default_str();
  app.add_option("--top", options->top, "accuracy of a net that learns the task")
      ->capture_default_str();
  app.add_option("--bootstrap", options->bootstrap, "bootstrap resamples (0 = none)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--seed", options->seed, "bootstrap seed")->capture_default_str();
  AddFormatOption(app, &options->format);
  return [options] { return RunLock(*options); };
}

}  // namespace scalelock
