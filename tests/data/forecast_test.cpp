// Tests of the forecast task: the synthetic series against its formula, the
// Seattle temperature series (real file of python3-vega-datasets), the
// train/eval split and config validation.
#include "data/forecast.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "data/task.h"
#include "test_util.h"

using data_test::DrawBatch;
using data_test::InvalidInputMessage;
using nlohmann::json;
using scalelock::Batch;
using scalelock::ForecastTask;
using scalelock::MakeTask;
using scalelock::ParseForecastParams;
using scalelock::TargetKind;

namespace {

json Synthetic(double noise) {
  return {{"name", "forecast"}, {"periods", {6, 24}}, {"amplitudes", {0.5, 1.0}},
          {"context", 48},      {"horizon", 6},       {"noise", noise},
          {"eval_samples", 32}};
}

json Seattle(int64_t train_samples) {
  return {{"name", "forecast"}, {"source", "seattle_temps"},      {"context", 168},
          {"horizon", 24},      {"train_samples", train_samples}, {"eval_samples", 100}};
}

}  // namespace

TEST_CASE("forecast synthetic shape and determinism", "[data][forecast]") {
  auto first = MakeTask(Synthetic(0.1), 3);
  auto second = MakeTask(Synthetic(0.1), 3);
  CHECK(first->target_kind() == TargetKind::kRegression);
  CHECK(first->target_dim() == 6);
  CHECK(first->num_classes() == 0);
  CHECK(first->sample_shape() == std::vector<int64_t>{1, 48});
  CHECK(first->blind_ceiling() < 0.0);
  const Batch a = DrawBatch(*first, 2, 10);
  DrawBatch(*second, 7, 10);
  const Batch b = DrawBatch(*second, 2, 10);
  CHECK(a.inputs == b.inputs);
  CHECK(a.targets == b.targets);
  CHECK(a.targets.size() == 60u);
  CHECK(a.labels.empty());
  CHECK(DrawBatch(*first, 3, 10).inputs != a.inputs);
  CHECK(first->EvalSet().targets.size() == 32u * 6u);
}

TEST_CASE("forecast synthetic follows its formula", "[data][forecast]") {
  // Without noise, x(t) = 0.5 sin(2 pi t / 6 + p1) + sin(2 pi t / 24 + p2):
  // the series repeats every 24 samples, and x(t) + x(t + 12) keeps only the
  // 6-period part, which repeats every 6 samples.
  auto task = MakeTask(Synthetic(0.0), 5);
  const Batch batch = DrawBatch(*task, 0, 20);
  for (int64_t row = 0; row < batch.size; ++row) {
    std::vector<double> x;
    for (int64_t t = 0; t < 48; ++t)
      x.push_back(batch.inputs[static_cast<size_t>(row * 48 + t)]);
    for (int64_t t = 0; t < 6; ++t)
      x.push_back(batch.targets[static_cast<size_t>(row * 6 + t)]);
    for (int64_t t = 0; t + 24 < 54; ++t) {
      CHECK(x[static_cast<size_t>(t + 24)] ==
            Approx(x[static_cast<size_t>(t)]).margin(1e-5));
    }
    for (int64_t t = 0; t + 18 < 54; ++t) {
      const auto i = static_cast<size_t>(t);
      CHECK(x[i] + x[i + 12] == Approx(x[i + 6] + x[i + 18]).margin(1e-5));
    }
  }
}

TEST_CASE("forecast synthetic noise sets the floor", "[data][forecast]") {
  // The noise is independent per value, so x(t) - x(t + 24) is pure noise
  // with variance 2 * noise^2: the noise-free continuation is the best forecast
  // and its MSE is noise^2.
  auto task = MakeTask(Synthetic(0.3), 9);
  const Batch batch = DrawBatch(*task, 0, 400);
  double sum_squares = 0.0;
  int64_t count = 0;
  for (int64_t row = 0; row < batch.size; ++row) {
    const float* x = batch.inputs.data() + row * 48;
    for (int64_t t = 0; t + 24 < 48; ++t) {
      sum_squares += (x[t] - x[t + 24]) * (x[t] - x[t + 24]);
      ++count;
    }
  }
  // 9600 differences: relative sigma of the variance estimate is about 0.015.
  CHECK(sum_squares / static_cast<double>(count) == Approx(2 * 0.09).epsilon(0.06));
}

