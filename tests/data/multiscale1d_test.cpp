// Tests of the multiscale1d task: determinism, label balance, mark geometry,
// the blind ceiling and config validation.
#include "data/multiscale1d.h"

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "data/task.h"
#include "util/error.h"

using nlohmann::json;
using scalelock::Batch;
using scalelock::Error;
using scalelock::ErrorCode;
using scalelock::MakeTask;
using scalelock::Multiscale1dLayout;
using scalelock::Multiscale1dTask;
using scalelock::ParseMultiscale1dParams;

namespace {

json Config(int64_t length, int64_t lambda_min, int64_t lambda_max, double noise) {
  return {{"name", "multiscale1d"},   {"length", length}, {"lambda_min", lambda_min},
          {"lambda_max", lambda_max}, {"noise", noise},   {"eval_samples", 64}};
}

Batch DrawBatch(scalelock::Task& task, int64_t index, int64_t size) {
  Batch batch;
  task.TrainBatch(index, size, &batch);
  return batch;
}

// Accuracy on the second half of a threshold on `feature`, with the threshold
// and its direction chosen on the first half.
double SplitHalfThresholdAccuracy(const std::vector<double>& feature,
                                  const std::vector<int32_t>& labels) {
  const size_t half = feature.size() / 2;
  double best_threshold = 0.0;
  int best_direction = 1;
  double best_fit = -1.0;
  for (size_t i = 0; i < half; ++i) {
    for (int direction : {1, -1}) {
      double correct = 0.0;
      for (size_t j = 0; j < half; ++j) {
        const int predicted = direction * (feature[j] - feature[i]) > 0 ? 1 : 0;
        correct += predicted == labels[j] ? 1.0 : 0.0;
      }
      if (correct > best_fit) {
        best_fit = correct;
        best_threshold = feature[i];
        best_direction = direction;
      }
    }
  }
  double correct = 0.0;
  for (size_t j = half; j < feature.size(); ++j) {
    const int predicted = best_direction * (feature[j] - best_threshold) > 0 ? 1 : 0;
    correct += predicted == labels[j] ? 1.0 : 0.0;
  }
  return correct / static_cast<double>(feature.size() - half);
}

// Best accuracy of any classifier that sees only `view` (a small integer per
// sample): the majority label per view value, counted in-sample.
double BayesAccuracy(const std::vector<int>& view, const std::vector<int32_t>& labels) {
  std::vector<std::array<int, 2>> counts;
  for (size_t i = 0; i < view.size(); ++i) {
    if (static_cast<size_t>(view[i]) >= counts.size()) counts.resize(view[i] + 1, {0, 0});
    ++counts[static_cast<size_t>(view[i])][static_cast<size_t>(labels[i])];
  }
  double correct = 0.0;
  for (const auto& count : counts)
    correct += std::max(count[0], count[1]);
  return correct / static_cast<double>(view.size());
}

}  // namespace

TEST_CASE("multiscale1d same index same batch", "[data][multiscale1d]") {
  auto first = MakeTask(Config(64, 2, 16, 0.1), 7);
  auto second = MakeTask(Config(64, 2, 16, 0.1), 7);
  // Different call orders must not change a batch.
  const Batch a5 = DrawBatch(*first, 5, 32);
  DrawBatch(*second, 9, 32);
  const Batch b5 = DrawBatch(*second, 5, 32);
  CHECK(a5.inputs == b5.inputs);
  CHECK(a5.labels == b5.labels);
  CHECK(a5.size == 32);
  CHECK(a5.inputs.size() == 32u * 64u);
  CHECK(first->EvalSet().inputs == second->EvalSet().inputs);
}

TEST_CASE("multiscale1d batches differ by index and seed", "[data][multiscale1d]") {
  auto task = MakeTask(Config(64, 2, 16, 0.1), 7);
  auto other_seed = MakeTask(Config(64, 2, 16, 0.1), 8);
  const Batch b5 = DrawBatch(*task, 5, 32);
  CHECK(DrawBatch(*task, 6, 32).inputs != b5.inputs);
  CHECK(DrawBatch(*other_seed, 5, 32).inputs != b5.inputs);
  CHECK(other_seed->EvalSet().inputs != task->EvalSet().inputs);
  // The evaluation stream is disjoint from the training stream.
  const Batch b0 = DrawBatch(*task, 0, 64);
  CHECK(std::vector<float>(b0.inputs.begin(), b0.inputs.begin() + 64) !=
        std::vector<float>(task->EvalSet().inputs.begin(),
                           task->EvalSet().inputs.begin() + 64));
}

