#include "train/training_config.h"

#include <cmath>

#include "util/error.h"

namespace scalelock {
namespace {

int64_t ReadPositiveInt(const nlohmann::json& training, const char* key,
                        int64_t fallback) {
  if (!training.contains(key)) return fallback;
  const nlohmann::json& value = training[key];
  bool integral =
      value.is_number_integer() ||
      (value.is_number_float() && std::floor(value.get<double>()) == value.get<double>());
  if (!integral || value.get<double>() < 1) {
    Fail(ErrorCode::kInvalidInput,
         "training.{}: invalid value {}: expected an integer >= 1", key, value.dump());
  }
  return static_cast<int64_t>(value.get<double>());
}

}  // namespace

TrainingConfig ParseTrainingConfig(const nlohmann::json& training) {
  TrainingConfig config;
  config.optimizer = ParseOptimizerConfig(training);
  config.batch_size = ReadPositiveInt(training, "batch_size", config.batch_size);
  config.steps = ReadPositiveInt(training, "steps", config.steps);
  config.eval_every = ReadPositiveInt(training, "eval_every", config.eval_every);
  if (training.contains("max_seconds")) {
    const nlohmann::json& value = training["max_seconds"];
    if (!value.is_number() || !(value.get<double>() >= 0)) {
      Fail(ErrorCode::kInvalidInput,
           "training.max_seconds: invalid value {}: expected seconds >= 0 (0 = no limit)",
           value.dump());
    }
    config.max_seconds = value.get<double>();
  }
  return config;
}

}  // namespace scalelock
