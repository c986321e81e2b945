// Receptive-field analysis on published architectures and hand-computed graphs.
//
// Hand computations use the recursion of Araujo et al. (Distill 2019):
// r_l = r_{l-1} + (k_eff - 1) * S_{l-1}, S_l = S_{l-1} * s_l,
// P_l = P_{l-1} + p_l * S_{l-1}, centre = (r - 1) / 2 - P, k_eff = d (k - 1) + 1.
// Transposed-convolution, linear-upsampling and ceil-mode values were checked
// once with PyTorch 1.13 (Debian python3-torch): autograd of single outputs of
// Conv1d/ConvTranspose1d/Upsample with all-ones weights gives the input span,
// and MaxPool1d(..., ceil_mode=True) gives the output sizes.
#include "rf/analysis.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "rf/layer_graph.h"
#include "rf/model_graph.h"
#include "util/error.h"

namespace {

using nlohmann::json;
using scalelock::rf::Analysis;
using scalelock::rf::AnalyzeGraph;
using scalelock::rf::AxisResult;
using scalelock::rf::Rational;

Analysis AnalyzeText(const std::string& text) {
  return AnalyzeGraph(scalelock::rf::ParseLayerGraph(json::parse(text), "test graph"));
}

Analysis AnalyzeFile(const std::string& relative_path) {
  return AnalyzeGraph(scalelock::rf::LoadGraphFile(std::string(SCALELOCK_SOURCE_DIR) +
                                                   "/" + relative_path));
}

// First axis of the layer called name; fails the test when it is missing.
const AxisResult& Layer(const Analysis& analysis, const std::string& name, int axis = 0) {
  for (const auto& layer : analysis.layers) {
    if (layer.name == name) return layer.axes.at(axis);
  }
  FAIL("no layer named " << name);
  throw std::logic_error("unreachable");
}

struct Published {
  const char* layer;
  int64_t rf;
  int64_t stride;
  int64_t padding;
  int64_t output_size;  // at 224x224 input
};

}  // namespace

TEST_CASE("vgg16 pools match published values", "[rf]") {
  // RF, stride and padding as published by Araujo, Norris and Sim (2019); the
  // recursion above gives the same values. Sizes halve from 224 at each pool.
  const Published expected[] = {{"pool1", 6, 2, 2, 112},
                                {"pool2", 16, 4, 6, 56},
                                {"pool3", 44, 8, 18, 28},
                                {"pool4", 100, 16, 42, 14},
                                {"pool5", 212, 32, 90, 7}};
  Analysis analysis = AnalyzeFile("experiments/architectures/vgg16.json");
  for (const Published& row : expected) {
    for (int axis = 0; axis < 2; ++axis) {
      INFO(row.layer << " axis " << axis);
      const AxisResult& result = Layer(analysis, row.layer, axis);
      CHECK(result.rf == row.rf);
      CHECK(result.rf_min == row.rf);
      CHECK(result.effective_stride == Rational(row.stride));
      CHECK(result.effective_padding == row.padding);
      CHECK(result.output_size == row.output_size);
    }
  }
}

TEST_CASE("vgg16 pool5 centre", "[rf]") {
  // centre = (212 - 1) / 2 - 90 = 15.5
  Analysis analysis = AnalyzeFile("experiments/architectures/vgg16.json");
  CHECK(Layer(analysis, "pool5").center == Rational(31, 2));
}

TEST_CASE("alexnet_v2 pools match values", "[rf]") {
  // pool5 (195, 32, 64) is published; pool1 and pool2 by hand:
  // conv1 11/4 VALID: r 11, S 4, P 0; pool1 3/2: r 11 + 2*4 = 19, S 8, P 0;
  // conv2 5 SAME: r 19 + 4*8 = 51, P 2*8 = 16; pool2 3/2: r 51 + 2*8 = 67, S 16.
  // Sizes: (224 - 11) / 4 + 1 = 54, (54 - 3) / 2 + 1 = 26, 12, then 5 at pool5.
  const Published expected[] = {
      {"pool1", 19, 8, 0, 26}, {"pool2", 67, 16, 16, 12}, {"pool5", 195, 32, 64, 5}};
  Analysis analysis = AnalyzeFile("experiments/architectures/alexnet_v2.json");
  for (const Published& row : expected) {
    INFO(row.layer);
    const AxisResult& result = Layer(analysis, row.layer);
    CHECK(result.rf == row.rf);
    CHECK(result.effective_stride == Rational(row.stride));
    CHECK(result.effective_padding == row.padding);
    CHECK(result.output_size == row.output_size);
  }
}

