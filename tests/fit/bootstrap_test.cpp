#include "fit/bootstrap.h"

#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "fit/scaling_report.h"
#include "fit/synthetic.h"

namespace scalelock {
namespace {

using testing::AtX;
using testing::LogSpace;
using testing::NoisyPoints;

TEST_CASE("percentile interval known answer", "[fit]") {
  std::vector<double> values;
  for (int i = 100; i >= 0; --i)
    values.push_back(i);  // 0..100, unsorted
  const Interval interval = PercentileInterval(values);
  CHECK(interval.low == Approx(2.5));
  CHECK(interval.high == Approx(97.5));
}

TEST_CASE("standard deviation known answer", "[fit]") {
  CHECK(StandardDeviation({2, 4, 4, 4, 5, 5, 7, 9}) == Approx(2.13809).epsilon(1e-5));
}

TEST_CASE("bootstrap keeps seeds together", "[fit]") {
  // Three configs with two seeds each, listed interleaved.
  const std::vector<std::string> keys = {"a", "b", "c", "a", "b", "c"};
  const std::vector<std::vector<size_t>> groups = GroupByKey(keys);
  REQUIRE(groups.size() == 3);
  CHECK(groups[0] == std::vector<size_t>{0, 3});

  for (int replicate = 0; replicate < 20; ++replicate) {
    const std::vector<size_t> items = DrawItems(groups, 5, replicate);
    REQUIRE(items.size() == 6);
    std::map<std::string, int> count;
    for (size_t i : items)
      ++count[keys[i]];
    for (const auto& [key, n] : count)
      CHECK(n % 2 == 0);  // whole configs only
  }
}

TEST_CASE("bootstrap draws are deterministic", "[fit]") {
  CHECK(DrawGroups(50, 42, 7) == DrawGroups(50, 42, 7));
  CHECK(DrawGroups(50, 42, 7) != DrawGroups(50, 42, 8));
  CHECK(DrawGroups(50, 42, 7) != DrawGroups(50, 43, 7));
}

TEST_CASE("bootstrap interval covers truth", "[fit]") {
  const auto points =
      NoisyPoints(Form::kPower, {1.0, 30.0, 0.4}, AtX(LogSpace(1e2, 1e8, 40)), 0.02, 21);
  ScalingOptions options;
  options.form = Form::kPower;
  options.bootstrap = 200;
  options.seed = 3;
  const ScalingReport report = AnalyzeScaling(points, options);
  REQUIRE(report.fit.ok);
  CHECK(report.bootstrap_ok >= 190);
  const Interval alpha = report.ci.at("alpha");
  CHECK(alpha.low < 0.4);
  CHECK(alpha.high > 0.4);
  CHECK(alpha.high - alpha.low < 0.2);
  CHECK(report.se.at("alpha") > 0.0);

  // Same seed, same intervals, regardless of TBB scheduling.
  const ScalingReport again = AnalyzeScaling(points, options);
  CHECK(again.ci.at("alpha").low == alpha.low);
  CHECK(again.ci.at("alpha").high == alpha.high);
}

TEST_CASE("extrapolation error is small on exact law", "[fit]") {
  const auto points =
      NoisyPoints(Form::kPower, {1.0, 30.0, 0.4}, AtX(LogSpace(1e2, 1e8, 40)), 0.0, 1);
  ScalingOptions options;
  options.form = Form::kPower;
  options.bootstrap = 0;
  const ScalingReport report = AnalyzeScaling(points, options);
  CHECK(report.extrapolation.status == "ok");
  CHECK(report.extrapolation.fit_points == 30);
  CHECK(report.extrapolation.test_points == 10);
  CHECK(report.extrapolation.max_relative_error < 1e-3);
}

TEST_CASE("frontier exponent from chinchilla fit", "[fit]") {
  std::vector<ScalingPoint> at;
  for (double n : LogSpace(1e6, 1e10, 6)) {
    for (double d : LogSpace(1e8, 1e12, 6))
      at.push_back({n, d, 0.0, "", 0});
  }
  const auto points =
      NoisyPoints(Form::kChinchilla, {1.7, 400.0, 1500.0, 0.3, 0.45}, at, 0.0, 1);
  ScalingOptions options;
  options.form = Form::kChinchilla;
  options.bootstrap = 0;
  const ScalingReport report = AnalyzeScaling(points, options);
  REQUIRE(report.frontier.has_value());
  CHECK(report.frontier->a == Approx(0.45 / 0.75).margin(0.01));  // beta / (alpha + beta)
  REQUIRE(report.frontier->budgets.size() == 3);
  const Frontier::Budget& budget = report.frontier->budgets[1];
  CHECK(6.0 * budget.n_opt * budget.d_opt == Approx(budget.compute).epsilon(1e-9));
}

}  // namespace
}  // namespace scalelock
