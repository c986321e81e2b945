// Receptive-field analysis of a layer graph, per node and per spatial axis.
//
// Conventions follow Araujo, Norris and Sim, "Computing Receptive Fields of
// Convolutional Neural Networks", Distill 2019. Input positions count from 0
// at the first unpadded input sample. The RF of an output is the span of input
// positions it depends on, padding positions included. A dilated kernel spans
// d * (k - 1) + 1 samples.
//
// Each node maps its output position o to the interval of input positions it
// depends on, computed exactly through every path of the graph (an add or a
// concat takes the union of its inputs' intervals). With integer strides every
// output has the same RF. After a transposed convolution or an upsampling the
// effective stride is a fraction and the RF can differ between neighbouring
// outputs; rf is then the maximum and rf_min the minimum over one period.
//
// Errors are Error(kInvalidInput) naming the node: branches that meet with a
// different effective stride or first-output centre, inputs of a merge with
// different sizes, an input too small for a layer, "same" padding with a
// stride > 1 and no input size, or a first output that depends on no input.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rf/layer_graph.h"
#include "rf/rational.h"

namespace scalelock::rf {

// Receptive field of one node along one axis, in input samples.
struct AxisResult {
  int64_t rf = 0;                 // max RF size over output positions
  int64_t rf_min = 0;             // min RF size; below rf only after fractional strides
  Rational effective_stride;      // input distance between neighbouring outputs
  int64_t effective_padding = 0;  // input samples left of position 0 in the first RF
  Rational center;                // input position of the centre of the first output's RF
  int64_t output_size = 0;        // output samples; 0 when the input size is unknown
};

struct LayerResult {
  std::string name;
  std::string op;
  std::vector<AxisResult> axes;  // one per spatial axis
};

struct Analysis {
  std::string graph_name;
  int dims = 2;
  std::vector<int64_t> input_size;  // empty when unknown
  std::vector<LayerResult> layers;  // one per node, in graph order
};

// Analyses every node of graph. Pure function of its argument; thread-safe.
Analysis AnalyzeGraph(const LayerGraph& graph);

// Axis label for messages and tables: "W" in 1D, "H" or "W" in 2D.
const char* AxisName(int dims, int axis);

}  // namespace scalelock::rf
