#include "data/multiscale2d.h"

#include <algorithm>
#include <cstdlib>

#include "data/fine_mark.h"
#include "data/random.h"
#include "data/task_config.h"
#include "util/error.h"

namespace scalelock {

namespace {

constexpr uint64_t kTrainStream = 21;
constexpr uint64_t kEvalStream = 22;
constexpr uint64_t kOrderStream = 23;
constexpr int64_t kMaxSize = 4096;
constexpr int64_t kMaxPoolSamples = int64_t{1} << 24;
// The evaluation set is stored (4 * size^2 bytes per sample).
constexpr int64_t kMaxEvalSamples = int64_t{1} << 18;
// A layout is accepted with probability above 0.1 for every valid config (0.13
// measured for lambda_max = size / 2, lambda_min = 1), so this many rejections
// happen with probability below 1e-400.
constexpr int kMaxLayoutTries = 10000;

// Places marks 2 * pair and 2 * pair + 1 as a pair along a random axis.
void DrawPair(const Multiscale2dParams& p, int pair, SplitMix64* rng,
              Multiscale2dLayout* layout) {
  const int64_t offset = p.lambda_max - p.lambda_min;  // start to start
  const int axis = static_cast<int>(rng->Below(2));
  const auto along =
      static_cast<int64_t>(rng->Below(static_cast<uint64_t>(p.size - p.lambda_max + 1)));
  const auto across =
      static_cast<int64_t>(rng->Below(static_cast<uint64_t>(p.size - p.lambda_min + 1)));
  const int first = 2 * pair;
  layout->axes[pair] = axis;
  layout->rows[first] = axis == 0 ? across : along;
  layout->cols[first] = axis == 0 ? along : across;
  layout->rows[first + 1] = layout->rows[first] + (axis == 1 ? offset : 0);
  layout->cols[first + 1] = layout->cols[first] + (axis == 0 ? offset : 0);
}

// True when every mark of pair 0 is more than lambda_max - lambda_min pixels
// (start to start) from every mark of pair 1 along some axis.
bool PairsSeparated(const Multiscale2dParams& p, const Multiscale2dLayout& layout) {
  const int64_t offset = p.lambda_max - p.lambda_min;
  for (int i = 0; i < 2; ++i) {
    for (int j = 2; j < 4; ++j) {
      const int64_t dr = std::llabs(layout.rows[i] - layout.rows[j]);
      const int64_t dc = std::llabs(layout.cols[i] - layout.cols[j]);
      if (std::max(dr, dc) <= offset) return false;
    }
  }
  return true;
}

}  // namespace

Multiscale2dParams ParseMultiscale2dParams(const nlohmann::json& task_config) {
  CheckTaskFields(task_config, "multiscale2d",
                  {"name", "size", "lambda_min", "lambda_max", "scale_ratio", "noise",
                   "train_samples", "eval_samples"});
  Multiscale2dParams p;
  p.size = ReadTaskInt(task_config, "size", 32, 4, kMaxSize);
  p.lambda_min = ReadRequiredTaskInt(task_config, "lambda_min", 1, p.size);
  p.lambda_max = ReadRequiredTaskInt(task_config, "lambda_max", 1, kMaxSize);

  // The marks of a pair must not overlap, and two pairs must fit with room for
  // random positions.
  if (p.lambda_max < 2 * p.lambda_min || p.lambda_max > p.size / 2) {
    Fail(ErrorCode::kInvalidInput,
         "task.lambda_max = {} is out of range: with task.lambda_min = {} and "
         "task.size = {} it must lie in [2 * lambda_min, size / 2] = [{}, {}]; raise "
         "task.size or change lambda_max",
         p.lambda_max, p.lambda_min, p.size, 2 * p.lambda_min, p.size / 2);
  }
  CheckTaskScaleRatio(task_config, p.lambda_min, p.lambda_max);

  p.noise = ReadTaskNumber(task_config, "noise", 0.1, 0.0);
  p.train_samples = ReadTaskInt(task_config, "train_samples", 0, 0, kMaxPoolSamples);
  p.eval_samples = ReadTaskInt(task_config, "eval_samples", 1024, 1, kMaxEvalSamples);
  return p;
}

Multiscale2dTask::Multiscale2dTask(const Multiscale2dParams& params, uint64_t seed)
    : params_(params), seed_(seed) {
  if (params_.train_samples > 0) {
    order_.emplace(params_.train_samples, SeedFor(seed_, kOrderStream, 0));
  }
  const int64_t pixels = params_.size * params_.size;
  eval_set_.size = params_.eval_samples;
  eval_set_.inputs.resize(static_cast<size_t>(params_.eval_samples * pixels));
  eval_set_.labels.resize(static_cast<size_t>(params_.eval_samples));
  for (int64_t k = 0; k < params_.eval_samples; ++k) {
    float* image = eval_set_.inputs.data() + k * pixels;
    eval_set_.labels[static_cast<size_t>(k)] = Generate(kEvalStream, k, image).label;
  }
}

int64_t Multiscale2dTask::TrainCounter(int64_t position) {
  return order_ ? order_->SampleAt(position) : position;
}

void Multiscale2dTask::TrainBatch(int64_t index, int64_t batch_size, Batch* batch) {
  if (index < 0 || batch_size < 1) {
    Fail(ErrorCode::kInvalidInput,
         "multiscale2d batch index {} and batch size {} are invalid: expected index >= "
         "0 and batch size >= 1",
         index, batch_size);
  }
  const int64_t pixels = params_.size * params_.size;
  batch->size = batch_size;
  batch->inputs.resize(static_cast<size_t>(batch_size * pixels));
  batch->labels.resize(static_cast<size_t>(batch_size));
  batch->targets.clear();
  for (int64_t row = 0; row < batch_size; ++row) {
    const int64_t counter = TrainCounter(index * batch_size + row);
    float* image = batch->inputs.data() + row * pixels;
    batch->labels[static_cast<size_t>(row)] =
        Generate(kTrainStream, counter, image).label;
  }
}

Multiscale2dLayout Multiscale2dTask::TrainLayoutAt(int64_t position) {
  return Generate(kTrainStream, TrainCounter(position), nullptr);
}

Multiscale2dLayout Multiscale2dTask::Generate(uint64_t stream, int64_t counter,
                                              float* pixels) const {
  SplitMix64 rng(SeedFor(seed_, stream, static_cast<uint64_t>(counter)));
  Multiscale2dLayout layout;
  int tries = 0;
  do {
    if (++tries > kMaxLayoutTries) {
      Fail(ErrorCode::kInternal,
           "multiscale2d found no layout in {} draws for size {}, lambda_min {}, "
           "lambda_max {}",
           kMaxLayoutTries, params_.size, params_.lambda_min, params_.lambda_max);
    }
    DrawPair(params_, 0, &rng, &layout);
    DrawPair(params_, 1, &rng, &layout);
  } while (!PairsSeparated(params_, layout));

  // Polarities as in multiscale1d: both pairs follow the label and the second
  // pair balances the count of +1 and -1 marks.
  layout.label = static_cast<int32_t>(rng.Next() >> 63);
  const int a = rng.Sign();
  const int c = rng.Sign();
  const int second = layout.label == 0 ? -a : c;
  layout.polarities[0] = a;
  layout.polarities[1] = layout.label == 0 ? a : -a;
  layout.polarities[2] = second;
  layout.polarities[3] = layout.label == 0 ? second : -second;
  if (pixels == nullptr) return layout;

  const int64_t size = params_.size;
  const int64_t m = params_.lambda_min;
  for (int64_t i = 0; i < size * size; ++i) {
    pixels[i] = static_cast<float>(params_.noise * rng.Normal());
  }
  for (int mark = 0; mark < 4; ++mark) {
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < m; ++j) {
        const int sign =
            FineMarkSign(i, m) * FineMarkSign(j, m) * layout.polarities[mark];
        pixels[(layout.rows[mark] + i) * size + layout.cols[mark] + j] +=
            static_cast<float>(sign);
      }
    }
  }
  return layout;
}

}  // namespace scalelock
