// dense1d: per-position binary labels on 1D signals (the segmentation analogue
// of multiscale1d). A position's label needs its own fine mark (resolution
// lambda_min) and the two keys that bound its region (lambda_max apart).
//
// A sample is one channel of length = regions * (lambda_max - lambda_min) +
// lambda_min samples, cut into cells of lambda_min samples. Every cell contains a
// fine mark of polarity f (a fair coin per cell) with the profile FineMarkSign
// (+f on the first ceil(lambda_min / 2) samples, -f on the rest). Every
// (lambda_max / lambda_min - 1)-th cell, starting with cell 0 and ending with the
// last cell, is a key: its mark has amplitude 2 and its polarity g is the key's
// polarity. Region k runs from key k to key k + 1, so a region spans exactly
// lambda_max samples from the start of its left key to the end of its right key,
// and consecutive regions share a key. Gaussian noise (sigma = noise) is added.
//
// The label of every position of cell j in region k is 1 when f_j * g_k * g_(k+1)
// = -1 and 0 otherwise: the fine polarity XOR the region sign g_k * g_(k+1). A
// key cell belongs to the region on its right (the last key to the last region).
// A model whose receptive field is below lambda_max never sees both keys of a
// region. The key it misses is a fair coin independent of everything it sees,
// so it cannot beat accuracy 0.5 at any position (blind_ceiling()), including
// at the key cells themselves. A centred window of 2 * lambda_max - 1 samples
// contains both keys of its position's region, so the task is fully learnable
// from that receptive field on; between lambda_max and 2 * lambda_max - 1 only
// the positions near the middle of their region can be read.
//
// Config fields (task.*): lambda_min >= 1, lambda_max a multiple of lambda_min
// with lambda_max >= 2 * lambda_min, regions in [1, 4096] (default 4),
// scale_ratio (optional, must equal lambda_max / lambda_min), noise >= 0 (default
// 0.1), train_samples in [0, 2^24], eval_samples in [1, 2^20] (default 1024).
// The length is derived, not configured, and at most 2^20 samples.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "data/epoch_order.h"
#include "data/task.h"

namespace scalelock {

struct Dense1dParams {
  int64_t lambda_min = 1;     // cell length, samples
  int64_t lambda_max = 2;     // region span, key start to next key end, samples
  int64_t regions = 4;        // regions per sample
  double noise = 0.1;         // Gaussian sigma added to every sample
  int64_t train_samples = 0;  // pool size, 0 = unbounded stream
  int64_t eval_samples = 1024;

  // Samples per input: regions * (lambda_max - lambda_min) + lambda_min.
  int64_t length() const { return regions * (lambda_max - lambda_min) + lambda_min; }
  // Cells from one key to the next.
  int64_t key_period() const { return lambda_max / lambda_min - 1; }
};

// Reads and validates task.* for dense1d. Throws Error(kInvalidInput).
Dense1dParams ParseDense1dParams(const nlohmann::json& task_config);

// Polarities of one sample: one entry per cell (+1 or -1); key cells are the
// cells j with j % key_period() == 0, and their entry is the key polarity.
struct Dense1dLayout {
  std::vector<int> polarities;
};

class Dense1dTask : public Task {
 public:
  Dense1dTask(const Dense1dParams& params, uint64_t seed);

  std::vector<int64_t> sample_shape() const override { return {1, params_.length()}; }
  int num_classes() const override { return 2; }
  TargetKind target_kind() const override { return TargetKind::kDenseClass; }
  void TrainBatch(int64_t index, int64_t batch_size, Batch* batch) override;
  const Batch& EvalSet() const override { return eval_set_; }
  int64_t train_samples() const override { return params_.train_samples; }
  double blind_ceiling() const override { return 0.5; }

  // Layout of the training sample at stream position `position`.
  Dense1dLayout TrainLayoutAt(int64_t position);

 private:
  int64_t TrainCounter(int64_t position);
  // Draws sample `counter` of `stream`; writes length() inputs and labels unless
  // inputs is null.
  Dense1dLayout Generate(uint64_t stream, int64_t counter, float* inputs,
                         int32_t* labels) const;

  Dense1dParams params_;
  uint64_t seed_;                    // run seed
  std::optional<EpochOrder> order_;  // pool visiting order when train_samples > 0
  Batch eval_set_;                   // eval_samples samples, fixed
};

}  // namespace scalelock
