#include "model/erf.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "util/error.h"

namespace scalelock {
namespace {

// Flat index of the central position of a {C, spatial...} tensor, channel 0.
int64_t CentreOffset(const Shape& shape) {
  int64_t offset = 0;
  for (size_t axis = 1; axis < shape.size(); ++axis) {
    offset = offset * shape[axis] + (shape[axis] - 1) / 2;
  }
  return offset;
}

void CopyLeadingParams(const std::vector<Param>& from, std::vector<Param>* to) {
  if (from.size() < to->size()) {
    Fail(ErrorCode::kInvalidInput,
         "effective receptive field: the probe needs {} parameter tensors, {} given",
         to->size(), from.size());
  }
  for (size_t i = 0; i < to->size(); ++i) {
    Param& target = (*to)[i];
    if (from[i].name != target.name || from[i].value.size() != target.value.size()) {
      Fail(ErrorCode::kInvalidInput,
           "effective receptive field: parameter {} is {} with {} values, expected {} "
           "with {}",
           i, from[i].name, from[i].value.size(), target.name, target.value.size());
    }
    std::copy(from[i].value.begin(), from[i].value.end(), target.value.begin());
  }
}

}  // namespace

std::vector<double> InputGradientMap(const NetSpec& spec,
                                     const std::vector<Param>& params,
                                     const float* inputs, int64_t count) {
  const Shape& features = spec.shapes.at(spec.feature_layer + 1);
  if (spec.feature_layer < 0 || features.size() < 2) {
    Fail(ErrorCode::kInvalidInput,
         "effective receptive field: the network has no spatial feature layer");
  }
  NetworkOptions options;
  options.batch_size = count;
  options.eval_batch_size = 1;
  options.input_gradient = true;
  Network probe(TruncateNetSpec(spec, spec.feature_layer), options);
  CopyLeadingParams(params, &probe.params());
  probe.MarkParamsChanged();

  // Unit gradient at the centre position of every channel of every sample.
  const int64_t feature_size = ShapeSize(features);
  const int64_t positions = feature_size / features[0];
  const int64_t centre = CentreOffset(features);
  std::vector<float> seed(count * feature_size, 0.0f);
  for (int64_t n = 0; n < count; ++n) {
    for (int64_t c = 0; c < features[0]; ++c)
      seed[n * feature_size + c * positions + centre] = 1.0f;
  }
  std::vector<float> gradient = probe.BackwardFromOutput(inputs, seed);

  const int64_t channels = spec.input[0];
  const int64_t input_positions = ShapeSize(spec.input) / channels;
  std::vector<double> map(input_positions, 0.0);
  for (int64_t n = 0; n < count; ++n) {
    for (int64_t c = 0; c < channels; ++c) {
      const float* row = gradient.data() + (n * channels + c) * input_positions;
      for (int64_t p = 0; p < input_positions; ++p)
        map[p] += std::abs(row[p]);
    }
  }
  for (double& value : map)
    value /= static_cast<double>(count * channels);
  return map;
}

ErfRadii RadiiOfMap(const std::vector<double>& map, const Shape& spatial) {
  const int64_t width = spatial.back();
  const int64_t height = spatial.size() == 2 ? spatial[0] : 1;
  double total = 0.0, sum_row = 0.0, sum_col = 0.0;
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      double value = map[y * width + x];
      total += value;
      sum_row += value * static_cast<double>(y);
      sum_col += value * static_cast<double>(x);
    }
  }
  ErfRadii radii;
  if (!(total > 0.0)) {
    radii.radius50 = radii.radius95 = std::numeric_limits<double>::quiet_NaN();
    return radii;
  }
  const int64_t centre_y = std::llround(sum_row / total);
  const int64_t centre_x = std::llround(sum_col / total);

  // mass[r] = sum of the map within Chebyshev distance r of the centre.
  const int64_t max_radius = std::max(height, width);
  std::vector<double> mass(max_radius + 1, 0.0);
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      int64_t distance = std::max(std::abs(y - centre_y), std::abs(x - centre_x));
      mass[distance] += map[y * width + x];
    }
  }
  for (int64_t r = 1; r <= max_radius; ++r)
    mass[r] += mass[r - 1];
  auto radius_for = [&](double fraction) {
    double target = fraction * total;
    if (mass[0] >= target) return 0.0;
    for (int64_t r = 1; r <= max_radius; ++r) {
      if (mass[r] >= target) {
        return static_cast<double>(r - 1) +
               (target - mass[r - 1]) / (mass[r] - mass[r - 1]);
      }
    }
    return static_cast<double>(max_radius);
  };
  radii.radius50 = radius_for(0.5);
  radii.radius95 = radius_for(0.95);
  return radii;
}

ErfResult MeasureErf(const NetSpec& spec, const std::vector<Param>& params,
                     const float* inputs, int64_t count) {
  std::vector<double> map = InputGradientMap(spec, params, inputs, count);
  ErfRadii radii = RadiiOfMap(map, Shape(spec.input.begin() + 1, spec.input.end()));
  ErfResult result;
  result.radius50 = radii.radius50;
  result.radius95 = radii.radius95;
  result.ratio = (2.0 * radii.radius95 + 1.0) /
                 static_cast<double>(ComputeNetStats(spec).receptive_field);
  return result;
}

}  // namespace scalelock
