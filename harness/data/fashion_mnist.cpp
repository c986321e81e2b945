#include "data/fashion_mnist.h"

#include <spdlog/spdlog.h>

#include "data/random.h"
#include "data/task_config.h"
#include "util/error.h"

namespace scalelock {

namespace {

constexpr int64_t kTrainCount = 60000;
constexpr int64_t kTestCount = 10000;
constexpr int64_t kSide = 28;
constexpr int64_t kPixels = kSide * kSide;
constexpr uint64_t kSubsetStream = 11;
constexpr uint64_t kOrderStream = 12;

struct Split {
  std::shared_ptr<const IdxImages> images;
  std::shared_ptr<const IdxLabels> labels;
};

// Loads one split ("train" or "t10k") and checks it is Fashion-MNIST shaped.
Split LoadSplit(const std::string& dir, const std::string& prefix, int64_t count) {
  const std::string images_path = dir + "/" + prefix + "-images-idx3-ubyte.gz";
  const std::string labels_path = dir + "/" + prefix + "-labels-idx1-ubyte.gz";
  Split split{CachedIdxImages(images_path), CachedIdxLabels(labels_path)};
  const IdxImages& images = *split.images;
  if (images.count != count || images.rows != kSide || images.cols != kSide) {
    Fail(ErrorCode::kInvalidInput,
         "IDX file {} contains {} images of {}x{}, expected {} images of 28x28 for "
         "Fashion-MNIST",
         images_path, images.count, images.rows, images.cols, count);
  }
  if (static_cast<int64_t>(split.labels->labels.size()) != count) {
    Fail(ErrorCode::kInvalidInput, "IDX file {} contains {} labels, expected {}",
         labels_path, split.labels->labels.size(), count);
  }
  for (size_t i = 0; i < split.labels->labels.size(); ++i) {
    if (split.labels->labels[i] > 9) {
      Fail(ErrorCode::kInvalidInput,
           "IDX file {} has label {} at index {}, expected 0..9", labels_path,
           split.labels->labels[i], i);
    }
  }
  return split;
}

void CopyNormalized(const uint8_t* pixels, float* out) {
  for (int64_t i = 0; i < kPixels; ++i) {
    out[i] =
        (static_cast<float>(pixels[i]) / 255.0f - kFashionMnistMean) / kFashionMnistStd;
  }
}

}  // namespace

FashionMnistParams ParseFashionMnistParams(const nlohmann::json& task_config) {
  CheckTaskFields(task_config, "fashion_mnist",
                  {"name", "data_dir", "train_samples", "eval_samples"});
  FashionMnistParams p;
  p.data_dir = ReadTaskString(task_config, "data_dir", kDefaultFashionMnistDir);
  if (p.data_dir.empty()) {
    Fail(ErrorCode::kInvalidInput,
         "task.data_dir is empty: expected the folder with the Fashion-MNIST .gz files");
  }
  p.train_samples =
      ReadTaskInt(task_config, "train_samples", kTrainCount, 1, kTrainCount);
  p.eval_samples = ReadTaskInt(task_config, "eval_samples", kTestCount, 1, kTestCount);
  return p;
}

FashionMnistTask::FashionMnistTask(const FashionMnistParams& params, uint64_t seed)
    : params_(params) {
  const Split train = LoadSplit(params_.data_dir, "train", kTrainCount);
  const Split test = LoadSplit(params_.data_dir, "t10k", kTestCount);
  train_images_ = train.images;
  train_labels_ = train.labels;

  // The training subset is a prefix of a seeded permutation, so smaller
  // subsets of one seed are nested.
  SplitMix64 rng(SeedFor(seed, kSubsetStream, 0));
  subset_ = RandomPermutation(kTrainCount, &rng);
  subset_.resize(static_cast<size_t>(params_.train_samples));
  order_.emplace(params_.train_samples, SeedFor(seed, kOrderStream, 0));

  eval_set_.size = params_.eval_samples;
  eval_set_.inputs.resize(static_cast<size_t>(params_.eval_samples * kPixels));
  eval_set_.labels.resize(static_cast<size_t>(params_.eval_samples));
  for (int64_t i = 0; i < params_.eval_samples; ++i) {
    CopyNormalized(test.images->pixels.data() + i * kPixels,
                   eval_set_.inputs.data() + i * kPixels);
    eval_set_.labels[static_cast<size_t>(i)] =
        test.labels->labels[static_cast<size_t>(i)];
  }
  spdlog::debug("fashion_mnist task from {}: {} training, {} evaluation samples",
                params_.data_dir, params_.train_samples, params_.eval_samples);
}

int64_t FashionMnistTask::TrainImageAt(int64_t position) {
  return subset_[static_cast<size_t>(order_->SampleAt(position))];
}

void FashionMnistTask::TrainBatch(int64_t index, int64_t batch_size, Batch* batch) {
  if (index < 0 || batch_size < 1) {
    Fail(ErrorCode::kInvalidInput,
         "fashion_mnist batch index {} and batch size {} are invalid: expected index >= "
         "0 and batch size >= 1",
         index, batch_size);
  }
  batch->size = batch_size;
  batch->inputs.resize(static_cast<size_t>(batch_size * kPixels));
  batch->labels.resize(static_cast<size_t>(batch_size));
  for (int64_t row = 0; row < batch_size; ++row) {
    const int64_t image = TrainImageAt(index * batch_size + row);
    CopyNormalized(train_images_->pixels.data() + image * kPixels,
                   batch->inputs.data() + row * kPixels);
    batch->labels[static_cast<size_t>(row)] =
        train_labels_->labels[static_cast<size_t>(image)];
  }
}

}  // namespace scalelock
