#include "report/export.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "report/query.h"
#include "store/statement.h"
#include "util/error.h"

namespace scalelock {
namespace {

namespace fs = std::filesystem;

constexpr int kFitPoints = 50;

// Every query below binds ?1 to the experiment name, or NULL for all.
constexpr const char* kLossSql = R"sql(
SELECT family, experiment, flops, params, final_eval_loss
FROM run_summary
WHERE status = 'finished' AND final_eval_loss IS NOT NULL AND flops > 0
  AND (?1 IS NULL OR experiment = ?1)
ORDER BY family, flops, run_id)sql";

// The latest 'power' or 'power0' fit on flops per family, with the flops
// range of the family's runs.
constexpr const char* kPowerFitSql = R"sql(
SELECT f.family, f.result_json, s.min_flops, s.max_flops
FROM fits f
JOIN (SELECT family, min(flops) AS min_flops, max(flops) AS max_flops
      FROM run_summary
      WHERE status = 'finished' AND final_eval_loss IS NOT NULL AND flops > 0
        AND (?1 IS NULL OR experiment = ?1)
      GROUP BY family) s USING (family)
WHERE f.fit_id IN (SELECT max(fit_id) FROM fits
                   WHERE kind IN ('power', 'power0') AND x = 'flops'
                     AND family IS NOT NULL
                     AND (?1 IS NULL OR experiment = ?1)
                   GROUP BY family)
ORDER BY f.family)sql";

constexpr const char* kAccuracySql = R"sql(
SELECT family, rf, depth, scale_ratio,
       avg(final_eval_accuracy) AS mean_accuracy,
       min(final_eval_accuracy) AS min_accuracy,
       max(final_eval_accuracy) AS max_accuracy,
       count(*) AS n
FROM run_summary
WHERE status = 'finished' AND scale_ratio IS NOT NULL
  AND final_eval_accuracy IS NOT NULL AND (?1 IS NULL OR experiment = ?1)
GROUP BY family, rf, depth, scale_ratio
ORDER BY family, rf, depth, scale_ratio)sql";

QueryResult Select(sqlite3* db, const char* sql, const std::string& experiment) {
  Statement statement(db, sql);
  if (experiment.empty()) {
    statement.BindNull(1);
  } else {
    statement.Bind(1, experiment);
  }
  return ReadRows(statement.get(), statement.sql());
}

void CheckExperimentExists(sqlite3* db, const std::string& experiment) {
  Statement find(db, "SELECT 1 FROM experiments WHERE name = ?");
  find.Bind(1, experiment);
  if (find.Step()) return;
  Fail(ErrorCode::kNotFound,
       "experiment '{}' not found; `scalelock status` lists the experiments", experiment);
}

void WriteText(const fs::path& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << text;
  file.close();
  if (!file) {
    Fail(ErrorCode::kIO, "writing '{}' failed: {}; check the --out folder", path.string(),
         std::strerror(errno));
  }
}

const std::string& TextAt(const std::vector<Cell>& row, size_t column) {
  return std::get<std::string>(row.at(column));
}

double NumberAt(const std::vector<Cell>& row, size_t column) {
  const Cell& cell = row.at(column);
  if (const auto* integer = std::get_if<int64_t>(&cell))
    return static_cast<double>(*integer);
  return std::get<double>(cell);
}

// A gnuplot single-quoted string literal; '' is an embedded quote there.
std::string GnuplotString(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') quoted += '\'';
    quoted += c;
  }
  return quoted + "'";
}

// Reads A, alpha and E (absent in a 'power0' fit: 0) of one stored fit;
// false when a value is missing or null (a failed fit).
bool ReadPowerLaw(const std::string& json_text, double* E, double* A, double* alpha) {
  nlohmann::json result = nlohmann::json::parse(json_text, nullptr, false);
  if (!result.is_object()) return false;
  auto number = [&result](const char* key, double* out) {
    if (!result.contains(key) || !result[key].is_number()) return false;
    *out = result[key].get<double>();
    return true;
  };
  *E = 0.0;
  if (result.contains("E") && !number("E", E)) return false;
  return number("A", A) && number("alpha", alpha);
}