TEST_CASE("multiscale1d labels are balanced", "[data][multiscale1d]") {
  auto task = MakeTask(Config(64, 1, 8, 0.1), 3);
  const Batch batch = DrawBatch(*task, 0, 4000);
  double ones = 0.0;
  for (int32_t label : batch.labels)
    ones += label;
  // Binomial(4000, 0.5) has sigma 0.0079 in the fraction; 0.035 is 4.4 sigma.
  CHECK(ones / 4000.0 == Approx(0.5).margin(0.035));
  const auto& eval = task->EvalSet();
  CHECK(eval.size == 64);
  for (int32_t label : eval.labels)
    CHECK((label == 0 || label == 1));
}

TEST_CASE("multiscale1d pair geometry", "[data][multiscale1d]") {
  for (int64_t lambda_min : {1, 3, 4}) {
    const int64_t lambda_max = 5 * lambda_min;
    const int64_t length = 64;
    Multiscale1dTask task(
        ParseMultiscale1dParams(Config(length, lambda_min, lambda_max, 0)), 11);
    const Batch batch = DrawBatch(task, 2, 200);
    for (int64_t row = 0; row < batch.size; ++row) {
      INFO("lambda_min " << lambda_min << " row " << row);
      const Multiscale1dLayout layout = task.TrainLayoutAt(2 * 200 + row);
      const float* x = batch.inputs.data() + row * length;
      const int64_t* s = layout.starts;

      // Each pair spans exactly lambda_max samples end to end, and marks of
      // different pairs span more than lambda_max.
      CHECK(s[1] + lambda_min - s[0] == lambda_max);
      CHECK(s[3] + lambda_min - s[2] == lambda_max);
      CHECK(s[2] + lambda_min - s[1] > lambda_max);
      CHECK(s[0] >= 0);
      CHECK(s[3] + lambda_min <= length);

      // The signal is the marks and nothing else; each mark reads +p then -p.
      std::vector<float> expected(static_cast<size_t>(length), 0.0f);
      for (int mark = 0; mark < 4; ++mark) {
        for (int64_t j = 0; j < lambda_min; ++j) {
          const int sign = j < (lambda_min + 1) / 2 ? 1 : -1;
          expected[static_cast<size_t>(s[mark] + j)] =
              static_cast<float>(sign * layout.polarities[mark]);
        }
      }
      CHECK(std::vector<float>(x, x + length) == expected);

      // The label is the XOR of either pair, and the marks are balanced.
      const int32_t label = batch.labels[static_cast<size_t>(row)];
      CHECK(label == layout.label);
      CHECK(label == (x[s[0]] != x[s[1]] ? 1 : 0));
      CHECK(label == (x[s[2]] != x[s[3]] ? 1 : 0));
      CHECK(x[s[0]] + x[s[1]] + x[s[2]] + x[s[3]] == 0.0f);
    }
  }
}

TEST_CASE("multiscale1d single mark view is blind", "[data][multiscale1d]") {
  Multiscale1dTask task(ParseMultiscale1dParams(Config(64, 2, 12, 0)), 5);
  const int64_t count = 4000;
  std::vector<int32_t> labels;
  std::vector<std::vector<int>> mark_views(4);
  std::vector<int> positive_counts;
  std::vector<int> pair_views;
  for (int64_t i = 0; i < count; ++i) {
    const Multiscale1dLayout layout = task.TrainLayoutAt(i);
    labels.push_back(layout.label);
    int positives = 0;
    for (int mark = 0; mark < 4; ++mark) {
      const int positive = layout.polarities[mark] > 0 ? 1 : 0;
      mark_views[static_cast<size_t>(mark)].push_back(positive);
      positives += positive;
    }
    positive_counts.push_back(positives);
    pair_views.push_back(2 * (layout.polarities[0] > 0) + (layout.polarities[1] > 0));
  }
  // A model that sees one mark at a time learns its polarity and, after global
  // pooling, the number of +1 marks. Neither predicts the label: accuracy 0.5
  // has sigma 0.008 over 4000 samples, so 0.535 leaves over 4 sigma.
  for (size_t mark = 0; mark < 4; ++mark) {
    INFO("mark " << mark);
    CHECK(BayesAccuracy(mark_views[mark], labels) < 0.535);
  }
  CHECK(BayesAccuracy(positive_counts, labels) < 0.535);
  // Seeing both marks of one pair determines the label.
  CHECK(BayesAccuracy(pair_views, labels) == 1.0);
}

