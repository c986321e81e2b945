#include "rf/format.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <functional>

namespace scalelock::rf {

namespace {

using nlohmann::json;

// One value when all axes agree, else "[h, w]".
std::string JoinAxes(const LayerResult& layer,
                     const std::function<std::string(const AxisResult&)>& render) {
  std::vector<std::string> values;
  for (const AxisResult& axis : layer.axes)
    values.push_back(render(axis));
  if (std::all_of(values.begin(), values.end(),
                  [&](const std::string& value) { return value == values.front(); })) {
    return values.front();
  }
  return "[" + fmt::format("{}", fmt::join(values, ", ")) + "]";
}

// One JSON value when all axes agree, else an array with one per axis.
json AxesToJson(const LayerResult& layer,
                const std::function<json(const AxisResult&)>& get) {
  json values = json::array();
  for (const AxisResult& axis : layer.axes)
    values.push_back(get(axis));
  for (const json& value : values) {
    if (value != values.front()) return values;
  }
  return values.front();
}

std::string RenderRf(const AxisResult& axis) {
  if (axis.rf_min == axis.rf) return std::to_string(axis.rf);
  return fmt::format("{}..{}", axis.rf_min, axis.rf);
}

std::string RenderCenter(const Rational& center) {
  return fmt::format("{}", center.ToDouble());
}

std::string RenderSize(const AxisResult& axis) {
  return axis.output_size > 0 ? std::to_string(axis.output_size) : "-";
}

// Quotes a CSV field that contains a comma, a quote or a line break (RFC 4180).
std::string CsvField(const std::string& value) {
  if (value.find_first_of(",\"\n\r") == std::string::npos) return value;
  std::string quoted = "\"";
  for (char c : value) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

std::string DescribeGraph(const Analysis& analysis) {
  std::string input = "input size unknown";
  if (!analysis.input_size.empty()) {
    input = fmt::format("input {}", fmt::join(analysis.input_size, "x"));
  }
  return fmt::format("{} ({}D, {})",
                     analysis.graph_name.empty() ? "graph" : analysis.graph_name,
                     analysis.dims, input);
}

}  // namespace

std::string FormatTable(const Analysis& analysis) {
  std::vector<std::vector<std::string>> rows = {
      {"layer", "op", "rf", "stride", "padding", "center", "size"}};
  for (const LayerResult& layer : analysis.layers) {
    rows.push_back({
        layer.name,
        layer.op,
        JoinAxes(layer, RenderRf),
        JoinAxes(layer,
                 [](const AxisResult& a) { return a.effective_stride.ToString(); }),
        JoinAxes(layer,
                 [](const AxisResult& a) { return std::to_string(a.effective_padding); }),
        JoinAxes(layer, [](const AxisResult& a) { return RenderCenter(a.center); }),
        JoinAxes(layer, RenderSize),
    });
  }

  std::vector<size_t> widths(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (size_t column = 0; column < row.size(); ++column) {
      widths[column] = std::max(widths[column], row[column].size());
    }
  }
  std::string text = DescribeGraph(analysis) + "\n";
  for (const auto& row : rows) {
    std::string line;
    for (size_t column = 0; column < row.size(); ++column) {
      // Names left-aligned, numbers right-aligned.
      line += column < 2 ? fmt::format("{:<{}}  ", row[column], widths[column])
                         : fmt::format("{:>{}}  ", row[column], widths[column]);
    }
    line.erase(line.find_last_not_of(' ') + 1);
    text += line + "\n";
  }
  return text;
}

json ToJson(const Analysis& analysis) {
  json layers = json::array();
  for (const LayerResult& layer : analysis.layers) {
    json entry;
    entry["name"] = layer.name;
    entry["op"] = layer.op;
    entry["rf"] = AxesToJson(layer, [](const AxisResult& a) { return json(a.rf); });
    entry["rf_min"] =
        AxesToJson(layer, [](const AxisResult& a) { return json(a.rf_min); });
    entry["effective_stride"] = AxesToJson(layer, [](const AxisResult& a) {
      return a.effective_stride.IsInteger() ? json(a.effective_stride.numerator())
                                            : json(a.effective_stride.ToDouble());
    });
    entry["effective_stride_fraction"] = AxesToJson(
        layer, [](const AxisResult& a) { return json(a.effective_stride.ToString()); });
    entry["effective_padding"] =
        AxesToJson(layer, [](const AxisResult& a) { return json(a.effective_padding); });
    entry["center"] = AxesToJson(layer, [](const AxisResult& a) {
      return a.center.IsInteger() ? json(a.center.numerator())
                                  : json(a.center.ToDouble());
    });
    entry["output_size"] = AxesToJson(layer, [](const AxisResult& a) {
      return a.output_size > 0 ? json(a.output_size) : json(nullptr);
    });
    layers.push_back(entry);
  }
  json doc;
  doc["graph"] = analysis.graph_name;
  doc["dims"] = analysis.dims;
  doc["input_size"] =
      analysis.input_size.empty() ? json(nullptr) : json(analysis.input_size);
  doc["layers"] = layers;
  return doc;
}

std::string FormatCsv(const Analysis& analysis) {
  std::string text =
      "layer,op,axis,rf,rf_min,effective_stride,effective_padding,center,output_size\n";
  for (const LayerResult& layer : analysis.layers) {
    for (size_t axis = 0; axis < layer.axes.size(); ++axis) {
      const AxisResult& result = layer.axes[axis];
      std::string size = result.output_size > 0 ? std::to_string(result.output_size) : "";
      text += fmt::format("{},{},{},{},{},{},{},{},{}\n", CsvField(layer.name), layer.op,
                          AxisName(analysis.dims, static_cast<int>(axis)), result.rf,
                          result.rf_min, result.effective_stride.ToDouble(),
                          result.effective_padding, result.center.ToDouble(), size);
    }
  }
  return text;
}

}  // namespace scalelock::rf
