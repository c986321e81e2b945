// Dense per-position classes and regression targets, trained through the
// oneDNN network and the optimizer on small in-test tasks: the loss must fall
// well below its starting value and the metrics must follow.
#include <omp.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <random>

#include "data/task.h"
#include "model/net_spec.h"
#include "model/network.h"
#include "model/optimizer.h"

namespace scalelock {
namespace {

using nlohmann::json;

constexpr int64_t kLength = 32;

// Inputs N(0, 1) of shape {1, 32}, from a seed per batch index.
void FillInputs(uint64_t seed, int64_t count, Batch* batch) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  batch->size = count;
  batch->inputs.resize(count * kLength);
  for (float& value : batch->inputs)
    value = normal(rng);
}

// Dense target: position p is class 1 when x[p - 1] + x[p + 1] > 0 (zero
// outside the input), so each label needs a 3-sample window.
class NeighbourTask : public Task {
 public:
  NeighbourTask() { Fill(1000000, 256, &eval_); }
  std::vector<int64_t> sample_shape() const override { return {1, kLength}; }
  int num_classes() const override { return 2; }
  TargetKind target_kind() const override { return TargetKind::kDenseClass; }
  void TrainBatch(int64_t index, int64_t batch_size, Batch* batch) override {
    Fill(index, batch_size, batch);
  }
  const Batch& EvalSet() const override { return eval_; }
  int64_t train_samples() const override { return 0; }

 private:
  static void Fill(int64_t index, int64_t count, Batch* batch) {
    FillInputs(static_cast<uint64_t>(index) + 1, count, batch);
    batch->labels.resize(count * kLength);
    for (int64_t n = 0; n < count; ++n) {
      const float* x = batch->inputs.data() + n * kLength;
      for (int64_t p = 0; p < kLength; ++p) {
        float left = p > 0 ? x[p - 1] : 0.0f;
        float right = p + 1 < kLength ? x[p + 1] : 0.0f;
        batch->labels[n * kLength + p] = left + right > 0.0f ? 1 : 0;
      }
    }
  }
  Batch eval_;
};

// Regression target: the means of the first and the second half of x.
class HalfMeansTask : public Task {
 public:
  HalfMeansTask() { Fill(1000000, 256, &eval_); }
  std::vector<int64_t> sample_shape() const override { return {1, kLength}; }
  int num_classes() const override { return 0; }
  TargetKind target_kind() const override { return TargetKind::kRegression; }
  int64_t target_dim() const override { return 2; }
  void TrainBatch(int64_t index, int64_t batch_size, Batch* batch) override {
    Fill(index, batch_size, batch);
  }
  const Batch& EvalSet() const override { return eval_; }
  int64_t train_samples() const override { return 0; }

 private:
  static void Fill(int64_t index, int64_t count, Batch* batch) {
    FillInputs(static_cast<uint64_t>(index) + 1, count, batch);
    batch->targets.assign(count * 2, 0.0f);
    for (int64_t n = 0; n < count; ++n) {
      for (int64_t p = 0; p < kLength; ++p) {
        batch->targets[n * 2 + p * 2 / kLength] +=
            batch->inputs[n * kLength + p] / (kLength / 2);
      }
    }
  }
  Batch eval_;
};

struct TrainResult {
  EvalResult before;
  EvalResult after;
};

TrainResult TrainOnTask(Task* task, const json& model, int64_t steps) {
  omp_set_num_threads(1);  // tiny networks; more threads only add waiting
  Objective objective = task->target_kind() == TargetKind::kRegression
                            ? Objective::kRegression
                            : Objective::kDenseClass;
  int outputs = objective == Objective::kRegression ? static_cast<int>(task->target_dim())
                                                    : task->num_classes();
  NetSpec spec = BuildNetSpec(model, task->sample_shape(), outputs, objective);

  NetworkOptions options;
  options.batch_size = 32;
  options.eval_batch_size = 64;
  options.seed = 3;
  Network net(spec, options);
  OptimizerConfig config;
  config.lr = 3e-3;
  Optimizer optimizer(config, net.params());

  const Batch& eval = task->EvalSet();
  auto evaluate = [&] {
    return objective == Objective::kRegression
               ? net.Evaluate(eval.inputs.data(), eval.targets.data(), eval.size)
               : net.Evaluate(eval.inputs.data(), eval.labels.data(), eval.size);
  };
  TrainResult result;
  result.before = evaluate();

  Batch batch;
  for (int64_t step = 0; step < steps; ++step) {
    task->TrainBatch(step, 32, &batch);
    if (objective == Objective::kRegression) {
      net.TrainStep(batch.inputs.data(), batch.targets.data());
    } else {
      net.TrainStep(batch.inputs.data(), batch.labels.data());
    }
    optimizer.Step(&net.params());
    net.MarkParamsChanged();
  }
  result.after = evaluate();

  std::printf("%-9s %s: eval loss %.4f -> %.4f, accuracy %.3f, mae %.4f\n",
              model["family"].get<std::string>().c_str(),
              objective == Objective::kRegression ? "regression" : "dense",
              result.before.loss, result.after.loss, result.after.accuracy,
              result.after.mae);
  return result;
}

TEST_CASE("dense targets train unet", "[train][targets]") {
  NeighbourTask task;
  TrainResult result = TrainOnTask(
      &task, {{"family", "unet"}, {"depth", 2}, {"width", 8}, {"convs_per_level", 1}},
      300);
  CHECK(result.after.loss < 0.5 * result.before.loss);
  CHECK(result.after.accuracy > 0.9);
  CHECK(result.after.mae == 0.0);
}

TEST_CASE("dense targets train plain head", "[train][targets]") {
  NeighbourTask task;
  TrainResult result = TrainOnTask(
      &task, {{"family", "plain"}, {"depth", 2}, {"width", 8}, {"head", "dense"}}, 300);
  CHECK(result.after.loss < 0.5 * result.before.loss);
  CHECK(result.after.accuracy > 0.9);
}

TEST_CASE("dense targets train attention", "[train][targets]") {
  NeighbourTask task;
  TrainResult result = TrainOnTask(
      &task, {{"family", "attention"}, {"depth", 1}, {"width", 16}, {"head", "dense"}},
      300);
  CHECK(result.after.loss < 0.5 * result.before.loss);
  CHECK(result.after.accuracy > 0.85);
}

TEST_CASE("regression targets train", "[train][targets]") {
  HalfMeansTask task;
  for (const json& model :
       {json{{"family", "dilated"}, {"depth", 2}, {"width", 8}, {"head", "regression"}},
        json{{"family", "strided"}, {"depth", 2}, {"width", 8}, {"head", "regression"}},
        json{{"family", "spp"}, {"depth", 1}, {"width", 8}, {"head", "regression"}}}) {
    TrainResult result = TrainOnTask(&task, model, 300);
    INFO(model.dump());
    CHECK(result.after.loss < 0.2 * result.before.loss);
    CHECK(result.after.mae < result.before.mae);
    CHECK(result.after.accuracy == 0.0);
  }
}

}  // namespace
}  // namespace scalelock