TEST_CASE("plain depth 4 kernel 3", "[rf]") {
  // 1 + 4 * (3 - 1) = 9
  json config = json::parse(R"({"task": {"name": "multiscale1d", "length": 64},
      "model": {"family": "plain", "depth": 4, "kernel": 3}})");
  Analysis analysis = AnalyzeGraph(scalelock::rf::BuildRunConfigGraph(config, "test"));
  const AxisResult& last = analysis.layers.back().axes.at(0);
  CHECK(analysis.dims == 1);
  CHECK(last.rf == 9);
  CHECK(last.effective_stride == Rational(1));
  CHECK(last.effective_padding == 4);
  CHECK(last.center == Rational(0));
  CHECK(last.output_size == 64);
}

TEST_CASE("dilated depth 4 kernel 3", "[rf]") {
  // dilations 1, 2, 4, 8: 1 + 2 * (1 + 2 + 4 + 8) = 31
  json config = json::parse(R"({"task": {"name": "multiscale1d"},
      "model": {"family": "dilated", "depth": 4, "kernel": 3}})");
  Analysis analysis = AnalyzeGraph(scalelock::rf::BuildRunConfigGraph(config, "test"));
  const AxisResult& last = analysis.layers.back().axes.at(0);
  CHECK(last.rf == 31);
  CHECK(last.effective_padding == 15);
  CHECK(last.output_size == 64);
}

TEST_CASE("dilation 2 kernel 3 per layer", "[rf]") {
  // k_eff = 2 * (3 - 1) + 1 = 5, so RF 5 after one layer and 9 after two.
  Analysis analysis = AnalyzeText(R"({"dims": 1, "nodes": [
      {"name": "x", "op": "input"},
      {"name": "a", "op": "conv", "kernel": 3, "dilation": 2, "padding": 2},
      {"name": "b", "op": "conv", "kernel": 3, "dilation": 2, "padding": 2}]})");
  CHECK(Layer(analysis, "a").rf == 5);
  CHECK(Layer(analysis, "b").rf == 9);
  CHECK(Layer(analysis, "b").center == Rational(0));
}

TEST_CASE("pooled plain stack with stride", "[rf]") {
  // conv 3 (r 3), pool 2/2 (r 4, S 2), conv 3 (r 8), pool (r 10, S 4).
  json config = json::parse(R"({"task": {"name": "multiscale1d", "length": 32},
      "model": {"family": "plain", "depth": 2, "kernel": 3, "pool": "max",
                "pool_every": 1}})");
  Analysis analysis = AnalyzeGraph(scalelock::rf::BuildRunConfigGraph(config, "test"));
  const AxisResult& last = Layer(analysis, "pool2");
  CHECK(last.rf == 10);
  CHECK(last.effective_stride == Rational(4));
  CHECK(last.effective_padding == 3);
  CHECK(last.output_size == 8);
}

TEST_CASE("custom bench net on fashion_mnist", "[rf]") {
  // conv3 p1 (r 3), conv3 p1 (r 5), pool 2 (r 6, S 2), conv3 p1 (r 6 + 2 * 2
  // = 10), pool 2 (r 10 + 1 * 2 = 12, S 4, P 1 + 1 + 1 * 2 = 4); sizes 28, 28,
  // 14, 14, 7. The linear head is not part of the graph.
  json config = json::parse(R"({"task": {"name": "fashion_mnist"},
      "model": {"family": "custom", "layers": [
        {"type": "conv", "out": 32, "kernel": 3, "padding": 1}, {"type": "relu"},
        {"type": "conv", "out": 32, "kernel": 3, "padding": 1}, {"type": "relu"},
        {"type": "maxpool", "kernel": 2},
        {"type": "conv", "out": 64, "kernel": 3, "padding": 1}, {"type": "relu"},
        {"type": "maxpool", "kernel": 2},
        {"type": "linear", "out": 10}]}})");
  Analysis analysis = AnalyzeGraph(scalelock::rf::BuildRunConfigGraph(config, "test"));
  CHECK(analysis.dims == 2);
  CHECK(analysis.layers.size() == 9);  // input + 8 spatial layers
  const AxisResult& last = analysis.layers.back().axes.at(1);
  CHECK(analysis.layers.back().name == "maxpool7");
  CHECK(last.rf == 12);
  CHECK(last.effective_stride == Rational(4));
  CHECK(last.effective_padding == 4);
  CHECK(last.output_size == 7);
}

