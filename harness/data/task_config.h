// Typed access to the fields of a "task" config object.
//
// Each reader returns the field's value or the default when the field is
// absent, and throws Error(kInvalidInput) naming "task.<field>", the value
// found and the expected type or range otherwise.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace scalelock {

// Throws unless every key of task_config is in `allowed`; the message names
// the unknown field, the task and the accepted fields.
void CheckTaskFields(const nlohmann::json& task_config, const std::string& task_name,
                     std::initializer_list<const char*> allowed);

// Integer field in [min_value, max_value]. A JSON number with an integral value
// (16 or 16.0) is accepted.
int64_t ReadTaskInt(const nlohmann::json& task_config, const char* field,
                    int64_t default_value, int64_t min_value, int64_t max_value);

// Integer field that must be present.
int64_t ReadRequiredTaskInt(const nlohmann::json& task_config, const char* field,
                            int64_t min_value, int64_t max_value);

// Finite number field >= min_value.
double ReadTaskNumber(const nlohmann::json& task_config, const char* field,
                      double default_value, double min_value);

// Non-empty array of finite numbers, each >= min_value, with at most max_count
// entries; returns default_value when the field is absent.
std::vector<double> ReadTaskNumberArray(const nlohmann::json& task_config,
                                        const char* field,
                                        const std::vector<double>& default_value,
                                        double min_value, size_t max_count);

// Throws unless the optional task.scale_ratio is absent or equals
// lambda_max / lambda_min (relative tolerance 1e-9).
void CheckTaskScaleRatio(const nlohmann::json& task_config, int64_t lambda_min,
                         int64_t lambda_max);

std::string ReadTaskString(const nlohmann::json& task_config, const char* field,
                           const std::string& default_value);

}  // namespace scalelock