// Builds loss_vs_compute_fit.csv rows from the stored fits.
QueryResult FitCurves(const QueryResult& fits) {
  QueryResult curves;
  curves.columns = {"family", "flops", "predicted_loss"};
  for (const auto& row : fits.rows) {
    const std::string& family = TextAt(row, 0);
    double E, A, alpha;
    if (!ReadPowerLaw(TextAt(row, 1), &E, &A, &alpha)) {
      spdlog::warn(
          "export: power fit of family '{}' has no numeric A and alpha (a failed "
          "fit?); no curve written",
          family);
      continue;
    }
    double low = NumberAt(row, 2), high = NumberAt(row, 3);
    if (low == high) low /= 2, high *= 2;
    double step = std::log(high / low) / (kFitPoints - 1);
    for (int i = 0; i < kFitPoints; ++i) {
      double flops = low * std::exp(step * i);
      curves.rows.push_back({family, flops, PowerLaw(E, A, alpha, flops)});
    }
  }
  return curves;
}

std::string ScriptHeader(const std::string& comment, const std::string& png) {
  return fmt::format(
      "# {}\n"
      "# Generated by `scalelock export`; run it from this folder: gnuplot {}.gp\n"
      "set datafile separator ','\n"
      "set terminal pngcairo size 960,640 noenhanced\n"
      "set output '{}.png'\n"
      "set key outside right top\n"
      "set grid\n",
      comment, png, png);
}

std::string LossScript(const QueryResult& losses, const QueryResult& curves) {
  std::string script = ScriptHeader(
      "Final eval loss against training FLOPs per family (points) with the stored "
      "power-law "
      "fits L = E + A*x^-alpha (dashed).",
      "loss_vs_compute");
  script +=
      "set logscale xy\n"
      "set xlabel 'training FLOPs'\n"
      "set ylabel 'final eval loss'\n";
  std::set<std::string> families, fitted;
  for (const auto& row : losses.rows)
    families.insert(TextAt(row, 0));
  for (const auto& row : curves.rows)
    fitted.insert(TextAt(row, 0));

  std::vector<std::string> clauses;
  int color = 1;
  for (const std::string& family : families) {
    std::string name = GnuplotString(family);
    clauses.push_back(
        fmt::format("'loss_vs_compute.csv' skip 1 using (strcol(1) eq {0} ? $3 : NaN):5 "
                    "with points pt 7 lc {1} title {0}",
                    name, color));
    if (fitted.count(family)) {
      clauses.push_back(fmt::format(
          "'loss_vs_compute_fit.csv' skip 1 using (strcol(1) eq {0} ? $2 : NaN):3 "
          "with lines dt 2 lc {1} title {2}",
          name, color, GnuplotString(family + " fit")));
    }
    ++color;
  }
  if (clauses.empty()) return script + "print 'no finished runs to plot'\n";
  return script + "plot " + fmt::format("{}", fmt::join(clauses, ", \\\n     ")) + "\n";
}

std::string AccuracyScript(const QueryResult& accuracy) {
  std::string script = ScriptHeader(
      "Eval accuracy against scale ratio lambda_max/lambda_min per (family, rf, depth): "
      "mean over seeds, bars from min to max.",
      "accuracy_vs_ratio");
  script +=
      "set logscale x 2\n"
      "set xlabel 'scale ratio r = lambda_max / lambda_min'\n"
      "set ylabel 'final eval accuracy'\n"
      "set yrange [0:1.05]\n";
  std::set<std::tuple<std::string, int64_t, int64_t>> series;
  for (const auto& row : accuracy.rows) {
    series.emplace(TextAt(row, 0), std::get<int64_t>(row.at(1)),
                   std::get<int64_t>(row.at(2)));
  }
  std::vector<std::string> clauses;
  for (const auto& [family, rf, depth] : series) {
    clauses.push_back(
        fmt::format("'accuracy_vs_ratio.csv' skip 1 using "
                    "(strcol(1) eq {0} && $2 == {1} && $3 == {2} ? $4 : NaN):5:6:7 "
                    "with yerrorlines title {3}",
                    GnuplotString(family), rf, depth,
                    GnuplotString(fmt::format("{} rf={} depth={}", family, rf, depth))));
  }
  if (clauses.empty()) return script + "print 'no finished runs with a scale ratio'\n";
  return script + "plot " + fmt::format("{}", fmt::join(clauses, ", \\\n     ")) + "\n";
}

