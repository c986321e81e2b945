// fashion_mnist: 10-class image classification on Fashion-MNIST (28x28
// grayscale, 60000 training and 10000 test images).
//
// Config fields (task.*):
//   data_dir       folder with train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
//                  t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz; default
//                  /usr/share/datasets/fashion-mnist (Debian dataset-fashion-mnist)
//   train_samples  1..60000 (default 60000): the first N images of a seeded
//                  permutation of the training set
//   eval_samples   1..10000 (default 10000): the first N images of the t10k set
//
// Pixels are scaled to [0, 1] and normalized with the training set's mean 0.2860
// and standard deviation 0.3530. Training batches visit the subset in a seeded
// shuffled order per epoch, a pure function of (seed, batch index). The files
// are read once per process (see CachedIdxImages).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "data/epoch_order.h"
#include "data/idx_file.h"
#include "data/task.h"

namespace scalelock {

inline constexpr const char* kDefaultFashionMnistDir =
    "/usr/share/datasets/fashion-mnist";
inline constexpr float kFashionMnistMean = 0.2860f;
inline constexpr float kFashionMnistStd = 0.3530f;

struct FashionMnistParams {
  std::string data_dir = kDefaultFashionMnistDir;
  int64_t train_samples = 60000;
  int64_t eval_samples = 10000;
};

// Reads and validates task.* for fashion_mnist. Throws Error(kInvalidInput).
FashionMnistParams ParseFashionMnistParams(const nlohmann::json& task_config);

class FashionMnistTask : public Task {
 public:
  // Loads (or takes from the cache) the four files. Throws Error(kNotFound)
  // for a missing file and Error(kInvalidInput) for a malformed one.
  FashionMnistTask(const FashionMnistParams& params, uint64_t seed);

  std::vector<int64_t> sample_shape() const override { return {1, 28, 28}; }
  int num_classes() const override { return 10; }
  void TrainBatch(int64_t index, int64_t batch_size, Batch* batch) override;
  const Batch& EvalSet() const override { return eval_set_; }
  int64_t train_samples() const override { return params_.train_samples; }

  // Index into the 60000 training images of the sample at stream position
  // `position` (row `row` of batch `index` is index * batch_size + row).
  int64_t TrainImageAt(int64_t position);

 private:
  FashionMnistParams params_;
  std::shared_ptr<const IdxImages> train_images_;
  std::shared_ptr<const IdxLabels> train_labels_;
  std::vector<int64_t> subset_;      // training image indices, train_samples of them
  std::optional<EpochOrder> order_;  // visiting order over subset_
  Batch eval_set_;                   // first eval_samples t10k images, normalized
};

}  // namespace scalelock
