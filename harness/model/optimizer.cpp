#include "model/optimizer.h"

#include <cmath>

#include "util/error.h"

namespace scalelock {
namespace {

double ReadNumber(const nlohmann::json& training, const char* key, double fallback,
                  double min_value, double max_value) {
  if (!training.contains(key)) return fallback;
  const nlohmann::json& value = training[key];
  if (!value.is_number() || !(value.get<double>() >= min_value) ||
      !(value.get<double>() <= max_value)) {
    Fail(ErrorCode::kInvalidInput,
         "training.{}: invalid value {}: expected a number in [{}, {}]", key,
         value.dump(), min_value, max_value);
  }
  return value.get<double>();
}

}  // namespace

OptimizerConfig ParseOptimizerConfig(const nlohmann::json& training) {
  OptimizerConfig config;
  if (training.contains("optimizer")) {
    const nlohmann::json& kind = training["optimizer"];
    if (kind != "sgd" && kind != "adam") {
      Fail(ErrorCode::kInvalidInput,
           "training.optimizer: invalid value {}: expected \"sgd\" or \"adam\"",
           kind.dump());
    }
    config.kind = kind.get<std::string>();
  }
  config.lr = ReadNumber(training, "lr", config.lr, 0.0, 1e6);
  config.momentum = ReadNumber(training, "momentum", config.momentum, 0.0, 1.0);
  config.beta1 = ReadNumber(training, "beta1", config.beta1, 0.0, 1.0);
  config.beta2 = ReadNumber(training, "beta2", config.beta2, 0.0, 1.0);
  config.epsilon = ReadNumber(training, "epsilon", config.epsilon, 0.0, 1.0);
  config.weight_decay =
      ReadNumber(training, "weight_decay", config.weight_decay, 0.0, 1e6);
  return config;
}

Optimizer::Optimizer(const OptimizerConfig& config, const std::vector<Param>& params)
    : config_(config) {
  for (const Param& param : params) {
    first_.emplace_back(param.value.size(), 0.0f);
    if (config_.kind == "adam") second_.emplace_back(param.value.size(), 0.0f);
  }
}

void Optimizer::Step(std::vector<Param>* params) {
  ++steps_;
  const float lr = static_cast<float>(config_.lr);
  const float decay = static_cast<float>(config_.weight_decay);
  const bool adam = config_.kind == "adam";
  const float beta1 = static_cast<float>(config_.beta1);
  const float beta2 = static_cast<float>(config_.beta2);
  const float epsilon = static_cast<float>(config_.epsilon);
  // Bias corrections of Adam's moment estimates after steps_ updates.
  const float correction1 = static_cast<float>(1.0 - std::pow(config_.beta1, steps_));
  const float correction2 = static_cast<float>(1.0 - std::pow(config_.beta2, steps_));
  const float momentum = static_cast<float>(config_.momentum);

  for (size_t p = 0; p < params->size(); ++p) {
    Param& param = (*params)[p];
    float* value = param.value.data();
    const float* grad = param.grad.data();
    float* m = first_[p].data();
    const size_t count = param.value.size();
    if (adam) {
      float* v = second_[p].data();
      for (size_t i = 0; i < count; ++i) {
        float g = grad[i] + decay * value[i];
        m[i] = beta1 * m[i] + (1.0f - beta1) * g;
        v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
        value[i] -= lr * (m[i] / correction1) / (std::sqrt(v[i] / correction2) + epsilon);
      }
    } else {
      for (size_t i = 0; i < count; ++i) {
        float g = grad[i] + decay * value[i];
        m[i] = momentum * m[i] + g;
        value[i] -= lr * m[i];
      }
    }
  }
}

}  // namespace scalelock
