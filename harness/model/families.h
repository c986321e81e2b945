// Layer lists of the built-in model families (everything but "custom"), used
// by BuildNetSpec. Each expansion fills layers with inputs set for every
// layer, the head sized for num_classes outputs, and the feature layer.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "model/net_spec.h"

namespace scalelock::families {

struct Expansion {
  std::vector<LayerSpec> layers;
  int64_t feature_layer = 0;  // see NetSpec::feature_layer
};

// family is one of "plain", "dilated", "strided", "spp", "unet", "fpn",
// "attention".
// Throws Error(kInvalidInput) naming the model field that does not fit.
Expansion ExpandFamily(const std::string& family, const nlohmann::json& model,
                       const Shape& sample_shape, int num_classes, Objective objective);

}  // namespace scalelock::families
