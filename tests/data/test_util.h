// Helpers shared by the data tests.
#pragma once

#include <algorithm>
#include <array>
#include <functional>
#include <string>
#include <vector>

#include "data/task.h"
#include "util/error.h"

namespace data_test {

inline scalelock::Batch DrawBatch(scalelock::Task& task, int64_t index, int64_t size) {
  scalelock::Batch batch;
  task.TrainBatch(index, size, &batch);
  return batch;
}

// Best accuracy of any classifier that sees only `view` (a small non-negative
// integer per sample): the majority label per view value, counted in-sample.
inline double BayesAccuracy(const std::vector<int>& view,
                            const std::vector<int32_t>& labels) {
  std::vector<std::array<int, 2>> counts;
  for (size_t i = 0; i < view.size(); ++i) {
    const auto value = static_cast<size_t>(view[i]);
    if (value >= counts.size()) counts.resize(value + 1, {0, 0});
    ++counts[value][static_cast<size_t>(labels[i])];
  }
  double correct = 0.0;
  for (const auto& count : counts)
    correct += std::max(count[0], count[1]);
  return correct / static_cast<double>(view.size());
}

// Runs action and returns the message of the scalelock::Error it throws with
// code kInvalidInput, or "no error" / "wrong code: <message>".
inline std::string InvalidInputMessage(const std::function<void()>& action) {
  try {
    action();
  } catch (const scalelock::Error& error) {
    if (error.code() != scalelock::ErrorCode::kInvalidInput) {
      return std::string("wrong code: ") + error.what();
    }
    return error.what();
  }
  return "no error";
}

}  // namespace data_test
