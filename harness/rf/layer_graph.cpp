#include "rf/layer_graph.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "util/error.h"

namespace scalelock::rf {

namespace {

using nlohmann::json;

struct OpSpec {
  OpKind kind;
  std::vector<std::string> keys;  // keys allowed besides name, op, inputs, comment
};

const std::map<std::string, OpSpec>& OpSpecs() {
  static const std::vector<std::string> conv = {"kernel", "stride", "padding",
                                                "dilation"};
  // "mode" (max or avg) only for op "pool": maxpool and avgpool name it already.
  static const std::vector<std::string> pool = {"kernel", "stride", "padding", "dilation",
                                                "ceil_mode"};
  static const std::vector<std::string> pool_with_mode = {
      "kernel", "stride", "padding", "dilation", "ceil_mode", "mode"};
  static const std::vector<std::string> deconv = {"kernel", "stride", "padding",
                                                  "dilation", "output_padding"};
  static const std::map<std::string, OpSpec> specs = {
      {"input", {OpKind::kInput, {}}},
      {"conv", {OpKind::kConv, conv}},
      {"pool", {OpKind::kPool, pool_with_mode}},
      {"maxpool", {OpKind::kPool, pool}},
      {"avgpool", {OpKind::kPool, pool}},
      {"deconv", {OpKind::kDeconv, deconv}},
      {"conv_transpose", {OpKind::kDeconv, deconv}},
      {"upsample", {OpKind::kUpsample, {"factor", "mode"}}},
      {"identity", {OpKind::kIdentity, {}}},
      {"relu", {OpKind::kIdentity, {}}},
      {"bn", {OpKind::kIdentity, {}}},
      {"batchnorm", {OpKind::kIdentity, {}}},
      {"dropout", {OpKind::kIdentity, {}}},
      {"add", {OpKind::kAdd, {}}},
      {"concat", {OpKind::kConcat, {}}},
  };
  return specs;
}

std::string OpNames() {
  std::string names;
  for (const auto& [name, spec] : OpSpecs()) {
    if (!names.empty()) names += ", ";
    names += name;
  }
  return names;
}

// Index and name of a node, for error messages.
struct NodeContext {
  const std::string& source;
  size_t index;
  std::string name;

