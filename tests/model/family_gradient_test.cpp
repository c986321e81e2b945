// Central-difference checks of the backward pass of the multi-scale
// families: every new layer (deconv, concat, add, positional encoding,
// attention), tensors read by several layers, and the dense and regression
// losses. Inputs are separated and biases nonzero so that no perturbation
// crosses a ReLU kink or changes a max-pool winner.
#include <catch2/catch.hpp>
#include <cstdio>

#include "model_testing.h"

namespace scalelock {
namespace {

using nlohmann::json;
using testing::CheckGradient;
using testing::GradientCheck;

constexpr double kTolerance = 1e-2;  // max |analytic - numeric| / max |analytic|
constexpr int64_t kBatch = 2;

struct FamilyCheck {
  GradientCheck input;
  std::vector<GradientCheck> params;
  std::vector<std::string> names;
  // Per param: true for the key projection's bias. Its exact gradient is 0
  // because it shifts every score of a query row by the same amount, which
  // the softmax ignores, so central differences only see float32 noise.
  std::vector<bool> zero_gradient;
};

FamilyCheck CheckFamily(const json& model, const Shape& input, int classes,
                        Objective objective, double eps) {
  testing::UseOneThread();
  NetSpec spec = BuildNetSpec(model, input, classes, objective);
  NetworkOptions options;
  options.batch_size = kBatch;
  options.eval_batch_size = kBatch;
  options.seed = 5;
  options.input_gradient = true;
  Network net(spec, options);
  // Biases in [0.2, 1] keep most ReLUs active: a dead ReLU feeding a max
  // pool makes ties at 0 that central differences cannot handle.
  uint64_t bias_seed = 31;
  for (Param& param : net.params()) {
    if (param.dims.size() != 1) continue;
    std::vector<float> bias = testing::UniformValues(param.value.size(), ++bias_seed);
    for (size_t i = 0; i < bias.size(); ++i)
      param.value[i] = 0.6f + 0.4f * bias[i];
  }
  net.MarkParamsChanged();

  std::vector<float> inputs =
      testing::SeparatedValues(kBatch * ShapeSize(input), 0.05f, 3);
  const int64_t outputs = ShapeSize(spec.shapes.back());
  std::vector<int32_t> labels = testing::Labels(kBatch * outputs / classes, classes);
  std::vector<float> targets = testing::UniformValues(kBatch * outputs, 9);
  bool regression = objective == Objective::kRegression;
  auto loss = [&] {
    return regression ? net.ForwardLoss(inputs.data(), targets.data())
                      : net.ForwardLoss(inputs.data(), labels.data());
  };
  if (regression) {
    net.TrainStep(inputs.data(), targets.data());
  } else {
    net.TrainStep(inputs.data(), labels.data());
  }

  FamilyCheck result;
  result.input = CheckGradient(&inputs, net.InputGradient(), eps, 48, loss);
  for (Param& param : net.params()) {
    std::vector<float> grad = param.grad;
    auto param_loss = [&] {
      net.MarkParamsChanged();
      return loss();
    };
    result.params.push_back(CheckGradient(&param.value, grad, eps, 48, param_loss));
    result.names.push_back(param.name);
    size_t layer = std::stoul(param.name.substr(param.name.find('[') + 1));
    const std::string& path = spec.layers[layer].path;
    bool key = path.size() >= 4 && path.compare(path.size() - 4, 4, " key") == 0;
    result.zero_gradient.push_back(key && param.dims.size() == 1);
  }
  std::printf("gradient %-18s input rel %.2e, %zu params, worst param rel %.2e\n",
              model["family"].get<std::string>().c_str(), result.input.relative_error(),
              result.params.size(),
              std::max_element(result.params.begin(), result.params.end(),
                               [](const GradientCheck& a, const GradientCheck& b) {
                                 return a.relative_error() < b.relative_error();
                               })
                  ->relative_error());
  return result;
}

void RequireAccurate(const FamilyCheck& result) {
  INFO("input max diff " << result.input.max_abs_diff << ", max grad "
                         << result.input.max_abs_grad);
  CHECK(result.input.max_abs_grad > 0.0);
  CHECK(result.input.relative_error() < kTolerance);
  for (size_t p = 0; p < result.params.size(); ++p) {
    INFO(result.names[p] << " max diff " << result.params[p].max_abs_diff << ", max grad "
                         << result.params[p].max_abs_grad);
    if (result.zero_gradient[p]) {
      CHECK(result.params[p].max_abs_grad < 1e-5);
      continue;
    }
    CHECK(result.params[p].max_abs_grad > 0.0);
    CHECK(result.params[p].relative_error() < kTolerance);
  }
}

TEST_CASE("gradient strided pyramid", "[model][gradient][families]") {
  json model = {{"family", "strided"},
                {"depth", 2},
                {"width", 3},
                {"stride", 2},
                {"layers_per_stage", 2}};
  RequireAccurate(CheckFamily(model, {1, 12}, 3, Objective::kClass, 1e-3));
}

TEST_CASE("gradient spp max and avg", "[model][gradient][families]") {
  json model = {{"family", "spp"},
                {"depth", 1},
                {"width", 2},
                {"levels", {1, 2, 4}},
                {"spp_pool", "avg"}};
  RequireAccurate(CheckFamily(model, {1, 8}, 3, Objective::kClass, 1e-3));
  model["spp_pool"] = "max";
  RequireAccurate(CheckFamily(model, {1, 8}, 3, Objective::kClass, 1e-3));
}

TEST_CASE("gradient spp 2d", "[model][gradient][families]") {
  json model = {{"family", "spp"},
                {"depth", 1},
                {"width", 2},
                {"levels", {1, 2}},
                {"spp_pool", "avg"}};
  RequireAccurate(CheckFamily(model, {1, 4, 4}, 3, Objective::kClass, 1e-3));
}

TEST_CASE("gradient unet dense 1d", "[model][gradient][families]") {
  json model = {{"family", "unet"}, {"depth", 2}, {"width", 2}, {"convs_per_level", 1}};
  RequireAccurate(CheckFamily(model, {1, 8}, 3, Objective::kDenseClass, 1e-3));
}

TEST_CASE("gradient unet dense 2d", "[model][gradient][families]") {
  json model = {{"family", "unet"}, {"depth", 1}, {"width", 2}, {"convs_per_level", 1}};
  RequireAccurate(CheckFamily(model, {1, 4, 4}, 2, Objective::kDenseClass, 1e-3));
}

TEST_CASE("gradient fpn dense 1d", "[model][gradient][families]") {
  json model = {{"family", "fpn"}, {"depth", 2}, {"width", 3}};
  RequireAccurate(CheckFamily(model, {1, 8}, 3, Objective::kDenseClass, 1e-3));
}

TEST_CASE("gradient fpn 2d", "[model][gradient][families]") {
  json model = {{"family", "fpn"}, {"depth", 1}, {"width", 2}, {"head", "gap"}};
  RequireAccurate(CheckFamily(model, {1, 4, 4}, 3, Objective::kClass, 1e-3));
}

TEST_CASE("gradient attention sinusoidal", "[model][gradient][families]") {
  json model = {{"family", "attention"}, {"depth", 1}, {"width", 4}};
  RequireAccurate(CheckFamily(model, {1, 6}, 3, Objective::kClass, 1e-3));
}

TEST_CASE("gradient attention learned 2d", "[model][gradient][families]") {
  json model = {{"family", "attention"},
                {"depth", 1},
                {"width", 4},
                {"positional", "learned"},
                {"patch", 2}};
  RequireAccurate(CheckFamily(model, {1, 6, 6}, 3, Objective::kClass, 1e-3));
}

TEST_CASE("gradient attention two heads", "[model][gradient][families]") {
  json model = {{"family", "attention"}, {"depth", 1}, {"width", 4}, {"heads", 2}};
  RequireAccurate(CheckFamily(model, {1, 6}, 3, Objective::kClass, 1e-3));
}

TEST_CASE("gradient attention two heads 2d", "[model][gradient][families]") {
  json model = {
      {"family", "attention"}, {"depth", 1}, {"width", 6}, {"heads", 2}, {"patch", 2}};
  RequireAccurate(CheckFamily(model, {2, 4, 4}, 3, Objective::kClass, 1e-3));
}

TEST_CASE("gradient attention two blocks", "[model][gradient][families]") {
  json model = {
      {"family", "attention"}, {"depth", 2}, {"width", 4}, {"positional", "none"}};
  RequireAccurate(CheckFamily(model, {1, 5}, 2, Objective::kClass, 1e-3));
}

TEST_CASE("gradient attention dense head", "[model][gradient][families]") {
  json model = {{"family", "attention"}, {"depth", 1}, {"width", 4}, {"head", "dense"}};
  RequireAccurate(CheckFamily(model, {1, 5}, 3, Objective::kDenseClass, 1e-3));
}

TEST_CASE("gradient plain dense head", "[model][gradient][families]") {
  json model = {{"family", "plain"}, {"depth", 2}, {"width", 3}, {"head", "dense"}};
  RequireAccurate(CheckFamily(model, {2, 7}, 4, Objective::kDenseClass, 1e-3));
}

TEST_CASE("gradient regression head", "[model][gradient][families]") {
  json model = {
      {"family", "dilated"}, {"depth", 2}, {"width", 3}, {"head", "regression"}};
  RequireAccurate(CheckFamily(model, {1, 9}, 4, Objective::kRegression, 1e-3));
}

}  // namespace
}  // namespace scalelock
