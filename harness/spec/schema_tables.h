// Key tables of the run-config schema, shared by the validation code in
// schema.cpp and split by section so that tasks and model families can be
// added in their own files.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace scalelock {
namespace schema {

enum class Type { kInt, kNumber, kString, kArray, kObject };

struct Field {
  std::string key;
  Type type;
  nlohmann::json default_value;  // null: required, unless optional
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  std::vector<std::string> choices;  // allowed strings, empty = any
  bool odd = false;
  bool optional = false;  // may be absent and has no default
};

using Schema = std::vector<Field>;
inline constexpr double kInf = std::numeric_limits<double>::infinity();

// Keys of each task, by task.name (task_schema.cpp).
const std::map<std::string, Schema>& TaskSchemas();
// Keys of each model family, by model.family (model_schema.cpp).
const std::map<std::string, Schema>& FamilySchemas();
// Keys of each layer type of the custom family (model_schema.cpp).
const std::map<std::string, Schema>& LayerSchemas();
// Number of classes (or outputs) of a validated task config (task_schema.cpp).
int TaskClassCount(const nlohmann::json& task);

// The task functions below live in task_schema.cpp.
// Reports an invalid field: key relative to the section, the value found and
// what was expected. It must throw.
using RejectField = std::function<void(const std::string& key, const nlohmann::json& value,
                                       const std::string& expected)>;
// Cross-field checks of a task config whose keys passed the table; fills the
// defaults that depend on other keys (forecast's per-source keys).
void CheckTaskConfig(nlohmann::json* task, const RejectField& reject);
// Task config of the second phase of task.transfer, with the override fields
// applied; fills transfer.mode ("eval") and transfer.steps (0) when absent.
nlohmann::json TransferTaskConfig(nlohmann::json* task, const RejectField& reject);
// Spatial size of one axis of a validated task config's samples.
int64_t TaskSpatialSize(const nlohmann::json& task);

}  // namespace schema
}  // namespace scalelock
