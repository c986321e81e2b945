// multiscale1d: a binary 1D task whose label needs a receptive field of
// lambda_max samples and a resolution of lambda_min samples.
//
// A sample is one channel of `length` samples: Gaussian noise (sigma = noise)
// plus four fine marks arranged as two pairs. A fine mark with polarity a in
// {+1, -1} is lambda_min samples long: +a on its first ceil(lambda_min / 2)
// samples and -a on the rest (for lambda_min = 1 just the value a). A pair is
// two marks that span exactly lambda_max samples end to end: one starting at p
// and one ending at p + lambda_max - 1. The two pairs are disjoint and any two
// marks of different pairs span at least lambda_max + 1 samples, so the only
// windows of lambda_max samples that contain two marks contain one pair.
//
// Label 0 ("same"): the left pair has polarities (a, a), the right (-a, -a).
// Label 1 ("different"): the left pair has (a, -a), the right (c, -c).
// a and c are fair coins, as are the labels. Every sample therefore contains
// exactly two +1 marks and two -1 marks, and each mark alone is a fair coin in
// both classes. A model whose receptive field is below lambda_max sees at most
// one mark per output position, and the multiset of what its positions see
// has the same distribution in both classes, so it cannot beat accuracy 0.5
// (blind_ceiling()). With a single pair this would fail: the number of +1
// marks (0, 1 or 2) determines the label, and a global-average-pool plus a
// linear head reaches 0.75 from the count alone.
// NOTE: the 0.5 bound is exact for translation-equivariant features. Zero
// padding near the ends and strides above 1 make features position-dependent,
// which can leak a little when marks of both pairs sit near the ends.
//
// Config fields (task.*): length (default 64), lambda_min >= 1, lambda_max with
// 2 * lambda_min <= lambda_max and 3 * lambda_max - 2 * lambda_min + 1 <=
// length, scale_ratio (optional, must equal lambda_max / lambda_min), noise >= 0
// (default 0.1), train_samples in [0, 2^24] (0: every batch draws fresh samples;
// N: a fixed pool of N samples visited in a seeded shuffled order per epoch),
// eval_samples in [1, 2^20] (default 1024).
//
// Sample k of a stream is generated from its own counter-based seed, so
// TrainBatch(i) does not depend on which batches were generated before. The
// evaluation set uses a stream disjoint from the training stream.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "data/epoch_order.h"
#include "data/task.h"

namespace scalelock {

struct Multiscale1dParams {
  int64_t length = 64;        // samples per input
  int64_t lambda_min = 1;     // mark length, samples
  int64_t lambda_max = 2;     // pair span end to end, samples
  double noise = 0.1;         // Gaussian sigma added to every sample
  int64_t train_samples = 0;  // pool size, 0 = unbounded stream
  int64_t eval_samples = 1024;
};

// Reads and validates task.* for multiscale1d. Throws Error(kInvalidInput).
Multiscale1dParams ParseMultiscale1dParams(const nlohmann::json& task_config);

// Start positions of the four marks of one sample, left to right, and their
// polarities (+1 or -1). Marks 0 and 1 form the left pair, 2 and 3 the right.
struct Multiscale1dLayout {
  int64_t starts[4] = {0, 0, 0, 0};
  int polarities[4] = {1, 1, 1, 1};
  int32_t label = 0;
};

class Multiscale1dTask : public Task {
 public:
  Multiscale1dTask(const Multiscale1dParams& params, uint64_t seed);

  std::vector<int64_t> sample_shape() const override { return {1, params_.length}; }
  int num_classes() const override { return 2; }
  void TrainBatch(int64_t index, int64_t batch_size, Batch* batch) override;
  const Batch& EvalSet() const override { return eval_set_; }
  int64_t train_samples() const override { return params_.train_samples; }
  double blind_ceiling() const override { return 0.5; }

  // Layout of the training sample at stream position `position` (row `row` of
  // batch `index` has position index * batch_size + row), as TrainBatch draws it.
  Multiscale1dLayout TrainLayoutAt(int64_t position);

 private:
  // Counter of the training-stream sample at stream position `position`.
  int64_t TrainCounter(int64_t position);
  // Draws sample `counter` of `stream`; writes it to inputs[0, length) unless
  // inputs is null.
  Multiscale1dLayout Generate(uint64_t stream, int64_t counter, float* inputs) const;

  Multiscale1dParams params_;
  uint64_t seed_;                    // run seed
  std::optional<EpochOrder> order_;  // pool visiting order when train_samples > 0
  Batch eval_set_;                   // eval_samples samples, fixed
};

}  // namespace scalelock