TEST_CASE("multiscale1d pooled detector needs lambda_max", "[data][multiscale1d]") {
  // lambda_min 1: a mark is one sample. Two pooled features on noisy inputs:
  // sum_t relu(x_t) is what a receptive field of 1 plus global pooling sees,
  // sum_t x_t * x_{t+lambda_max-1} needs a receptive field of lambda_max.
  const int64_t length = 48;
  const int64_t lambda_max = 12;
  auto task = MakeTask(Config(length, 1, lambda_max, 0.1), 9);
  const Batch batch = DrawBatch(*task, 0, 2000);
  std::vector<double> local_feature;
  std::vector<double> pair_feature;
  for (int64_t row = 0; row < batch.size; ++row) {
    const float* x = batch.inputs.data() + row * length;
    double local = 0.0;
    double pair = 0.0;
    for (int64_t t = 0; t < length; ++t)
      local += std::max(x[t], 0.0f);
    for (int64_t t = 0; t + lambda_max - 1 < length; ++t)
      pair += x[t] * x[t + lambda_max - 1];
    local_feature.push_back(local);
    pair_feature.push_back(pair);
  }
  // 1000 held-out samples: sigma of an accuracy near 0.5 is 0.016.
  const double local_accuracy = SplitHalfThresholdAccuracy(local_feature, batch.labels);
  const double pair_accuracy = SplitHalfThresholdAccuracy(pair_feature, batch.labels);
  CHECK(local_accuracy < 0.56);
  CHECK(pair_accuracy > 0.97);
}

TEST_CASE("multiscale1d pool cycles its samples", "[data][multiscale1d]") {
  json config = Config(32, 1, 6, 0.1);
  config["train_samples"] = 8;
  auto task = MakeTask(config, 4);
  CHECK(task->train_samples() == 8);
  // Positions 0..7 are one epoch (each sample once), 8..15 the next.
  std::vector<std::vector<float>> epoch0;
  std::vector<std::vector<float>> epoch1;
  for (int64_t index = 0; index < 4; ++index) {
    const Batch batch = DrawBatch(*task, index, 4);
    for (int64_t row = 0; row < 4; ++row) {
      std::vector<float> sample(batch.inputs.begin() + row * 32,
                                batch.inputs.begin() + (row + 1) * 32);
      (index < 2 ? epoch0 : epoch1).push_back(sample);
    }
  }
  const std::set<std::vector<float>> distinct0(epoch0.begin(), epoch0.end());
  const std::set<std::vector<float>> distinct1(epoch1.begin(), epoch1.end());
  CHECK(distinct0.size() == 8u);
  CHECK(distinct1 == distinct0);
  CHECK(epoch1 != epoch0);
}

TEST_CASE("multiscale1d shape and ceiling", "[data][multiscale1d]") {
  auto task = MakeTask(Config(64, 2, 16, 0.1), 1);
  CHECK(task->sample_shape() == std::vector<int64_t>{1, 64});
  CHECK(task->num_classes() == 2);
  CHECK(task->blind_ceiling() == 0.5);
  CHECK(task->train_samples() == 0);
  CHECK(task->EvalSet().inputs.size() == 64u * 64u);
}

TEST_CASE("multiscale1d accepts largest lambda_max", "[data][multiscale1d]") {
  // 3 * 21 - 2 * 1 + 1 = 62 <= 64 fits, and 22 would need 65.
  CHECK_NOTHROW(MakeTask(Config(64, 1, 21, 0.1), 1));
  json config = Config(64, 2, 16, 0.1);
  config["scale_ratio"] = 8.0;
  CHECK_NOTHROW(MakeTask(config, 1));
  config["lambda_max"] = 16.0;  // integral floats are integers
  CHECK_NOTHROW(MakeTask(config, 1));
}

TEST_CASE("multiscale1d invalid fields raise", "[data][multiscale1d]") {
  struct Case {
    const char* field;
    std::function<void(json&)> mutate;
  };
  const std::vector<Case> cases = {
      {"task.length", [](json& c) { c["length"] = "long"; }},
      {"task.length", [](json& c) { c["length"] = 2; }},
      {"task.lambda_min", [](json& c) { c["lambda_min"] = 0; }},
      {"task.lambda_min", [](json& c) { c.erase("lambda_min"); }},
      {"task.lambda_max", [](json& c) { c["lambda_max"] = 3; }},
      {"task.lambda_max", [](json& c) { c["lambda_max"] = 23; }},
      {"task.lambda_max", [](json& c) { c["lambda_max"] = 12.5; }},
      {"task.scale_ratio", [](json& c) { c["scale_ratio"] = 4; }},
      {"task.noise", [](json& c) { c["noise"] = -0.1; }},
      {"task.train_samples", [](json& c) { c["train_samples"] = -1; }},
      {"task.train_samples", [](json& c) { c["train_samples"] = 1 << 25; }},
      {"task.eval_samples", [](json& c) { c["eval_samples"] = 0; }},
      {"task.lenght", [](json& c) { c["lenght"] = 64; }},
      {"task.name", [](json& c) { c["name"] = "multiscale3d"; }},
  };
  for (const Case& test : cases) {
    json config = Config(64, 2, 16, 0.1);
    test.mutate(config);
    INFO(config.dump());
    try {
      MakeTask(config, 1);
      FAIL("no error");
    } catch (const Error& error) {
      CHECK(error.code() == ErrorCode::kInvalidInput);
      CHECK_THAT(error.what(), Catch::Contains(test.field));
    }
  }
}
