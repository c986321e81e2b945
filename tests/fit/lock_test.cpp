#include "fit/lock.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "fit/synthetic.h"

namespace scalelock {
namespace {

using testing::LockRuns;
using testing::LogSpace;

LockOptions Options(int bootstrap) {
  LockOptions options;
  options.ceiling = 0.5;
  options.bootstrap = bootstrap;
  options.seed = 1;
  return options;
}

TEST_CASE("lock recovers logistic threshold", "[fit]") {
  const auto points = LockRuns(LogSpace(2.0, 64.0, 11), 8.0, 4.0, 0.02, 3, 31);
  const LockCurve curve = FitLockCurve(points, Options(200));
  REQUIRE(curve.threshold.status == "ok");
  CHECK(curve.threshold.r_star == Approx(8.0).epsilon(0.05));
  CHECK(curve.threshold.crossing == Approx(8.0).epsilon(0.15));
  CHECK(curve.threshold.slope == Approx(4.0).epsilon(0.3));
  CHECK(curve.r_star_ci.low < 8.0);
  CHECK(curve.r_star_ci.high > 8.0);
  CHECK(curve.bootstrap_ok > 150);
  CHECK(curve.runs == 33);
}

TEST_CASE("lock crossing interpolates geometrically", "[fit]") {
  // Mean 0.9 at r = 4 and 0.6 at r = 16: midpoint 0.75 lies halfway in log r.
  const std::vector<LockPoint> points = {{4.0, 0.9, "a", 1}, {16.0, 0.6, "b", 2}};
  const Threshold t = FitThreshold(points, Options(0));
  REQUIRE(t.status == "ok");
  CHECK(t.crossing == Approx(8.0));
}

TEST_CASE("lock not reached above range", "[fit]") {
  const auto points = LockRuns(LogSpace(2.0, 16.0, 6), 1000.0, 4.0, 0.01, 2, 32);
  const LockCurve curve = FitLockCurve(points, Options(50));
  CHECK(curve.threshold.status == "not reached: r* > max tested r");
  CHECK(std::isnan(curve.threshold.r_star));
  CHECK(std::isnan(curve.threshold.crossing));
  CHECK(curve.bootstrap_ok == 0);
}

TEST_CASE("lock not reached below range", "[fit]") {
  const auto points = LockRuns(LogSpace(20.0, 200.0, 5), 2.0, 4.0, 0.01, 2, 33);
  const Threshold t = FitThreshold(points, Options(0));
  CHECK(t.status == "not reached: r* < min tested r");
}

TEST_CASE("threshold regression recovers slope", "[fit]") {
  // r* = RF / (delta lambda_min) with delta 2 and lambda_min 2: r* = RF / 4.
  std::vector<LockCurve> curves;
  unsigned seed = 40;
  for (int64_t rf : {16, 32, 64, 128}) {
    const double r_star = rf / 4.0;
    const auto points =
        LockRuns(LogSpace(r_star / 8, r_star * 8, 13), r_star, 5.0, 0.01, 2, seed++);
    LockCurve curve = FitLockCurve(points, Options(100));
    curve.rf = rf;
    curve.lambda_min = 2.0;
    curves.push_back(curve);
  }
  const ThresholdRegression rf = RegressThreshold(curves, false);
  REQUIRE(rf.status == "ok");
  CHECK(rf.slope == Approx(1.0).margin(0.05));
  CHECK(rf.r_squared > 0.99);
  CHECK(rf.delta == Approx(2.0).epsilon(0.05));
  CHECK(rf.slope_ci.low < 1.0);
  CHECK(rf.slope_ci.high > 1.0);

  const ThresholdRegression erf = RegressThreshold(curves, true);  // no erf values
  CHECK(erf.status.rfind("skipped", 0) == 0);
}

}  // namespace
}  // namespace scalelock
