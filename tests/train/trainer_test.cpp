// TrainRun and SummarizeRun on the real tasks: convergence with SGD and Adam,
// stop reasons, metric batches, concurrency and determinism.
#include "train/trainer.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <thread>

#include "train/throughput.h"
#include "util/error.h"

namespace scalelock {
namespace {

using nlohmann::json;

// A small CNN on 2000 Fashion-MNIST images: stride-2 conv, pool, linear.
json FashionConfig(const std::string& optimizer, double lr, int64_t steps) {
  return {
      {"task",
       {{"name", "fashion_mnist"}, {"train_samples", 2000}, {"eval_samples", 500}}},
      {"model",
       {{"family", "custom"},
        {"layers",
         {{{"type", "conv"}, {"out", 8}, {"kernel", 3}, {"stride", 2}, {"padding", 1}},
          {{"type", "relu"}},
          {{"type", "maxpool"}, {"kernel", 2}},
          {{"type", "linear"}, {"out", 10}}}}}},
      {"training",
       {{"optimizer", optimizer},
        {"lr", lr},
        {"batch_size", 32},
        {"steps", steps},
        {"eval_every", 100}}},
      {"seed", 5}};
}

json MultiscaleConfig(int64_t steps) {
  return {{"task",
           {{"name", "multiscale1d"},
            {"length", 32},
            {"lambda_min", 1},
            {"lambda_max", 4},
            {"eval_samples", 300}}},
          {"model", {{"family", "dilated"}, {"depth", 3}, {"kernel", 3}, {"width", 8}}},
          {"training",
           {{"optimizer", "adam"},
            {"lr", 3e-3},
            {"batch_size", 16},
            {"steps", steps},
            {"eval_every", 10}}},
          {"seed", 3}};
}

TEST_CASE("trainrun sgd learns fashion-mnist", "[train]") {
  TrainOutcome outcome = TrainRun(FashionConfig("sgd", 0.05, 300), TrainOptions{});
  std::printf("sgd: train %.4f eval %.4f acc %.3f in %.2f s\n", outcome.final_train_loss,
              outcome.final_eval_loss, outcome.final_eval_accuracy, outcome.wall_seconds);
  INFO(outcome.message);
  REQUIRE(outcome.status == RunStatus::kFinished);
  CHECK(outcome.steps_done == 300);
  CHECK(outcome.final_train_loss < 0.5 * std::log(10.0));
  CHECK(outcome.final_eval_loss < 0.5 * std::log(10.0));
  CHECK(outcome.final_eval_accuracy > 0.6);
}

TEST_CASE("trainrun adam learns fashion-mnist", "[train]") {
  TrainOutcome outcome = TrainRun(FashionConfig("adam", 3e-3, 300), TrainOptions{});
  std::printf("adam: train %.4f eval %.4f acc %.3f in %.2f s\n", outcome.final_train_loss,
              outcome.final_eval_loss, outcome.final_eval_accuracy, outcome.wall_seconds);
  INFO(outcome.message);
  REQUIRE(outcome.status == RunStatus::kFinished);
  CHECK(outcome.final_train_loss < 0.5 * std::log(10.0));
  CHECK(outcome.final_eval_loss < 0.5 * std::log(10.0));
  CHECK(outcome.final_eval_accuracy > 0.6);
}

TEST_CASE("trainrun metric batches", "[train]") {
  json config = FashionConfig("adam", 1e-3, 250);
  std::vector<std::vector<MetricPoint>> batches;
  TrainOptions options;
  options.on_metrics = [&](const std::vector<MetricPoint>& points) {
    batches.push_back(points);
  };
  TrainOutcome outcome = TrainRun(config, options);
  REQUIRE(outcome.status == RunStatus::kFinished);
  // eval_every 100 over 250 steps: points at steps 100, 200 and the last step.
  REQUIRE(batches.size() == 3);
  const int64_t expected_steps[] = {100, 200, 250};
  for (size_t b = 0; b < batches.size(); ++b) {
    REQUIRE(batches[b].size() == 3);
    CHECK(batches[b][0].metric == "train_loss");
    CHECK(batches[b][1].metric == "eval_loss");
    CHECK(batches[b][2].metric == "eval_accuracy");
    for (const MetricPoint& point : batches[b])
      CHECK(point.step == expected_steps[b]);
  }
  CHECK(batches.back()[0].value == outcome.final_train_loss);
  CHECK(batches.back()[1].value == outcome.final_eval_loss);
  CHECK(batches.back()[2].value == outcome.final_eval_accuracy);
}

TEST_CASE("trainrun huge lr diverges", "[train]") {
  json config = FashionConfig("sgd", 1e6, 50);
  TrainOutcome outcome = TrainRun(config, TrainOptions{});
  INFO(outcome.message);
  CHECK(outcome.status == RunStatus::kDiverged);
  CHECK(outcome.message.find("at step") != std::string::npos);
  CHECK(outcome.steps_done < 50);
}

TEST_CASE("trainrun should_stop interrupts", "[train]") {
  std::atomic<int> polls{0};
  TrainOptions options;
  options.should_stop = [&] { return ++polls > 3; };
  TrainOutcome outcome = TrainRun(FashionConfig("sgd", 0.05, 100), options);
  INFO(outcome.message);
  CHECK(outcome.status == RunStatus::kInterrupted);
  CHECK(outcome.steps_done == 3);
}

TEST_CASE("trainrun wall limit times out", "[train]") {
  // The limit counts from the start of TrainRun, task loading included, so
  // the Fashion-MNIST files are read (and cached) before the timed run.
  json config = FashionConfig("sgd", 0.05, 1000000);
  SummarizeRun(config);
  TrainOptions options;
  options.max_wall_seconds = 1.0;
  TrainOutcome outcome = TrainRun(config, options);
  INFO(outcome.message);
  CHECK(outcome.status == RunStatus::kTimedOut);
  CHECK(outcome.steps_done > 0);
  CHECK(outcome.wall_seconds >= 1.0);
  CHECK(outcome.message.find("limit of 1.0 s") != std::string::npos);
  CHECK(outcome.final_eval_accuracy > 0.0);
}

TEST_CASE("trainrun bad config fails", "[train]") {
  json config = FashionConfig("sgd", 0.05, 10);
  config["model"]["layers"][3]["out"] = 7;
  TrainOutcome outcome = TrainRun(config, TrainOptions{});
  CHECK(outcome.status == RunStatus::kFailed);
  CHECK(outcome.message.find("model.layers[3]") != std::string::npos);

  config = FashionConfig("rmsprop", 0.05, 10);
  outcome = TrainRun(config, TrainOptions{});
  CHECK(outcome.status == RunStatus::kFailed);
  CHECK(outcome.message.find("training.optimizer") != std::string::npos);

  config = FashionConfig("sgd", 0.05, 0);
  outcome = TrainRun(config, TrainOptions{});
  CHECK(outcome.status == RunStatus::kFailed);
  CHECK(outcome.message.find("training.steps") != std::string::npos);

  config = FashionConfig("sgd", 0.05, 10);
  config["task"]["data_dir"] = "/nonexistent/fashion-mnist";
  outcome = TrainRun(config, TrainOptions{});
  CHECK(outcome.status == RunStatus::kFailed);
  CHECK(outcome.message.find("/nonexistent/fashion-mnist") != std::string::npos);
}

TEST_CASE("throughput times requested steps", "[train]") {
  Throughput result = MeasureTrainThroughput(MultiscaleConfig(1000), 1, 2, 20);
  CHECK(result.steps == 20);
  CHECK(result.seconds > 0.0);
  CHECK(result.samples_per_second == Approx(20 * 16 / result.seconds));
  CHECK(std::isfinite(result.final_loss));
  CHECK_THROWS_AS(MeasureTrainThroughput(MultiscaleConfig(1000), 1, 0, 0), Error);
}

TEST_CASE("trainrun concurrent runs deterministic", "[train]") {
  json config = MultiscaleConfig(60);
  TrainOutcome serial = TrainRun(config, TrainOptions{});
  REQUIRE(serial.status == RunStatus::kFinished);

  TrainOutcome first, second;
  std::thread a([&] { first = TrainRun(config, TrainOptions{}); });
  std::thread b([&] { second = TrainRun(config, TrainOptions{}); });
  a.join();
  b.join();
  REQUIRE(first.status == RunStatus::kFinished);
  REQUIRE(second.status == RunStatus::kFinished);
  CHECK(first.final_train_loss == serial.final_train_loss);
  CHECK(second.final_train_loss == serial.final_train_loss);
  CHECK(first.final_eval_loss == serial.final_eval_loss);
  CHECK(second.final_eval_accuracy == serial.final_eval_accuracy);

  json other_seed = config;
  other_seed["seed"] = 4;
  TrainOutcome different = TrainRun(other_seed, TrainOptions{});
  CHECK(different.final_train_loss != serial.final_train_loss);
}

TEST_CASE("trainrun dilated net learns multiscale1d", "[train]") {
  TrainOutcome outcome = TrainRun(MultiscaleConfig(400), TrainOptions{});
  std::printf("multiscale1d: train %.4f eval %.4f acc %.3f in %.2f s\n",
              outcome.final_train_loss, outcome.final_eval_loss,
              outcome.final_eval_accuracy, outcome.wall_seconds);
  INFO(outcome.message);
  REQUIRE(outcome.status == RunStatus::kFinished);
  CHECK(outcome.final_eval_loss < 0.5 * std::log(2.0));
  CHECK(outcome.final_eval_accuracy > 0.85);
}

TEST_CASE("summarizerun bench net", "[train]") {
  json config = FashionConfig("sgd", 0.05, 100);
  config["model"]["layers"] = {
      {{"type", "conv"}, {"out", 32}, {"kernel", 3}, {"padding", 1}},
      {{"type", "relu"}},
      {{"type", "conv"}, {"out", 32}, {"kernel", 3}, {"padding", 1}},
      {{"type", "relu"}},
      {{"type", "maxpool"}, {"kernel", 2}},
      {{"type", "conv"}, {"out", 64}, {"kernel", 3}, {"padding", 1}},
      {{"type", "relu"}},
      {{"type", "maxpool"}, {"kernel", 2}},
      {{"type", "linear"}, {"out", 10}}};
  ModelSummary summary = SummarizeRun(config);

  // 28x28 -> conv 28x28x32 -> conv 28x28x32 -> pool 14x14x32 -> conv 14x14x64
  // -> pool 7x7x64 -> linear 3136 -> 10.
  CHECK(summary.family == "custom");
  CHECK(summary.params == (1 * 32 * 9 + 32) + (32 * 32 * 9 + 32) + (32 * 64 * 9 + 64) +
                              (64 * 7 * 7 * 10 + 10));
  double forward = 2.0 * 28 * 28 * 32 * 9 * 1 + 28 * 28 * 32 +   // conv1 + relu
                   2.0 * 28 * 28 * 32 * 9 * 32 + 28 * 28 * 32 +  // conv2 + relu
                   14 * 14 * 32 +                                // maxpool
                   2.0 * 14 * 14 * 64 * 9 * 32 + 14 * 14 * 64 +  // conv3 + relu
                   7 * 7 * 64 +                                  // maxpool
                   2.0 * 3136 * 10;                              // linear
  CHECK(summary.forward_flops == Approx(forward).epsilon(1e-12));

  CHECK(summary.train_samples_seen == 32 * 100);
  CHECK(summary.train_flops == Approx(3.0 * forward * 32 * 100).epsilon(1e-12));

  // RF: 3, 5, pool -> 6 (jump 2), conv -> 6 + 2*2 = 10, pool -> 10 + 2 = 12.
  CHECK(summary.receptive_field == 12);
  CHECK(summary.effective_stride == 4);
  CHECK(summary.width == 64);
  CHECK(summary.depth == 3);
  CHECK(summary.kernel == 3);
  CHECK(summary.dilation == 1);
}

TEST_CASE("summarizerun dilated stack", "[train]") {
  json config = MultiscaleConfig(100);
  config["model"]["depth"] = 4;
  ModelSummary summary = SummarizeRun(config);
  // RF = 1 + 2 * (1 + 2 + 4 + 8) = 31.
  CHECK(summary.receptive_field == 31);
  CHECK(summary.dilation == 8);
  CHECK(summary.width == 8);
  CHECK(summary.depth == 4);
  CHECK(summary.effective_stride == 1);
  CHECK(summary.params == (1 * 8 * 3 + 8) + 3 * (8 * 8 * 3 + 8) + (8 * 2 + 2));
}

}  // namespace
}  // namespace scalelock
