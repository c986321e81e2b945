// Text renderings of an Analysis for `scalelock rf --format table|csv|json`.
//
// Where every axis has the same value, one value is printed; otherwise one
// per axis (H, W). Fractional strides print exactly ("1/2") in the table and
// as numbers in JSON and CSV, with the exact fraction in the JSON field
// effective_stride_fraction.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "rf/analysis.h"

namespace scalelock::rf {

// Aligned columns: layer, op, rf, stride, padding, center, size. An RF that
// differs between output positions prints as "min..max".
std::string FormatTable(const Analysis& analysis);

// {"graph", "dims", "input_size", "layers": [{"name", "op", "rf", "rf_min",
// "effective_stride", "effective_stride_fraction", "effective_padding",
// "center", "output_size"}]}; output_size and input_size are null when the
// input size is unknown.
nlohmann::json ToJson(const Analysis& analysis);

// Header line, then one row per layer and axis:
// layer,op,axis,rf,rf_min,effective_stride,effective_padding,center,output_size.
std::string FormatCsv(const Analysis& analysis);

}  // namespace scalelock::rf
