// SGD with momentum and Adam over the network's parameter tensors.
//
// Both run plain loops over the flat float buffers of each Param (value and
// grad share a layout, so any layout works). weight_decay adds
// weight_decay * value to the gradient (L2, as torch.optim.SGD and Adam do),
// for weights and biases alike. Not thread-safe; one optimizer per run.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/network.h"

namespace scalelock {

struct OptimizerConfig {
  std::string kind = "adam";  // "sgd" or "adam"
  double lr = 1e-3;           // learning rate
  double momentum = 0.9;      // sgd: velocity decay
  double beta1 = 0.9;         // adam: first-moment decay
  double beta2 = 0.999;       // adam: second-moment decay
  double epsilon = 1e-8;      // adam: added to the root of the second moment
  double weight_decay = 0.0;  // L2 coefficient
};

// Reads the optimizer keys of a "training" object; missing keys keep the
// defaults above. Throws Error(kInvalidInput) naming the field.
OptimizerConfig ParseOptimizerConfig(const nlohmann::json& training);

class Optimizer {
 public:
  // Allocates the state (velocity, or first and second moments) for params.
  Optimizer(const OptimizerConfig& config, const std::vector<Param>& params);

  // Applies one update to every param from its grad.
  void Step(std::vector<Param>* params);

 private:
  OptimizerConfig config_;
  int64_t steps_ = 0;
  std::vector<std::vector<float>> first_;   // sgd velocity or adam m, per param
  std::vector<std::vector<float>> second_;  // adam v, per param
};

}  // namespace scalelock
