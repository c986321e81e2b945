// Group bootstrap helpers shared by the scaling and lock analyses.
//
// A resample draws whole groups with replacement (a group is, e.g., all seeds
// of one config), so the spread between seeds of a config is not mistaken for
// independent evidence. Draws depend only on (seed, replicate), so results do
// not depend on how TBB schedules replicates.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace scalelock {

struct Interval {
  double low = std::numeric_limits<double>::quiet_NaN();
  double high = std::numeric_limits<double>::quiet_NaN();
};

// Indices of items per distinct key, groups in order of first appearance.
std::vector<std::vector<size_t>> GroupByKey(const std::vector<std::string>& keys);

// Group indices of resample number replicate: group_count draws with
// replacement from [0, group_count).
std::vector<size_t> DrawGroups(size_t group_count, uint64_t seed, int replicate);

// Item indices of resample number replicate: the items of the drawn groups.
std::vector<size_t> DrawItems(const std::vector<std::vector<size_t>>& groups,
                              uint64_t seed, int replicate);

// Percentile interval with the given coverage (0.95 -> 2.5% and 97.5%
// quantiles, linear interpolation); NaN bounds when values is empty.
Interval PercentileInterval(std::vector<double> values, double coverage = 0.95);

// Sample standard deviation (n - 1); NaN for fewer than 2 values.
double StandardDeviation(const std::vector<double>& values);

}  // namespace scalelock