TEST_CASE("residual block takes largest branch", "[rf]") {
  // Main branch conv3 p1 + conv3 p1: RF 5, centre 0; identity branch: RF 1,
  // centre 0. The union is the main branch's interval.
  Analysis analysis = AnalyzeText(R"({"dims": 1, "input_size": 16, "nodes": [
      {"name": "x", "op": "input"},
      {"name": "a", "op": "conv", "kernel": 3, "padding": 1},
      {"name": "relu", "op": "relu"},
      {"name": "b", "op": "conv", "kernel": 3, "padding": 1},
      {"name": "sum", "op": "add", "inputs": ["b", "x"]},
      {"name": "out", "op": "relu"}]})");
  const AxisResult& sum = Layer(analysis, "sum");
  CHECK(sum.rf == 5);
  CHECK(sum.effective_padding == 2);
  CHECK(sum.center == Rational(0));
  CHECK(sum.output_size == 16);
  CHECK(Layer(analysis, "out").rf == 5);
}

TEST_CASE("inception concat of three branches", "[rf]") {
  // 1x1, 3x3 p1, 5x5 p2 branches all centre on 0; the union is the 5x5 RF.
  Analysis analysis = AnalyzeText(R"({"dims": 2, "nodes": [
      {"name": "x", "op": "input"},
      {"name": "b1", "op": "conv", "kernel": 1, "inputs": "x"},
      {"name": "b3", "op": "conv", "kernel": 3, "padding": 1, "inputs": "x"},
      {"name": "b5", "op": "conv", "kernel": 5, "padding": 2, "inputs": "x"},
      {"name": "mix", "op": "concat", "inputs": ["b1", "b3", "b5"]}]})");
  for (const char* branch : {"b1", "b3", "b5"}) {
    INFO(branch);
    CHECK(Layer(analysis, branch).center == Rational(0));
  }
  const AxisResult& mix = Layer(analysis, "mix", 1);
  CHECK(mix.rf == 5);
  CHECK(mix.effective_padding == 2);
  CHECK(mix.center == Rational(0));
}

TEST_CASE("misaligned merge names node", "[rf]") {
  // Branch "down" has stride 2, branch "same" stride 1: no common grid.
  std::string text = R"({"dims": 1, "nodes": [
      {"name": "x", "op": "input"},
      {"name": "down", "op": "conv", "kernel": 3, "stride": 2, "padding": 1},
      {"name": "same", "op": "conv", "kernel": 3, "padding": 1, "inputs": "x"},
      {"name": "merge", "op": "add", "inputs": ["down", "same"]}]})";
  CHECK_THROWS_AS(AnalyzeText(text), scalelock::Error);
  CHECK_THROWS_WITH(AnalyzeText(text), Catch::Contains("node \"merge\""));
  CHECK_THROWS_WITH(AnalyzeText(text), Catch::Contains("effective stride 2 vs 1"));
}

TEST_CASE("merge with shifted centre fails", "[rf]") {
  // Equal strides but padding 0 vs 1 moves the centre from 1 to 0.
  std::string text = R"({"dims": 1, "nodes": [
      {"name": "x", "op": "input"},
      {"name": "valid", "op": "conv", "kernel": 3},
      {"name": "same", "op": "conv", "kernel": 3, "padding": 1, "inputs": "x"},
      {"name": "merge", "op": "concat", "inputs": ["valid", "same"]}]})";
  CHECK_THROWS_WITH(AnalyzeText(text), Catch::Contains("node \"merge\""));
  CHECK_THROWS_WITH(AnalyzeText(text), Catch::Contains("centre 1 vs 0"));
}