  [[noreturn]] void Reject(const std::string& field, const json& value,
                           const std::string& expected) const {
    Fail(ErrorCode::kInvalidInput,
         "{}: nodes[{}] \"{}\": field \"{}\": invalid value {}: "
         "expected {}",
         source, index, name, field, value.dump(), expected);
  }
};

bool IsInteger(const json& value) {
  return value.is_number_integer();
}

// Reads key as one integer >= minimum for every axis, or one per axis.
std::vector<int64_t> ReadAxisValues(const json& node, const std::string& key, int dims,
                                    int64_t default_value, int64_t minimum,
                                    const NodeContext& context) {
  std::string expected =
      fmt::format("an integer >= {} or an array of {} such integers", minimum, dims);
  if (!node.contains(key)) return std::vector<int64_t>(dims, default_value);
  const json& value = node.at(key);
  std::vector<int64_t> values;
  if (IsInteger(value)) {
    values.assign(dims, value.get<int64_t>());
  } else if (value.is_array() && static_cast<int>(value.size()) == dims) {
    for (const json& entry : value) {
      if (!IsInteger(entry)) context.Reject(key, value, expected);
      values.push_back(entry.get<int64_t>());
    }
  } else {
    context.Reject(key, value, expected);
  }
  for (int64_t entry : values) {
    if (entry < minimum) context.Reject(key, value, expected);
  }
  return values;
}

void RequireKey(const json& node, const std::string& key, const NodeContext& context) {
  if (!node.contains(key)) {
    Fail(ErrorCode::kInvalidInput,
         "{}: nodes[{}] \"{}\": missing field \"{}\" (op \"{}\")", context.source,
         context.index, context.name, key, node.at("op").get<std::string>());
  }
}

// Reads one padding pair: an integer p (p, p) or [before, after].
bool ReadPaddingPair(const json& value, int64_t* before, int64_t* after) {
  if (IsInteger(value)) {
    *before = *after = value.get<int64_t>();
  } else if (value.is_array() && value.size() == 2 && IsInteger(value[0]) &&
             IsInteger(value[1])) {
    *before = value[0].get<int64_t>();
    *after = value[1].get<int64_t>();
  } else {
    return false;
  }
  return *before >= 0 && *after >= 0;
}

// Reads padding: an integer, "same", "valid", [before, after] in a 1D graph, or one
// integer or [before, after] pair per axis.
void ReadPadding(const json& node, int dims, bool allow_same, const NodeContext& context,
                 Node* out) {
  if (!node.contains("padding")) return;
  const json& value = node.at("padding");
  std::string expected = fmt::format(
      "an integer >= 0{}, [before, after], or an array of {} integers or [before, after] "
      "pairs (one per axis)",
      allow_same ? ", \"same\", \"valid\"" : "", dims);
  if (value.is_string()) {
    std::string mode = value.get<std::string>();
    if (!allow_same || (mode != "same" && mode != "valid")) {
      context.Reject("padding", value, expected);
    }
    out->padding_mode = mode == "same" ? PaddingMode::kSame : PaddingMode::kValid;
    return;
  }
  bool flat_pair_1d = dims == 1 && value.is_array() && value.size() == 2;
  if (IsInteger(value) || flat_pair_1d) {
    for (AxisGeometry& axis : out->axes) {
      if (!ReadPaddingPair(value, &axis.pad_before, &axis.pad_after)) {
        context.Reject("padding", value, expected);
      }
    }
    return;
  }
  if (!value.is_array() || static_cast<int>(value.size()) != dims) {
    context.Reject("padding", value, expected);
  }
  for (int axis = 0; axis < dims; ++axis) {
    AxisGeometry& geometry = out->axes[axis];
    if (!ReadPaddingPair(value[axis], &geometry.pad_before, &geometry.pad_after)) {
      context.Reject("padding", value, expected);
    }
  }
}

std::string ReadChoice(const json& node, const std::string& key,
                       const std::vector<std::string>& choices,
                       const NodeContext& context) {
  if (!node.contains(key)) return choices.front();
  const json& value = node.at(key);
  if (value.is_string() && std::find(choices.begin(), choices.end(),
                                     value.get<std::string>()) != choices.end()) {
    return value.get<std::string>();
  }
  std::string expected = "one of";
  for (const std::string& choice : choices)
    expected += " \"" + choice + "\"";
  context.Reject(key, value, expected);
}

// Fills the per-axis geometry of a conv, pool or deconv node.
void ReadWindowGeometry(const json& node, int dims, const NodeContext& context,
                        Node* out) {
  RequireKey(node, "kernel", context);
  std::vector<int64_t> kernel = ReadAxisValues(node, "kernel", dims, 1, 1, context);
  // Pooling strides default to the window, as in PyTorch and TF-Slim.
  std::vector<int64_t> stride = out->kind == OpKind::kPool
                                    ? ReadAxisValues(node, "stride", dims, 0, 1, context)
                                    : ReadAxisValues(node, "stride", dims, 1, 1, context);
  if (out->kind == OpKind::kPool && !node.contains("stride")) stride = kernel;
  std::vector<int64_t> dilation = ReadAxisValues(node, "dilation", dims, 1, 1, context);
  std::vector<int64_t> output_padding =
      ReadAxisValues(node, "output_padding", dims, 0, 0, context);
  for (int axis = 0; axis < dims; ++axis) {
    AxisGeometry& geometry = out->axes[axis];
    geometry.kernel = kernel[axis];
    geometry.stride = stride[axis];
    geometry.dilation = dilation[axis];
    geometry.output_padding = output_padding[axis];
    if (geometry.output_padding >= geometry.stride &&
        geometry.output_padding >= geometry.dilation) {
      context.Reject("output_padding", node.at("output_padding"),
                     "values smaller than the stride or the dilation of that axis");
    }
  }
  ReadPadding(node, dims, out->kind != OpKind::kDeconv, context, out);
}

void ReadOpFields(const json& node, int dims, const NodeContext& context, Node* out) {
  switch (out->kind) {
    case OpKind::kConv:
    case OpKind::kPool:
    case OpKind::kDeconv:
      ReadWindowGeometry(node, dims, context, out);
      break;
    case OpKind::kUpsample: {
      RequireKey(node, "factor", context);
      std::vector<int64_t> factor = ReadAxisValues(node, "factor", dims, 1, 1, context);
      for (int axis = 0; axis < dims; ++axis)
        out->axes[axis].factor = factor[axis];
      out->upsample_mode =
          ReadChoice(node, "mode", {"nearest", "linear"}, context) == "linear"
              ? UpsampleMode::kLinear
              : UpsampleMode::kNearest;
      break;
    }
    default:
      break;
  }
  if (out->kind == OpKind::kPool && out->op == "pool") {
    ReadChoice(node, "mode", {"max", "avg"}, context);
  }
  if (node.contains("ceil_mode")) {
    if (!node.at("ceil_mode").is_boolean()) {
      context.Reject("ceil_mode", node.at("ceil_mode"), "true or false");
    }
    out->ceil_mode = node.at("ceil_mode").get<bool>();
  }
}

void CheckKeys(const json& node, const OpSpec& spec, const NodeContext& context) {
  static const std::set<std::string> common = {"name", "op", "inputs", "comment"};
  for (const auto& [key, value] : node.items()) {
    if (common.count(key)) continue;
    if (std::find(spec.keys.begin(), spec.keys.end(), key) != spec.keys.end()) continue;
    std::string allowed = "name, op, inputs, comment";
    for (const std::string& allowed_key : spec.keys)
      allowed += ", " + allowed_key;
    Fail(ErrorCode::kInvalidInput,
         "{}: nodes[{}] \"{}\": unknown field \"{}\" for op "
         "\"{}\"; allowed fields: {}",
         context.source, context.index, context.name, key,
         node.at("op").get<std::string>(), allowed);
  }
}

// Resolves "inputs" (a name or an array of names) to indices of earlier nodes.
std::vector<size_t> ReadInputs(const json& node, const LayerGraph& graph,
                               const NodeContext& context) {
  if (!node.contains("inputs")) {
    if (graph.nodes.empty()) return {};
    return {graph.nodes.size() - 1};
  }
  const json& value = node.at("inputs");
  std::vector<std::string> names;
  if (value.is_string()) {
    names.push_back(value.get<std::string>());
  } else if (value.is_array() && !value.empty() &&
             std::all_of(value.begin(), value.end(),
                         [](const json& entry) { return entry.is_string(); })) {
    names = value.get<std::vector<std::string>>();
  } else {
    context.Reject("inputs", value, "a node name or a non-empty array of node names");
  }
  std::vector<size_t> inputs;
  for (const std::string& name : names) {
    size_t index = FindNode(graph, name);
    if (index == graph.nodes.size()) {
      context.Reject(
          "inputs", value,
          fmt::format("names of nodes listed before this one; \"{}\" is not one", name));
    }
    inputs.push_back(index);
  }
  return inputs;
}

void CheckInputCount(const Node& node, const json& inputs_value,
                     const NodeContext& context) {
  size_t count = node.inputs.size();
  if (node.kind == OpKind::kInput && count != 0) {
    context.Reject("inputs", inputs_value, "no inputs for the input node");
  }
  if (node.kind == OpKind::kInput) return;
  if (count == 0) {
    Fail(ErrorCode::kInvalidInput,
         "{}: nodes[{}] \"{}\": op \"{}\" needs an input, but it "
         "is the first node; list the input node first",
         context.source, context.index, context.name, node.op);
  }
  bool merge = node.kind == OpKind::kAdd || node.kind == OpKind::kConcat;
  if (merge && count < 2) {
    context.Reject("inputs", inputs_value, "at least 2 node names for a merge");
  }
  if (!merge && count != 1) {
    context.Reject("inputs", inputs_value, "exactly 1 node name");
  }
}

Node ParseNode(const json& value, size_t index, const LayerGraph& graph) {
  NodeContext context{graph.source, index, ""};
  if (!value.is_object()) context.Reject("(node)", value, "an object with name and op");
  if (!value.contains("name") || !value.at("name").is_string() ||
      value.at("name").get<std::string>().empty()) {
    context.Reject("name", value.value("name", json()), "a non-empty string");
  }
  Node node;
  node.name = value.at("name").get<std::string>();
  context.name = node.name;
  if (FindNode(graph, node.name) != graph.nodes.size()) {
    context.Reject("name", value.at("name"), "a name no earlier node uses");
  }

  if (!value.contains("op") || !value.at("op").is_string() ||
      !OpSpecs().count(value.at("op").get<std::string>())) {
    context.Reject("op", value.value("op", json()), "one of " + OpNames());
  }
  node.op = value.at("op").get<std::string>();
  const OpSpec& spec = OpSpecs().at(node.op);
  node.kind = spec.kind;
  CheckKeys(value, spec, context);

  node.inputs = ReadInputs(value, graph, context);
  if (node.kind == OpKind::kInput && !value.contains("inputs")) node.inputs.clear();
  CheckInputCount(node, value.value("inputs", json()), context);

  node.axes.assign(graph.dims, AxisGeometry{});
  ReadOpFields(value, graph.dims, context, &node);
  return node;
}

void ReadHeader(const json& doc, LayerGraph* graph) {
  static const std::set<std::string> keys = {"name", "dims", "input_size", "nodes",
                                             "comment"};
  for (const auto& [key, value] : doc.items()) {
    if (!keys.count(key)) {
      Fail(ErrorCode::kInvalidInput,
           "{}: unknown top-level field \"{}\"; allowed fields: "
           "name, dims, input_size, nodes, comment",
           graph->source, key);
    }
  }
  graph->name = doc.value("name", std::string());
  if (doc.contains("dims")) {
    const json& dims = doc.at("dims");
    if (!dims.is_number_integer() || dims.get<int>() < 1 || dims.get<int>() > 2) {
      Fail(ErrorCode::kInvalidInput,
           "{}: field \"dims\": invalid value {}: expected 1 or 2", graph->source,
           dims.dump());
    }
    graph->dims = dims.get<int>();
  }
  if (doc.contains("input_size")) {
    NodeContext context{graph->source, 0, "(graph)"};
    graph->input_size = ReadAxisValues(doc, "input_size", graph->dims, 0, 1, context);
  }
  if (!doc.contains("nodes") || !doc.at("nodes").is_array() || doc.at("nodes").empty()) {
    Fail(ErrorCode::kInvalidInput,
         "{}: field \"nodes\": expected a non-empty array of "
         "nodes such as {{\"name\": \"input\", \"op\": \"input\"}}",
         graph->source);
  }
}

}  // namespace

size_t FindNode(const LayerGraph& graph, const std::string& name) {
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (graph.nodes[i].name == name) return i;
  }
  return graph.nodes.size();
}

LayerGraph ParseLayerGraph(const json& doc, const std::string& source) {
  LayerGraph graph;
  graph.source = source;
  if (!doc.is_object()) {
    Fail(ErrorCode::kInvalidInput, "{}: expected a JSON object with \"nodes\", found {}",
         source, doc.type_name());
  }
  ReadHeader(doc, &graph);

  size_t input_count = 0;
  for (const json& value : doc.at("nodes")) {
    graph.nodes.push_back(ParseNode(value, graph.nodes.size(), graph));
    if (graph.nodes.back().kind == OpKind::kInput) ++input_count;
  }
  if (input_count != 1) {
    Fail(ErrorCode::kInvalidInput,
         "{}: expected exactly one node with op \"input\", found "
         "{}; receptive fields are measured on one input",
         source, input_count);
  }
  return graph;
}

}  // namespace scalelock::rf
