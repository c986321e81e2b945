#include "rf/analysis.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <numeric>
#include <unordered_map>

#include "util/error.h"

namespace scalelock::rf {

namespace {

// Largest number of output positions whose RFs are enumerated per node. The
// pattern of RF sizes repeats with a period that is the product of the
// upsampling factors and transposed-convolution strides upstream, divided by
// later strides; 2^16 allows 16 unreduced doublings.
constexpr int64_t kMaxPeriod = int64_t{1} << 16;

// Closed interval of input positions; empty when hi < lo.
struct Interval {
  int64_t lo = 0;
  int64_t hi = -1;
  bool empty() const { return hi < lo; }
};

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t quotient = a / b;
  if (a % b != 0 && ((a < 0) != (b < 0))) --quotient;
  return quotient;
}

int64_t CeilDiv(int64_t a, int64_t b) {
  return -FloorDiv(-a, b);
}

// Analysis of one spatial axis. Nodes are visited in graph order, which is
// topological, so every input of a node is finished before the node.
class AxisAnalyzer {
 public:
  AxisAnalyzer(const LayerGraph& graph, int axis)
      : graph_(graph),
        axis_(axis),
        pad_before_(graph.nodes.size()),
        pad_after_(graph.nodes.size()),
        period_(graph.nodes.size(), 1),
        center_offset_(graph.nodes.size()),
        memo_(graph.nodes.size()),
        results_(graph.nodes.size()) {}

  std::vector<AxisResult> Run() {
    for (size_t node = 0; node < graph_.nodes.size(); ++node) {
      ComputeSizeAndPadding(node);
      ComputeStrideAndPeriod(node);
      ComputeFirstOutput(node);
      ScanPeriod(node);
      CheckMergeAlignment(node);
    }
    return results_;
  }

 private:
  const Node& node(size_t index) const { return graph_.nodes[index]; }
  const AxisGeometry& geometry(size_t index) const { return node(index).axes[axis_]; }
  const char* axis_name() const { return AxisName(graph_.dims, axis_); }

  [[noreturn]] void FailAt(size_t index, const std::string& message) const {
    Fail(ErrorCode::kInvalidInput, "{}: node \"{}\" ({}), axis {}: {}", graph_.source,
         node(index).name, node(index).op, axis_name(), message);
  }

  void ComputeSizeAndPadding(size_t index);
  void ResolvePadding(size_t index, int64_t input_size);
  int64_t OutputSize(size_t index, int64_t input_size) const;
  void ComputeStrideAndPeriod(size_t index);
  void ComputeFirstOutput(size_t index);
  void CheckMergeAlignment(size_t index) const;
  void ScanPeriod(size_t index);
  Interval Hull(size_t index, int64_t position);
  Interval ComputeHull(size_t index, int64_t position);
  Interval HullOfRange(size_t index, int64_t first, int64_t last);

