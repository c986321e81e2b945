// Helpers for the model tests: small networks from custom layer lists,
// seeded inputs, and central-difference gradient checks against the oneDNN
// backward pass.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "model/net_spec.h"
#include "model/network.h"

namespace scalelock::testing {

// Runs oneDNN on one OpenMP thread: the test networks are tiny, and extra
// threads only add synchronization on a shared machine.
inline void UseOneThread() {
  omp_set_num_threads(1);
}

inline NetSpec CustomNet(const nlohmann::json& layers, const Shape& input, int classes) {
  return BuildNetSpec({{"family", "custom"}, {"layers", layers}}, input, classes);
}

// Values uniform in [-1, 1] from seed.
inline std::vector<float> UniformValues(size_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> values(count);
  for (float& value : values)
    value = uniform(rng);
  return values;
}

// Values at least `gap` apart from each other and from 0 (a shuffled grid of
// +-(k + 1) * gap), so a perturbation below gap / 2 crosses no ReLU kink and
// changes no max-pool winner.
inline std::vector<float> SeparatedValues(size_t count, float gap, uint64_t seed) {
  std::vector<float> values(count);
  for (size_t i = 0; i < count; ++i) {
    float magnitude = static_cast<float>(i / 2 + 1) * gap;
    values[i] = i % 2 == 0 ? magnitude : -magnitude;
  }
  std::mt19937_64 rng(seed);
  std::shuffle(values.begin(), values.end(), rng);
  return values;
}

inline std::vector<int32_t> Labels(int64_t count, int classes) {
  std::vector<int32_t> labels(count);
  for (int64_t i = 0; i < count; ++i)
    labels[i] = static_cast<int32_t>((3 * i + 1) % classes);
  return labels;
}

// Result of comparing an analytic gradient with central differences on a
// strided subset of at most max_checks entries.
struct GradientCheck {
  double max_abs_diff = 0.0;  // max |analytic - numeric|
  double max_abs_grad = 0.0;  // max |analytic| over the checked entries
  double relative_error() const { return max_abs_diff / std::max(max_abs_grad, 1e-12); }
};

// Compares grad with (L(x + eps) - L(x - eps)) / (2 eps) for entries of
// *values, where loss() evaluates L after values changed.
template <typename LossFn>
GradientCheck CheckGradient(std::vector<float>* values, const std::vector<float>& grad,
                            double eps, size_t max_checks, LossFn loss) {
  GradientCheck check;
  size_t stride = std::max<size_t>(1, values->size() / max_checks);
  for (size_t i = 0; i < values->size(); i += stride) {
    float saved = (*values)[i];
    (*values)[i] = static_cast<float>(saved + eps);
    double plus = loss();
    (*values)[i] = static_cast<float>(saved - eps);
    double minus = loss();
    (*values)[i] = saved;
    double numeric = (plus - minus) / (2.0 * eps);
    check.max_abs_diff = std::max(check.max_abs_diff, std::abs(numeric - grad[i]));
    check.max_abs_grad =
        std::max(check.max_abs_grad, static_cast<double>(std::abs(grad[i])));
  }
  loss();  // leaves the network's activations at the unperturbed point
  return check;
}

// Gradient checks of one network at one batch: the input and every param.
struct NetworkGradients {
  GradientCheck input;
  std::vector<GradientCheck> params;  // in Network::params() order
};

inline NetworkGradients CheckNetworkGradients(Network* net, std::vector<float>* inputs,
                                              const std::vector<int32_t>& labels,
                                              double eps, size_t max_checks) {
  net->TrainStep(inputs->data(), labels.data());
  NetworkGradients result;
  std::vector<float> input_grad = net->InputGradient();
  auto loss = [&] { return net->ForwardLoss(inputs->data(), labels.data()); };
  result.input = CheckGradient(inputs, input_grad, eps, max_checks, loss);
  for (Param& param : net->params()) {
    std::vector<float> grad = param.grad;
    auto param_loss = [&] {
      net->MarkParamsChanged();
      return loss();
    };
    result.params.push_back(
        CheckGradient(&param.value, grad, eps, max_checks, param_loss));
  }
  return result;
}

}  // namespace scalelock::testing
