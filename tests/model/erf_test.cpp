// Effective receptive field: radii of hand-made gradient maps, and the
// sqrt(depth) growth of the ERF of plain ReLU stacks at initialisation
// (Luo et al. 2016) against the linear growth of the theoretical RF.
#include "model/erf.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <random>

#include "model_testing.h"

namespace scalelock {
namespace {

using nlohmann::json;

TEST_CASE("erf radii of uniform 1d map", "[model][erf]") {
  // Centre 2; masses within distance 0, 1, 2 are 1, 3, 5 of a total of 5.
  ErfRadii radii = RadiiOfMap({1, 1, 1, 1, 1}, {5});
  CHECK(radii.radius50 == Approx(0.75).margin(1e-12));   // 0 + (2.5 - 1) / 2
  CHECK(radii.radius95 == Approx(1.875).margin(1e-12));  // 1 + (4.75 - 3) / 2
}

TEST_CASE("erf radii of 2d delta", "[model][erf]") {
  std::vector<double> map(25, 0.0);
  map[1 * 5 + 3] = 2.0;  // row 1, column 3: the centre of mass
  ErfRadii radii = RadiiOfMap(map, {5, 5});
  CHECK(radii.radius50 == 0.0);
  CHECK(radii.radius95 == 0.0);
}

TEST_CASE("erf radii of empty map", "[model][erf]") {
  ErfRadii radii = RadiiOfMap({0, 0, 0}, {3});
  CHECK(std::isnan(radii.radius50));
  CHECK(std::isnan(radii.radius95));
}

// Mean gradient map of a plain stack over init seeds, on 32 N(0, 1) inputs.
std::vector<double> PlainStackMap(int64_t depth, const Shape& input, int64_t* rf) {
  testing::UseOneThread();
  json model = {{"family", "plain"}, {"depth", depth}, {"kernel", 3}, {"width", 16}};
  NetSpec spec = BuildNetSpec(model, input, 2);
  *rf = ComputeNetStats(spec).receptive_field;
  const int64_t count = 32;
  std::mt19937_64 rng(123);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> inputs(count * ShapeSize(input));
  for (float& value : inputs)
    value = normal(rng);

  std::vector<double> mean(ShapeSize(input) / input[0], 0.0);
  const int seeds = 3;
  for (int seed = 0; seed < seeds; ++seed) {
    NetworkOptions options;
    options.batch_size = 1;
    options.eval_batch_size = 1;
    options.seed = 1000 + seed;
    Network net(spec, options);  // only for its initialised parameters
    std::vector<double> map = InputGradientMap(spec, net.params(), inputs.data(), count);
    for (size_t i = 0; i < map.size(); ++i)
      mean[i] += map[i] / seeds;
  }
  return mean;
}

TEST_CASE("erf plain stack grows like sqrt depth", "[model][erf]") {
  const Shape input = {1, 301};
  std::vector<double> radius50;
  for (int64_t depth : {4, 16, 64}) {
    int64_t rf = 0;
    std::vector<double> map = PlainStackMap(depth, input, &rf);
    ErfRadii radii = RadiiOfMap(map, {301});
    std::printf("erf plain depth %2lld: RF %3lld, r50 %.2f, r95 %.2f, ratio %.3f\n",
                static_cast<long long>(depth), static_cast<long long>(rf), radii.radius50,
                radii.radius95, (2 * radii.radius95 + 1) / rf);
    CHECK(rf == 2 * depth + 1);
    CHECK(2 * radii.radius95 + 1 <= rf);
    radius50.push_back(radii.radius50);
  }
  // RF grows 16x from depth 4 to 64; the ERF radius about sqrt(16) = 4x.
  double growth = radius50[2] / radius50[0];
  INFO("r50 growth from depth 4 to 64: " << growth);
  CHECK(std::abs(growth - 4.0) < std::abs(growth - 16.0));
  CHECK(growth > 2.0);
}

TEST_CASE("erf measure ratio uses rf", "[model][erf]") {
  testing::UseOneThread();
  json model = {{"family", "dilated"}, {"depth", 3}, {"kernel", 3}, {"width", 4}};
  NetSpec spec = BuildNetSpec(model, {1, 41}, 2);
  NetworkOptions options;
  options.batch_size = 1;
  options.eval_batch_size = 1;
  Network net(spec, options);
  std::vector<float> inputs = testing::UniformValues(4 * 41, 5);
  ErfResult erf = MeasureErf(spec, net.params(), inputs.data(), 4);
  CHECK(erf.radius50 > 0.0);
  CHECK(erf.radius95 >= erf.radius50);
  // RF of dilations 1, 2, 4 with k = 3: 1 + 2 * (1 + 2 + 4) = 15.
  CHECK(erf.ratio == Approx((2 * erf.radius95 + 1) / 15.0).epsilon(1e-12));
}

}  // namespace
}  // namespace scalelock
