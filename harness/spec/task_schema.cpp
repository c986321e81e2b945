// Task keys of the run-config schema and the cross-field task checks. The
// ranges match the task parsers in harness/data (docs/tasks.md).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "spec/schema_tables.h"

namespace scalelock {
namespace schema {

namespace {

using nlohmann::json;

const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
const char* kSeattleTempsPath =
    "/usr/lib/python3/dist-packages/vega_datasets/_data/seattle-temps.csv";
constexpr double kMaxPool = 1 << 24;
constexpr double kMaxEval = 1 << 20;

// Keys every task accepts besides its own.
Field NameField() {
  return {"name", Type::kString, nullptr};
}
Field TransferField() {
  return {"transfer", Type::kObject, nullptr, -kInf, kInf, {}, false, true};
}
Field ScaleRatioField() {
  return {"scale_ratio", Type::kNumber, nullptr, 1, kInf, {}, false, true};
}

void CheckScaleRatio(const json& task, const RejectField& reject) {
  if (!task.contains("scale_ratio")) return;
  const double ratio = task["scale_ratio"];
  const double actual =
      task["lambda_max"].get<double>() / task["lambda_min"].get<double>();
  if (std::fabs(ratio - actual) > 1e-9 * actual) {
    reject("scale_ratio", task["scale_ratio"],
           fmt::format("lambda_max / lambda_min = {} (derive lambda_max from it, or "
                       "drop scale_ratio)",
                       actual));
  }
}

void CheckMultiscale1d(const json& task, const RejectField& reject) {
  const int64_t length = task["length"];
  const int64_t lambda_min = task["lambda_min"];
  const int64_t lambda_max = task["lambda_max"];
  if (lambda_max < 2 * lambda_min) {
    reject("lambda_max", task["lambda_max"],
           fmt::format("at least 2 * lambda_min = {} so the two fine marks do not "
                       "overlap",
                       2 * lambda_min));
    return;
  }
  // Two pairs, each spanning lambda_max, must fit with a gap of at least one
  // sample: 3 * lambda_max - 2 * lambda_min + 1 <= length (docs/tasks.md).
  const int64_t largest = (length + 2 * lambda_min - 1) / 3;
  if (lambda_max > largest) {
    reject("lambda_max", task["lambda_max"],
           fmt::format("at most (length + 2 * lambda_min - 1) / 3 = {} so two pairs fit "
                       "in task.length = {}; raise task.length to at least {}",
                       largest, length, 3 * lambda_max - 2 * lambda_min + 1));
    return;
  }
  CheckScaleRatio(task, reject);
}

void CheckMultiscale2d(const json& task, const RejectField& reject) {
  const int64_t size = task["size"];
  const int64_t lambda_min = task["lambda_min"];
  const int64_t lambda_max = task["lambda_max"];
  if (lambda_max < 2 * lambda_min || lambda_max > size / 2) {
    reject("lambda_max", task["lambda_max"],
           fmt::format("an integer in [2 * lambda_min, size / 2] = [{}, {}] so the marks "
                       "of a pair do not overlap and two pairs fit; raise task.size",
                       2 * lambda_min, size / 2));
    return;
  }
  CheckScaleRatio(task, reject);
}

void CheckDense1d(const json& task, const RejectField& reject) {
  const int64_t lambda_min = task["lambda_min"];
  const int64_t lambda_max = task["lambda_max"];
  if (lambda_max < 2 * lambda_min || lambda_max % lambda_min != 0) {
    reject("lambda_max", task["lambda_max"],
           fmt::format("a multiple of lambda_min = {} and at least {}", lambda_min,
                       2 * lambda_min));
    return;
  }
  const int64_t length =
      task["regions"].get<int64_t>() * (lambda_max - lambda_min) + lambda_min;
  if (length > (int64_t{1} << 20)) {
    reject("regions", task["regions"],
           fmt::format("fewer regions: the derived length regions * (lambda_max - "
                       "lambda_min) + lambda_min = {} exceeds 2^20",
                       length));
    return;
  }
  CheckScaleRatio(task, reject);
}

// Checks the source-specific keys of a forecast task and fills their defaults.
void CheckForecast(json* task, const RejectField& reject) {
  json& t = *task;
  if (t["source"] == "seattle_temps") {
    for (const char* key : {"periods", "amplitudes", "noise"}) {
      if (t.contains(key)) {
        reject(key, t[key], "no value: the key applies only to source \"synthetic\"");
        return;
      }
    }
    if (!t.contains("data_path")) t["data_path"] = kSeattleTempsPath;
    if (!t.contains("eval_fraction")) t["eval_fraction"] = 0.2;
    return;
  }
  for (const char* key : {"data_path", "eval_fraction"}) {
    if (t.contains(key)) {
      reject(key, t[key], "no value: the key applies only to source \"seattle_temps\"");
      return;
    }
  }
  const json periods = t.value("periods", json());
  if (!periods.is_array() || periods.empty() || periods.size() > 16) {
    reject("periods", periods, "an array of 1 to 16 periods in samples, each >= 2");
    return;
  }
  double longest = 0.0;
  for (const json& period : periods) {
    if (!period.is_number() || period.get<double>() < 2.0) {
      reject("periods", periods, "an array of 1 to 16 periods in samples, each >= 2");
      return;
    }
    longest = std::max(longest, period.get<double>());
  }
  if (!t.contains("amplitudes"))
    t["amplitudes"] = std::vector<double>(periods.size(), 1.0);
  const json& amplitudes = t["amplitudes"];
  bool valid = amplitudes.size() == periods.size();
  for (const json& amplitude : amplitudes)
    valid = valid && amplitude.is_number() && amplitude.get<double>() >= 0.0;
  if (!valid) {
    reject("amplitudes", amplitudes,
           fmt::format("an array of {} numbers >= 0, one per period", periods.size()));
    return;
  }
  if (t["context"].get<double>() < longest) {
    reject("context", t["context"],
           fmt::format("at least the longest period {} so an input holds one cycle of "
                       "every component",
                       longest));
    return;
  }
  if (!t.contains("noise")) t["noise"] = 0.1;
}

}  // namespace

const std::map<std::string, Schema>& TaskSchemas() {
  static const std::map<std::string, Schema> schemas = {
      {"multiscale1d",
       {NameField(),
        {"length", Type::kInt, 64, 4, 1 << 20},
        {"lambda_min", Type::kInt, 2, 1, 1 << 19},
        {"lambda_max", Type::kInt, nullptr, 2, 1 << 19},
        ScaleRatioField(),
        {"noise", Type::kNumber, 0.1, 0, 100},
        {"train_samples", Type::kInt, 0, 0, kMaxPool},
        {"eval_samples", Type::kInt, 1024, 1, kMaxEval},
        TransferField()}},
      {"multiscale2d",
       {NameField(),
        {"size", Type::kInt, 32, 4, 4096},
        {"lambda_min", Type::kInt, nullptr, 1, 2048},
        {"lambda_max", Type::kInt, nullptr, 2, 2048},
        ScaleRatioField(),
        {"noise", Type::kNumber, 0.1, 0, 100},
        {"train_samples", Type::kInt, 0, 0, kMaxPool},
        {"eval_samples", Type::kInt, 1024, 1, 1 << 18},
        TransferField()}},
      {"dense1d",
       {NameField(),
        {"lambda_min", Type::kInt, nullptr, 1, 1 << 19},
        {"lambda_max", Type::kInt, nullptr, 2, 1 << 20},
        {"regions", Type::kInt, 4, 1, 4096},
        ScaleRatioField(),
        {"noise", Type::kNumber, 0.1, 0, 100},
        {"train_samples", Type::kInt, 0, 0, kMaxPool},
        {"eval_samples", Type::kInt, 1024, 1, kMaxEval},
        TransferField()}},
      {"forecast",
       {NameField(),
        {"source",
         Type::kString,
         "synthetic",
         -kInf,
         kInf,
         {"synthetic", "seattle_temps"}},
        {"context", Type::kInt, 64, 2, 1 << 16},
        {"horizon", Type::kInt, 8, 1, 4096},
        {"periods", Type::kArray, nullptr, -kInf, kInf, {}, false, true},
        {"amplitudes", Type::kArray, nullptr, -kInf, kInf, {}, false, true},
        {"noise", Type::kNumber, nullptr, 0, 100, {}, false, true},
        {"data_path", Type::kString, nullptr, -kInf, kInf, {}, false, true},
        {"eval_fraction", Type::kNumber, nullptr, 0.05, 0.5, {}, false, true},
        {"train_samples", Type::kInt, 0, 0, kMaxPool},
        {"eval_samples", Type::kInt, 1024, 1, kMaxEval},
        TransferField()}},
      {"fashion_mnist",
       {NameField(),
        {"data_dir", Type::kString, kFashionMnistDir},
        {"train_samples", Type::kInt, 60000, 1, 60000},
        {"eval_samples", Type::kInt, 10000, 1, 10000},
        TransferField()}},
  };
  return schemas;
}

int TaskClassCount(const json& task) {
  const std::string name = task["name"];
  if (name == "fashion_mnist") return 10;
  if (name == "forecast") return task["horizon"].get<int>();
  return 2;
}

int64_t TaskSpatialSize(const json& task) {
  const std::string name = task["name"];
  if (name == "fashion_mnist") return 28;
  if (name == "multiscale2d") return task["size"].get<int64_t>();
  if (name == "forecast") return task["context"].get<int64_t>();
  if (name == "dense1d") {
    const int64_t lambda_min = task["lambda_min"];
    return task["regions"].get<int64_t>() *
               (task["lambda_max"].get<int64_t>() - lambda_min) +
           lambda_min;
  }
  return task["length"].get<int64_t>();
}

void CheckTaskConfig(json* task, const RejectField& reject) {
  const std::string name = (*task)["name"];
  if (name == "multiscale1d") CheckMultiscale1d(*task, reject);
  if (name == "multiscale2d") CheckMultiscale2d(*task, reject);
  if (name == "dense1d") CheckDense1d(*task, reject);
  if (name == "forecast") CheckForecast(task, reject);
}

json TransferTaskConfig(json* task, const RejectField& reject) {
  json& transfer = (*task)["transfer"];
  if (!transfer.contains("mode")) transfer["mode"] = "eval";
  if (!transfer.contains("steps")) transfer["steps"] = 0;
  const json& mode = transfer["mode"];
  if (mode != "eval" && mode != "finetune") {
    reject("transfer.mode", mode, "\"eval\" or \"finetune\"");
    return json();
  }
  const json& steps = transfer["steps"];
  const bool finetune = mode == "finetune";
  if (!steps.is_number_integer() || steps.get<int64_t>() < (finetune ? 1 : 0) ||
      (!finetune && steps.get<int64_t>() != 0)) {
    reject("transfer.steps", steps,
           finetune ? "an integer >= 1 (fine-tuning steps)"
                    : "0, because mode \"eval\" does not train");
    return json();
  }

  json phase = *task;
  phase.erase("transfer");
  int overrides = 0;
  for (const auto& item : transfer.items()) {
    if (item.key() == "mode" || item.key() == "steps") continue;
    if (item.key() == "name") {
      reject("transfer.name", item.value(),
             "no value: a transfer changes fields of one task, not the task");
      return json();
    }
    phase[item.key()] = item.value();
    ++overrides;
  }
  if (overrides == 0) {
    reject("transfer", transfer,
           "at least one task field to change, e.g. \"lambda_max\"");
    return json();
  }
  if (!transfer.contains("scale_ratio")) phase.erase("scale_ratio");
  return phase;
}

}  // namespace schema
}  // namespace scalelock
