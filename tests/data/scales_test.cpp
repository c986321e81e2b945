// Tests of the scale estimator: recovery of the configured lambda_min and
// lambda_max of the synthetic tasks within 10%, and its input checks.
#include "data/scales.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <vector>

#include "data/task.h"
#include "util/error.h"

using nlohmann::json;
using scalelock::Batch;
using scalelock::EstimateScales;
using scalelock::EstimateTaskScales;
using scalelock::MakeTask;
using scalelock::ScaleEstimate;
using scalelock::ScaleMethod;

namespace {

// Relative error of an estimate against the configured value.
double RelativeError(double estimate, double configured) {
  return std::fabs(estimate - configured) / configured;
}

ScaleEstimate EstimateFor(const json& config, int64_t samples) {
  auto task = MakeTask(config, 17);
  return EstimateTaskScales(*task, samples, ScaleMethod::kAuto);
}

}  // namespace

TEST_CASE("scales recover multiscale1d", "[data][scales]") {
  struct Case {
    int64_t length, lambda_min, lambda_max;
  };
  const std::vector<Case> cases = {{64, 1, 2},   {64, 1, 8},  {64, 2, 16},  {96, 3, 12},
                                   {128, 4, 32}, {96, 5, 20}, {128, 8, 16}, {256, 7, 56}};
  for (const Case& c : cases) {
    const json config = {
        {"name", "multiscale1d"},     {"length", c.length}, {"lambda_min", c.lambda_min},
        {"lambda_max", c.lambda_max}, {"noise", 0.1},       {"eval_samples", 1}};
    const ScaleEstimate estimate = EstimateFor(config, 400);
    INFO(config.dump() << " -> lambda_min " << estimate.lambda_min << ", lambda_max "
                       << estimate.lambda_max << ", contrast " << estimate.contrast);
    CHECK(estimate.method == ScaleMethod::kFeatures);
    CHECK(RelativeError(estimate.lambda_min, c.lambda_min) <= 0.10);
    CHECK(RelativeError(estimate.lambda_max, c.lambda_max) <= 0.10);
  }
}

TEST_CASE("scales recover tight multiscale1d", "[data][scales]") {
  // No free space: length = 3 * lambda_max - 2 * lambda_min + 1 fixes every
  // mark position, so marks of different pairs touch and the lag between the
  // pairs competes with the pair lag. Their polarity products average to zero
  // only over many samples, hence 2000 samples.
  struct Case {
    int64_t length, lambda_min, lambda_max;
  };
  for (const Case& c : std::vector<Case>{{17, 4, 8}, {13, 2, 5}, {22, 1, 7}}) {
    const json config = {
        {"name", "multiscale1d"},     {"length", c.length}, {"lambda_min", c.lambda_min},
        {"lambda_max", c.lambda_max}, {"noise", 0.1},       {"eval_samples", 1}};
    const ScaleEstimate estimate = EstimateFor(config, 2000);
    INFO(config.dump() << " -> lambda_min " << estimate.lambda_min << ", lambda_max "
                       << estimate.lambda_max);
    CHECK(RelativeError(estimate.lambda_min, c.lambda_min) <= 0.10);
    CHECK(RelativeError(estimate.lambda_max, c.lambda_max) <= 0.10);
  }
}

TEST_CASE("scales recover multiscale2d", "[data][scales]") {
  struct Case {
    int64_t size, lambda_min, lambda_max;
  };
  const std::vector<Case> cases = {{32, 1, 8}, {32, 2, 12}, {32, 4, 16}, {48, 3, 24}};
  for (const Case& c : cases) {
    const json config = {
        {"name", "multiscale2d"},     {"size", c.size}, {"lambda_min", c.lambda_min},
        {"lambda_max", c.lambda_max}, {"noise", 0.1},   {"eval_samples", 1}};
    const ScaleEstimate estimate = EstimateFor(config, 200);
    INFO(config.dump() << " -> lambda_min " << estimate.lambda_min << ", lambda_max "
                       << estimate.lambda_max << ", contrast " << estimate.contrast);
    CHECK(RelativeError(estimate.lambda_min, c.lambda_min) <= 0.10);
    CHECK(RelativeError(estimate.lambda_max, c.lambda_max) <= 0.10);
  }
}

TEST_CASE("scales recover dense1d", "[data][scales]") {
  struct Case {
    int64_t lambda_min, lambda_max;
  };
  for (const Case& c : std::vector<Case>{{1, 8}, {2, 16}, {4, 12}}) {
    const json config = {{"name", "dense1d"},
                         {"lambda_min", c.lambda_min},
                         {"lambda_max", c.lambda_max},
                         {"regions", 6},
                         {"eval_samples", 1}};
    const ScaleEstimate estimate = EstimateFor(config, 800);
    INFO(config.dump() << " -> lambda_min " << estimate.lambda_min << ", lambda_max "
                       << estimate.lambda_max << ", contrast " << estimate.contrast);
    CHECK(RelativeError(estimate.lambda_min, c.lambda_min) <= 0.10);
    CHECK(RelativeError(estimate.lambda_max, c.lambda_max) <= 0.10);
  }
}

TEST_CASE("scales recover forecast periods", "[data][scales]") {
  struct Case {
    std::vector<double> periods;
    std::vector<double> amplitudes;
    int64_t context;
  };
  const std::vector<Case> cases = {{{5, 40}, {1, 1}, 160},
                                   {{3.5, 12, 48}, {0.5, 1, 2}, 256},
                                   {{8, 24}, {1, 0.4}, 128}};
  for (const Case& c : cases) {
    const json config = {{"name", "forecast"},   {"context", c.context},
                         {"periods", c.periods}, {"amplitudes", c.amplitudes},
                         {"noise", 0.2},         {"eval_samples", 1}};
    const ScaleEstimate estimate = EstimateFor(config, 200);
    INFO(config.dump() << " -> lambda_min " << estimate.lambda_min << ", lambda_max "
                       << estimate.lambda_max);
    CHECK(estimate.method == ScaleMethod::kPeriods);
    REQUIRE(estimate.periods.size() == c.periods.size());
    for (size_t i = 0; i < c.periods.size(); ++i) {
      CHECK(RelativeError(estimate.periods[i], c.periods[i]) <= 0.10);
    }
    CHECK(RelativeError(estimate.lambda_min, c.periods.front()) <= 0.10);
    CHECK(RelativeError(estimate.lambda_max, c.periods.back()) <= 0.10);
  }
}
