// Readers for the integer and string keys of a "model" config, shared by the
// family expansions. Each returns fallback for a missing key and throws
// Error(kInvalidInput) naming path.key, the value and what was expected.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace scalelock::model_config {

// Integral floats such as 3.0 are accepted because JSON writers may emit them.
int64_t ReadInt(const nlohmann::json& object, const std::string& key,
                const std::string& path, int64_t fallback, int64_t min_value);

std::string ReadString(const nlohmann::json& object, const std::string& key,
                       const std::string& path, const std::string& fallback,
                       const std::set<std::string>& allowed);

// A non-empty array of integers >= min_value, or fallback when absent.
std::vector<int64_t> ReadIntArray(const nlohmann::json& object, const std::string& key,
                                  const std::string& path,
                                  const std::vector<int64_t>& fallback,
                                  int64_t min_value);

}  // namespace scalelock::model_config
