// Network description: the layer list that a "model" config expands to, with
// the per-sample tensor shape before and after every layer, and the numbers
// derived from it (parameters, FLOPs, receptive field, stride).
//
// BuildNetSpec throws Error(kInvalidInput) naming the JSON path of a bad or
// inconsistent field. Everything here is plain data and thread-safe to share.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace scalelock {

enum class LayerKind { kConv, kRelu, kMaxPool, kAvgPool, kGlobalAvgPool, kLinear };

const char* LayerKindName(LayerKind kind);

// One layer. Spatial parameters apply to every spatial axis (square kernels).
struct LayerSpec {
  LayerKind kind = LayerKind::kConv;
  int64_t out = 0;          // output channels (conv) or features (linear)
  int64_t kernel = 1;       // window size in samples (conv, pools)
  int64_t stride = 1;       // step in samples (conv, pools)
  int64_t padding = 0;      // zeros added on each side, in samples
  int64_t dilation = 1;     // distance between kernel taps; 1 = dense (conv)
  bool fused_relu = false;  // conv followed by ReLU, run as a conv post-op
  std::string path;         // JSON path for messages, e.g. "model.layers[2]"
};

// Per-sample shape: {C, W...} for spatial tensors, {features} after a linear.
using Shape = std::vector<int64_t>;

struct NetSpec {
  Shape input;  // {C, W} (1D net) or {C, H, W} (2D net)
  int num_classes = 0;
  std::vector<LayerSpec> layers;  // the last one is a linear with num_classes outs
  std::vector<Shape> shapes;      // shapes[i] = input of layers[i]; one extra at end
};

// Expands a model config (family "plain", "dilated" or "custom") for a task
// whose samples have sample_shape ({C, W} or {C, H, W}) and num_classes labels.
// A conv directly followed by a relu becomes one conv with fused_relu set.
NetSpec BuildNetSpec(const nlohmann::json& model, const Shape& sample_shape,
                     int num_classes);

// Numbers derived from a NetSpec without running it.
struct NetStats {
  int64_t params = 0;  // weights + biases, exact
  // Forward FLOPs per sample: 2 per multiply-add in conv and linear layers,
  // 1 per output element for ReLU (fused or not) and every pooling layer
  // (GAP included). Bias additions and the softmax are not counted.
  double forward_flops = 0.0;
  // Receptive field in input samples per axis of the last spatial layer
  // (conv or pool): RF_l = RF_{l-1} + (d(k-1)+1 - 1) * jump_{l-1}. GAP and
  // linear heads do not widen it, although a flatten or GAP head does see
  // the whole input.
  int64_t receptive_field = 1;
  int64_t effective_stride = 1;  // product of conv and pool strides
  int64_t width = 0;             // largest conv output channel count
  int64_t depth = 0;             // number of conv layers
  int64_t kernel = 0;            // largest conv kernel
  int64_t dilation = 1;          // largest conv dilation
};

NetStats ComputeNetStats(const NetSpec& net);

// Element count of a per-sample shape.
int64_t ShapeSize(const Shape& shape);

}  // namespace scalelock
