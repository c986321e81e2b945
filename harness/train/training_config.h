// The "training" object of a resolved run config, read and checked.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

#include "model/optimizer.h"

namespace scalelock {

struct TrainingConfig {
  OptimizerConfig optimizer;
  int64_t batch_size = 32;   // samples per step
  int64_t steps = 500;       // optimizer steps
  int64_t eval_every = 100;  // steps between evaluations
  double max_seconds = 0.0;  // per-run wall limit in seconds; 0 = none
};

// Reads training keys; missing keys keep the defaults above (the same as the
// spec defaults). Throws Error(kInvalidInput) naming the bad field.
TrainingConfig ParseTrainingConfig(const nlohmann::json& training);

}  // namespace scalelock