  const LayerGraph& graph_;
  int axis_;
  std::vector<int64_t> pad_before_;  // resolved padding per node, samples
  std::vector<int64_t> pad_after_;
  std::vector<int64_t> period_;  // output positions per repeat of the RF pattern
  // Mean over one period of centre(o) - o * effective stride: where the output
  // grid sits on the input. Equals the first-output centre when the period is 1.
  std::vector<Rational> center_offset_;
  std::vector<std::unordered_map<int64_t, Interval>> memo_;  // per node: position -> hull
  std::vector<AxisResult> results_;
};

void AxisAnalyzer::ComputeSizeAndPadding(size_t index) {
  const Node& current = node(index);
  if (current.kind == OpKind::kInput) {
    results_[index].output_size =
        graph_.input_size.empty() ? 0 : graph_.input_size[axis_];
    return;
  }
  int64_t input_size = results_[current.inputs[0]].output_size;
  if (current.kind == OpKind::kAdd || current.kind == OpKind::kConcat) {
    for (size_t input : current.inputs) {
      if (results_[input].output_size == input_size) continue;
      FailAt(index,
             fmt::format("inputs \"{}\" and \"{}\" have sizes {} and {}; the inputs "
                         "of {} must have equal spatial sizes",
                         node(current.inputs[0]).name, node(input).name, input_size,
                         results_[input].output_size, current.op));
    }
  }
  ResolvePadding(index, input_size);
  results_[index].output_size = input_size > 0 ? OutputSize(index, input_size) : 0;
}

// Resolves padding: explicit as given, "valid" as 0, and "same" by TensorFlow's
// rule. "same" pads max((ceil(n / s) - 1) * s + k_eff - n, 0) in total, the
// smaller half before.
void AxisAnalyzer::ResolvePadding(size_t index, int64_t input_size) {
  const Node& current = node(index);
  const AxisGeometry& axis = geometry(index);
  pad_before_[index] = axis.pad_before;
  pad_after_[index] = axis.pad_after;
  if (current.padding_mode == PaddingMode::kExplicit) return;
  if (current.padding_mode == PaddingMode::kValid) {
    pad_before_[index] = pad_after_[index] = 0;
    return;
  }
  int64_t total = axis.EffectiveKernel() - 1;
  if (axis.stride > 1) {
    if (input_size == 0) {
      FailAt(index,
             "field \"padding\": \"same\" with stride > 1 depends on the input size; "
             "set \"input_size\" in the graph, pass --input-size, or give explicit "
             "padding");
    }
    total = std::max<int64_t>((CeilDiv(input_size, axis.stride) - 1) * axis.stride +
                                  axis.EffectiveKernel() - input_size,
                              0);
  }
  pad_before_[index] = total / 2;
  pad_after_[index] = total - total / 2;
}

int64_t AxisAnalyzer::OutputSize(size_t index, int64_t input_size) const {
  const Node& current = node(index);
  const AxisGeometry& axis = geometry(index);
  int64_t padded = input_size + pad_before_[index] + pad_after_[index];
  int64_t output = input_size;
  switch (current.kind) {
    case OpKind::kConv:
    case OpKind::kPool: {
      int64_t span = padded - axis.EffectiveKernel();
      if (span < 0) {
        FailAt(index,
               fmt::format("input size {} plus padding {} + {} is smaller than the "
                           "effective kernel {}; use a larger input",
                           input_size, pad_before_[index], pad_after_[index],
                           axis.EffectiveKernel()));
      }
      if (!current.ceil_mode) return span / axis.stride + 1;
      // Ceil mode adds a last window only when it starts inside the input or
      // the left padding (PyTorch's rule), so it never reads only right padding.
      output = CeilDiv(span, axis.stride) + 1;
      if ((output - 1) * axis.stride >= input_size + pad_before_[index]) --output;
      return output;
    }
    case OpKind::kDeconv:
      output = (input_size - 1) * axis.stride - pad_before_[index] - pad_after_[index] +
               axis.EffectiveKernel() + axis.output_padding;
      if (output < 1) {
        FailAt(index, fmt::format("output size {} < 1 for input size {}; reduce the "
                                  "padding or use a larger input",
                                  output, input_size));
      }
      return output;
    case OpKind::kUpsample:
      return input_size * axis.factor;
    default:
      return input_size;
  }
}

void AxisAnalyzer::ComputeStrideAndPeriod(size_t index) {
  const Node& current = node(index);
  const AxisGeometry& axis = geometry(index);
  AxisResult& result = results_[index];
  if (current.kind == OpKind::kInput) {
    result.effective_stride = Rational(1);
    return;
  }
  const AxisResult& first_input = results_[current.inputs[0]];
  int64_t input_period = period_[current.inputs[0]];
  switch (current.kind) {
    case OpKind::kConv:
    case OpKind::kPool:
      result.effective_stride = first_input.effective_stride * Rational(axis.stride);
      period_[index] = input_period / std::gcd(input_period, axis.stride);
      break;
    case OpKind::kDeconv:
      result.effective_stride = first_input.effective_stride / Rational(axis.stride);
      period_[index] = input_period * axis.stride;
      break;
    case OpKind::kUpsample:
      result.effective_stride = first_input.effective_stride / Rational(axis.factor);
      period_[index] = input_period * axis.factor;
      break;
    case OpKind::kAdd:
    case OpKind::kConcat:
      // Equality of the strides is checked once the centres are known.
      result.effective_stride = first_input.effective_stride;
      period_[index] = 1;
      for (size_t input : current.inputs) {
        period_[index] = std::lcm(period_[index], period_[input]);
      }
      break;
    default:
      result.effective_stride = first_input.effective_stride;
      period_[index] = input_period;
      break;
  }
  if (period_[index] > kMaxPeriod) {
    FailAt(index,
           fmt::format("the RF sizes repeat only every {} outputs (more than {}) "
                       "because of upsampling and transposed convolutions upstream; "
                       "this graph is outside what the analysis enumerates",
                       period_[index], kMaxPeriod));
  }
}

void AxisAnalyzer::ComputeFirstOutput(size_t index) {
  Interval first = Hull(index, 0);
  if (first.empty()) {
    FailAt(index,
           "the first output depends on no input sample (a transposed convolution "
           "with a kernel smaller than its stride skips it), so its centre and "
           "padding are undefined");
  }
  results_[index].effective_padding = -first.lo;
  results_[index].center = Rational(first.lo + first.hi, 2);
}

// Branches must put their outputs on the same input grid. After nearest
// upsampling, outputs 2j and 2j + 1 copy one coarse output and share its
// centre, so the grids are compared by their mean centre offset, not by the
// first output alone.
void AxisAnalyzer::CheckMergeAlignment(size_t index) const {
  const Node& current = node(index);
  if (current.kind != OpKind::kAdd && current.kind != OpKind::kConcat) return;
  const size_t reference = current.inputs[0];
  for (size_t input : current.inputs) {
    const Rational& expected_stride = results_[reference].effective_stride;
    const Rational& actual_stride = results_[input].effective_stride;
    if (actual_stride == expected_stride &&
        center_offset_[input] == center_offset_[reference]) {
      continue;
    }
    FailAt(index,
           fmt::format("inputs \"{}\" and \"{}\" are misaligned: effective stride "
                       "{} vs {}, centre {} vs {}; branches that meet "
                       "must have equal effective stride and centre, so check the "
                       "strides and padding on each branch",
                       node(reference).name, node(input).name, expected_stride.ToString(),
                       actual_stride.ToString(), center_offset_[reference].ToString(),
                       center_offset_[input].ToString()));
  }
}

// RF size range and mean centre offset over one period of output positions.
void AxisAnalyzer::ScanPeriod(size_t index) {
  AxisResult& result = results_[index];
  result.rf = 0;
  result.rf_min = std::numeric_limits<int64_t>::max();
  int64_t twice_center_sum = 0;  // sum of lo + hi over non-empty positions
  int64_t position_sum = 0;
  int64_t count = 0;
  for (int64_t position = 0; position < period_[index]; ++position) {
    Interval hull = Hull(index, position);
    int64_t size = hull.empty() ? 0 : hull.hi - hull.lo + 1;
    result.rf = std::max(result.rf, size);
    result.rf_min = std::min(result.rf_min, size);
    if (hull.empty()) continue;
    twice_center_sum += hull.lo + hull.hi;
    position_sum += position;
    ++count;
  }
  // offset = (twice_center_sum / 2 - stride * position_sum) / count, stride = a / b.
  const Rational& stride = result.effective_stride;
  using detail::CheckedMultiply;
  int64_t numerator = CheckedMultiply(stride.denominator(), twice_center_sum) -
                      CheckedMultiply(2 * stride.numerator(), position_sum);
  center_offset_[index] =
      Rational(numerator, CheckedMultiply(2 * stride.denominator(), count));
}

Interval AxisAnalyzer::Hull(size_t index, int64_t position) {
  auto found = memo_[index].find(position);
  if (found != memo_[index].end()) return found->second;
  Interval hull = ComputeHull(index, position);
  memo_[index].emplace(position, hull);
  return hull;
}

// Input interval of output `position`, through the node's own window. A conv
// or pool output o reads its input at o * s - p_before + [0, k_eff); a
// transposed-conv output o receives input i when i * s + j = o + p_before for
// some tap j in [0, k_eff).
Interval AxisAnalyzer::ComputeHull(size_t index, int64_t position) {
  const Node& current = node(index);
  const AxisGeometry& axis = geometry(index);
  switch (current.kind) {
    case OpKind::kInput:
      return {position, position};
    case OpKind::kConv:
    case OpKind::kPool: {
      int64_t first = position * axis.stride - pad_before_[index];
      return HullOfRange(current.inputs[0], first, first + axis.EffectiveKernel() - 1);
    }
    case OpKind::kDeconv: {
      int64_t shifted = position + pad_before_[index];
      int64_t first = CeilDiv(shifted - (axis.EffectiveKernel() - 1), axis.stride);
      int64_t last = FloorDiv(shifted, axis.stride);
      return HullOfRange(current.inputs[0], first, last);
    }
    case OpKind::kUpsample: {
      if (current.upsample_mode == UpsampleMode::kNearest) {
        return Hull(current.inputs[0], FloorDiv(position, axis.factor));
      }
      // Half-pixel source coordinate (o + 0.5) / f - 0.5 and its two neighbours.
      int64_t numerator = 2 * position + 1 - axis.factor;
      int64_t denominator = 2 * axis.factor;
      return HullOfRange(current.inputs[0], FloorDiv(numerator, denominator),
                         CeilDiv(numerator, denominator));
    }
    case OpKind::kAdd:
    case OpKind::kConcat: {
      Interval hull;
      for (size_t input : current.inputs) {
        Interval part = Hull(input, position);
        if (part.empty()) continue;
        hull = hull.empty()
                   ? part
                   : Interval{std::min(hull.lo, part.lo), std::max(hull.hi, part.hi)};
      }
      return hull;
    }
    default:
      return Hull(current.inputs[0], position);
  }
}

// Hull of the input intervals of positions first..last of node index. Interval
// ends are non-decreasing in the position, so only the first and the last
// non-empty positions matter.
Interval AxisAnalyzer::HullOfRange(size_t index, int64_t first, int64_t last) {
  Interval left;
  for (int64_t position = first; position <= last && left.empty(); ++position) {
    left = Hull(index, position);
  }
  if (left.empty()) return left;
  Interval right;
  for (int64_t position = last; position >= first && right.empty(); --position) {
    right = Hull(index, position);
  }
  return {left.lo, right.hi};
}

}  // namespace

const char* AxisName(int dims, int axis) {
  if (dims == 1) return "W";
  return axis == 0 ? "H" : "W";
}

Analysis AnalyzeGraph(const LayerGraph& graph) {
  Analysis analysis;
  analysis.graph_name = graph.name;
  analysis.dims = graph.dims;
  analysis.input_size = graph.input_size;
  for (const Node& node : graph.nodes) {
    analysis.layers.push_back(LayerResult{node.name, node.op, {}});
  }
  for (int axis = 0; axis < graph.dims; ++axis) {
    std::vector<AxisResult> results = AxisAnalyzer(graph, axis).Run();
    for (size_t i = 0; i < results.size(); ++i) {
      analysis.layers[i].axes.push_back(results[i]);
    }
  }
  return analysis;
}

}  // namespace scalelock::rf
