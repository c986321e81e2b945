#include "fit/bootstrap.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

namespace scalelock {

std::vector<std::vector<size_t>> GroupByKey(const std::vector<std::string>& keys) {
  std::map<std::string, size_t> index;
  std::vector<std::vector<size_t>> groups;
  for (size_t i = 0; i < keys.size(); ++i) {
    const auto [it, inserted] = index.emplace(keys[i], groups.size());
    if (inserted) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  return groups;
}

std::vector<size_t> DrawGroups(size_t group_count, uint64_t seed, int replicate) {
  std::seed_seq sequence{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                         static_cast<uint32_t>(replicate)};
  std::mt19937_64 engine(sequence);
  std::uniform_int_distribution<size_t> pick(0, group_count - 1);
  std::vector<size_t> drawn(group_count);
  for (size_t& g : drawn)
    g = pick(engine);
  return drawn;
}

std::vector<size_t> DrawItems(const std::vector<std::vector<size_t>>& groups,
                              uint64_t seed, int replicate) {
  std::vector<size_t> items;
  for (size_t g : DrawGroups(groups.size(), seed, replicate)) {
    items.insert(items.end(), groups[g].begin(), groups[g].end());
  }
  return items;
}

Interval PercentileInterval(std::vector<double> values, double coverage) {
  Interval interval;
  if (values.empty()) return interval;
  std::sort(values.begin(), values.end());
  auto quantile = [&](double q) {
    const double position = q * static_cast<double>(values.size() - 1);
    const size_t below = static_cast<size_t>(std::floor(position));
    const size_t above = std::min(below + 1, values.size() - 1);
    const double t = position - static_cast<double>(below);
    return values[below] * (1.0 - t) + values[above] * t;
  };
  interval.low = quantile((1.0 - coverage) / 2.0);
  interval.high = quantile((1.0 + coverage) / 2.0);
  return interval;
}

double StandardDeviation(const std::vector<double>& values) {
  if (values.size() < 2) return std::numeric_limits<double>::quiet_NaN();
  double mean = 0.0;
  for (double v : values)
    mean += v;
  mean /= static_cast<double>(values.size());
  double sum = 0.0;
  for (double v : values)
    sum += (v - mean) * (v - mean);
  return std::sqrt(sum / static_cast<double>(values.size() - 1));
}

}  // namespace scalelock
