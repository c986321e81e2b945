// Effective receptive field (Luo, Li, Urtasun and Zemel, "Understanding the
// Effective Receptive Field in Deep Convolutional Neural Networks", 2016).
//
// A unit gradient is set at every channel of the central position of the
// feature layer (NetSpec::feature_layer), index (n - 1) / 2 per axis. It is
// propagated back to the input. |d/d input| is averaged over samples and
// input channels into a map over input positions. Around the map's centre of
// mass (rounded to a position), the radius r_m is the Chebyshev distance
// (per axis, so a square in 2D) whose box contains the fraction m of the total,
// interpolated linearly between integer distances. The ERF/RF ratio is
// (2 * r95 + 1) / RF, the ERF box width over the theoretical RF.
//
// Functions build their own probe network (the layers up to the feature
// layer, batch = count) with the OpenMP thread count of the calling thread.
// Throws Error(kInvalidInput) when the network has no spatial feature layer
// or params do not match it.
#pragma once

#include <cstdint>
#include <vector>

#include "model/net_spec.h"
#include "model/network.h"

namespace scalelock {

// Mean |input gradient| per input position, plain over the spatial axes
// (W, or H x W). params are the full network's parameters (their leading
// part belongs to the probe's layers).
std::vector<double> InputGradientMap(const NetSpec& spec,
                                     const std::vector<Param>& params,
                                     const float* inputs, int64_t count);

struct ErfRadii {
  double radius50 = 0.0;  // input samples from the centre containing 50% of the mass
  double radius95 = 0.0;  // the same for 95%
};

// Radii of a map over the spatial sizes `spatial` ({W} or {H, W}). Both are
// NaN when the map has no mass (every gradient is 0).
ErfRadii RadiiOfMap(const std::vector<double>& map, const Shape& spatial);

struct ErfResult {
  double radius50 = 0.0;
  double radius95 = 0.0;
  double ratio = 0.0;  // (2 * radius95 + 1) / receptive_field
};

// Runs InputGradientMap and RadiiOfMap and divides the ERF width by the
// theoretical RF (ComputeNetStats(spec).receptive_field).
ErfResult MeasureErf(const NetSpec& spec, const std::vector<Param>& params,
                     const float* inputs, int64_t count);

}  // namespace scalelock
