#include "data/dense1d.h"

#include "data/fine_mark.h"
#include "data/random.h"
#include "data/task_config.h"
#include "util/error.h"

namespace scalelock {

namespace {

constexpr uint64_t kTrainStream = 31;
constexpr uint64_t kEvalStream = 32;
constexpr uint64_t kOrderStream = 33;
constexpr int64_t kMaxLength = int64_t{1} << 20;
constexpr int64_t kMaxPoolSamples = int64_t{1} << 24;
constexpr int64_t kMaxEvalSamples = int64_t{1} << 20;

}  // namespace

Dense1dParams ParseDense1dParams(const nlohmann::json& task_config) {
  CheckTaskFields(task_config, "dense1d",
                  {"name", "lambda_min", "lambda_max", "regions", "scale_ratio", "noise",
                   "train_samples", "eval_samples"});
  Dense1dParams p;
  p.lambda_min = ReadRequiredTaskInt(task_config, "lambda_min", 1, kMaxLength);
  p.lambda_max = ReadRequiredTaskInt(task_config, "lambda_max", 1, kMaxLength);
  if (p.lambda_max < 2 * p.lambda_min || p.lambda_max % p.lambda_min != 0) {
    Fail(ErrorCode::kInvalidInput,
         "task.lambda_max = {} is invalid: with task.lambda_min = {} it must be a "
         "multiple of lambda_min and at least 2 * lambda_min = {}",
         p.lambda_max, p.lambda_min, 2 * p.lambda_min);
  }
  CheckTaskScaleRatio(task_config, p.lambda_min, p.lambda_max);
  p.regions = ReadTaskInt(task_config, "regions", 4, 1, 4096);
  if (p.length() > kMaxLength) {
    Fail(ErrorCode::kInvalidInput,
         "task.regions = {} is too large: regions * (lambda_max - lambda_min) + "
         "lambda_min = {} exceeds the maximum length {}; lower task.regions",
         p.regions, p.length(), kMaxLength);
  }
  p.noise = ReadTaskNumber(task_config, "noise", 0.1, 0.0);
  p.train_samples = ReadTaskInt(task_config, "train_samples", 0, 0, kMaxPoolSamples);
  p.eval_samples = ReadTaskInt(task_config, "eval_samples", 1024, 1, kMaxEvalSamples);
  if (p.eval_samples * p.length() > (int64_t{1} << 28)) {
    Fail(ErrorCode::kInvalidInput,
         "task.eval_samples = {} is too large for length {}: the evaluation set "
         "would hold more than 2^28 samples; lower task.eval_samples",
         p.eval_samples, p.length());
  }
  return p;
}

Dense1dTask::Dense1dTask(const Dense1dParams& params, uint64_t seed)
    : params_(params), seed_(seed) {
  if (params_.train_samples > 0) {
    order_.emplace(params_.train_samples, SeedFor(seed_, kOrderStream, 0));
  }
  const int64_t length = params_.length();
  eval_set_.size = params_.eval_samples;
  eval_set_.inputs.resize(static_cast<size_t>(params_.eval_samples * length));
  eval_set_.labels.resize(static_cast<size_t>(params_.eval_samples * length));
  for (int64_t k = 0; k < params_.eval_samples; ++k) {
    Generate(kEvalStream, k, eval_set_.inputs.data() + k * length,
             eval_set_.labels.data() + k * length);
  }
}

int64_t Dense1dTask::TrainCounter(int64_t position) {
  return order_ ? order_->SampleAt(position) : position;
}

void Dense1dTask::TrainBatch(int64_t index, int64_t batch_size, Batch* batch) {
  if (index < 0 || batch_size < 1) {
    Fail(ErrorCode::kInvalidInput,
         "dense1d batch index {} and batch size {} are invalid: expected index >= 0 "
         "and batch size >= 1",
         index, batch_size);
  }
  const int64_t length = params_.length();
  batch->size = batch_size;
  batch->inputs.resize(static_cast<size_t>(batch_size * length));
  batch->labels.resize(static_cast<size_t>(batch_size * length));
  batch->targets.clear();
  for (int64_t row = 0; row < batch_size; ++row) {
    const int64_t counter = TrainCounter(index * batch_size + row);
    Generate(kTrainStream, counter, batch->inputs.data() + row * length,
             batch->labels.data() + row * length);
  }
}

Dense1dLayout Dense1dTask::TrainLayoutAt(int64_t position) {
  return Generate(kTrainStream, TrainCounter(position), nullptr, nullptr);
}

Dense1dLayout Dense1dTask::Generate(uint64_t stream, int64_t counter, float* inputs,
                                    int32_t* labels) const {
  SplitMix64 rng(SeedFor(seed_, stream, static_cast<uint64_t>(counter)));
  const int64_t m = params_.lambda_min;
  const int64_t period = params_.key_period();
  const int64_t cells = params_.length() / m;
  Dense1dLayout layout;
  layout.polarities.resize(static_cast<size_t>(cells));
  for (int& polarity : layout.polarities)
    polarity = rng.Sign();
  if (inputs == nullptr) return layout;

  for (int64_t t = 0; t < params_.length(); ++t) {
    inputs[t] = static_cast<float>(params_.noise * rng.Normal());
  }
  for (int64_t cell = 0; cell < cells; ++cell) {
    const int polarity = layout.polarities[static_cast<size_t>(cell)];
    const int amplitude = cell % period == 0 ? 2 : 1;

    // The region's keys: the key at or before the cell and the next one; the
    // last key closes the last region.
    int64_t left_key = cell / period * period;
    if (left_key == cells - 1) left_key -= period;
    const int sign = layout.polarities[static_cast<size_t>(left_key)] *
                     layout.polarities[static_cast<size_t>(left_key + period)];
    const int32_t label = polarity * sign < 0 ? 1 : 0;
    for (int64_t j = 0; j < m; ++j) {
      inputs[cell * m + j] +=
          static_cast<float>(amplitude * polarity * FineMarkSign(j, m));
      labels[cell * m + j] = label;
    }
  }
  return layout;
}

}  // namespace scalelock
