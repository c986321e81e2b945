#include "model/net_spec.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "model/config_read.h"
#include "model/families.h"
#include "util/error.h"

namespace scalelock {
namespace {

using nlohmann::json;

using model_config::ReadInt;
using model_config::ReadString;

const std::map<std::string, std::set<std::string>>& LayerKeys() {
  static const std::map<std::string, std::set<std::string>> keys = {
      {"conv", {"type", "out", "kernel", "stride", "padding", "dilation"}},
      {"relu", {"type"}},
      {"maxpool", {"type", "kernel", "stride", "padding"}},
      {"avgpool", {"type", "kernel", "stride", "padding"}},
      {"gap", {"type"}},
      {"linear", {"type", "out"}},
  };
  return keys;
}

LayerSpec ParseCustomLayer(const json& layer, const std::string& path) {
  if (!layer.is_object() || !layer.contains("type") || !layer["type"].is_string() ||
      LayerKeys().count(layer["type"].get<std::string>()) == 0) {
    Fail(ErrorCode::kInvalidInput,
         "{}: invalid layer {}: expected an object with \"type\" one of \"conv\", "
         "\"relu\", \"maxpool\", \"avgpool\", \"gap\", \"linear\"",
         path, layer.dump());
  }
  const std::string type = layer["type"];
  for (const auto& item : layer.items()) {
    if (LayerKeys().at(type).count(item.key()) == 0) {
      Fail(ErrorCode::kInvalidInput, "{}.{}: unknown key for a \"{}\" layer", path,
           item.key(), type);
    }
  }

  LayerSpec spec;
  spec.path = path;
  if (type == "conv") {
    spec.kind = LayerKind::kConv;
    if (!layer.contains("out")) Fail(ErrorCode::kInvalidInput, "{}.out: missing", path);
    spec.out = ReadInt(layer, "out", path, 0, 1);
    spec.kernel = ReadInt(layer, "kernel", path, 3, 1);
    spec.stride = ReadInt(layer, "stride", path, 1, 1);
    spec.padding = ReadInt(layer, "padding", path, 0, 0);
    spec.dilation = ReadInt(layer, "dilation", path, 1, 1);
  } else if (type == "maxpool" || type == "avgpool") {
    spec.kind = type == "maxpool" ? LayerKind::kMaxPool : LayerKind::kAvgPool;
    spec.kernel = ReadInt(layer, "kernel", path, 2, 1);
    spec.stride = ReadInt(layer, "stride", path, spec.kernel, 1);
    spec.padding = ReadInt(layer, "padding", path, 0, 0);
    if (2 * spec.padding > spec.kernel) {
      Fail(ErrorCode::kInvalidInput,
           "{}.padding: invalid value {}: expected at most half the kernel ({})", path,
           spec.padding, spec.kernel);
    }
  } else if (type == "linear") {
    spec.kind = LayerKind::kLinear;
    if (!layer.contains("out")) Fail(ErrorCode::kInvalidInput, "{}.out: missing", path);
    spec.out = ReadInt(layer, "out", path, 0, 1);
  } else {
    spec.kind = type == "relu" ? LayerKind::kRelu : LayerKind::kGlobalAvgPool;
  }
  return spec;
}

std::vector<LayerSpec> ParseCustom(const json& model, int num_classes) {
  if (!model.contains("layers") || !model["layers"].is_array() ||
      model["layers"].empty()) {
    Fail(ErrorCode::kInvalidInput,
         "model.layers: missing or empty: expected an array of layer objects ending "
         "with {{\"type\": \"linear\", \"out\": {}}}",
         num_classes);
  }
  std::vector<LayerSpec> layers;
  const json& list = model["layers"];
  for (size_t i = 0; i < list.size(); ++i) {
    layers.push_back(ParseCustomLayer(list[i], fmt::format("model.layers[{}]", i)));
  }
  const LayerSpec& last = layers.back();
  if (last.kind != LayerKind::kLinear || last.out != num_classes) {
    Fail(ErrorCode::kInvalidInput,
         "{}: invalid last layer: expected {{\"type\": \"linear\", \"out\": {}}}, one "
         "output per class",
         last.path, num_classes);
  }
  return layers;
}

// Merges each conv that is directly followed by a relu into one fused conv.
std::vector<LayerSpec> FuseRelu(const std::vector<LayerSpec>& layers) {
  std::vector<LayerSpec> fused;
  for (const LayerSpec& layer : layers) {
    if (layer.kind == LayerKind::kRelu && !fused.empty() &&
        fused.back().kind == LayerKind::kConv && !fused.back().fused_relu) {
      fused.back().fused_relu = true;
      continue;
    }
    fused.push_back(layer);
  }
  return fused;
}

// Output size of a window of `window` samples moved by stride over size
// samples padded by padding on both sides (floor rounding, as in oneDNN).
int64_t WindowOutput(int64_t size, int64_t window, int64_t stride, int64_t padding) {
  int64_t span = size + 2 * padding - window;
  return span < 0 ? 0 : span / stride + 1;
}

[[noreturn]] void RejectInputs(const LayerSpec& layer, const std::vector<Shape>& in,
                               const char* expected) {
  std::vector<std::string> shapes;
  for (const Shape& shape : in)
    shapes.push_back(fmt::format("[{}]", fmt::join(shape, ", ")));
  Fail(ErrorCode::kInvalidInput, "{}: a \"{}\" layer got inputs {}: expected {}",
       layer.path, LayerKindName(layer.kind), fmt::join(shapes, ", "), expected);
}

// Concatenation joins the per-sample vectors of its inputs. When every input
// is spatial with the same spatial sizes, this is a channel concatenation in
// NC(H)W order and the output keeps the spatial axes. Otherwise the output is
// a flat feature vector.
Shape ConcatShape(const LayerSpec& layer, const std::vector<Shape>& in) {
  if (in.size() < 2) RejectInputs(layer, in, "at least two inputs");
  bool channel_concat = in[0].size() >= 2;
  int64_t channels = 0;
  int64_t total = 0;
  for (const Shape& shape : in) {
    channel_concat = channel_concat && shape.size() == in[0].size() &&
                     std::equal(shape.begin() + 1, shape.end(), in[0].begin() + 1);
    channels += shape[0];
    total += ShapeSize(shape);
  }
  if (!channel_concat) return {total};
  Shape out = in[0];
  out[0] = channels;
  return out;
}

Shape WindowedShape(const LayerSpec& layer, const Shape& in) {
  int64_t window = layer.dilation * (layer.kernel - 1) + 1;
  Shape out = in;
  if (layer.kind == LayerKind::kConv || layer.kind == LayerKind::kDeconv) {
    out[0] = layer.out;
  }
  for (size_t axis = 1; axis < in.size(); ++axis) {
    if (layer.kind == LayerKind::kDeconv) {
      out[axis] = (in[axis] - 1) * layer.stride - 2 * layer.padding + layer.kernel;
    } else {
      out[axis] = WindowOutput(in[axis], window, layer.stride, layer.padding);
    }
    if (out[axis] < 1) {
      Fail(ErrorCode::kInvalidInput,
           "{}: a window of {} samples (kernel {}, dilation {}) does not fit the input "
           "size {} with padding {}; use a smaller kernel, fewer pooling layers or a "
           "larger input",
           layer.path, window, layer.kernel, layer.dilation, in[axis], layer.padding);
    }
  }
  return out;
}

Shape OutputShape(const LayerSpec& layer, const std::vector<Shape>& in) {
  bool multi_input = layer.kind == LayerKind::kConcat || layer.kind == LayerKind::kAdd ||
                     layer.kind == LayerKind::kAttention;
  if (!multi_input && in.size() != 1) RejectInputs(layer, in, "one input");
  bool spatial = in[0].size() >= 2;
  if (!spatial && layer.kind != LayerKind::kLinear && layer.kind != LayerKind::kRelu &&
      layer.kind != LayerKind::kConcat) {
    Fail(ErrorCode::kInvalidInput,
         "{}: a \"{}\" layer needs a spatial input, but it follows a linear layer",
         layer.path, LayerKindName(layer.kind));
  }
  switch (layer.kind) {
    case LayerKind::kRelu:
    case LayerKind::kPositional:
      return in[0];
    case LayerKind::kLinear:
      return {layer.out};
    case LayerKind::kGlobalAvgPool: {
      Shape out(in[0].size(), 1);
      out[0] = in[0][0];
      return out;
    }
    case LayerKind::kConcat:
      return ConcatShape(layer, in);
    case LayerKind::kAdd:
      if (in.size() != 2 || in[0] != in[1]) {
        RejectInputs(layer, in, "two inputs of equal shape");
      }
      return in[0];
    case LayerKind::kAttention:
      if (in.size() != 3 || in[0] != in[1] || in[0] != in[2]) {
        RejectInputs(layer, in, "query, key and value of equal shape");
      }
      if (layer.heads < 1 || in[0][0] % layer.heads != 0) {
        Fail(ErrorCode::kInvalidInput,
             "{}: {} heads do not divide the {} channels; use a width divisible by "
             "model.heads",
             layer.path, layer.heads, in[0][0]);
      }
      return in[2];
    default:
      return WindowedShape(layer, in[0]);
  }
}

void CheckSampleShape(const Shape& sample_shape, int num_classes) {
  bool valid = sample_shape.size() == 2 || sample_shape.size() == 3;
  for (int64_t size : sample_shape)
    valid = valid && size >= 1;
  if (!valid) {
    Fail(ErrorCode::kInvalidInput,
         "task sample shape [{}]: expected {{C, W}} or {{C, H, W}} with positive sizes",
         fmt::join(sample_shape, ", "));
  }
  if (num_classes < 2) {
    Fail(ErrorCode::kInvalidInput, "task class count {}: expected at least 2",
         num_classes);
  }
}

}  // namespace

const char* LayerKindName(LayerKind kind) {
  switch (kind) {
    case LayerKind::kConv:
      return "conv";
    case LayerKind::kRelu:
      return "relu";
    case LayerKind::kMaxPool:
      return "maxpool";
    case LayerKind::kAvgPool:
      return "avgpool";
    case LayerKind::kGlobalAvgPool:
      return "gap";
    case LayerKind::kLinear:
      return "linear";
    case LayerKind::kDeconv:
      return "deconv";
    case LayerKind::kConcat:
      return "concat";
    case LayerKind::kAdd:
      return "add";
    case LayerKind::kAttention:
      return "attention";
    case LayerKind::kPositional:
      return "positional";
  }
  return "unknown";
}

int64_t ShapeSize(const Shape& shape) {
  int64_t size = 1;
  for (int64_t extent : shape)
    size *= extent;
  return size;
}

NetSpec BuildNetSpec(const nlohmann::json& model, const Shape& sample_shape,
                     int num_classes, Objective objective) {
  CheckSampleShape(sample_shape, num_classes);
  if (!model.is_object()) {
    Fail(ErrorCode::kInvalidInput, "model: invalid value {}: expected an object",
         model.dump());
  }
  std::string family = ReadString(
      model, "family", "model", "",
      {"plain", "dilated", "strided", "spp", "unet", "fpn", "attention", "custom"});

  NetSpec net;
  net.input = sample_shape;
  net.num_classes = num_classes;
  net.objective = objective;
  if (family == "custom") {
    if (objective == Objective::kDenseClass) {
      Fail(ErrorCode::kInvalidInput,
           "model.family: \"custom\" ends with a linear layer, but the task needs one "
           "class per position; use \"unet\" or a stack with head \"dense\"");
    }
    net.layers = FuseRelu(ParseCustom(model, num_classes));
    net.feature_layer = -1;
    for (size_t i = 0; i < net.layers.size(); ++i) {
      net.layers[i].inputs = {static_cast<int64_t>(i)};
    }
    for (size_t i = 0; i < net.layers.size(); ++i) {
      LayerKind kind = net.layers[i].kind;
      if (kind == LayerKind::kGlobalAvgPool || kind == LayerKind::kLinear) break;
      if (kind != LayerKind::kRelu) net.feature_layer = static_cast<int64_t>(i);
    }
  } else if (!family.empty()) {
    families::Expansion expansion =
        families::ExpandFamily(family, model, sample_shape, num_classes, objective);
    net.layers = std::move(expansion.layers);
    net.feature_layer = expansion.feature_layer;
  } else {
    Fail(ErrorCode::kInvalidInput,
         "model.family: missing: expected \"plain\", \"dilated\", \"strided\", \"spp\", "
         "\"unet\", \"fpn\", \"attention\" or \"custom\"");
  }

  net.shapes.push_back(sample_shape);
  for (const LayerSpec& layer : net.layers) {
    std::vector<Shape> in;
    for (int64_t tensor : layer.inputs)
      in.push_back(net.shapes.at(tensor));
    net.shapes.push_back(OutputShape(layer, in));
  }
  return net;
}

namespace {

// Receptive-field bookkeeping of one tensor: its RF, the input distance
// between neighbouring positions (a power of the strides, exact in double),
// and the effective padding.
struct Reach {
  int64_t rf = 1;
  double jump = 1.0;
  int64_t padding = 0;
};

Reach PropagateReach(const LayerSpec& layer, const std::vector<Reach>& in,
                     const Shape& in_shape) {
  Reach out = in[0];
  switch (layer.kind) {
    case LayerKind::kConv:
    case LayerKind::kMaxPool:
    case LayerKind::kAvgPool: {
      int64_t window = layer.dilation * (layer.kernel - 1) + 1;
      out.rf += static_cast<int64_t>((window - 1) * in[0].jump);
      out.padding += static_cast<int64_t>(layer.padding * in[0].jump);
      out.jump *= static_cast<double>(layer.stride);
      break;
    }
    case LayerKind::kDeconv: {
      int64_t taps = (layer.kernel + layer.stride - 1) / layer.stride;
      out.rf += static_cast<int64_t>((taps - 1) * in[0].jump);
      out.jump /= static_cast<double>(layer.stride);
      break;
    }
    case LayerKind::kAttention: {
      int64_t positions = in_shape.size() >= 2 ? in_shape.back() : 1;
      for (const Reach& reach : in) {
        out.rf = std::max(out.rf, reach.rf);
        out.padding = std::max(out.padding, reach.padding);
      }
      out.rf += static_cast<int64_t>((positions - 1) * in[0].jump);
      break;
    }
    case LayerKind::kConcat:
    case LayerKind::kAdd:
      for (const Reach& reach : in) {
        out.rf = std::max(out.rf, reach.rf);
        out.padding = std::max(out.padding, reach.padding);
      }
      break;
    default:
      break;
  }
  return out;
}

int64_t SpatialTaps(int64_t kernel, size_t spatial_axes) {
  int64_t taps = 1;
  for (size_t a = 0; a < spatial_axes; ++a)
    taps *= kernel;
  return taps;
}

void CountLayer(const LayerSpec& layer, const Shape& in, const Shape& out,
                NetStats* stats) {
  size_t spatial_axes = in.size() - 1;
  double out_elements = static_cast<double>(ShapeSize(out));
  switch (layer.kind) {
    case LayerKind::kConv:
    case LayerKind::kDeconv: {
      int64_t taps = SpatialTaps(layer.kernel, spatial_axes);
      stats->params += layer.out * in[0] * taps + layer.out;
      double products = layer.kind == LayerKind::kConv
                            ? out_elements * static_cast<double>(in[0] * taps)
                            : static_cast<double>(ShapeSize(in) * layer.out * taps);
      stats->forward_flops += 2.0 * products;
      if (layer.fused_relu) stats->forward_flops += out_elements;
      stats->width = std::max(stats->width, layer.out);
      stats->depth += 1;
      if (layer.kind == LayerKind::kConv) {
        stats->kernel = std::max(stats->kernel, layer.kernel);
        stats->dilation = std::max(stats->dilation, layer.dilation);
      }
      break;
    }
    case LayerKind::kLinear:
      stats->params += layer.out * ShapeSize(in) + layer.out;
      stats->forward_flops += 2.0 * static_cast<double>(layer.out * ShapeSize(in));
      break;
    case LayerKind::kAttention: {
      double positions = static_cast<double>(ShapeSize(in) / in[0]);
      double channels = static_cast<double>(in[0]);
      double heads = static_cast<double>(layer.heads);
      // Q^T K and V P^T are 2 * C * L^2 each over all heads; the softmax is
      // L^2 per head.
      stats->forward_flops +=
          4.0 * channels * positions * positions + heads * positions * positions;
      break;
    }
    case LayerKind::kPositional:
      if (layer.learned) stats->params += ShapeSize(in);
      stats->forward_flops += out_elements;
      break;
    case LayerKind::kConcat:
      break;
    default:
      stats->forward_flops += out_elements;
      break;
  }
}

}  // namespace

NetStats ComputeNetStats(const NetSpec& net) {
  NetStats stats;
  std::vector<Reach> reach(net.layers.size() + 1);
  for (size_t i = 0; i < net.layers.size(); ++i) {
    const LayerSpec& layer = net.layers[i];
    const Shape& in = net.shapes[layer.inputs[0]];
    CountLayer(layer, in, net.shapes[i + 1], &stats);
    std::vector<Reach> inputs;
    for (int64_t tensor : layer.inputs)
      inputs.push_back(reach[tensor]);
    reach[i + 1] = PropagateReach(layer, inputs, in);
  }
  const Reach& features = reach[net.feature_layer + 1];
  stats.receptive_field = features.rf;
  stats.effective_stride = static_cast<int64_t>(features.jump);
  stats.effective_padding = features.padding;
  return stats;
}

NetSpec TruncateNetSpec(const NetSpec& net, int64_t last) {
  if (last < 0 || last >= static_cast<int64_t>(net.layers.size())) {
    Fail(ErrorCode::kInternal, "cannot cut a network of {} layers after layer {}",
         net.layers.size(), last);
  }
  NetSpec cut = net;
  cut.layers.resize(last + 1);
  cut.shapes.resize(last + 2);
  cut.objective = Objective::kClass;
  cut.num_classes = static_cast<int>(cut.shapes.back()[0]);
  cut.feature_layer = last;
  return cut;
}

}  // namespace scalelock
