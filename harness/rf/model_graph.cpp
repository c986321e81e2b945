#include "rf/model_graph.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "util/error.h"

namespace scalelock::rf {

namespace {

using nlohmann::json;

// Reads an integer field >= minimum, or returns default_value when absent.
int64_t ReadInt(const json& object, const std::string& key, int64_t default_value,
                int64_t minimum, const std::string& source, const std::string& path) {
  if (!object.contains(key)) return default_value;
  const json& value = object.at(key);
  if (!value.is_number_integer() || value.get<int64_t>() < minimum) {
    Fail(ErrorCode::kInvalidInput,
         "{}: {}.{}: invalid value {}: expected an integer >= {}", source, path, key,
         value.dump(), minimum);
  }
  return value.get<int64_t>();
}

std::string ReadString(const json& object, const std::string& key,
                       const std::string& default_value, const std::string& source,
                       const std::string& path) {
  if (!object.contains(key)) return default_value;
  const json& value = object.at(key);
  if (!value.is_string()) {
    Fail(ErrorCode::kInvalidInput, "{}: {}.{}: invalid value {}: expected a string",
         source, path, key, value.dump());
  }
  return value.get<std::string>();
}

LayerGraph StartGraph(int dims, const std::vector<int64_t>& input_size,
                      const std::string& source) {
  LayerGraph graph;
  graph.source = source;
  graph.dims = dims;
  graph.input_size = input_size;
  Node input;
  input.name = "input";
  input.op = "input";
  input.kind = OpKind::kInput;
  input.axes.assign(dims, AxisGeometry{});
  graph.nodes.push_back(input);
  return graph;
}

// Appends a node reading the previous node, with the same geometry on every axis.
void AppendNode(LayerGraph* graph, const std::string& name, const std::string& op,
                OpKind kind, const AxisGeometry& geometry) {
  Node node;
  node.name = name;
  node.op = op;
  node.kind = kind;
  node.inputs = {graph->nodes.size() - 1};
  node.axes.assign(graph->dims, geometry);
  graph->nodes.push_back(node);
}

// plain: dilation 1 everywhere; dilated: 1, 2, 4, ... Convs are stride 1 with
// "same" padding d * (k - 1) / 2; a 2/2 pool follows every pool_every convs.
void AppendStack(const json& model, const std::string& family, const std::string& source,
                 LayerGraph* graph) {
  int64_t depth = ReadInt(model, "depth", 4, 1, source, "model");
  int64_t kernel = ReadInt(model, "kernel", 3, 1, source, "model");
  if (kernel % 2 == 0) {
    Fail(ErrorCode::kInvalidInput,
         "{}: model.kernel: invalid value {}: expected an odd "
         "integer, because \"same\" padding d * (k - 1) / 2 needs k odd",
         source, kernel);
  }
  std::string pool = ReadString(model, "pool", "none", source, "model");
  if (pool != "none" && pool != "max" && pool != "avg") {
    Fail(ErrorCode::kInvalidInput,
         "{}: model.pool: invalid value \"{}\": expected \"none\", "
         "\"max\" or \"avg\"",
         source, pool);
  }
  int64_t pool_every = ReadInt(model, "pool_every", 0, 0, source, "model");
  bool pooled = pool != "none" && pool_every > 0;

  int64_t dilation = 1;
  int64_t pool_count = 0;
  for (int64_t layer = 1; layer <= depth; ++layer) {
    AxisGeometry conv;
    conv.kernel = kernel;
    conv.dilation = dilation;
    conv.pad_before = conv.pad_after = dilation * (kernel - 1) / 2;
    AppendNode(graph, fmt::format("conv{}", layer), "conv", OpKind::kConv, conv);
    if (family == "dilated") dilation *= 2;
    if (pooled && layer % pool_every == 0) {
      AxisGeometry window;
      window.kernel = window.stride = 2;
      AppendNode(graph, fmt::format("pool{}", ++pool_count), pool + "pool", OpKind::kPool,
                 window);
    }
  }
}

// Appends a node reading `inputs` (indices of earlier nodes) with per-axis
// geometry; returns its index.
size_t AppendGraphNode(LayerGraph* graph, const std::string& name, const std::string& op,
                       OpKind kind, const std::vector<size_t>& inputs,
                       const std::vector<AxisGeometry>& axes) {
  Node node;
  node.name = name;
  node.op = op;
  node.kind = kind;
  node.inputs = inputs;
  node.axes = axes;
  graph->nodes.push_back(node);
  return graph->nodes.size() - 1;
}

AxisGeometry SameConv(int64_t kernel, int64_t stride) {
  AxisGeometry conv;
  conv.kernel = kernel;
  conv.stride = stride;
  conv.pad_before = conv.pad_after = (kernel - 1) / 2;
  return conv;
}

int64_t OddKernel(const json& model, const std::string& source) {
  int64_t kernel = ReadInt(model, "kernel", 3, 1, source, "model");
  if (kernel % 2 == 0) {
    Fail(ErrorCode::kInvalidInput,
         "{}: model.kernel: invalid value {}: expected an odd integer, because \"same\" "
         "padding (k - 1) / 2 needs k odd",
         source, kernel);
  }
  return kernel;
}

// strided: per stage a conv of stride s, then layers_per_stage - 1 convs of
// stride 1, all with "same" padding (k - 1) / 2.
void AppendStrided(const json& model, const std::string& source, LayerGraph* graph) {
  int64_t depth = ReadInt(model, "depth", 3, 1, source, "model");
  int64_t kernel = OddKernel(model, source);
  int64_t stride = ReadInt(model, "stride", 2, 2, source, "model");
  int64_t per_stage = ReadInt(model, "layers_per_stage", 1, 1, source, "model");
  for (int64_t stage = 1; stage <= depth; ++stage) {
    for (int64_t layer = 1; layer <= per_stage; ++layer) {
      AppendNode(graph, fmt::format("stage{}_conv{}", stage, layer), "conv",
                 OpKind::kConv, SameConv(kernel, layer == 1 ? stride : 1));
    }
  }
}

// unet: per level convs and a 2/2 max pool down, convs at the bottom, then
// per level a 2/2 transposed conv, a concat with that level's last conv, and
// convs. The 1x1 dense head is left out like any head.
void AppendUnet(const json& model, const std::string& source, LayerGraph* graph) {
  int64_t depth = ReadInt(model, "depth", 2, 1, source, "model");
  int64_t kernel = OddKernel(model, source);
  int64_t convs = ReadInt(model, "convs_per_level", 2, 1, source, "model");
  auto conv_block = [&](const std::string& where) {
    for (int64_t c = 1; c <= convs; ++c) {
      AppendNode(graph, fmt::format("{}_conv{}", where, c), "conv", OpKind::kConv,
                 SameConv(kernel, 1));
    }
  };
  std::vector<size_t> skips;
  for (int64_t level = 0; level < depth; ++level) {
    conv_block(fmt::format("down{}", level));
    skips.push_back(graph->nodes.size() - 1);
    AxisGeometry window;
    window.kernel = window.stride = 2;
    AppendNode(graph, fmt::format("down{}_pool", level), "maxpool", OpKind::kPool,
               window);
  }
  conv_block("bottom");
  for (int64_t level = depth - 1; level >= 0; --level) {
    AxisGeometry up;
    up.kernel = up.stride = 2;
    AppendNode(graph, fmt::format("up{}_deconv", level), "deconv", OpKind::kDeconv, up);
    AppendGraphNode(graph, fmt::format("up{}_concat", level), "concat", OpKind::kConcat,
                    {graph->nodes.size() - 1, skips[level]},
                    std::vector<AxisGeometry>(graph->dims));
    conv_block(fmt::format("up{}", level));
  }
}

// fpn: per level a 2/2 max pool (from level 1) and convs, a 1x1 lateral conv
// of the coarsest level, then per finer level a 2/2 transposed conv of the
// coarser result, a 1x1 lateral conv of that level and their add, and a
// final conv.
void AppendFpn(const json& model, const std::string& source, LayerGraph* graph) {
  int64_t depth = ReadInt(model, "depth", 2, 1, source, "model");
  int64_t kernel = OddKernel(model, source);
  int64_t convs = ReadInt(model, "convs_per_level", 1, 1, source, "model");
  std::vector<size_t> levels;
  for (int64_t level = 0; level <= depth; ++level) {
    if (level > 0) {
      AxisGeometry window;
      window.kernel = window.stride = 2;
      AppendNode(graph, fmt::format("level{}_pool", level), "maxpool", OpKind::kPool,
                 window);
    }
    for (int64_t c = 1; c <= convs; ++c) {
      AppendNode(graph, fmt::format("level{}_conv{}", level, c), "conv", OpKind::kConv,
                 SameConv(kernel, 1));
    }
    levels.push_back(graph->nodes.size() - 1);
  }
  const std::vector<AxisGeometry> pointwise(graph->dims);
  size_t top = AppendGraphNode(graph, fmt::format("lateral{}", depth), "conv",
                               OpKind::kConv, {levels[depth]}, pointwise);
  for (int64_t level = depth - 1; level >= 0; --level) {
    AxisGeometry up;
    up.kernel = up.stride = 2;
    size_t upsampled = AppendGraphNode(graph, fmt::format("topdown{}_deconv", level),
                                       "deconv", OpKind::kDeconv, {top},
                                       std::vector<AxisGeometry>(graph->dims, up));
    size_t lateral = AppendGraphNode(graph, fmt::format("lateral{}", level), "conv",
                                     OpKind::kConv, {levels[level]}, pointwise);
    top = AppendGraphNode(graph, fmt::format("merge{}", level), "add", OpKind::kAdd,
                          {upsampled, lateral}, pointwise);
  }
  AppendNode(graph, "output_conv", "conv", OpKind::kConv, SameConv(kernel, 1));
}

// attention: the stem conv (stride = patch), then per block one node for
// self-attention over all L positions of each axis: a window of L samples
// with L - 1 zeros after the input, so every output depends on every position and
// the size stays L. The 1x1 projections, the MLP and the residual adds keep
// every position and are left out.
void AppendAttention(const json& model, const std::string& source, LayerGraph* graph) {
  int64_t depth = ReadInt(model, "depth", 2, 1, source, "model");
  int64_t kernel = OddKernel(model, source);
  int64_t patch = ReadInt(model, "patch", 1, 1, source, "model");
  if (graph->input_size.empty()) {
    Fail(ErrorCode::kInvalidInput,
         "{}: model.family \"attention\" needs the input size, because attention "
         "spans all positions; analyse a run config with its task",
         source);
  }
  AxisGeometry stem = SameConv(kernel, patch);
  AppendNode(graph, "stem", "conv", OpKind::kConv, stem);
  std::vector<AxisGeometry> axes;
  for (int64_t size : graph->input_size) {
    AxisGeometry global;
    global.kernel = (size + 2 * stem.pad_before - kernel) / patch + 1;
    global.pad_after = global.kernel - 1;
    axes.push_back(global);
  }
  for (int64_t block = 1; block <= depth; ++block) {
    AppendGraphNode(graph, fmt::format("attention{}", block), "attention", OpKind::kConv,
                    {graph->nodes.size() - 1}, axes);
  }
}

// custom: the listed layers up to the first gap or linear layer.
void AppendCustomLayers(const json& model, const std::string& source, LayerGraph* graph) {
  if (!model.contains("layers") || !model.at("layers").is_array()) {
    Fail(ErrorCode::kInvalidInput,
         "{}: model.layers: expected an array of layers for "
         "family \"custom\"",
         source);
  }
  const json& layers = model.at("layers");
  for (size_t i = 0; i < layers.size(); ++i) {
    std::string path = fmt::format("model.layers[{}]", i);
    const json& layer = layers[i];
    std::string type =
        layer.is_object() ? ReadString(layer, "type", "", source, path) : "";
    std::string name = fmt::format("{}{}", type, i);
    AxisGeometry geometry;
    if (type == "conv") {
      geometry.kernel = ReadInt(layer, "kernel", 3, 1, source, path);
      geometry.stride = ReadInt(layer, "stride", 1, 1, source, path);
      geometry.dilation = ReadInt(layer, "dilation", 1, 1, source, path);
      geometry.pad_before = geometry.pad_after =
          ReadInt(layer, "padding", 0, 0, source, path);
      AppendNode(graph, name, "conv", OpKind::kConv, geometry);
    } else if (type == "maxpool" || type == "avgpool") {
      geometry.kernel = ReadInt(layer, "kernel", 2, 1, source, path);
      geometry.stride = ReadInt(layer, "stride", geometry.kernel, 1, source, path);
      geometry.pad_before = geometry.pad_after =
          ReadInt(layer, "padding", 0, 0, source, path);
      AppendNode(graph, name, type, OpKind::kPool, geometry);
    } else if (type == "relu") {
      AppendNode(graph, name, "relu", OpKind::kIdentity, geometry);
    } else if (type == "gap" || type == "linear") {
      return;  // the head starts here
    } else {
      Fail(ErrorCode::kInvalidInput,
           "{}: {}.type: invalid value {}: expected \"conv\", "
           "\"relu\", \"maxpool\", \"avgpool\", \"gap\" or \"linear\"",
           source, path,
           layer.is_object() ? layer.value("type", json()).dump() : layer.dump());
    }
  }
}

json ParseJsonFile(const std::string& path) {
  std::error_code status;
  if (!std::filesystem::is_regular_file(path, status)) {
    Fail(ErrorCode::kNotFound,
         "{}: file not found; pass a layer-graph or run-config JSON "
         "file",
         path);
  }
  std::ifstream file(path);
  if (!file.is_open()) Fail(ErrorCode::kIO, "{}: cannot open the file for reading", path);
  std::stringstream text;
  text << file.rdbuf();
  if (file.bad()) Fail(ErrorCode::kIO, "{}: read failed", path);
  try {
    return json::parse(text.str());
  } catch (const json::parse_error& error) {
    Fail(ErrorCode::kInvalidInput, "{}: invalid JSON: {}", path, error.what());
  }
}

// Picks the one network a spec-like document describes.
const json& SelectExperiment(const json& doc, const std::string& path) {
  if (!doc.contains("experiments")) return doc;
  const json& experiments = doc.at("experiments");
  if (!experiments.is_array() || experiments.size() != 1) {
    Fail(ErrorCode::kInvalidInput,
         "{}: the spec lists {} experiments; `scalelock rf` "
         "analyses one network, so pass one run config {{\"task\", \"model\"}} or a "
         "layer graph",
         path, experiments.is_array() ? experiments.size() : 0);
  }
  return experiments[0];
}

}  // namespace

LayerGraph BuildModelGraph(const json& model, int dims,
                           const std::vector<int64_t>& input_size,
                           const std::string& source) {
  if (!model.is_object()) {
    Fail(ErrorCode::kInvalidInput,
         "{}: model: expected an object with \"family\", found {}", source, model.dump());
  }
  std::string family = ReadString(model, "family", "", source, "model");
  LayerGraph graph = StartGraph(dims, input_size, source);
  graph.name = family;
  if (family == "plain" || family == "dilated") {
    AppendStack(model, family, source, &graph);
  } else if (family == "spp") {
    AppendStack(model, "plain", source, &graph);  // the pyramid is the head
  } else if (family == "strided") {
    AppendStrided(model, source, &graph);
  } else if (family == "unet") {
    AppendUnet(model, source, &graph);
  } else if (family == "fpn") {
    AppendFpn(model, source, &graph);
  } else if (family == "attention") {
    AppendAttention(model, source, &graph);
  } else if (family == "custom") {
    AppendCustomLayers(model, source, &graph);
  } else {
    Fail(ErrorCode::kInvalidInput,
         "{}: model.family: invalid value \"{}\": expected \"plain\", \"dilated\", "
         "\"strided\", \"spp\", \"unet\", \"fpn\", \"attention\" or \"custom\"",
         source, family);
  }
  return graph;
}

LayerGraph BuildRunConfigGraph(const json& config, const std::string& source) {
  if (!config.contains("task") || !config.at("task").is_object()) {
    Fail(ErrorCode::kInvalidInput,
         "{}: task: missing; a run config needs the task object "
         "because it decides whether the network is 1D or 2D",
         source);
  }
  const json& task = config.at("task");
  std::string name = ReadString(task, "name", "", source, "task");
  int dims = 0;
  std::vector<int64_t> input_size;
  // Input sizes follow the task builders in harness/data (and
  // TaskSpatialSize in harness/spec/task_schema.cpp).
  if (name == "fashion_mnist") {
    dims = 2;
    input_size = {28, 28};
  } else if (name == "multiscale2d") {
    dims = 2;
    int64_t size = ReadInt(task, "size", 32, 1, source, "task");
    input_size = {size, size};
  } else if (name == "multiscale1d") {
    dims = 1;
    input_size = {ReadInt(task, "length", 64, 1, source, "task")};
  } else if (name == "dense1d") {
    dims = 1;
    int64_t lambda_min = ReadInt(task, "lambda_min", 1, 1, source, "task");
    int64_t lambda_max = ReadInt(task, "lambda_max", 2, 2, source, "task");
    int64_t regions = ReadInt(task, "regions", 4, 1, source, "task");
    input_size = {regions * (lambda_max - lambda_min) + lambda_min};
  } else if (name == "forecast") {
    dims = 1;
    input_size = {ReadInt(task, "context", 64, 1, source, "task")};
  } else {
    Fail(ErrorCode::kInvalidInput,
         "{}: task.name: invalid value \"{}\": expected \"multiscale1d\", "
         "\"multiscale2d\", \"dense1d\", \"forecast\" or \"fashion_mnist\"; for "
         "other inputs write a layer graph",
         source, name);
  }
  if (!config.contains("model")) {
    Fail(ErrorCode::kInvalidInput,
         "{}: model: missing; a run config needs the model object", source);
  }
  LayerGraph graph = BuildModelGraph(config.at("model"), dims, input_size, source);
  graph.name = fmt::format("{} on {}", graph.name, name);
  return graph;
}

LayerGraph LoadGraphFile(const std::string& path) {
  json doc = ParseJsonFile(path);
  if (!doc.is_object()) {
    Fail(ErrorCode::kInvalidInput, "{}: expected a JSON object, found {}", path,
         doc.type_name());
  }
  if (doc.contains("nodes")) return ParseLayerGraph(doc, path);

  const json& config = SelectExperiment(doc, path);
  if (config.contains("grid")) {
    Fail(ErrorCode::kInvalidInput,
         "{}: the spec has a grid, so it describes many networks; "
         "`scalelock rf` analyses one: write one run config {{\"task\", \"model\"}} with "
         "the "
         "grid values filled in, or a layer graph",
         path);
  }
  if (config.is_object() && config.contains("model")) {
    return BuildRunConfigGraph(config, path);
  }
  Fail(ErrorCode::kInvalidInput,
       "{}: expected a layer graph (an object with \"nodes\") or a "
       "run config (an object with \"task\" and \"model\")",
       path);
}

}  // namespace scalelock::rf
