#include "model/config_read.h"

#include <cmath>

#include "util/error.h"

namespace scalelock::model_config {

using nlohmann::json;

namespace {

bool IsIntegral(const json& value) {
  return value.is_number_integer() ||
         (value.is_number_float() &&
          std::floor(value.get<double>()) == value.get<double>());
}

}  // namespace

int64_t ReadInt(const json& object, const std::string& key, const std::string& path,
                int64_t fallback, int64_t min_value) {
  if (!object.contains(key)) return fallback;
  const json& value = object[key];
  if (!IsIntegral(value) || value.get<double>() < static_cast<double>(min_value)) {
    Fail(ErrorCode::kInvalidInput, "{}.{}: invalid value {}: expected an integer >= {}",
         path, key, value.dump(), min_value);
  }
  return static_cast<int64_t>(value.get<double>());
}

std::string ReadString(const json& object, const std::string& key,
                       const std::string& path, const std::string& fallback,
                       const std::set<std::string>& allowed) {
  if (!object.contains(key)) return fallback;
  const json& value = object[key];
  if (!value.is_string() || allowed.count(value.get<std::string>()) == 0) {
    std::string names;
    for (const std::string& name : allowed)
      names += (names.empty() ? "\"" : ", \"") + name + "\"";
    Fail(ErrorCode::kInvalidInput, "{}.{}: invalid value {}: expected one of {}", path,
         key, value.dump(), names);
  }
  return value.get<std::string>();
}

std::vector<int64_t> ReadIntArray(const json& object, const std::string& key,
                                  const std::string& path,
                                  const std::vector<int64_t>& fallback,
                                  int64_t min_value) {
  if (!object.contains(key)) return fallback;
  const json& value = object[key];
  bool valid = value.is_array() && !value.empty();
  for (size_t i = 0; valid && i < value.size(); ++i) {
    valid = IsIntegral(value[i]) && value[i].get<double>() >= min_value;
  }
  if (!valid) {
    Fail(ErrorCode::kInvalidInput,
         "{}.{}: invalid value {}: expected a non-empty array of integers >= {}", path,
         key, value.dump(), min_value);
  }
  std::vector<int64_t> result;
  for (const json& item : value)
    result.push_back(static_cast<int64_t>(item.get<double>()));
  return result;
}

}  // namespace scalelock::model_config