TEST_CASE("forecast seattle series and split", "[data][forecast]") {
  const auto raw = scalelock::CachedSeriesCsv(scalelock::kDefaultSeattleTempsPath);
  // seattle-temps.csv: 365 days of hourly values, 2010/01/01 00:00 = 39.4 F and
  // 2010/12/31 23:00 = 39.6 F (first and last lines of the file).
  CHECK(raw->size() == 8759u);
  CHECK(raw->front() == Approx(39.4f));
  CHECK(raw->back() == Approx(39.6f));

  ForecastTask task(ParseForecastParams(Seattle(0)), 1);
  const int64_t train_length = task.train_length();
  CHECK(train_length == 7007);  // floor(8759 * 0.8)
  // Training windows are every start whose window ends inside the first part.
  CHECK(task.train_samples() == train_length - 192 + 1);

  // Normalized by the training part: mean 0 and variance 1 there.
  const std::vector<float>& series = task.normalized_series();
  double sum = 0.0;
  double sum_squares = 0.0;
  for (int64_t t = 0; t < train_length; ++t) {
    sum += series[static_cast<size_t>(t)];
    sum_squares += series[static_cast<size_t>(t)] * series[static_cast<size_t>(t)];
  }
  CHECK(sum / static_cast<double>(train_length) == Approx(0.0).margin(1e-4));
  CHECK(sum_squares / static_cast<double>(train_length) == Approx(1.0).epsilon(1e-3));

  // A training batch row is the window at TrainWindowStartAt, inside the
  // training part; targets follow the context.
  const Batch batch = DrawBatch(task, 3, 16);
  for (int64_t row = 0; row < 16; ++row) {
    const int64_t start = task.TrainWindowStartAt(3 * 16 + row);
    CHECK(start >= 0);
    CHECK(start + 192 <= train_length);
    CHECK(batch.inputs[static_cast<size_t>(row * 168)] ==
          series[static_cast<size_t>(start)]);
    CHECK(batch.targets[static_cast<size_t>(row * 24 + 23)] ==
          series[static_cast<size_t>(start + 191)]);
  }

  // Evaluation windows lie in the held-out tail: the first starts at the split
  // and the last ends at the end of the series.
  const Batch& eval = task.EvalSet();
  CHECK(eval.size == 100);
  CHECK(eval.inputs[0] == series[static_cast<size_t>(train_length)]);
  CHECK(eval.targets.back() == series.back());
}

TEST_CASE("forecast seattle subsets are nested", "[data][forecast]") {
  ForecastTask small(ParseForecastParams(Seattle(50)), 4);
  ForecastTask large(ParseForecastParams(Seattle(200)), 4);
  CHECK(small.train_samples() == 50);
  std::set<int64_t> small_starts;
  std::set<int64_t> large_starts;
  for (int64_t position = 0; position < 200; ++position) {
    if (position < 50) small_starts.insert(small.TrainWindowStartAt(position));
    large_starts.insert(large.TrainWindowStartAt(position));
  }
  CHECK(small_starts.size() == 50u);
  CHECK(large_starts.size() == 200u);
  for (int64_t start : small_starts)
    CHECK(large_starts.count(start) == 1u);
}

TEST_CASE("forecast invalid fields raise", "[data][forecast]") {
  auto with = [](json config, const char* key, const json& value) {
    config[key] = value;
    return config;
  };
  json no_periods = Synthetic(0.1);
  no_periods.erase("periods");
  const std::vector<std::pair<json, std::string>> cases = {
      {no_periods, "task.periods"},
      {with(Synthetic(0.1), "periods", json::array()), "task.periods"},
      {with(Synthetic(0.1), "periods", {6, 1}), "task.periods[1]"},
      {with(Synthetic(0.1), "amplitudes", {1}), "task.amplitudes"},
      {with(Synthetic(0.1), "context", 20), "task.context"},
      {with(Synthetic(0.1), "horizon", 0), "task.horizon"},
      {with(Synthetic(0.1), "source", "weather"), "task.source"},
      {with(Synthetic(0.1), "eval_fraction", 0.3), "task.eval_fraction"},
      {with(Seattle(0), "periods", {24}), "task.periods"},
      {with(Seattle(0), "eval_fraction", 0.9), "task.eval_fraction"},
      {with(Seattle(0), "context", 2000), "task.context"},
  };
  for (const auto& [config, field] : cases) {
    INFO(config.dump());
    CHECK_THAT(InvalidInputMessage([&] { MakeTask(config, 1); }), Catch::Contains(field));
  }
}

TEST_CASE("forecast missing series file", "[data][forecast]") {
  json config = Seattle(0);
  config["data_path"] = "/nonexistent/seattle-temps.csv";
  try {
    MakeTask(config, 1);
    FAIL("no error");
  } catch (const scalelock::Error& error) {
    CHECK(error.code() == scalelock::ErrorCode::kNotFound);
    CHECK_THAT(error.what(), Catch::Contains("/nonexistent/seattle-temps.csv"));
    CHECK_THAT(error.what(), Catch::Contains("python3-vega-datasets"));
  }
}