TEST_CASE("merge with unequal sizes fails", "[rf]") {
  // Aligned centres (0 and 0) but 16 vs 14 samples: the add is invalid.
  std::string text = R"({"dims": 1, "input_size": 16, "nodes": [
      {"name": "x", "op": "input"},
      {"name": "crop", "op": "conv", "kernel": 3, "padding": [0, 2]},
      {"name": "wide", "op": "conv", "kernel": 5, "padding": 2, "inputs": "x"},
      {"name": "sum", "op": "add", "inputs": ["crop", "wide"]}]})";
  CHECK_NOTHROW(AnalyzeText(R"({"dims": 1, "input_size": 16, "nodes": [
      {"name": "x", "op": "input"},
      {"name": "a", "op": "conv", "kernel": 3, "padding": [0, 2]}]})"));
  CHECK_THROWS_WITH(AnalyzeText(text), Catch::Contains("node \"sum\""));
}

TEST_CASE("transposed conv after strided conv", "[rf]") {
  // conv k3 s2 p1: output j reads inputs 2j-1..2j+1. deconv k4 s2 p1: output
  // 0 receives conv outputs -1..0, so inputs -3..1 (RF 5); output 1 receives
  // conv outputs 0..1, inputs -1..3 (RF 5). Stride 2 / 2 = 1. Sizes: 8 -> 4 -> 8.
  Analysis analysis = AnalyzeText(R"({"dims": 1, "input_size": 8, "nodes": [
      {"name": "x", "op": "input"},
      {"name": "down", "op": "conv", "kernel": 3, "stride": 2, "padding": 1},
      {"name": "up", "op": "deconv", "kernel": 4, "stride": 2, "padding": 1}]})");
  const AxisResult& up = Layer(analysis, "up");
  CHECK(up.effective_stride == Rational(1));
  CHECK(up.rf == 5);
  CHECK(up.rf_min == 5);
  CHECK(up.effective_padding == 3);
  CHECK(up.center == Rational(-1));
  CHECK(up.output_size == 8);
}

TEST_CASE("transposed conv fractional stride", "[rf]") {
  // deconv k3 s2 p1 on the input: output 0 reads input 0 only, output 1 reads
  // inputs 0..1, so the RF alternates 1, 2 and the stride is 1/2. Size
  // (8 - 1) * 2 - 2 + 3 = 15.
  Analysis analysis = AnalyzeText(R"({"dims": 1, "input_size": 8, "nodes": [
      {"name": "x", "op": "input"},
      {"name": "up", "op": "conv_transpose", "kernel": 3, "stride": 2, "padding": 1}]})");
  const AxisResult& up = Layer(analysis, "up");
  CHECK(up.effective_stride == Rational(1, 2));
  CHECK(up.rf == 2);
  CHECK(up.rf_min == 1);
  CHECK(up.center == Rational(0));
  CHECK(up.output_size == 15);
}

TEST_CASE("linear upsampling reads two inputs", "[rf]") {
  // Half-pixel source (o + 0.5) / 2 - 0.5: output 0 -> -0.25 (inputs -1, 0),
  // output 1 -> 0.25 (inputs 0, 1).
  Analysis analysis = AnalyzeText(R"({"dims": 1, "input_size": 5, "nodes": [
      {"name": "x", "op": "input"},
      {"name": "up", "op": "upsample", "factor": 2, "mode": "linear"},
      {"name": "near", "op": "upsample", "factor": 2, "inputs": "x"}]})");
  const AxisResult& up = Layer(analysis, "up");
  CHECK(up.rf == 2);
  CHECK(up.effective_stride == Rational(1, 2));
  CHECK(up.center == Rational(-1, 2));
  CHECK(up.output_size == 10);
  CHECK(Layer(analysis, "near").rf == 1);
}

