// Scaling points from a CSV file.
#pragma once

#include <string>
#include <vector>

#include "fit/scaling.h"

namespace scalelock {

// Reads points from a CSV file with a header row; fields are separated by
// commas and may be double-quoted. For chinchilla the columns are N, D and
// loss, or the Epoch AI extraction's `Model Size` (N), `Training FLOP` (C) and
// loss with D = C / (6 N). For the other forms the columns are x and loss.
// Each row becomes its own bootstrap group ("row <line>"). The Epoch layout
// with another form raises, because its x column is an SVG coordinate. Throws
// Error(kNotFound) for a missing file and Error(kInvalidInput) naming the file
// and the missing column or the line with an unparsable number.
std::vector<ScalingPoint> ReadPointsCsv(const std::string& path, Form form);

// Returns points without the count points of highest loss. Throws
// Error(kInvalidInput) when count is negative or not below points.size().
std::vector<ScalingPoint> DropHighestLoss(std::vector<ScalingPoint> points, int count);

}  // namespace scalelock