bool OnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::string entries = path;
  size_t start = 0;
  while (start <= entries.size()) {
    size_t end = entries.find(':', start);
    if (end == std::string::npos) end = entries.size();
    fs::path candidate = fs::path(entries.substr(start, end - start)) / program;
    if (access(candidate.c_str(), X_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}

// Runs `gnuplot script` with dir as working folder; true on exit status 0.
bool RunGnuplot(const fs::path& dir, const std::string& script) {
  pid_t pid = fork();
  if (pid < 0) {
    spdlog::warn("export: fork for gnuplot failed: {}", std::strerror(errno));
    return false;
  }
  if (pid == 0) {
    if (chdir(dir.c_str()) != 0) _exit(127);
    execlp("gnuplot", "gnuplot", script.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
  spdlog::warn("export: gnuplot {} in '{}' failed (wait status {})", script, dir.string(),
               status);
  return false;
}

void RenderPngs(const fs::path& dir, const std::vector<std::string>& names,
                std::vector<ExportedFile>& written) {
  if (!OnPath("gnuplot")) {
    spdlog::warn("export: gnuplot not found on PATH; wrote the .gp scripts but no PNGs");
    return;
  }
  for (const std::string& name : names) {
    fs::path png = dir / (name + ".png");
    std::error_code ignored;
    fs::remove(png, ignored);  // so a listed PNG is always this export's
    if (RunGnuplot(dir, name + ".gp") && fs::exists(png)) {
      written.push_back({png.string(), -1});
    }
  }
}

}  // namespace

double PowerLaw(double E, double A, double alpha, double x) {
  return E + A * std::pow(x, -alpha);
}

std::vector<ExportedFile> ExportPlots(sqlite3* db, const ExportOptions& options) {
  if (!options.experiment.empty()) CheckExperimentExists(db, options.experiment);
  fs::path dir = options.out_dir;
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) {
    Fail(ErrorCode::kIO, "creating output folder '{}' failed: {}", dir.string(),
         error.message());
  }

  // Read everything first so a query error leaves no half-written set.
  QueryResult losses = Select(db, kLossSql, options.experiment);
  QueryResult curves = FitCurves(Select(db, kPowerFitSql, options.experiment));
  QueryResult accuracy = Select(db, kAccuracySql, options.experiment);

  std::vector<ExportedFile> written;
  auto write_csv = [&](const std::string& name, const QueryResult& result) {
    fs::path path = dir / name;
    WriteText(path, FormatCsv(result));
    written.push_back({path.string(), static_cast<int64_t>(result.rows.size())});
  };
  auto write_script = [&](const std::string& name, const std::string& text) {
    fs::path path = dir / name;
    WriteText(path, text);
    written.push_back({path.string(), -1});
  };
  write_csv("loss_vs_compute.csv", losses);
  write_csv("loss_vs_compute_fit.csv", curves);
  write_csv("accuracy_vs_ratio.csv", accuracy);
  write_script("loss_vs_compute.gp", LossScript(losses, curves));
  write_script("accuracy_vs_ratio.gp", AccuracyScript(accuracy));

  // Render only plots that have data; an empty plot makes gnuplot fail.
  std::vector<std::string> to_render;
  if (!losses.rows.empty()) to_render.push_back("loss_vs_compute");
  if (!accuracy.rows.empty()) to_render.push_back("accuracy_vs_ratio");
  if (options.render_png && !to_render.empty()) RenderPngs(dir, to_render, written);
  return written;
}

}  // namespace scalelock