TEST_CASE("ceil mode pooling sizes", "[rf]") {
  // 112 with 3/2: floor mode (112 - 3) / 2 + 1 = 55, ceil mode 56. Length 4,
  // window 2, stride 3, padding 1: the third ceil-mode window would start in
  // the right padding, so PyTorch drops it and returns 2. RF, stride and
  // padding of the first output are the same in both modes.
  Analysis analysis = AnalyzeText(R"({"dims": 2, "input_size": [112, 4], "nodes": [
      {"name": "x", "op": "input"},
      {"name": "floor", "op": "pool", "mode": "max", "kernel": [3, 2], "stride": [2, 3],
       "padding": [0, 1]},
      {"name": "ceil", "op": "pool", "mode": "max", "kernel": [3, 2], "stride": [2, 3],
       "padding": [0, 1], "ceil_mode": true, "inputs": "x"}]})");
  CHECK(Layer(analysis, "floor", 0).output_size == 55);
  CHECK(Layer(analysis, "ceil", 0).output_size == 56);
  CHECK(Layer(analysis, "floor", 1).output_size == 2);
  CHECK(Layer(analysis, "ceil", 1).output_size == 2);
  CHECK(Layer(analysis, "ceil", 0).rf == 3);
  CHECK(Layer(analysis, "ceil", 0).effective_stride == Rational(2));
  CHECK(Layer(analysis, "ceil", 1).effective_padding == 1);
  CHECK(Layer(analysis, "ceil", 1).center == Rational(-1, 2));
}

TEST_CASE("same padding with stride", "[rf]") {
  // TF SAME, n = 7, k 3, s 2: output 4, total (4 - 1) * 2 + 3 - 7 = 2, so 1
  // before; n = 8: total 1, so 0 before and 1 after.
  for (auto [size, padding] : {std::pair<int, int64_t>{7, 1}, {8, 0}}) {
    INFO("input size " << size);
    Analysis analysis = AnalyzeText(R"({"dims": 1, "input_size": )" +
                                    std::to_string(size) + R"(, "nodes": [
        {"name": "x", "op": "input"},
        {"name": "c", "op": "conv", "kernel": 3, "stride": 2, "padding": "same"}]})");
    CHECK(Layer(analysis, "c").effective_padding == padding);
    CHECK(Layer(analysis, "c").output_size == 4);
  }
}

TEST_CASE("same padding needs input size", "[rf]") {
  std::string text = R"({"dims": 1, "nodes": [
      {"name": "x", "op": "input"},
      {"name": "c", "op": "conv", "kernel": 3, "stride": 2, "padding": "same"}]})";
  CHECK_THROWS_WITH(AnalyzeText(text), Catch::Contains("node \"c\""));
  CHECK_THROWS_WITH(AnalyzeText(text), Catch::Contains("\"padding\""));
}

TEST_CASE("per-axis kernels reported per axis", "[rf]") {
  Analysis analysis = AnalyzeText(R"({"dims": 2, "nodes": [
      {"name": "x", "op": "input"},
      {"name": "c", "op": "conv", "kernel": [3, 5], "padding": [[1, 1], [2, 2]]}]})");
  CHECK(Layer(analysis, "c", 0).rf == 3);
  CHECK(Layer(analysis, "c", 1).rf == 5);
  CHECK(Layer(analysis, "c", 1).center == Rational(0));
}

TEST_CASE("input too small names node", "[rf]") {
  std::string text = R"({"dims": 1, "input_size": 4, "nodes": [
      {"name": "x", "op": "input"},
      {"name": "big", "op": "conv", "kernel": 7}]})";
  CHECK_THROWS_WITH(AnalyzeText(text), Catch::Contains("node \"big\""));
}

TEST_CASE("unet skip concat is aligned", "[rf]") {
  // enc: conv3 p1 (centre 0), pool 2 (S 2, centre 0.5). mid: conv3 p1, pool 2
  // (S 4, centre 1.5), conv3 p1. Nearest upsampling by 2 copies mid output j
  // to outputs 2j and 2j + 1, so their centres are 1.5 + 4j for both; the mean
  // of centre(o) - 2o over o = 0, 1 is (1.5 + (-0.5)) / 2 = 0.5, the centre of
  // the skip branch, so the concat is accepted.
  Analysis analysis = AnalyzeText(R"({"dims": 1, "input_size": 32, "nodes": [
      {"name": "x", "op": "input"},
      {"name": "enc", "op": "conv", "kernel": 3, "padding": 1},
      {"name": "down", "op": "maxpool", "kernel": 2},
      {"name": "skip", "op": "conv", "kernel": 3, "padding": 1},
      {"name": "down2", "op": "maxpool", "kernel": 2},
      {"name": "mid", "op": "conv", "kernel": 3, "padding": 1},
      {"name": "up", "op": "upsample", "factor": 2},
      {"name": "cat", "op": "concat", "inputs": ["up", "skip"]}]})");
  const AxisResult& up = Layer(analysis, "up");
  CHECK(up.effective_stride == Rational(2));
  CHECK(up.center == Rational(3, 2));
  CHECK(Layer(analysis, "skip").center == Rational(1, 2));
  // RF: enc 3, down 4, skip 4 + 2 * 2 = 8, down2 8 + 1 * 2 = 10, mid 10 + 2 * 4 = 18.
  CHECK(Layer(analysis, "cat").rf == 18);
  CHECK(Layer(analysis, "cat").output_size == 16);
}

