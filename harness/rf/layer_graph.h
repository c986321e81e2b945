// Layer graphs: the network description that receptive-field analysis reads.
//
// A layer graph is a JSON object (format in docs/receptive-fields.md):
//   {"name": "vgg16", "dims": 2, "input_size": 224,
//    "nodes": [{"name": "input", "op": "input"},
//              {"name": "conv1", "op": "conv", "kernel": 3, "padding": "same"}, ...]}
// Nodes are listed in topological order: "inputs" may name only earlier nodes,
// and a node without "inputs" reads the node listed before it. Spatial values
// (kernel, stride, dilation, padding, factor) are one integer for every axis or
// an array with one entry per axis.
//
// Parsing throws Error(kInvalidInput) with a message that names the source,
// the node (index and name), the field, the value found and what was expected.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace scalelock::rf {

enum class OpKind {
  kInput,
  kConv,      // convolution, cross-correlation over the axes
  kPool,      // max or average pooling
  kDeconv,    // transposed convolution
  kUpsample,  // integer-factor upsampling, nearest or linear
  kIdentity,  // relu, bn, dropout and other ops that keep every position
  kAdd,       // element-wise sum of inputs with equal shapes
  kConcat,    // channel concatenation of inputs with equal spatial shapes
};

enum class PaddingMode {
  kExplicit,  // pad_before/pad_after as given
  kSame,      // TensorFlow "SAME": output size ceil(n / stride)
  kValid,     // no padding
};

enum class UpsampleMode {
  kNearest,  // output o reads input floor(o / factor)
  kLinear,   // half-pixel linear (align_corners=False): two neighbours
};

// Geometry of one node along one spatial axis, in samples of its input.
struct AxisGeometry {
  int64_t kernel = 1;
  int64_t stride = 1;
  int64_t dilation = 1;
  int64_t pad_before = 0;      // explicit padding only
  int64_t pad_after = 0;       // explicit padding only
  int64_t output_padding = 0;  // transposed convolution: extra samples at the end
  int64_t factor = 1;          // upsampling factor

  // Kernel extent with dilation, d * (k - 1) + 1.
  int64_t EffectiveKernel() const { return dilation * (kernel - 1) + 1; }
};

struct Node {
  std::string name;
  std::string op;  // op as written, e.g. "maxpool" or "relu"
  OpKind kind = OpKind::kIdentity;
  std::vector<size_t> inputs;      // indices of earlier nodes in LayerGraph::nodes
  std::vector<AxisGeometry> axes;  // one entry per spatial axis
  PaddingMode padding_mode = PaddingMode::kExplicit;
  bool ceil_mode = false;  // pooling: output size rounds up
  UpsampleMode upsample_mode = UpsampleMode::kNearest;
};

struct LayerGraph {
  std::string name;
  std::string source;               // file or description, for messages
  int dims = 2;                     // spatial axes: 1 (W) or 2 (H, W)
  std::vector<int64_t> input_size;  // samples per axis; empty when unknown
  std::vector<Node> nodes;          // topological order, exactly one input node
};

// Parses a layer-graph JSON object; source names it in error messages.
LayerGraph ParseLayerGraph(const nlohmann::json& doc, const std::string& source);

// Index of the node called name, or nodes.size() when there is none.
size_t FindNode(const LayerGraph& graph, const std::string& name);

}  // namespace scalelock::rf
