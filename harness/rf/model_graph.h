// Layer graphs built from scalelock's own model configs, and file loading
// with detection of the file kind.
//
// The graph of a model ends at its last spatial layer. The head (global
// average pooling or flatten, then the inner product) is left out, so the RF
// of the last node is that of the features the head reads. With a "flatten"
// head the prediction itself sees the whole input.
//
// Errors are Error(kInvalidInput) naming the source and the JSON path of the
// field (e.g. "model.layers[2].kernel"); LoadGraphFile also raises
// Error(kNotFound) for a missing file and Error(kIO) for an unreadable one.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rf/layer_graph.h"

namespace scalelock::rf {

// Builds the graph of a "model" object (family plain, dilated, strided, spp,
// unet, fpn, attention or custom; docs/families.md) with dims spatial axes;
// input_size may be empty except for attention. Missing keys take the spec
// defaults (depth 4, kernel 3, pool "none", pool_every 0; strided depth 3,
// stride 2, layers_per_stage 1; unet depth 2, convs_per_level 2; fpn depth 2,
// convs_per_level 1; attention depth 2, patch 1; custom conv kernel 3,
// stride 1, padding 0, dilation 1; custom pool kernel 2, stride = kernel). An
// spp graph is its plain trunk.
LayerGraph BuildModelGraph(const nlohmann::json& model, int dims,
                           const std::vector<int64_t>& input_size,
                           const std::string& source);

// Builds the graph of a run config {"task", "model", ...}. The task decides
// the axes and input size: fashion_mnist is 2D 28x28, multiscale2d is 2D
// task.size x task.size (default 32), multiscale1d is 1D with task.length
// samples (default 64), forecast has task.context samples (default 64), and
// dense1d has regions * (lambda_max - lambda_min) + lambda_min samples.
LayerGraph BuildRunConfigGraph(const nlohmann::json& config, const std::string& source);

// Reads path and builds its graph. The kind is detected by keys: "nodes" is a
// layer graph; "model" is a run config or a spec experiment; {"experiments":
// [one experiment]} is accepted. A spec with a "grid" or with several
// experiments is rejected, because it describes many networks.
LayerGraph LoadGraphFile(const std::string& path);

}  // namespace scalelock::rf