TEST_CASE("upsampled branch off grid fails", "[rf]") {
  // Same as the U-Net, but the skip conv pads 2 on the left and 0 on the right,
  // which moves its centre by one coarse step (2 input samples) from 0.5 to
  // -1.5, while the upsampled branch stays at 0.5.
  std::string text = R"({"dims": 1, "input_size": 32, "nodes": [
      {"name": "x", "op": "input"},
      {"name": "enc", "op": "conv", "kernel": 3, "padding": 1},
      {"name": "down", "op": "maxpool", "kernel": 2},
      {"name": "skip", "op": "conv", "kernel": 3, "padding": [2, 0]},
      {"name": "down2", "op": "maxpool", "kernel": 2, "inputs": "down"},
      {"name": "mid", "op": "conv", "kernel": 3, "padding": 1},
      {"name": "up", "op": "upsample", "factor": 2},
      {"name": "cat", "op": "concat", "inputs": ["up", "skip"]}]})";
  CHECK_THROWS_WITH(AnalyzeText(text), Catch::Contains("node \"cat\""));
  CHECK_THROWS_WITH(AnalyzeText(text), Catch::Contains("centre 1/2 vs -3/2"));
}

TEST_CASE("tf same stride 2 shortcut misaligned", "[rf]") {
  // n = 8, k 3, s 2, SAME: total padding 1, all after, so output 0 is centred
  // on input 1; the 1x1 stride-2 shortcut is centred on 0. Explicit padding 1
  // (PyTorch style) centres the main branch on 0 and the add is accepted.
  std::string tf_same = R"({"dims": 1, "input_size": 8, "nodes": [
      {"name": "x", "op": "input"},
      {"name": "main", "op": "conv", "kernel": 3, "stride": 2, "padding": "same"},
      {"name": "shortcut", "op": "conv", "kernel": 1, "stride": 2, "inputs": "x"},
      {"name": "sum", "op": "add", "inputs": ["main", "shortcut"]}]})";
  CHECK_THROWS_WITH(AnalyzeText(tf_same), Catch::Contains("node \"sum\""));
  CHECK_THROWS_WITH(AnalyzeText(tf_same), Catch::Contains("centre 1 vs 0"));
  std::string explicit_padding = tf_same;
  explicit_padding.replace(explicit_padding.find("\"same\""), 6, "1");
  Analysis analysis = AnalyzeText(explicit_padding);
  CHECK(Layer(analysis, "sum").rf == 3);
  CHECK(Layer(analysis, "sum").output_size == 4);
}

TEST_CASE("transposed kernel below stride", "[rf]") {
  // k 1, s 2, p 0: output 2j copies input j, output 2j + 1 sees no input.
  Analysis analysis = AnalyzeText(R"({"dims": 1, "nodes": [
      {"name": "x", "op": "input"},
      {"name": "up", "op": "deconv", "kernel": 1, "stride": 2}]})");
  CHECK(Layer(analysis, "up").rf == 1);
  CHECK(Layer(analysis, "up").rf_min == 0);
  // With padding 1 output 0 is an odd position of the full output: no input.
  std::string skipped = R"({"dims": 1, "nodes": [
      {"name": "x", "op": "input"},
      {"name": "up", "op": "deconv", "kernel": 1, "stride": 2, "padding": 1}]})";
  CHECK_THROWS_WITH(AnalyzeText(skipped), Catch::Contains("node \"up\""));
  CHECK_THROWS_WITH(AnalyzeText(skipped), Catch::Contains("depends on no input"));
}
