// BuildNetSpec and ComputeNetStats on hand-computed cases, and the errors
// for invalid model configs.
#include "model/net_spec.h"

#include <catch2/catch.hpp>

#include "util/error.h"

namespace scalelock {
namespace {

using nlohmann::json;

json Stack(const std::string& family, int depth, int kernel, int width) {
  return {{"family", family}, {"depth", depth}, {"kernel", kernel}, {"width", width}};
}

// Returns the message of the Error(kInvalidInput) that BuildNetSpec raises.
std::string InvalidMessage(const json& model, const Shape& input, int classes) {
  try {
    BuildNetSpec(model, input, classes);
  } catch (const Error& error) {
    if (error.code() != ErrorCode::kInvalidInput) return "wrong error code";
    return error.what();
  }
  return "no error";
}

TEST_CASE("netspec plain stack rf", "[model][netspec]") {
  NetSpec net = BuildNetSpec(Stack("plain", 4, 3, 16), {1, 64}, 2);
  NetStats stats = ComputeNetStats(net);
  // RF = 1 + 4 * (3 - 1) = 9.
  CHECK(stats.receptive_field == 9);
  CHECK(stats.effective_stride == 1);
  CHECK(stats.depth == 4);
  CHECK(stats.width == 16);
  CHECK(stats.kernel == 3);
  CHECK(stats.dilation == 1);
  // Four conv+ReLU layers, GAP, linear 16 -> 2.
  REQUIRE(net.layers.size() == 6);
  CHECK(net.layers[4].kind == LayerKind::kGlobalAvgPool);
  CHECK(net.layers[5].kind == LayerKind::kLinear);
  CHECK(stats.params == (1 * 16 * 3 + 16) + 3 * (16 * 16 * 3 + 16) + (16 * 2 + 2));
  double flops = (2.0 * 64 * 16 * 1 * 3 + 64 * 16) +       // conv 1 + ReLU
                 3 * (2.0 * 64 * 16 * 16 * 3 + 64 * 16) +  // convs 2-4 + ReLU
                 16 +                                      // GAP outputs
                 2.0 * 16 * 2;                             // linear
  CHECK(stats.forward_flops == Approx(flops).epsilon(1e-12));
}

TEST_CASE("netspec dilated stack rf", "[model][netspec]") {
  NetSpec net = BuildNetSpec(Stack("dilated", 4, 3, 8), {1, 64}, 2);
  NetStats stats = ComputeNetStats(net);
  // RF = 1 + (3 - 1) * (1 + 2 + 4 + 8) = 31.
  CHECK(stats.receptive_field == 31);
  CHECK(stats.dilation == 8);
  CHECK(net.layers[3].dilation == 8);
  CHECK(net.layers[3].padding == 8);  // "same": d * (k - 1) / 2
  CHECK(net.shapes[4] == Shape{8, 64});
}

TEST_CASE("netspec pooled stack flatten head", "[model][netspec]") {
  json model = Stack("plain", 4, 3, 16);
  model["pool"] = "max";
  model["pool_every"] = 2;
  model["head"] = "flatten";
  NetSpec net = BuildNetSpec(model, {1, 64}, 3);
  NetStats stats = ComputeNetStats(net);
  // conv 3, conv 5, pool 6 (jump 2), conv 10, conv 14, pool 16 (jump 4).
  CHECK(stats.receptive_field == 16);
  CHECK(stats.effective_stride == 4);
  REQUIRE(net.layers.size() == 7);
  CHECK(net.layers[2].kind == LayerKind::kMaxPool);
  CHECK(net.layers[5].kind == LayerKind::kMaxPool);
  CHECK(net.shapes[6] == Shape{16, 16});
  CHECK(stats.params == (1 * 16 * 3 + 16) + 3 * (16 * 16 * 3 + 16) + (16 * 16 * 3 + 3));
}

TEST_CASE("netspec 2d plain stack", "[model][netspec]") {
  NetSpec net = BuildNetSpec(Stack("plain", 2, 5, 8), {1, 28, 28}, 10);
  NetStats stats = ComputeNetStats(net);
  CHECK(stats.receptive_field == 9);
  CHECK(net.shapes[2] == Shape{8, 28, 28});
  CHECK(stats.params == (1 * 8 * 25 + 8) + (8 * 8 * 25 + 8) + (8 * 10 + 10));
}

TEST_CASE("netspec custom strides and relu fusion", "[model][netspec]") {
  json model = {
      {"family", "custom"},
      {"layers",
       {{{"type", "conv"}, {"out", 4}, {"kernel", 5}, {"stride", 2}, {"padding", 2}},
        {{"type", "relu"}},
        {{"type", "relu"}},
        {{"type", "avgpool"}, {"kernel", 3}},
        {{"type", "conv"}, {"out", 6}, {"kernel", 3}, {"dilation", 3}},
        {{"type", "gap"}},
        {{"type", "linear"}, {"out", 2}}}}};
  NetSpec net = BuildNetSpec(model, {2, 100}, 2);
  // The first relu fuses into the conv; the second stays a layer.
  REQUIRE(net.layers.size() == 6);
  CHECK(net.layers[0].fused_relu);
  CHECK(net.layers[1].kind == LayerKind::kRelu);
  CHECK(net.layers[2].stride == 3);  // pool stride defaults to its kernel
  // 100 -> conv s2: (100 + 4 - 5) / 2 + 1 = 50 -> pool 3: 16 -> conv d3: 16 - 6 = 10.
  CHECK(net.shapes[1] == Shape{4, 50});
  CHECK(net.shapes[3] == Shape{4, 16});
  CHECK(net.shapes[4] == Shape{6, 10});
  NetStats stats = ComputeNetStats(net);
  // conv: 5 (jump 2); pool: 5 + 2 * 2 = 9 (jump 6); conv d3: 9 + 6 * 6 = 45 (jump 6).
  CHECK(stats.receptive_field == 45);
  CHECK(stats.effective_stride == 6);
  CHECK(stats.dilation == 3);
  CHECK(stats.kernel == 5);
  CHECK(stats.width == 6);
}

TEST_CASE("netspec rejects invalid configs", "[model][netspec]") {
  using Catch::Matchers::Contains;
  CHECK_THAT(InvalidMessage(Stack("plain", 2, 4, 8), {1, 64}, 2),
             Contains("model.kernel"));
  CHECK_THAT(InvalidMessage(Stack("plain", 0, 3, 8), {1, 64}, 2),
             Contains("model.depth"));
  CHECK_THAT(InvalidMessage(Stack("wide", 2, 3, 8), {1, 64}, 2),
             Contains("model.family"));
  CHECK_THAT(InvalidMessage(Stack("plain", 2, 3, 8), {1, 2, 3, 4}, 2),
             Contains("sample shape"));

  json pooled = Stack("plain", 8, 3, 8);
  pooled["pool"] = "avg";
  pooled["pool_every"] = 1;
  CHECK_THAT(InvalidMessage(pooled, {1, 64}, 2), Contains("does not fit"));

  json custom = {
      {"family", "custom"},
      {"layers", {{{"type", "conv"}, {"out", 4}}, {{"type", "linear"}, {"out", 3}}}}};
  CHECK_THAT(InvalidMessage(custom, {1, 16}, 2), Contains("model.layers[1]"));
  custom["layers"][0]["strides"] = 2;
  CHECK_THAT(InvalidMessage(custom, {1, 16}, 3), Contains("model.layers[0].strides"));
  custom["layers"][0] = {{"type", "dropout"}};
  CHECK_THAT(InvalidMessage(custom, {1, 16}, 3), Contains("model.layers[0]"));
  custom["layers"][0] = {{"type", "maxpool"}, {"kernel", 2}, {"padding", 2}};
  CHECK_THAT(InvalidMessage(custom, {1, 16}, 3), Contains("model.layers[0].padding"));
  custom["layers"] = {{{"type", "linear"}, {"out", 4}},
                      {{"type", "conv"}, {"out", 4}},
                      {{"type", "linear"}, {"out", 3}}};
  CHECK_THAT(InvalidMessage(custom, {1, 16}, 3), Contains("follows a linear layer"));
}

}  // namespace
}  // namespace scalelock
