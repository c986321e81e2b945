#include "model/net_spec.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "util/error.h"

namespace scalelock {
namespace {

using nlohmann::json;

// Reads an integer field; a missing key yields fallback. Integral floats such
// as 3.0 are accepted because JSON writers may emit them.
int64_t ReadInt(const json& object, const std::string& key, const std::string& path,
                int64_t fallback, int64_t min_value) {
  if (!object.contains(key)) return fallback;
  const json& value = object[key];
  bool integral =
      value.is_number_integer() ||
      (value.is_number_float() && std::floor(value.get<double>()) == value.get<double>());
  if (!integral || value.get<double>() < static_cast<double>(min_value)) {
    Fail(ErrorCode::kInvalidInput, "{}.{}: invalid value {}: expected an integer >= {}",
         path, key, value.dump(), min_value);
  }
  return static_cast<int64_t>(value.get<double>());
}

std::string ReadString(const json& object, const std::string& key,
                       const std::string& path, const std::string& fallback,
                       const std::set<std::string>& allowed) {
  if (!object.contains(key)) return fallback;
  const json& value = object[key];
  if (!value.is_string() || allowed.count(value.get<std::string>()) == 0) {
    std::string names;
    for (const std::string& name : allowed)
      names += (names.empty() ? "\"" : ", \"") + name + "\"";
    Fail(ErrorCode::kInvalidInput, "{}.{}: invalid value {}: expected one of {}", path,
         key, value.dump(), names);
  }
  return value.get<std::string>();
}

// Layers of a "plain" or "dilated" stack: conv+ReLU layers with optional
// pooling after every pool_every convs, then the head.
std::vector<LayerSpec> ExpandStack(const json& model, bool dilated) {
  const std::string path = "model";
  int64_t depth = ReadInt(model, "depth", path, 4, 1);
  int64_t kernel = ReadInt(model, "kernel", path, 3, 1);
  int64_t width = ReadInt(model, "width", path, 16, 1);
  std::string pool = ReadString(model, "pool", path, "none", {"none", "max", "avg"});
  int64_t pool_every = ReadInt(model, "pool_every", path, 0, 0);
  std::string head = ReadString(model, "head", path, "gap", {"gap", "flatten"});
  if (kernel % 2 == 0) {
    Fail(ErrorCode::kInvalidInput,
         "model.kernel: invalid value {}: expected an odd integer so that 'same' "
         "padding is symmetric",
         kernel);
  }
  if (dilated && depth > 30) {
    Fail(ErrorCode::kInvalidInput,
         "model.depth: invalid value {}: a dilated stack doubles the dilation per "
         "layer, so at most 30 layers are supported",
         depth);
  }

  std::vector<LayerSpec> layers;
  for (int64_t l = 0; l < depth; ++l) {
    LayerSpec conv;
    conv.kind = LayerKind::kConv;
    conv.out = width;
    conv.kernel = kernel;
    conv.dilation = dilated ? (int64_t{1} << l) : 1;
    conv.padding = conv.dilation * (kernel - 1) / 2;
    conv.fused_relu = true;
    conv.path = fmt::format("model (conv layer {})", l);
    layers.push_back(conv);
    if (pool != "none" && pool_every > 0 && (l + 1) % pool_every == 0) {
      LayerSpec pooling;
      pooling.kind = pool == "max" ? LayerKind::kMaxPool : LayerKind::kAvgPool;
      pooling.kernel = 2;
      pooling.stride = 2;
      pooling.path = fmt::format("model.pool (after conv layer {})", l);
      layers.push_back(pooling);
    }
  }
  if (head == "gap") {
    LayerSpec gap;
    gap.kind = LayerKind::kGlobalAvgPool;
    gap.path = "model.head";
    layers.push_back(gap);
  }
  LayerSpec linear;
  linear.kind = LayerKind::kLinear;
  linear.path = "model.head";
  layers.push_back(linear);  // out is set to num_classes by the caller
  return layers;
}

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

Shape OutputShape(const LayerSpec& layer, const Shape& in) {
  bool spatial = in.size() >= 2;
  if (!spatial && layer.kind != LayerKind::kLinear && layer.kind != LayerKind::kRelu) {
    Fail(ErrorCode::kInvalidInput,
         "{}: a \"{}\" layer needs a spatial input, but it follows a linear layer",
         layer.path, LayerKindName(layer.kind));
  }
  switch (layer.kind) {
    case LayerKind::kRelu:
      return in;
    case LayerKind::kLinear:
      return {layer.out};
    case LayerKind::kGlobalAvgPool: {
      Shape out(in.size(), 1);
      out[0] = in[0];
      return out;
    }
    default:
      break;
  }
  int64_t window = layer.dilation * (layer.kernel - 1) + 1;
  Shape out = in;
  if (layer.kind == LayerKind::kConv) out[0] = layer.out;
  for (size_t axis = 1; axis < in.size(); ++axis) {
    out[axis] = WindowOutput(in[axis], window, layer.stride, layer.padding);
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
                     int num_classes) {
  CheckSampleShape(sample_shape, num_classes);
  if (!model.is_object()) {
    Fail(ErrorCode::kInvalidInput, "model: invalid value {}: expected an object",
         model.dump());
  }
  std::string family =
      ReadString(model, "family", "model", "", {"plain", "dilated", "custom"});

  NetSpec net;
  net.input = sample_shape;
  net.num_classes = num_classes;
  if (family == "custom") {
    net.layers = FuseRelu(ParseCustom(model, num_classes));
  } else if (family == "plain" || family == "dilated") {
    net.layers = ExpandStack(model, family == "dilated");
    net.layers.back().out = num_classes;
  } else {
    Fail(ErrorCode::kInvalidInput,
         "model.family: missing: expected \"plain\", \"dilated\" or \"custom\"");
  }

  net.shapes.push_back(sample_shape);
  for (const LayerSpec& layer : net.layers) {
    net.shapes.push_back(OutputShape(layer, net.shapes.back()));
  }
  return net;
}

NetStats ComputeNetStats(const NetSpec& net) {
  NetStats stats;
  int64_t jump = 1;
  for (size_t i = 0; i < net.layers.size(); ++i) {
    const LayerSpec& layer = net.layers[i];
    const Shape& in = net.shapes[i];
    const Shape& out = net.shapes[i + 1];
    int64_t spatial_axes = static_cast<int64_t>(in.size()) - 1;
    double out_elements = static_cast<double>(ShapeSize(out));

    switch (layer.kind) {
      case LayerKind::kConv: {
        int64_t taps = 1;
        for (int64_t a = 0; a < spatial_axes; ++a)
          taps *= layer.kernel;
        stats.params += layer.out * in[0] * taps + layer.out;
        stats.forward_flops += 2.0 * out_elements * static_cast<double>(in[0] * taps);
        if (layer.fused_relu) stats.forward_flops += out_elements;
        stats.width = std::max(stats.width, layer.out);
        stats.depth += 1;
        stats.kernel = std::max(stats.kernel, layer.kernel);
        stats.dilation = std::max(stats.dilation, layer.dilation);
        break;
      }
      case LayerKind::kLinear:
        stats.params += layer.out * ShapeSize(in) + layer.out;
        stats.forward_flops += 2.0 * static_cast<double>(layer.out * ShapeSize(in));
        break;
      default:
        stats.forward_flops += out_elements;
        break;
    }

    bool windowed = layer.kind == LayerKind::kConv || layer.kind == LayerKind::kMaxPool ||
                    layer.kind == LayerKind::kAvgPool;
    if (windowed) {
      int64_t window = layer.dilation * (layer.kernel - 1) + 1;
      stats.receptive_field += (window - 1) * jump;
      jump *= layer.stride;
    }
  }
  stats.effective_stride = jump;
  return stats;
}

}  // namespace scalelock
