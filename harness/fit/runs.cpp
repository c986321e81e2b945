#include "fit/runs.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "store/statement.h"
#include "util/error.h"
#include "util/types.h"

namespace scalelock {

bool HasErfColumn(Store& store) {
  Statement columns(store.handle(), "SELECT name FROM pragma_table_info('run_summary')");
  while (columns.Step()) {
    if (columns.ColumnText(0) == "erf") return true;
  }
  return false;
}

std::vector<RunRow> LoadFinishedRuns(Store& store, const std::string& experiment,
                                     const std::string& family) {
  const bool has_erf = HasErfColumn(store);
  // config_json comes from runs because run_summary has no config column.
  const std::string sql =
      std::string(
          "SELECT s.run_id, s.experiment, s.family, s.rf, s.params, "
          "s.flops, s.train_samples, s.lambda_min, s.scale_ratio, "
          "s.final_eval_loss, s.final_eval_accuracy, r.config_json, ") +
      (has_erf ? "s.erf" : "NULL") +
      " FROM run_summary s JOIN runs r ON r.run_id = s.run_id"
      " WHERE s.status = ?1 AND (?2 = '' OR s.experiment = ?2)"
      " AND (?3 = '' OR s.family = ?3) ORDER BY s.run_id";
  Statement query(store.handle(), sql);
  query.Bind(1, std::string(RunStatusName(RunStatus::kFinished)))
      .Bind(2, experiment)
      .Bind(3, family);

  std::vector<RunRow> rows;
  while (query.Step()) {
    RunRow row;
    row.run_id = query.ColumnInt(0);
    row.experiment = query.ColumnText(1);
    row.family = query.ColumnText(2);
    row.rf = query.ColumnInt(3);
    row.params = query.ColumnDouble(4);
    row.flops = query.ColumnDouble(5);
    row.train_samples = query.ColumnDouble(6);
    row.lambda_min = query.ColumnDouble(7);
    if (!query.IsNull(8)) row.scale_ratio = query.ColumnDouble(8);
    if (!query.IsNull(9)) row.final_eval_loss = query.ColumnDouble(9);
    if (!query.IsNull(10)) row.final_eval_accuracy = query.ColumnDouble(10);
    nlohmann::json config = nlohmann::json::parse(query.ColumnText(11), nullptr, false);
    if (config.is_object()) config.erase("seed");
    row.group = config.dump();
    if (!query.IsNull(12)) row.erf = query.ColumnDouble(12);
    rows.push_back(std::move(row));
  }
  if (rows.empty()) {
    Fail(
        ErrorCode::kInvalidInput,
        "no finished runs in {} for experiment '{}' and family '{}'; run `scalelock run` "
        "first or check the names with `scalelock status`",
        store.path(), experiment.empty() ? "(any)" : experiment,
        family.empty() ? "(any)" : family);
  }
  return rows;
}

std::vector<std::string> FamiliesOf(const std::vector<RunRow>& rows) {
  std::set<std::string> families;
  for (const RunRow& row : rows)
    families.insert(row.family);
  return {families.begin(), families.end()};
}

std::vector<ScalingPoint> ScalingPointsFromRuns(const std::vector<RunRow>& rows,
                                                Form form, const std::string& x_name) {
  if (x_name != "params" && x_name != "flops" && x_name != "samples") {
    Fail(ErrorCode::kInvalidInput, "unknown --x '{}'; expected params, flops or samples",
         x_name);
  }
  std::vector<ScalingPoint> points;
  for (const RunRow& row : rows) {
    ScalingPoint point;
    if (form == Form::kChinchilla) {
      point.x = row.params;
      point.d = row.train_samples;
    } else {
      point.x = x_name == "params"  ? row.params
                : x_name == "flops" ? row.flops
                                    : row.train_samples;
    }
    point.loss = row.final_eval_loss;
    point.group = row.group;
    point.run_id = row.run_id;
    points.push_back(point);
  }
  return points;
}

}  // namespace scalelock
