// Tests of the multiscale2d task: determinism, pair geometry, the blind
// ceiling and config validation.
#include "data/multiscale2d.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/fine_mark.h"
#include "data/task.h"
#include "test_util.h"

using data_test::BayesAccuracy;
using data_test::DrawBatch;
using data_test::InvalidInputMessage;
using nlohmann::json;
using scalelock::Batch;
using scalelock::MakeTask;
using scalelock::Multiscale2dLayout;
using scalelock::Multiscale2dTask;
using scalelock::ParseMultiscale2dParams;

namespace {

json Config(int64_t size, int64_t lambda_min, int64_t lambda_max, double noise) {
  return {{"name", "multiscale2d"},   {"size", size},   {"lambda_min", lambda_min},
          {"lambda_max", lambda_max}, {"noise", noise}, {"eval_samples", 32}};
}

json With(json config, const char* key, const json& value) {
  config[key] = value;
  return config;
}

}  // namespace

TEST_CASE("multiscale2d same index same batch", "[data][multiscale2d]") {
  auto first = MakeTask(Config(32, 2, 12, 0.1), 7);
  auto second = MakeTask(Config(32, 2, 12, 0.1), 7);
  auto other_seed = MakeTask(Config(32, 2, 12, 0.1), 8);
  const Batch a = DrawBatch(*first, 3, 16);
  DrawBatch(*second, 9, 16);
  const Batch b = DrawBatch(*second, 3, 16);
  CHECK(a.inputs == b.inputs);
  CHECK(a.labels == b.labels);
  CHECK(a.inputs.size() == 16u * 32u * 32u);
  CHECK(DrawBatch(*first, 4, 16).inputs != a.inputs);
  CHECK(DrawBatch(*other_seed, 3, 16).inputs != a.inputs);
  CHECK(first->EvalSet().inputs == second->EvalSet().inputs);
  CHECK(first->sample_shape() == std::vector<int64_t>{1, 32, 32});
  CHECK(first->num_classes() == 2);
  CHECK(first->blind_ceiling() == 0.5);
  CHECK(first->EvalSet().size == 32);
}

TEST_CASE("multiscale2d pair geometry", "[data][multiscale2d]") {
  for (int64_t lambda_min : {1, 2, 3}) {
    const int64_t lambda_max = 5 * lambda_min;
    const int64_t size = 2 * lambda_max + 2;
    Multiscale2dTask task(
        ParseMultiscale2dParams(Config(size, lambda_min, lambda_max, 0)), 11);
    const Batch batch = DrawBatch(task, 1, 100);
    int axis_counts[2] = {0, 0};
    for (int64_t row = 0; row < batch.size; ++row) {
      INFO("lambda_min " << lambda_min << " row " << row);
      const Multiscale2dLayout layout = task.TrainLayoutAt(100 + row);
      const float* x = batch.inputs.data() + row * size * size;

      // Each pair spans lambda_max end to end along its axis and is aligned on
      // the other; marks of different pairs are farther apart than that.
      for (int pair = 0; pair < 2; ++pair) {
        const int i = 2 * pair;
        ++axis_counts[layout.axes[pair]];
        const int64_t along = layout.axes[pair] == 0
                                  ? layout.cols[i + 1] - layout.cols[i]
                                  : layout.rows[i + 1] - layout.rows[i];
        const int64_t across = layout.axes[pair] == 0
                                   ? layout.rows[i + 1] - layout.rows[i]
                                   : layout.cols[i + 1] - layout.cols[i];
        CHECK(along + lambda_min == lambda_max);
        CHECK(across == 0);
      }
      for (int i = 0; i < 2; ++i) {
        for (int j = 2; j < 4; ++j) {
          const int64_t span = std::max(std::llabs(layout.rows[i] - layout.rows[j]),
                                        std::llabs(layout.cols[i] - layout.cols[j])) +
                               lambda_min;
          CHECK(span > lambda_max);
        }
      }

      // The image is the four marks and nothing else.
      std::vector<float> expected(static_cast<size_t>(size * size), 0.0f);
      for (int mark = 0; mark < 4; ++mark) {
        for (int64_t a = 0; a < lambda_min; ++a) {
          for (int64_t b = 0; b < lambda_min; ++b) {
            expected[static_cast<size_t>((layout.rows[mark] + a) * size +
                                         layout.cols[mark] + b)] =
                static_cast<float>(layout.polarities[mark] *
                                   scalelock::FineMarkSign(a, lambda_min) *
                                   scalelock::FineMarkSign(b, lambda_min));
          }
        }
      }
      CHECK(std::vector<float>(x, x + size * size) == expected);

      // The label is the XOR of either pair.
      const int32_t label = batch.labels[static_cast<size_t>(row)];
      CHECK(label == layout.label);
      CHECK(label == (layout.polarities[0] != layout.polarities[1] ? 1 : 0));
      CHECK(label == (layout.polarities[2] != layout.polarities[3] ? 1 : 0));
    }
    // Both axes occur (each pair's axis is a fair coin; 200 draws).
    CHECK(axis_counts[0] > 60);
    CHECK(axis_counts[1] > 60);
  }
}

