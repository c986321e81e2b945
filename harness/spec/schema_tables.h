// Key tables of the run-config schema, shared by the validation code in
// schema.cpp and split by section so that tasks and model families can be
// added in their own files.
#pragma once

#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace scalelock {
namespace schema {

enum class Type { kInt, kNumber, kString, kArray };

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

}  // namespace schema
}  // namespace scalelock
