// Tests of transfer runs through the real trainer (oneDNN): the second phase's
// metrics, their steps, and the rejection of a transfer that changes the input
// shape.
#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "train/trainer.h"

using nlohmann::json;
using scalelock::MetricPoint;
using scalelock::RunStatus;
using scalelock::TrainOptions;
using scalelock::TrainOutcome;
using scalelock::TrainRun;

namespace {

json RunConfig(const json& transfer) {
  json task = {{"name", "multiscale1d"}, {"length", 32},        {"lambda_min", 1},
               {"lambda_max", 4},        {"noise", 0.1},        {"train_samples", 0},
               {"eval_samples", 64},     {"transfer", transfer}};
  return {{"task", task},
          {"model",
           {{"family", "plain"},
            {"depth", 2},
            {"kernel", 3},
            {"width", 4},
            {"pool", "none"},
            {"pool_every", 0},
            {"head", "gap"}}},
          {"training",
           {{"optimizer", "adam"},
            {"lr", 0.01},
            {"momentum", 0.9},
            {"beta1", 0.9},
            {"beta2", 0.999},
            {"epsilon", 1e-8},
            {"weight_decay", 0.0},
            {"batch_size", 8},
            {"steps", 10},
            {"eval_every", 5},
            {"max_seconds", 0.0}}},
          {"seed", 3}};
}

// Runs the config and returns the outcome and every metric by "name@step".
TrainOutcome Train(const json& config, std::map<std::string, double>* metrics) {
  TrainOptions options;
  options.on_metrics = [metrics](const std::vector<MetricPoint>& points) {
    for (const MetricPoint& point : points)
      (*metrics)[point.metric + "@" + std::to_string(point.step)] = point.value;
  };
  return TrainRun(config, options);
}

}  // namespace

TEST_CASE("transfer finetune stores second phase", "[data][transfer]") {
  std::map<std::string, double> metrics;
  const TrainOutcome outcome =
      Train(RunConfig({{"lambda_max", 8}, {"mode", "finetune"}, {"steps", 6}}), &metrics);
  INFO(outcome.message);
  REQUIRE(outcome.status == RunStatus::kFinished);
  CHECK(outcome.steps_done == 16);
  CHECK(metrics.count("eval_loss@10") == 1u);
  CHECK(metrics.count("transfer_train_loss@16") == 1u);
  CHECK(metrics.count("transfer_eval_loss@16") == 1u);
  CHECK(metrics.count("transfer_eval_accuracy@16") == 1u);
  CHECK(metrics.count("eval_loss@16") == 0u);
  // The outcome keeps the first phase's results.
  CHECK(outcome.final_eval_loss == metrics["eval_loss@10"]);
  CHECK_THAT(outcome.message, Catch::Contains("transfer (finetune) with 6 steps"));
}

TEST_CASE("transfer eval of same task", "[data][transfer]") {
  // Overriding noise with its own value gives the same evaluation set, so the
  // second phase must reproduce the first phase's final evaluation exactly.
  std::map<std::string, double> metrics;
  const TrainOutcome outcome = Train(RunConfig({{"noise", 0.1}}), &metrics);
  INFO(outcome.message);
  REQUIRE(outcome.status == RunStatus::kFinished);
  CHECK(outcome.steps_done == 10);
  REQUIRE(metrics.count("transfer_eval_loss@10") == 1u);
  CHECK(metrics["transfer_eval_loss@10"] ==
        Approx(metrics["eval_loss@10"]).epsilon(1e-6));
  CHECK(metrics["transfer_eval_accuracy@10"] == metrics["eval_accuracy@10"]);
  CHECK(metrics.count("transfer_train_loss@10") == 0u);
}

TEST_CASE("transfer rejects a new input shape", "[data][transfer]") {
  json config = RunConfig({{"length", 48}});
  std::map<std::string, double> metrics;
  const TrainOutcome outcome = Train(config, &metrics);
  CHECK(outcome.status == RunStatus::kFailed);
  CHECK_THAT(outcome.message, Catch::Contains("sample shape"));
  CHECK(metrics.empty());
}