TEST_CASE("multiscale2d single mark view is blind", "[data][multiscale2d]") {
  Multiscale2dTask task(ParseMultiscale2dParams(Config(24, 2, 8, 0)), 5);
  const int64_t count = 4000;
  std::vector<int32_t> labels;
  std::vector<std::vector<int>> mark_views(4);
  std::vector<int> positive_counts;
  std::vector<int> pair_views;
  for (int64_t i = 0; i < count; ++i) {
    const Multiscale2dLayout layout = task.TrainLayoutAt(i);
    labels.push_back(layout.label);
    int positives = 0;
    for (int mark = 0; mark < 4; ++mark) {
      const int positive = layout.polarities[mark] > 0 ? 1 : 0;
      mark_views[static_cast<size_t>(mark)].push_back(positive);
      positives += positive;
    }
    positive_counts.push_back(positives);
    pair_views.push_back(2 * (layout.polarities[2] > 0) + (layout.polarities[3] > 0));
  }
  // Accuracy 0.5 has sigma 0.008 over 4000 samples; 0.535 leaves over 4 sigma.
  for (size_t mark = 0; mark < 4; ++mark) {
    INFO("mark " << mark);
    CHECK(BayesAccuracy(mark_views[mark], labels) < 0.535);
  }
  CHECK(BayesAccuracy(positive_counts, labels) < 0.535);
  CHECK(BayesAccuracy(pair_views, labels) == 1.0);
}

TEST_CASE("multiscale2d pooled detector needs lambda_max", "[data][multiscale2d]") {
  // lambda_min 1: a mark is one pixel. sum relu(x) is what a 1x1 receptive
  // field plus global pooling sees; the lag-(lambda_max - 1) products along both
  // axes need a receptive field of lambda_max.
  const int64_t size = 24;
  const int64_t lambda_max = 8;
  auto task = MakeTask(Config(size, 1, lambda_max, 0.1), 9);
  const Batch batch = DrawBatch(*task, 0, 1000);
  const int64_t lag = lambda_max - 1;
  int local_correct = 0;
  int pair_correct = 0;
  for (int64_t row = 0; row < batch.size; ++row) {
    const float* x = batch.inputs.data() + row * size * size;
    double local = 0.0;
    double pair = 0.0;
    for (int64_t r = 0; r < size; ++r) {
      for (int64_t c = 0; c < size; ++c) {
        local += std::max(x[r * size + c], 0.0f);
        if (c + lag < size) pair += x[r * size + c] * x[r * size + c + lag];
        if (r + lag < size) pair += x[r * size + c] * x[(r + lag) * size + c];
      }
    }
    const int32_t label = batch.labels[static_cast<size_t>(row)];
    // Label 0 pairs are (a, a) and (-a, -a): the pair products sum to +2.
    pair_correct += (pair > 0.0 ? 0 : 1) == label ? 1 : 0;
    // Two +1 marks in every sample: relu pooling is about 2 + noise in both
    // classes, so a threshold at its median is a coin flip.
    local_correct += (local > 2.0 + 0.04 * size * size ? 1 : 0) == label ? 1 : 0;
  }
  // sigma of an accuracy near 0.5 over 1000 samples is 0.016.
  CHECK(local_correct / 1000.0 < 0.56);
  CHECK(pair_correct / 1000.0 > 0.97);
}

TEST_CASE("multiscale2d invalid fields raise", "[data][multiscale2d]") {
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"name", "multiscale2d"}, {"lambda_max", 8}}, "task.lambda_min"},
      {Config(32, 2, 3, 0.1), "task.lambda_max"},
      {Config(32, 2, 17, 0.1), "task.lambda_max"},
      {Config(3, 1, 2, 0.1), "task.size"},
      {Config(32, 2, 8, -1.0), "task.noise"},
      {With(Config(32, 2, 8, 0.1), "scale_ratio", 3), "task.scale_ratio"},
      {With(Config(32, 2, 8, 0.1), "eval_samples", 0), "task.eval_samples"},
      {With(Config(32, 2, 8, 0.1), "length", 32), "task.length"},
  };
  for (const auto& [config, field] : cases) {
    INFO(config.dump());
    CHECK_THAT(InvalidInputMessage([&] { MakeTask(config, 1); }), Catch::Contains(field));
  }
}
