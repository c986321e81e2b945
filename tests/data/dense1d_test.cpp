// Tests of the dense1d task: determinism, cell and key layout, per-position
// labels, the blind ceiling and config validation.
#include "data/dense1d.h"

#include <catch2/catch.hpp>
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
using scalelock::Dense1dLayout;
using scalelock::Dense1dTask;
using scalelock::MakeTask;
using scalelock::ParseDense1dParams;
using scalelock::TargetKind;

namespace {

json Config(int64_t lambda_min, int64_t lambda_max, int64_t regions, double noise) {
  return {{"name", "dense1d"},  {"lambda_min", lambda_min}, {"lambda_max", lambda_max},
          {"regions", regions}, {"noise", noise},           {"eval_samples", 16}};
}

// Sign (+1 or -1) of the region of cell `cell`: the product of its two keys.
int RegionSign(const Dense1dLayout& layout, int64_t cell, int64_t period) {
  const auto cells = static_cast<int64_t>(layout.polarities.size());
  int64_t left = cell / period * period;
  if (left == cells - 1) left -= period;
  return layout.polarities[static_cast<size_t>(left)] *
         layout.polarities[static_cast<size_t>(left + period)];
}

}  // namespace

TEST_CASE("dense1d shape and determinism", "[data][dense1d]") {
  auto first = MakeTask(Config(2, 8, 3, 0.1), 7);
  auto second = MakeTask(Config(2, 8, 3, 0.1), 7);
  // length = regions * (lambda_max - lambda_min) + lambda_min = 3 * 6 + 2.
  CHECK(first->sample_shape() == std::vector<int64_t>{1, 20});
  CHECK(first->target_kind() == TargetKind::kDenseClass);
  CHECK(first->num_classes() == 2);
  CHECK(first->blind_ceiling() == 0.5);
  const Batch a = DrawBatch(*first, 4, 8);
  DrawBatch(*second, 1, 8);
  const Batch b = DrawBatch(*second, 4, 8);
  CHECK(a.inputs == b.inputs);
  CHECK(a.labels == b.labels);
  CHECK(a.labels.size() == 8u * 20u);
  CHECK(DrawBatch(*first, 5, 8).inputs != a.inputs);
  CHECK(first->EvalSet().labels.size() == 16u * 20u);
  CHECK(first->EvalSet().inputs == second->EvalSet().inputs);
}

TEST_CASE("dense1d cells keys and labels", "[data][dense1d]") {
  for (int64_t lambda_min : {1, 2, 3}) {
    const int64_t lambda_max = 4 * lambda_min;
    const int64_t period = lambda_max / lambda_min - 1;
    Dense1dTask task(ParseDense1dParams(Config(lambda_min, lambda_max, 4, 0)), 3);
    const int64_t length = task.sample_shape()[1];
    const Batch batch = DrawBatch(task, 2, 50);
    for (int64_t row = 0; row < batch.size; ++row) {
      INFO("lambda_min " << lambda_min << " row " << row);
      const Dense1dLayout layout = task.TrainLayoutAt(100 + row);
      REQUIRE(static_cast<int64_t>(layout.polarities.size()) * lambda_min == length);
      const float* x = batch.inputs.data() + row * length;
      const int32_t* labels = batch.labels.data() + row * length;
      for (int64_t t = 0; t < length; ++t) {
        const int64_t cell = t / lambda_min;
        const int polarity = layout.polarities[static_cast<size_t>(cell)];
        const int amplitude = cell % period == 0 ? 2 : 1;
        const int sign = scalelock::FineMarkSign(t % lambda_min, lambda_min);
        CHECK(x[t] == static_cast<float>(amplitude * polarity * sign));
        const int expected = polarity * RegionSign(layout, cell, period) < 0 ? 1 : 0;
        CHECK(labels[t] == expected);
      }
      // Keys are lambda_max - lambda_min apart, start to start, and the last
      // cell is a key.
      CHECK((length / lambda_min - 1) % period == 0);
    }
  }
}

TEST_CASE("dense1d fine view is blind", "[data][dense1d]") {
  // Views of one position: its own cell (polarity and whether it is a key),
  // plus one key of its region; the label needs both keys.
  Dense1dTask task(ParseDense1dParams(Config(1, 6, 4, 0)), 5);
  const int64_t period = 5;
  std::vector<int32_t> labels;
  std::vector<int> fine_view;
  std::vector<int> one_key_view;
  std::vector<int> full_view;
  for (int64_t i = 0; i < 800; ++i) {
    const Dense1dLayout layout = task.TrainLayoutAt(i);
    const auto cells = static_cast<int64_t>(layout.polarities.size());
    for (int64_t cell = 0; cell < cells; ++cell) {
      int64_t left = cell / period * period;
      if (left == cells - 1) left -= period;
      const int own = layout.polarities[static_cast<size_t>(cell)] > 0 ? 1 : 0;
      const int is_key = cell % period == 0 ? 1 : 0;
      const int left_key = layout.polarities[static_cast<size_t>(left)] > 0 ? 1 : 0;
      const int right_key =
          layout.polarities[static_cast<size_t>(left + period)] > 0 ? 1 : 0;
      labels.push_back(own ^ left_key ^ right_key ? 0 : 1);
      fine_view.push_back(2 * own + is_key);
      // A key cell is one of its region's keys, so it sees no other key.
      one_key_view.push_back(3 * own + (is_key == 1 ? 2 : left_key));
      full_view.push_back(4 * own + 2 * left_key + right_key);
    }
  }
  // 800 * 21 = 16800 positions, but positions of one sample share keys; 0.53
  // leaves a margin of about 4 sigma for 800 independent samples.
  CHECK(BayesAccuracy(fine_view, labels) < 0.53);
  CHECK(BayesAccuracy(one_key_view, labels) < 0.53);
  CHECK(BayesAccuracy(full_view, labels) == 1.0);
}

TEST_CASE("dense1d invalid fields raise", "[data][dense1d]") {
  const std::vector<std::pair<json, std::string>> cases = {
      {Config(2, 3, 4, 0.1), "task.lambda_max"},
      {Config(2, 2, 4, 0.1), "task.lambda_max"},
      {Config(0, 8, 4, 0.1), "task.lambda_min"},
      {Config(2, 8, 0, 0.1), "task.regions"},
      {Config(1, 1 << 19, 4, 0.1), "task.regions"},
      {Config(2, 8, 4, -0.5), "task.noise"},
      {json{{"name", "dense1d"}, {"lambda_min", 2}}, "task.lambda_max"},
      {json{{"name", "dense1d"}, {"lambda_min", 2}, {"lambda_max", 8}, {"length", 9}},
       "task.length"},
  };
  for (const auto& [config, field] : cases) {
    INFO(config.dump());
    CHECK_THAT(InvalidInputMessage([&] { MakeTask(config, 1); }), Catch::Contains(field));
  }
}
