// BuildNetSpec and ComputeNetStats for the multi-scale families on
// hand-computed cases, and the errors for configs a family cannot build.
#include <catch2/catch.hpp>
#include <string>

#include "model/net_spec.h"
#include "util/error.h"

namespace scalelock {
namespace {

using nlohmann::json;

std::string BuildError(const json& model, const Shape& input, int classes,
                       Objective objective) {
  try {
    BuildNetSpec(model, input, classes, objective);
  } catch (const Error& error) {
    CHECK(error.code() == ErrorCode::kInvalidInput);
    return error.what();
  }
  return "";
}

TEST_CASE("strided stats by hand", "[model][families]") {
  json model = {
      {"family", "strided"}, {"depth", 2}, {"kernel", 3}, {"width", 4}, {"stride", 2}};
  NetSpec net = BuildNetSpec(model, {1, 16}, 2);
  NetStats stats = ComputeNetStats(net);
  CHECK(net.shapes[1] == Shape{4, 8});
  CHECK(net.shapes[2] == Shape{4, 4});
  CHECK(stats.params == 16 + 52 + 10);
  // convs 2*4*8*3 + 32 and 2*4*4*12 + 16, GAP 4, linear 2*2*4.
  CHECK(stats.forward_flops == Approx(224 + 400 + 4 + 16));
  CHECK(stats.receptive_field == 1 + 2 * 1 + 2 * 2);
  CHECK(stats.effective_stride == 4);
  CHECK(stats.effective_padding == 1 * 1 + 1 * 2);
}

TEST_CASE("unet stats by hand", "[model][families]") {
  json model = {{"family", "unet"},
                {"depth", 1},
                {"kernel", 3},
                {"width", 2},
                {"convs_per_level", 1}};
  NetSpec net = BuildNetSpec(model, {1, 8}, 3, Objective::kDenseClass);
  NetStats stats = ComputeNetStats(net);
  CHECK(net.shapes.back() == Shape{3, 8});
  CHECK(net.layers[5].kind == LayerKind::kConcat);
  CHECK(net.shapes[6] == Shape{4, 8});
  // convs 8, 28, 26, deconv 2*4*2 + 2 = 18, dense head 3*2 + 3 = 9.
  CHECK(stats.params == 8 + 28 + 18 + 26 + 9);
  // conv 112, pool 8, bottom conv 208, deconv 2*16*2*2 = 128, relu 16,
  // concat 0, up conv 400, head 96.
  CHECK(stats.forward_flops == Approx(112 + 8 + 208 + 128 + 16 + 400 + 96));
  // 3, pool 4, bottom conv 4 + 2 * 2 = 8, deconv keeps 8, up conv 8 + 2.
  CHECK(stats.receptive_field == 10);
  CHECK(stats.effective_stride == 1);
  CHECK(stats.effective_padding == 4);
  CHECK(net.feature_layer == static_cast<int64_t>(net.layers.size()) - 2);
}

TEST_CASE("attention stats by hand", "[model][families]") {
  json model = {
      {"family", "attention"}, {"depth", 1}, {"kernel", 3}, {"width", 4}, {"heads", 2}};
  NetSpec net = BuildNetSpec(model, {1, 6}, 2);
  NetStats stats = ComputeNetStats(net);
  // stem 16, Q K V 3 x 20, output 20, MLP 40 and 36, linear 10.
  CHECK(stats.params == 16 + 60 + 20 + 40 + 36 + 10);
  // stem 168, positional 24, Q K V 576, attention 4*4*36 + 2*36 = 648,
  // output 192, add 24, MLP 432 and 384, add 24, GAP 4, linear 16.
  CHECK(stats.forward_flops ==
        Approx(168 + 24 + 576 + 648 + 192 + 24 + 432 + 384 + 24 + 4 + 16));
  CHECK(stats.receptive_field == 3 + 5);
  CHECK(stats.effective_stride == 1);
  CHECK(stats.effective_padding == 1);
  CHECK(stats.width == 8);
}

TEST_CASE("spp concatenates pooled levels", "[model][families]") {
  json model = {{"family", "spp"}, {"depth", 1}, {"width", 3}, {"levels", {1, 2, 4}}};
  NetSpec net = BuildNetSpec(model, {1, 8}, 2);
  const LayerSpec& concat = net.layers[4];
  CHECK(concat.kind == LayerKind::kConcat);
  CHECK(concat.inputs == std::vector<int64_t>{2, 3, 4});
  CHECK(net.shapes[5] == Shape{3 * (1 + 2 + 4)});
  CHECK(net.layers[2].kernel == 4);  // 2 bins over 8 samples
  CHECK(net.layers[2].stride == 4);
  CHECK(ComputeNetStats(net).receptive_field == 3);  // the trunk only
}

TEST_CASE("families reject unfit configs", "[model][families]") {
  CHECK_THAT(
      BuildError({{"family", "unet"}, {"depth", 2}}, {1, 10}, 2, Objective::kDenseClass),
      Catch::Contains("must be divisible by 2^2"));
  CHECK_THAT(
      BuildError({{"family", "fpn"}, {"depth", 3}}, {1, 12}, 2, Objective::kDenseClass),
      Catch::Contains("must be divisible by 2^3"));
  CHECK_THAT(
      BuildError({{"family", "plain"}, {"head", "dense"}}, {1, 16}, 2, Objective::kClass),
      Catch::Contains("model.head"));
  CHECK_THAT(BuildError({{"family", "plain"}, {"head", "gap"}}, {1, 16}, 2,
                        Objective::kDenseClass),
             Catch::Contains("one class per position"));
  CHECK_THAT(
      BuildError(
          {{"family", "plain"}, {"head", "dense"}, {"pool", "max"}, {"pool_every", 1}},
          {1, 16}, 2, Objective::kDenseClass),
      Catch::Contains("input resolution"));
  CHECK_THAT(BuildError({{"family", "spp"}, {"depth", 1}, {"levels", {1, 16}}}, {1, 8}, 2,
                        Objective::kClass),
             Catch::Contains("model.levels[1]"));
  CHECK_THAT(BuildError({{"family", "attention"}, {"width", 4}, {"heads", 3}}, {1, 8}, 2,
                        Objective::kClass),
             Catch::Contains("3 heads do not divide the 4 channels"));
  CHECK_THAT(BuildError({{"family", "strided"}, {"head", "regression"}}, {1, 16}, 2,
                        Objective::kClass),
             Catch::Contains("targets are classes"));
  CHECK_THAT(
      BuildError({{"family", "custom"}, {"layers", {{{"type", "linear"}, {"out", 2}}}}},
                 {1, 8}, 2, Objective::kDenseClass),
      Catch::Contains("one class per position"));
  CHECK_THAT(BuildError({{"family", "unet"}}, {1, 8, 12}, 2, Objective::kClass),
             Catch::Contains("square 2D inputs"));
}

}  // namespace
}  // namespace scalelock
