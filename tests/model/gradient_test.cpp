// Central-difference checks of the oneDNN backward pass, one layer type at a
// time (each followed by the linear head the loss needs) and for whole nets.
// The loss is float32, so differences use eps 1e-2 where the function is
// smooth and separated inputs where ReLU kinks or max-pool ties could be hit.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>

#include "model_testing.h"

namespace scalelock {
namespace {

using nlohmann::json;
using testing::CheckNetworkGradients;
using testing::CustomNet;
using testing::Labels;
using testing::NetworkGradients;

constexpr double kTolerance = 1e-2;  // max |analytic - numeric| / max |analytic|
constexpr int64_t kBatch = 2;

NetworkGradients CheckNet(const NetSpec& spec, std::vector<float> inputs, double eps,
                          const char* name) {
  testing::UseOneThread();
  NetworkOptions options;
  options.batch_size = kBatch;
  options.eval_batch_size = kBatch;
  options.seed = 7;
  options.input_gradient = true;
  Network net(spec, options);
  // With zero biases, a ReLU input sits exactly on its kink wherever all
  // inputs of its window are 0 (padding or dead units). Nonzero biases avoid it.
  uint64_t bias_seed = 17;
  for (Param& param : net.params()) {
    if (param.dims.size() != 1) continue;
    std::vector<float> bias = testing::UniformValues(param.value.size(), ++bias_seed);
    std::copy(bias.begin(), bias.end(), param.value.begin());
  }
  net.MarkParamsChanged();
  std::vector<int32_t> labels = Labels(kBatch, spec.num_classes);
  NetworkGradients result = CheckNetworkGradients(&net, &inputs, labels, eps, 48);

  std::printf("gradient %-14s input rel %.2e (max diff %.2e)", name,
              result.input.relative_error(), result.input.max_abs_diff);
  for (size_t p = 0; p < result.params.size(); ++p) {
    std::printf(", %s rel %.2e", net.params()[p].name.c_str(),
                result.params[p].relative_error());
  }
  std::printf("\n");
  return result;
}

void RequireAccurate(const NetworkGradients& result) {
  INFO("input max diff " << result.input.max_abs_diff << ", max grad "
                         << result.input.max_abs_grad);
  CHECK(result.input.max_abs_grad > 0.0);
  CHECK(result.input.relative_error() < kTolerance);
  for (size_t p = 0; p < result.params.size(); ++p) {
    INFO("param " << p << " max diff " << result.params[p].max_abs_diff << ", max grad "
                  << result.params[p].max_abs_grad);
    CHECK(result.params[p].max_abs_grad > 0.0);
    CHECK(result.params[p].relative_error() < kTolerance);
  }
}

std::vector<float> Uniform(const Shape& shape) {
  return testing::UniformValues(kBatch * ShapeSize(shape), 11);
}

std::vector<float> Separated(const Shape& shape) {
  return testing::SeparatedValues(kBatch * ShapeSize(shape), 0.05f, 13);
}

TEST_CASE("gradient conv1d strided dilated padded", "[model][gradient]") {
  Shape input = {2, 13};
  json layers = {{{"type", "conv"},
                  {"out", 3},
                  {"kernel", 3},
                  {"stride", 2},
                  {"padding", 1},
                  {"dilation", 2}},
                 {{"type", "linear"}, {"out", 3}}};
  RequireAccurate(CheckNet(CustomNet(layers, input, 3), Uniform(input), 1e-2, "conv1d"));
}

TEST_CASE("gradient conv2d strided dilated padded", "[model][gradient]") {
  Shape input = {2, 9, 8};
  json layers = {{{"type", "conv"},
                  {"out", 4},
                  {"kernel", 3},
                  {"stride", 2},
                  {"padding", 2},
                  {"dilation", 2}},
                 {{"type", "linear"}, {"out", 3}}};
  RequireAccurate(CheckNet(CustomNet(layers, input, 3), Uniform(input), 1e-2, "conv2d"));
}

TEST_CASE("gradient relu", "[model][gradient]") {
  Shape input = {3, 10};
  json layers = {{{"type", "relu"}}, {{"type", "linear"}, {"out", 3}}};
  RequireAccurate(CheckNet(CustomNet(layers, input, 3), Separated(input), 1e-2, "relu"));
}

TEST_CASE("gradient maxpool2d padded", "[model][gradient]") {
  Shape input = {2, 7, 7};
  json layers = {{{"type", "maxpool"}, {"kernel", 3}, {"stride", 2}, {"padding", 1}},
                 {{"type", "linear"}, {"out", 3}}};
  RequireAccurate(
      CheckNet(CustomNet(layers, input, 3), Separated(input), 1e-2, "maxpool2d"));
}

TEST_CASE("gradient maxpool1d", "[model][gradient]") {
  Shape input = {3, 12};
  json layers = {{{"type", "maxpool"}, {"kernel", 2}}, {{"type", "linear"}, {"out", 2}}};
  RequireAccurate(
      CheckNet(CustomNet(layers, input, 2), Separated(input), 1e-2, "maxpool1d"));
}

TEST_CASE("gradient avgpool1d padded", "[model][gradient]") {
  Shape input = {2, 11};
  json layers = {{{"type", "avgpool"}, {"kernel", 3}, {"stride", 2}, {"padding", 1}},
                 {{"type", "linear"}, {"out", 3}}};
  RequireAccurate(
      CheckNet(CustomNet(layers, input, 3), Uniform(input), 1e-2, "avgpool1d"));
}

TEST_CASE("gradient avgpool2d", "[model][gradient]") {
  Shape input = {2, 6, 6};
  json layers = {{{"type", "avgpool"}, {"kernel", 2}}, {{"type", "linear"}, {"out", 3}}};
  RequireAccurate(
      CheckNet(CustomNet(layers, input, 3), Uniform(input), 1e-2, "avgpool2d"));
}

TEST_CASE("gradient gap 1d and 2d", "[model][gradient]") {
  json layers = {{{"type", "gap"}}, {{"type", "linear"}, {"out", 3}}};
  Shape input_1d = {4, 9};
  RequireAccurate(
      CheckNet(CustomNet(layers, input_1d, 3), Uniform(input_1d), 1e-2, "gap1d"));
  Shape input_2d = {4, 5, 6};
  RequireAccurate(
      CheckNet(CustomNet(layers, input_2d, 3), Uniform(input_2d), 1e-2, "gap2d"));
}

TEST_CASE("gradient linear and cross-entropy", "[model][gradient]") {
  Shape input = {3, 4};
  json layers = {{{"type", "linear"}, {"out", 5}}};
  RequireAccurate(CheckNet(CustomNet(layers, input, 5), Uniform(input), 1e-2, "linear"));
}

TEST_CASE("gradient linear chain with relu", "[model][gradient]") {
  Shape input = {2, 3, 3};
  json layers = {{{"type", "linear"}, {"out", 6}},
                 {{"type", "relu"}},
                 {{"type", "linear"}, {"out", 3}}};
  RequireAccurate(CheckNet(CustomNet(layers, input, 3), Uniform(input), 1e-3, "mlp"));
}

TEST_CASE("gradient whole 2d model", "[model][gradient]") {
  Shape input = {1, 10, 10};
  json layers = {{{"type", "conv"}, {"out", 4}, {"kernel", 3}, {"padding", 1}},
                 {{"type", "relu"}},
                 {{"type", "maxpool"}, {"kernel", 2}},
                 {{"type", "conv"}, {"out", 6}, {"kernel", 3}, {"padding", 1}},
                 {{"type", "relu"}},
                 {{"type", "avgpool"}, {"kernel", 2}},
                 {{"type", "linear"}, {"out", 4}}};
  NetSpec spec = CustomNet(layers, input, 4);
  REQUIRE(spec.layers.size() == 5);  // both ReLUs are fused into their convs
  RequireAccurate(CheckNet(spec, Uniform(input), 1e-3, "model2d"));
}

TEST_CASE("gradient whole dilated 1d model", "[model][gradient]") {
  json model = {{"family", "dilated"}, {"depth", 3},    {"kernel", 3},
                {"width", 4},          {"pool", "avg"}, {"pool_every", 2},
                {"head", "flatten"}};
  Shape input = {1, 16};
  NetSpec spec = BuildNetSpec(model, input, 2);
  RequireAccurate(CheckNet(spec, Uniform(input), 1e-3, "dilated1d"));
}

}  // namespace
}  // namespace scalelock
