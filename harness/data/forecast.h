// forecast: multi-scale time-series forecasting (TargetKind::kRegression).
// An input is `context` consecutive values of a series, one channel; the
// targets are the next `horizon` values (target_dim() = horizon). The loss is
// the mean squared error over the horizon.
//
// Two sources (task.source):
//   "synthetic"      x(t) = sum_i amplitudes[i] * sin(2 pi t / periods[i] + phi_i)
//                    + noise * N(0, 1), with fresh uniform phases phi_i per
//                    sample. The noise is on inputs and targets, so the lowest
//                    reachable MSE is noise^2. Scales: lambda_min = min(periods),
//                    lambda_max = max(periods); context >= max(periods).
//   "seattle_temps"  hourly temperatures of Seattle in 2010 (8759 values, file
//                    seattle-temps.csv of Debian's python3-vega-datasets). The
//                    last eval_fraction of the series is held out: training
//                    windows lie in the first part, evaluation windows in the
//                    last. Values are normalized by the training part's mean and
//                    standard deviation.
//
// Config fields (task.*): source (default "synthetic"), context in [2, 2^16]
// (default 64), horizon in [1, 4096] (default 8), train_samples, eval_samples
// (default 1024), and per source:
//   synthetic: periods (required, 1 to 16 numbers >= 2), amplitudes (same count,
//              each >= 0, default all 1), noise >= 0 (default 0.1);
//              train_samples in [0, 2^24] (0: fresh samples per batch)
//   seattle_temps: data_path (default the Debian path), eval_fraction in [0.05,
//              0.5] (default 0.2). train_samples is 0 (every training window)
//              or N (the first N windows of a seeded permutation). eval_samples
//              caps the evaluation windows, spaced evenly over the held-out part.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "data/epoch_order.h"
#include "data/task.h"

namespace scalelock {

inline constexpr const char* kDefaultSeattleTempsPath =
    "/usr/lib/python3/dist-packages/vega_datasets/_data/seattle-temps.csv";

struct ForecastParams {
  std::string source = "synthetic";  // "synthetic" or "seattle_temps"
  int64_t context = 64;              // input values per sample
  int64_t horizon = 8;               // target values per sample
  std::vector<double> periods;       // synthetic: component periods, samples
  std::vector<double> amplitudes;    // synthetic: component amplitudes
  double noise = 0.1;                // synthetic: Gaussian sigma per value
  std::string data_path = kDefaultSeattleTempsPath;  // seattle_temps: CSV file
  double eval_fraction = 0.2;  // seattle_temps: held-out tail of the series
  int64_t train_samples = 0;
  int64_t eval_samples = 1024;
};

// Reads and validates task.* for forecast. Throws Error(kInvalidInput).
ForecastParams ParseForecastParams(const nlohmann::json& task_config);

// Reads the "date,temp" CSV of seattle_temps: one value per line after the
// header. Cached per path for the process (thread-safe). Throws Error(kNotFound)
// for a missing file and Error(kInvalidInput) for a malformed line.
std::shared_ptr<const std::vector<float>> CachedSeriesCsv(const std::string& path);

class ForecastTask : public Task {
 public:
  ForecastTask(const ForecastParams& params, uint64_t seed);

  std::vector<int64_t> sample_shape() const override { return {1, params_.context}; }
  // 0: a regression task has no classes (see target_dim()).
  int num_classes() const override { return 0; }
  TargetKind target_kind() const override { return TargetKind::kRegression; }
  int64_t target_dim() const override { return params_.horizon; }
  void TrainBatch(int64_t index, int64_t batch_size, Batch* batch) override;
  const Batch& EvalSet() const override { return eval_set_; }
  int64_t train_samples() const override { return train_windows_; }

  // seattle_temps: start index in the series of the training window at stream
  // position `position`; -1 for the synthetic source.
  int64_t TrainWindowStartAt(int64_t position);
  // seattle_temps: the normalized series (empty for the synthetic source).
  const std::vector<float>& normalized_series() const { return series_; }
  // seattle_temps: values in the training part of the series.
  int64_t train_length() const { return train_length_; }

 private:
  // Writes context inputs and horizon targets of sample `counter` of `stream`.
  void GenerateSynthetic(uint64_t stream, int64_t counter, float* inputs,
                         float* targets) const;
  void CopyWindow(int64_t start, float* inputs, float* targets) const;
  void BuildSeattle(uint64_t seed);

  ForecastParams params_;
  uint64_t seed_;                    // run seed
  std::vector<float> series_;        // seattle_temps: normalized series
  int64_t train_length_ = 0;         // seattle_temps: values in the training part
  std::vector<int64_t> subset_;      // seattle_temps: training window starts
  int64_t train_windows_ = 0;        // train_samples() value
  std::optional<EpochOrder> order_;  // visiting order of the pool or windows
  Batch eval_set_;                   // fixed evaluation windows
};

}  // namespace scalelock
