// scalelock scales FILE: estimates lambda_min and lambda_max of each task's
// inputs from their autocorrelation or power spectrum (see data/scales.h and
// docs/tasks.md) and prints them next to the configured values.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/command.h"
#include "data/scales.h"
#include "data/task.h"
#include "spec/spec.h"
#include "util/error.h"

namespace scalelock {

namespace {

using nlohmann::json;

struct ScalesOptions {
  std::string path;
  std::string format;
  std::string method;
  int64_t samples = 512;
  int64_t seed = 0;
};

// One task config to estimate, with the experiment that names it.
struct TaskEntry {
  std::string experiment;
  json task;
};

json ReadJsonFile(const std::string& path) {
  std::ifstream file(path);
  if (!file) {
    Fail(ErrorCode::kNotFound,
         "{}: file not found or not readable: expected a spec or a "
         "run config (JSON)",
         path);
  }
  try {
    return json::parse(file);
  } catch (const json::exception& error) {
    Fail(ErrorCode::kInvalidInput, "{}: invalid JSON: {}", path, error.what());
  }
}

// Reads the task configs of a file. A run config has a "task" object and none
// of the keys of a spec. A spec is expanded, and each distinct task config of an
// experiment is kept once.
std::vector<TaskEntry> CollectTasks(const std::string& path) {
  const json document = ReadJsonFile(path);
  const bool run_config = document.is_object() && document.contains("task") &&
                          !document.contains("experiments") &&
                          !document.contains("seeds") && !document.contains("grid");
  if (run_config) return {{"", document.at("task")}};

  std::vector<TaskEntry> entries;
  std::map<std::string, bool> seen;
  for (const Experiment& experiment : LoadSpecFile(path)) {
    for (const RunConfig& run : experiment.runs) {
      json task = run.config.at("task");
      task.erase("transfer");
      const std::string key = experiment.name + "\n" + CanonicalJson(task);
      if (seen[key]) continue;
      seen[key] = true;
      entries.push_back({experiment.name, task});
    }
  }
  return entries;
}

// Configured (lambda_min, lambda_max) of a task config, or nulls.
std::pair<json, json> ConfiguredScales(const json& task) {
  if (task.contains("lambda_min") && task.contains("lambda_max")) {
    return {task.at("lambda_min"), task.at("lambda_max")};
  }
  if (task.contains("periods") && task.at("periods").is_array() &&
      !task.at("periods").empty()) {
    double shortest = task.at("periods")[0].get<double>();
    double longest = shortest;
    for (const json& period : task.at("periods")) {
      shortest = std::min(shortest, period.get<double>());
      longest = std::max(longest, period.get<double>());
    }
    return {shortest, longest};
  }
  return {nullptr, nullptr};
}

json Estimate(const TaskEntry& entry, const ScalesOptions& options) {
  auto task = MakeTask(entry.task, static_cast<uint64_t>(options.seed));
  const ScaleEstimate estimate =
      EstimateTaskScales(*task, options.samples, ParseScaleMethod(options.method));
  const auto [lambda_min, lambda_max] = ConfiguredScales(entry.task);
  json row = {{"experiment", entry.experiment},
              {"task", entry.task},
              {"method", ScaleMethodName(estimate.method)},
              {"samples", estimate.samples},
              {"configured", {{"lambda_min", lambda_min}, {"lambda_max", lambda_max}}},
              {"estimated",
               {{"lambda_min", estimate.lambda_min},
                {"lambda_max", estimate.lambda_max},
                {"r", estimate.ratio()}}},
              {"contrast", estimate.contrast}};
  if (lambda_min.is_number() && lambda_max.is_number()) {
    row["configured"]["r"] = lambda_max.get<double>() / lambda_min.get<double>();
  } else {
    row["configured"]["r"] = nullptr;
  }
  if (estimate.method == ScaleMethod::kPeriods)
    row["estimated"]["periods"] = estimate.periods;
  spdlog::debug("scales: {} {}: lambda_min {:.3g}, lambda_max {:.3g}", entry.experiment,
                entry.task.dump(), estimate.lambda_min, estimate.lambda_max);
  return row;
}

std::string Cell(const json& value) {
  if (value.is_null()) return "-";
  if (value.is_number()) return fmt::format("{:.4g}", value.get<double>());
  return value.get<std::string>();
}

// Short description of a task config: its name and the fields that set scales.
std::string TaskLabel(const json& task) {
  std::string label = task.value("name", "?");
  for (const char* key : {"lambda_min", "lambda_max", "length", "size", "regions",
                          "source", "periods", "context"}) {
    if (task.contains(key)) label += fmt::format(" {}={}", key, task.at(key).dump());
  }
  return label;
}

std::string FormatTable(const std::vector<json>& rows) {
  std::vector<std::vector<std::string>> cells = {
      {"experiment", "task", "method", "lambda_min", "lambda_max", "r", "est_lambda_min",
       "est_lambda_max", "est_r", "contrast"}};
  for (const json& row : rows) {
    cells.push_back(
        {row["experiment"].get<std::string>(), TaskLabel(row["task"]),
         row["method"].get<std::string>(), Cell(row["configured"]["lambda_min"]),
         Cell(row["configured"]["lambda_max"]), Cell(row["configured"]["r"]),
         Cell(row["estimated"]["lambda_min"]), Cell(row["estimated"]["lambda_max"]),
         Cell(row["estimated"]["r"]), Cell(row["contrast"])});
  }
  std::vector<size_t> widths(cells[0].size(), 0);
  for (const auto& line : cells) {
    for (size_t i = 0; i < line.size(); ++i)
      widths[i] = std::max(widths[i], line[i].size());
  }
  std::string text;
  for (const auto& line : cells) {
    for (size_t i = 0; i + 1 < line.size(); ++i) {
      text += fmt::format("{:<{}}", line[i], widths[i] + 2);
    }
    text += line.back();
    text += "\n";
  }
  return text;
}

int RunScales(const ScalesOptions& options) {
  std::vector<json> rows;
  for (const TaskEntry& entry : CollectTasks(options.path)) {
    rows.push_back(Estimate(entry, options));
  }
  const std::string text =
      options.format == "json" ? json(rows).dump(2) + "\n" : FormatTable(rows);
  std::fputs(text.c_str(), stdout);
  return 0;
}

}  // namespace

CommandHandler SetupScales(CLI::App& app) {
  auto options = std::make_shared<ScalesOptions>();
  app.add_option("file", options->path, "spec file, or a run config {\"task\": {...}}")
      ->required();
  app.add_option("--samples", options->samples,
                 "training inputs drawn per task for the estimate")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
  app.add_option("--method", options->method,
                 "estimator: features (localized marks), periods (periodic "
                 "components) or auto (periods for regression tasks)")
      ->check(CLI::IsMember({"auto", "features", "periods"}))
      ->capture_default_str();
  options->method = "auto";
  app.add_option("--seed", options->seed, "task seed of the drawn inputs")
      ->capture_default_str();
  options->format = "table";
  app.add_option("--format", options->format, "output format")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  return [options] { return RunScales(*options); };
}

}  // namespace scalelock
