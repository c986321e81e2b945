// SGD and Adam updates against hand-computed steps.
#include "model/optimizer.h"

#include <catch2/catch.hpp>
#include <cmath>

#include "util/error.h"

namespace scalelock {
namespace {

std::vector<Param> OneParam(float value, float grad) {
  return {Param{"w", {1}, {value}, {grad}}};
}

TEST_CASE("optimizer sgd momentum steps", "[model][optimizer]") {
  OptimizerConfig config;
  config.kind = "sgd";
  config.lr = 0.1;
  config.momentum = 0.9;
  std::vector<Param> params = OneParam(1.0f, 0.5f);
  Optimizer optimizer(config, params);
  // v1 = 0.5, w1 = 1 - 0.1 * 0.5 = 0.95; v2 = 0.9 * 0.5 + 0.5 = 0.95, w2 = 0.855.
  optimizer.Step(&params);
  CHECK(params[0].value[0] == Approx(0.95f).epsilon(1e-6));
  optimizer.Step(&params);
  CHECK(params[0].value[0] == Approx(0.855f).epsilon(1e-6));
}

TEST_CASE("optimizer sgd weight decay", "[model][optimizer]") {
  OptimizerConfig config;
  config.kind = "sgd";
  config.lr = 0.1;
  config.momentum = 0.0;
  config.weight_decay = 0.1;
  std::vector<Param> params = OneParam(2.0f, 0.0f);
  Optimizer optimizer(config, params);
  // g = 0 + 0.1 * 2 = 0.2, w1 = 2 - 0.1 * 0.2 = 1.98.
  optimizer.Step(&params);
  CHECK(params[0].value[0] == Approx(1.98f).epsilon(1e-6));
}

TEST_CASE("optimizer adam steps", "[model][optimizer]") {
  OptimizerConfig config;
  config.kind = "adam";
  config.lr = 0.1;
  std::vector<Param> params = OneParam(1.0f, 0.5f);
  Optimizer optimizer(config, params);
  // With a constant gradient the bias-corrected moments are g and g^2, so
  // each step moves by lr * g / (|g| + eps) = 0.1.
  optimizer.Step(&params);
  CHECK(params[0].value[0] == Approx(0.9).margin(1e-6));
  optimizer.Step(&params);
  CHECK(params[0].value[0] == Approx(0.8).margin(1e-6));
  // A sign flip on step 3: the moments computed here in double.
  params[0].grad[0] = -0.5f;
  optimizer.Step(&params);
  double m = 0.9 * (0.9 * 0.05 + 0.05) + 0.1 * -0.5;
  double v = 0.999 * (0.999 * 0.00025 + 0.00025) + 0.001 * 0.25;
  double step = 0.1 * (m / (1 - 0.9 * 0.9 * 0.9)) /
                (std::sqrt(v / (1 - std::pow(0.999, 3))) + 1e-8);
  CHECK(params[0].value[0] == Approx(0.8 - step).margin(1e-6));
}

TEST_CASE("optimizer config parse errors", "[model][optimizer]") {
  CHECK(ParseOptimizerConfig({{"optimizer", "sgd"}, {"lr", 0.5}}).lr == 0.5);
  CHECK(ParseOptimizerConfig(nlohmann::json::object()).kind == "adam");
  CHECK_THROWS_WITH(ParseOptimizerConfig({{"optimizer", "lbfgs"}}),
                    Catch::Matchers::Contains("training.optimizer"));
  CHECK_THROWS_WITH(ParseOptimizerConfig({{"lr", -1}}),
                    Catch::Matchers::Contains("training.lr"));
  CHECK_THROWS_WITH(ParseOptimizerConfig({{"momentum", "high"}}),
                    Catch::Matchers::Contains("training.momentum"));
}

}  // namespace
}  // namespace scalelock
