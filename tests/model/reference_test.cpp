// oneDNN forward passes against plain-loop reference kernels: conv (1D and
// 2D, stride, dilation, padding, fused ReLU), max and average pooling, GAP.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "model_testing.h"

namespace scalelock {
namespace {

using nlohmann::json;
using testing::CustomNet;

constexpr int64_t kBatch = 3;
constexpr double kTolerance = 1e-4;  // absolute, for values of order 1

// A 1D or 2D tensor viewed as N x C x H x W (H = 1 for 1D).
struct Dims4 {
  int64_t n, c, h, w;
};

Dims4 View(int64_t batch, const Shape& shape) {
  return shape.size() == 2 ? Dims4{batch, shape[0], 1, shape[1]}
                           : Dims4{batch, shape[0], shape[1], shape[2]};
}

// Window geometry on the H axis: the W-axis values, or the identity for 1D.
struct Window {
  int64_t kernel, stride, padding, dilation;
};

Window HeightWindow(const LayerSpec& layer, const Shape& in) {
  if (in.size() == 2) return {1, 1, 0, 1};
  return {layer.kernel, layer.stride, layer.padding, layer.dilation};
}

std::vector<float> ReferenceConv(const std::vector<float>& x, const NetSpec& spec,
                                 const std::vector<float>& weights,
                                 const std::vector<float>& bias) {
  const LayerSpec& layer = spec.layers[0];
  Dims4 in = View(kBatch, spec.shapes[0]);
  Dims4 out = View(kBatch, spec.shapes[1]);
  Window hw = HeightWindow(layer, spec.shapes[0]);
  int64_t kh_size = hw.kernel, kw_size = layer.kernel;
  std::vector<float> y(out.n * out.c * out.h * out.w);
  for (int64_t n = 0; n < out.n; ++n)
    for (int64_t o = 0; o < out.c; ++o)
      for (int64_t oh = 0; oh < out.h; ++oh)
        for (int64_t ow = 0; ow < out.w; ++ow) {
          double sum = bias[o];
          for (int64_t c = 0; c < in.c; ++c)
            for (int64_t kh = 0; kh < kh_size; ++kh)
              for (int64_t kw = 0; kw < kw_size; ++kw) {
                int64_t ih = oh * hw.stride - hw.padding + kh * hw.dilation;
                int64_t iw = ow * layer.stride - layer.padding + kw * layer.dilation;
                if (ih < 0 || ih >= in.h || iw < 0 || iw >= in.w) continue;
                double xv = x[((n * in.c + c) * in.h + ih) * in.w + iw];
                double wv = weights[((o * in.c + c) * kh_size + kh) * kw_size + kw];
                sum += xv * wv;
              }
          if (layer.fused_relu) sum = std::max(sum, 0.0);
          y[((n * out.c + o) * out.h + oh) * out.w + ow] = static_cast<float>(sum);
        }
  return y;
}

// Max pooling ignores padded positions; average pooling divides by the whole
// window, padding included (PyTorch's count_include_pad=True).
std::vector<float> ReferencePool(const std::vector<float>& x, const NetSpec& spec) {
  const LayerSpec& layer = spec.layers[0];
  Dims4 in = View(kBatch, spec.shapes[0]);
  Dims4 out = View(kBatch, spec.shapes[1]);
  Window hw = HeightWindow(layer, spec.shapes[0]);
  bool max_pool = layer.kind == LayerKind::kMaxPool;
  std::vector<float> y(out.n * out.c * out.h * out.w);
  for (int64_t n = 0; n < out.n; ++n)
    for (int64_t c = 0; c < out.c; ++c)
      for (int64_t oh = 0; oh < out.h; ++oh)
        for (int64_t ow = 0; ow < out.w; ++ow) {
          double acc = max_pool ? -std::numeric_limits<double>::infinity() : 0.0;
          for (int64_t kh = 0; kh < hw.kernel; ++kh)
            for (int64_t kw = 0; kw < layer.kernel; ++kw) {
              int64_t ih = oh * hw.stride - hw.padding + kh;
              int64_t iw = ow * layer.stride - layer.padding + kw;
              if (ih < 0 || ih >= in.h || iw < 0 || iw >= in.w) continue;
              double v = x[((n * in.c + c) * in.h + ih) * in.w + iw];
              acc = max_pool ? std::max(acc, v) : acc + v;
            }
          if (!max_pool) acc /= static_cast<double>(hw.kernel * layer.kernel);
          y[((n * out.c + c) * out.h + oh) * out.w + ow] = static_cast<float>(acc);
        }
  return y;
}

std::vector<float> ReferenceGap(const std::vector<float>& x, const Shape& shape) {
  Dims4 in = View(kBatch, shape);
  std::vector<float> y(in.n * in.c);
  for (int64_t i = 0; i < in.n * in.c; ++i) {
    double sum = 0.0;
    for (int64_t s = 0; s < in.h * in.w; ++s)
      sum += x[i * in.h * in.w + s];
    y[i] = static_cast<float>(sum / static_cast<double>(in.h * in.w));
  }
  return y;
}

// Runs one training forward pass and returns layer 0's output and the net.
struct FirstLayer {
  std::unique_ptr<Network> net;
  std::vector<float> inputs;
  std::vector<float> output;
};

FirstLayer RunFirstLayer(const NetSpec& spec) {
  testing::UseOneThread();
  NetworkOptions options;
  options.batch_size = kBatch;
  options.seed = 21;
  FirstLayer result;
  result.net = std::make_unique<Network>(spec, options);
  result.inputs = testing::UniformValues(kBatch * ShapeSize(spec.input), 23);
  std::vector<int32_t> labels = testing::Labels(kBatch, spec.num_classes);
  // Nonzero conv biases so that a bias indexing error shows.
  if (spec.layers[0].kind == LayerKind::kConv) {
    Param& bias = result.net->params()[1];
    for (size_t i = 0; i < bias.value.size(); ++i)
      bias.value[i] = 0.1f * (i + 1);
    result.net->MarkParamsChanged();
  }
  result.net->ForwardLoss(result.inputs.data(), labels.data());
  result.output = result.net->Activation(0);
  return result;
}

double MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0.0;
  for (size_t i = 0; i < a.size(); ++i)
    diff = std::max(diff, std::abs(double(a[i]) - b[i]));
  return diff;
}

void CheckConv(const json& conv, const Shape& input) {
  NetSpec spec =
      CustomNet(json::array({conv, {{"type", "linear"}, {"out", 2}}}), input, 2);
  FirstLayer run = RunFirstLayer(spec);
  std::vector<float> expected = ReferenceConv(
      run.inputs, spec, run.net->params()[0].value, run.net->params()[1].value);
  REQUIRE(run.output.size() == expected.size());
  INFO("conv " << conv.dump() << " on [" << input[0] << ", ..., " << input.back() << "]");
  CHECK(MaxAbsDiff(run.output, expected) < kTolerance);
}

void CheckPool(const json& pool, const Shape& input) {
  NetSpec spec =
      CustomNet(json::array({pool, {{"type", "linear"}, {"out", 2}}}), input, 2);
  FirstLayer run = RunFirstLayer(spec);
  std::vector<float> expected = ReferencePool(run.inputs, spec);
  REQUIRE(run.output.size() == expected.size());
  INFO("pool " << pool.dump());
  CHECK(MaxAbsDiff(run.output, expected) < kTolerance);
}

TEST_CASE("reference conv1d", "[model][reference]") {
  CheckConv({{"type", "conv"}, {"out", 5}, {"kernel", 3}}, {2, 17});
  CheckConv({{"type", "conv"}, {"out", 5}, {"kernel", 5}, {"stride", 2}, {"padding", 2}},
            {3, 17});
  CheckConv(
      {{"type", "conv"}, {"out", 4}, {"kernel", 3}, {"padding", 4}, {"dilation", 4}},
      {2, 20});
  CheckConv(
      {{"type", "conv"}, {"out", 16}, {"kernel", 3}, {"stride", 3}, {"dilation", 2}},
      {8, 31});
}

TEST_CASE("reference conv2d", "[model][reference]") {
  CheckConv({{"type", "conv"}, {"out", 8}, {"kernel", 3}, {"padding", 1}}, {1, 12, 12});
  CheckConv({{"type", "conv"}, {"out", 6}, {"kernel", 3}, {"stride", 2}, {"padding", 1}},
            {3, 11, 9});
  CheckConv(
      {{"type", "conv"}, {"out", 16}, {"kernel", 3}, {"padding", 2}, {"dilation", 2}},
      {16, 10, 10});
}

TEST_CASE("reference conv with fused relu", "[model][reference]") {
  Shape input = {4, 9, 9};
  json layers = {{{"type", "conv"}, {"out", 8}, {"kernel", 3}, {"padding", 1}},
                 {{"type", "relu"}},
                 {{"type", "linear"}, {"out", 2}}};
  NetSpec spec = CustomNet(layers, input, 2);
  REQUIRE(spec.layers[0].fused_relu);
  FirstLayer run = RunFirstLayer(spec);
  std::vector<float> expected = ReferenceConv(
      run.inputs, spec, run.net->params()[0].value, run.net->params()[1].value);
  REQUIRE(run.output.size() == expected.size());
  CHECK(MaxAbsDiff(run.output, expected) < kTolerance);
  CHECK(*std::min_element(run.output.begin(), run.output.end()) == 0.0f);
}

TEST_CASE("reference maxpool", "[model][reference]") {
  CheckPool({{"type", "maxpool"}, {"kernel", 2}, {"stride", 2}}, {3, 16});
  CheckPool({{"type", "maxpool"}, {"kernel", 3}, {"stride", 2}, {"padding", 1}}, {2, 15});
  CheckPool({{"type", "maxpool"}, {"kernel", 2}, {"stride", 2}}, {16, 10, 10});
  CheckPool({{"type", "maxpool"}, {"kernel", 3}, {"stride", 1}, {"padding", 1}},
            {3, 7, 8});
}

TEST_CASE("reference avgpool", "[model][reference]") {
  CheckPool({{"type", "avgpool"}, {"kernel", 2}, {"stride", 2}}, {3, 16});
  CheckPool({{"type", "avgpool"}, {"kernel", 3}, {"stride", 2}, {"padding", 1}}, {2, 15});
  CheckPool({{"type", "avgpool"}, {"kernel", 2}, {"stride", 2}}, {16, 10, 10});
  CheckPool({{"type", "avgpool"}, {"kernel", 3}, {"stride", 2}, {"padding", 1}},
            {3, 9, 8});
}

TEST_CASE("reference gap", "[model][reference]") {
  for (const Shape& input : {Shape{5, 13}, Shape{16, 6, 7}}) {
    NetSpec spec = CustomNet(
        json::array({{{"type", "gap"}}, {{"type", "linear"}, {"out", 2}}}), input, 2);
    FirstLayer run = RunFirstLayer(spec);
    std::vector<float> expected = ReferenceGap(run.inputs, input);
    REQUIRE(run.output.size() == expected.size());
    CHECK(MaxAbsDiff(run.output, expected) < kTolerance);
  }
}

}  // namespace
}  // namespace scalelock
