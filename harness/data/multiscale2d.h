// multiscale2d: the 2D analogue of multiscale1d, a binary task on size x size
// images whose label needs a receptive field of lambda_max pixels per axis and
// a resolution of lambda_min pixels.
//
// A sample is one channel of size x size pixels: Gaussian noise (sigma = noise)
// plus four fine marks arranged as two pairs. A fine mark of polarity a is a
// lambda_min x lambda_min square with value a * s(i) * s(j), where s is the 1D
// mark profile of multiscale1d (FineMarkSign: +1 on the first ceil(lambda_min /
// 2) samples, -1 on the rest). A pair is two marks on one row band or one column
// band (the axis is a fair coin per pair) that span exactly lambda_max pixels end
// to end along that axis. Marks of different pairs are at least lambda_max + 1
// pixels apart end to end along at least one axis, so the only lambda_max x
// lambda_max windows that contain two marks contain one pair. Layouts are drawn
// uniformly from all that satisfy this (by rejection).
//
// The labels follow multiscale1d: label 0 gives the pairs polarities (a, a) and
// (-a, -a), label 1 gives (a, -a) and (c, -c), with a, c and the label fair
// coins. Each mark alone is a fair coin in both classes and every sample has two
// +1 and two -1 marks, so a model whose receptive field is below lambda_max on
// both axes cannot beat accuracy 0.5 (blind_ceiling()). The same NOTE as in
// multiscale1d applies: zero padding and strides make features
// position-dependent and can leak a little near the borders.
//
// Config fields (task.*): size (default 32), lambda_min >= 1, lambda_max with
// 2 * lambda_min <= lambda_max <= size / 2, scale_ratio (optional, must equal
// lambda_max / lambda_min), noise >= 0 (default 0.1), train_samples in [0, 2^24]
// (0: fresh samples per batch, N: a pool of N samples), eval_samples in [1,
// 2^18] (default 1024). Randomness is counter-based as in multiscale1d.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "data/epoch_order.h"
#include "data/task.h"

namespace scalelock {

struct Multiscale2dParams {
  int64_t size = 32;          // pixels per side
  int64_t lambda_min = 1;     // mark side, pixels
  int64_t lambda_max = 2;     // pair span end to end, pixels
  double noise = 0.1;         // Gaussian sigma added to every pixel
  int64_t train_samples = 0;  // pool size, 0 = unbounded stream
  int64_t eval_samples = 1024;
};

// Reads and validates task.* for multiscale2d. Throws Error(kInvalidInput).
Multiscale2dParams ParseMultiscale2dParams(const nlohmann::json& task_config);

// Top-left corners (row, column) of the four marks and their polarities. Marks
// 0 and 1 form the first pair, 2 and 3 the second. axes[p] is 0 when pair p
// lies along a row (columns differ) and 1 when it lies along a column.
struct Multiscale2dLayout {
  int64_t rows[4] = {0, 0, 0, 0};
  int64_t cols[4] = {0, 0, 0, 0};
  int polarities[4] = {1, 1, 1, 1};
  int axes[2] = {0, 0};
  int32_t label = 0;
};

class Multiscale2dTask : public Task {
 public:
  Multiscale2dTask(const Multiscale2dParams& params, uint64_t seed);

  std::vector<int64_t> sample_shape() const override {
    return {1, params_.size, params_.size};
  }
  int num_classes() const override { return 2; }
  void TrainBatch(int64_t index, int64_t batch_size, Batch* batch) override;
  const Batch& EvalSet() const override { return eval_set_; }
  int64_t train_samples() const override { return params_.train_samples; }
  double blind_ceiling() const override { return 0.5; }

  // Layout of the training sample at stream position `position`.
  Multiscale2dLayout TrainLayoutAt(int64_t position);

 private:
  int64_t TrainCounter(int64_t position);
  // Draws sample `counter` of `stream`; writes size * size pixels (row-major)
  // unless pixels is null.
  Multiscale2dLayout Generate(uint64_t stream, int64_t counter, float* pixels) const;

  Multiscale2dParams params_;
  uint64_t seed_;                    // run seed
  std::optional<EpochOrder> order_;  // pool visiting order when train_samples > 0
  Batch eval_set_;                   // eval_samples samples, fixed
};

}  // namespace scalelock
