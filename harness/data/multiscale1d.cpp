#include "data/multiscale1d.h"

#include <algorithm>
#include <cmath>

#include "data/random.h"
#include "data/task_config.h"
#include "util/error.h"

namespace scalelock {

namespace {

constexpr uint64_t kTrainStream = 1;
constexpr uint64_t kEvalStream = 2;
constexpr uint64_t kOrderStream = 3;
constexpr int64_t kMaxLength = int64_t{1} << 24;
// The pool's per-epoch permutation is stored (8 bytes per sample) and so is the
// evaluation set (4 * length bytes per sample), which bounds both counts.
constexpr int64_t kMaxPoolSamples = int64_t{1} << 24;
constexpr int64_t kMaxEvalSamples = int64_t{1} << 20;

// Largest lambda_max that fits two pairs with the required gap into length.
int64_t MaxLambdaMax(int64_t length, int64_t lambda_min) {
  return (length + 2 * lambda_min - 1) / 3;
}

void CheckScaleRatio(const nlohmann::json& task_config, const Multiscale1dParams& p) {
  if (!task_config.contains("scale_ratio")) return;
  const double ratio = ReadTaskNumber(task_config, "scale_ratio", 0.0, 0.0);
  const double expected =
      static_cast<double>(p.lambda_max) / static_cast<double>(p.lambda_min);
  if (std::fabs(ratio - expected) > 1e-9 * expected) {
    Fail(ErrorCode::kInvalidInput,
         "task.scale_ratio = {} does not match task.lambda_max / task.lambda_min = "
         "{} / {} = {}: remove scale_ratio or make it equal",
         ratio, p.lambda_max, p.lambda_min, expected);
  }
}

}  // namespace

Multiscale1dParams ParseMultiscale1dParams(const nlohmann::json& task_config) {
  CheckTaskFields(task_config, "multiscale1d",
                  {"name", "length", "lambda_min", "lambda_max", "scale_ratio", "noise",
                   "train_samples", "eval_samples"});
  Multiscale1dParams p;
  p.length = ReadTaskInt(task_config, "length", 64, 3, kMaxLength);
  p.lambda_min = ReadRequiredTaskInt(task_config, "lambda_min", 1, p.length);
  p.lambda_max = ReadRequiredTaskInt(task_config, "lambda_max", 1, kMaxLength);

  // The two marks of a pair must not overlap, and two pairs separated by more
  // than lambda_max must fit into the input.
  const int64_t upper = MaxLambdaMax(p.length, p.lambda_min);
  if (p.lambda_max < 2 * p.lambda_min || p.lambda_max > upper) {
    Fail(ErrorCode::kInvalidInput,
         "task.lambda_max = {} is out of range: with task.lambda_min = {} and "
         "task.length = {} it must lie in [2 * lambda_min, (length + 2 * lambda_min - "
         "1) / 3] = [{}, {}]; raise task.length or change lambda_max",
         p.lambda_max, p.lambda_min, p.length, 2 * p.lambda_min, upper);
  }
  CheckScaleRatio(task_config, p);

  p.noise = ReadTaskNumber(task_config, "noise", 0.1, 0.0);
  p.train_samples = ReadTaskInt(task_config, "train_samples", 0, 0, kMaxPoolSamples);
  p.eval_samples = ReadTaskInt(task_config, "eval_samples", 1024, 1, kMaxEvalSamples);
  return p;
}

Multiscale1dTask::Multiscale1dTask(const Multiscale1dParams& params, uint64_t seed)
    : params_(params), seed_(seed) {
  if (params_.train_samples > 0) {
    order_.emplace(params_.train_samples, SeedFor(seed_, kOrderStream, 0));
  }
  eval_set_.size = params_.eval_samples;
  eval_set_.inputs.resize(static_cast<size_t>(params_.eval_samples * params_.length));
  eval_set_.labels.resize(static_cast<size_t>(params_.eval_samples));
  for (int64_t k = 0; k < params_.eval_samples; ++k) {
    float* row = eval_set_.inputs.data() + k * params_.length;
    eval_set_.labels[static_cast<size_t>(k)] = Generate(kEvalStream, k, row).label;
  }
}

int64_t Multiscale1dTask::TrainCounter(int64_t position) {
  return order_ ? order_->SampleAt(position) : position;
}

void Multiscale1dTask::TrainBatch(int64_t index, int64_t batch_size, Batch* batch) {
  if (index < 0 || batch_size < 1) {
    Fail(ErrorCode::kInvalidInput,
         "multiscale1d batch index {} and batch size {} are invalid: expected index >= "
         "0 and batch size >= 1",
         index, batch_size);
  }
  batch->size = batch_size;
  batch->inputs.resize(static_cast<size_t>(batch_size * params_.length));
  batch->labels.resize(static_cast<size_t>(batch_size));
  for (int64_t row = 0; row < batch_size; ++row) {
    const int64_t counter = TrainCounter(index * batch_size + row);
    float* inputs = batch->inputs.data() + row * params_.length;
    batch->labels[static_cast<size_t>(row)] =
        Generate(kTrainStream, counter, inputs).label;
  }
}

Multiscale1dLayout Multiscale1dTask::TrainLayoutAt(int64_t position) {
  return Generate(kTrainStream, TrainCounter(position), nullptr);
}

Multiscale1dLayout Multiscale1dTask::Generate(uint64_t stream, int64_t counter,
                                              float* inputs) const {
  SplitMix64 rng(SeedFor(seed_, stream, static_cast<uint64_t>(counter)));
  const int64_t m = params_.lambda_min;
  const int64_t offset = params_.lambda_max - m;  // start-to-start within a pair

  // Positions: the first start and the extra gap between the pairs are uniform
  // over all pairs (first, gap) that fit; rejection keeps them uniform.
  const int64_t slack = params_.length - (3 * offset + 1 + m);
  int64_t first = 0;
  int64_t gap = 0;
  do {
    first = static_cast<int64_t>(rng.Below(static_cast<uint64_t>(slack) + 1));
    gap = static_cast<int64_t>(rng.Below(static_cast<uint64_t>(slack) + 1));
  } while (first + gap > slack);
  Multiscale1dLayout layout;
  layout.starts[0] = first;
  layout.starts[1] = first + offset;
  layout.starts[2] = layout.starts[1] + offset + 1 + gap;
  layout.starts[3] = layout.starts[2] + offset;

  // Polarities: both pairs follow the label, and the right pair balances the
  // count of +1 and -1 marks (see the header).
  layout.label = static_cast<int32_t>(rng.Next() >> 63);
  const int a = rng.Sign();
  const int c = rng.Sign();
  const int right = layout.label == 0 ? -a : c;
  layout.polarities[0] = a;
  layout.polarities[1] = layout.label == 0 ? a : -a;
  layout.polarities[2] = right;
  layout.polarities[3] = layout.label == 0 ? right : -right;
  if (inputs == nullptr) return layout;

  for (int64_t t = 0; t < params_.length; ++t) {
    inputs[t] = static_cast<float>(params_.noise * rng.Normal());
  }
  const int64_t positive_samples = (m + 1) / 2;
  for (int mark = 0; mark < 4; ++mark) {
    for (int64_t j = 0; j < m; ++j) {
      const int sign = j < positive_samples ? 1 : -1;
      inputs[layout.starts[mark] + j] +=
          static_cast<float>(sign * layout.polarities[mark]);
    }
  }
  return layout;
}

}  // namespace scalelock
