#include "data/task_config.h"

#include <cmath>

#include "util/error.h"

namespace scalelock {

namespace {

int64_t ParseInt(const nlohmann::json& value, const char* field) {
  if (value.is_number_integer()) return value.get<int64_t>();
  if (value.is_number_float()) {
    const double number = value.get<double>();
    if (std::isfinite(number) && number == std::floor(number) &&
        std::fabs(number) < 9.0e15) {
      return static_cast<int64_t>(number);
    }
  }
  Fail(ErrorCode::kInvalidInput, "task.{} = {} is invalid: expected an integer", field,
       value.dump());
}

int64_t CheckRange(int64_t value, const char* field, int64_t min_value,
                   int64_t max_value) {
  if (value < min_value || value > max_value) {
    Fail(ErrorCode::kInvalidInput,
         "task.{} = {} is out of range: expected an integer in [{}, {}]", field, value,
         min_value, max_value);
  }
  return value;
}

}  // namespace

void CheckTaskFields(const nlohmann::json& task_config, const std::string& task_name,
                     std::initializer_list<const char*> allowed) {
  if (!task_config.is_object()) {
    Fail(ErrorCode::kInvalidInput, "task = {} is invalid: expected a JSON object",
         task_config.dump());
  }
  for (const auto& item : task_config.items()) {
    bool known = false;
    for (const char* name : allowed)
      known = known || item.key() == name;
    if (known) continue;
    std::string names;
    for (const char* name : allowed)
      names += (names.empty() ? "" : ", ") + std::string(name);
    Fail(ErrorCode::kInvalidInput,
         "task.{} is not a field of task \"{}\": expected one of {}", item.key(),
         task_name, names);
  }
}

int64_t ReadTaskInt(const nlohmann::json& task_config, const char* field,
                    int64_t default_value, int64_t min_value, int64_t max_value) {
  if (!task_config.contains(field)) return default_value;
  return CheckRange(ParseInt(task_config.at(field), field), field, min_value, max_value);
}

int64_t ReadRequiredTaskInt(const nlohmann::json& task_config, const char* field,
                            int64_t min_value, int64_t max_value) {
  if (!task_config.contains(field)) {
    Fail(ErrorCode::kInvalidInput, "task.{} is missing: expected an integer in [{}, {}]",
         field, min_value, max_value);
  }
  return ReadTaskInt(task_config, field, 0, min_value, max_value);
}

double ReadTaskNumber(const nlohmann::json& task_config, const char* field,
                      double default_value, double min_value) {
  if (!task_config.contains(field)) return default_value;
  const nlohmann::json& value = task_config.at(field);
  if (!value.is_number() || !std::isfinite(value.get<double>())) {
    Fail(ErrorCode::kInvalidInput, "task.{} = {} is invalid: expected a finite number",
         field, value.dump());
  }
  const double number = value.get<double>();
  if (number < min_value) {
    Fail(ErrorCode::kInvalidInput,
         "task.{} = {} is out of range: expected a number >= {}", field, value.dump(),
         min_value);
  }
  return number;
}

std::vector<double> ReadTaskNumberArray(const nlohmann::json& task_config,
                                        const char* field,
                                        const std::vector<double>& default_value,
                                        double min_value, size_t max_count) {
  if (!task_config.contains(field)) return default_value;
  const nlohmann::json& value = task_config.at(field);
  if (!value.is_array() || value.empty() || value.size() > max_count) {
    Fail(ErrorCode::kInvalidInput,
         "task.{} = {} is invalid: expected an array of 1 to {} numbers", field,
         value.dump(), max_count);
  }
  std::vector<double> numbers;
  for (size_t i = 0; i < value.size(); ++i) {
    const nlohmann::json& item = value[i];
    if (!item.is_number() || !std::isfinite(item.get<double>()) ||
        item.get<double>() < min_value) {
      Fail(ErrorCode::kInvalidInput,
           "task.{}[{}] = {} is invalid: expected a finite number >= {}", field, i,
           item.dump(), min_value);
    }
    numbers.push_back(item.get<double>());
  }
  return numbers;
}

void CheckTaskScaleRatio(const nlohmann::json& task_config, int64_t lambda_min,
                         int64_t lambda_max) {
  if (!task_config.contains("scale_ratio")) return;
  const double ratio = ReadTaskNumber(task_config, "scale_ratio", 0.0, 0.0);
  const double expected =
      static_cast<double>(lambda_max) / static_cast<double>(lambda_min);
  if (std::fabs(ratio - expected) > 1e-9 * expected) {
    Fail(ErrorCode::kInvalidInput,
         "task.scale_ratio = {} does not match task.lambda_max / task.lambda_min = "
         "{} / {} = {}: remove scale_ratio or make it equal",
         ratio, lambda_max, lambda_min, expected);
  }
}

std::string ReadTaskString(const nlohmann::json& task_config, const char* field,
                           const std::string& default_value) {
  if (!task_config.contains(field)) return default_value;
  const nlohmann::json& value = task_config.at(field);
  if (!value.is_string()) {
    Fail(ErrorCode::kInvalidInput, "task.{} = {} is invalid: expected a string", field,
         value.dump());
  }
  return value.get<std::string>();
}

}  // namespace scalelock
