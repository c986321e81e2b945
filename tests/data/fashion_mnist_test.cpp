// Tests of the IDX reader and the fashion_mnist task on the real Fashion-MNIST
// files of the Debian package dataset-fashion-mnist.
#include "data/fashion_mnist.h"

#include <zlib.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "data/idx_file.h"
#include "data/task.h"
#include "util/error.h"

using nlohmann::json;
using scalelock::Batch;
using scalelock::Error;
using scalelock::ErrorCode;
using scalelock::MakeTask;

namespace {

const std::string kDir = scalelock::kDefaultFashionMnistDir;

json Config(int64_t train_samples, int64_t eval_samples) {
  return {{"name", "fashion_mnist"},
          {"train_samples", train_samples},
          {"eval_samples", eval_samples}};
}

// Writes bytes as a gzip file in a fresh temporary folder and returns its path.
std::string WriteGzip(const std::string& name, const std::vector<uint8_t>& bytes) {
  const auto dir = std::filesystem::temp_directory_path() / "scalelock_data_test";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / name).string();
  gzFile file = gzopen(path.c_str(), "wb");
  REQUIRE(file != nullptr);
  REQUIRE(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())) ==
          static_cast<int>(bytes.size()));
  gzclose(file);
  return path;
}

ErrorCode CodeOf(const std::function<void()>& action, std::string* message) {
  try {
    action();
  } catch (const Error& error) {
    *message = error.what();
    return error.code();
  }
  *message = "no error";
  return ErrorCode::kInternal;
}

}  // namespace

TEST_CASE("idx reader loads real files", "[data][fashion_mnist]") {
  const auto train = scalelock::CachedIdxImages(kDir + "/train-images-idx3-ubyte.gz");
  const auto test = scalelock::CachedIdxImages(kDir + "/t10k-images-idx3-ubyte.gz");
  const auto train_labels =
      scalelock::CachedIdxLabels(kDir + "/train-labels-idx1-ubyte.gz");
  const auto test_labels =
      scalelock::CachedIdxLabels(kDir + "/t10k-labels-idx1-ubyte.gz");
  CHECK(train->count == 60000);
  CHECK(train->rows == 28);
  CHECK(train->cols == 28);
  CHECK(test->count == 10000);
  CHECK(train_labels->labels.size() == 60000u);
  CHECK(test_labels->labels.size() == 10000u);

  // Fashion-MNIST has exactly 6000 training images per class.
  std::array<int, 10> per_class{};
  for (uint8_t label : train_labels->labels) {
    REQUIRE(label < 10);
    ++per_class[label];
  }
  for (int count : per_class)
    CHECK(count == 6000);

  // Read by another route: python3 gzip.open(".../t10k-labels-idx1-ubyte.gz")
  // .read()[8] == 9 (ankle boot); the first t10k image (bytes 16..799 of the
  // images file) has pixel sum 33456 and pixel (14, 14) = 110.
  CHECK(test_labels->labels[0] == 9);
  int64_t sum = 0;
  for (int i = 0; i < 784; ++i)
    sum += test->pixels[static_cast<size_t>(i)];
  CHECK(sum == 33456);
  CHECK(test->pixels[14 * 28 + 14] == 110);
  // A second request returns the cached copy.
  CHECK(scalelock::CachedIdxImages(kDir + "/t10k-images-idx3-ubyte.gz") == test);
}

TEST_CASE("fashion_mnist eval set is t10k", "[data][fashion_mnist]") {
  auto task = MakeTask(Config(60000, 10000), 1);
  CHECK(task->sample_shape() == std::vector<int64_t>{1, 28, 28});
  CHECK(task->num_classes() == 10);
  CHECK(task->train_samples() == 60000);
  CHECK(task->blind_ceiling() < 0.0);
  const Batch& eval = task->EvalSet();
  CHECK(eval.size == 10000);
  CHECK(eval.inputs.size() == 10000u * 784u);
  CHECK(eval.labels[0] == 9);
  // Pixel 110 normalized: (110 / 255 - 0.2860) / 0.3530.
  CHECK(eval.inputs[14 * 28 + 14] ==
        Approx((110.0 / 255.0 - 0.2860) / 0.3530).epsilon(1e-5));
  CHECK(eval.inputs[0] == Approx(-0.2860 / 0.3530).epsilon(1e-5));
  for (int32_t label : eval.labels) {
    CHECK(label >= 0);
    CHECK(label < 10);
  }
}

TEST_CASE("fashion_mnist batches are deterministic", "[data][fashion_mnist]") {
  auto first = MakeTask(Config(60000, 16), 3);
  auto second = MakeTask(Config(60000, 16), 3);
  auto other_seed = MakeTask(Config(60000, 16), 4);
  Batch a;
  Batch b;
  Batch c;
  first->TrainBatch(7, 64, &a);
  second->TrainBatch(2, 64, &b);  // a different earlier request
  second->TrainBatch(7, 64, &b);
  other_seed->TrainBatch(7, 64, &c);
  CHECK(a.inputs == b.inputs);
  CHECK(a.labels == b.labels);
  CHECK(a.inputs != c.inputs);
  first->TrainBatch(8, 64, &b);
  CHECK(a.inputs != b.inputs);
  CHECK(a.inputs.size() == 64u * 784u);
}

TEST_CASE("fashion_mnist subset epochs", "[data][fashion_mnist]") {
  scalelock::FashionMnistTask task(scalelock::ParseFashionMnistParams(Config(100, 16)),
                                   5);
  std::set<int64_t> epoch0;
  std::set<int64_t> epoch1;
  for (int64_t position = 0; position < 100; ++position) {
    epoch0.insert(task.TrainImageAt(position));
    epoch1.insert(task.TrainImageAt(100 + position));
  }
  CHECK(epoch0.size() == 100u);
  CHECK(epoch1 == epoch0);
  CHECK(*epoch0.rbegin() < 60000);
  CHECK(task.TrainImageAt(0) != task.TrainImageAt(100));

  // Batch rows are the images TrainImageAt names, with their labels.
  const auto labels = scalelock::CachedIdxLabels(kDir + "/train-labels-idx1-ubyte.gz");
  Batch batch;
  task.TrainBatch(3, 40, &batch);  // positions 120..159, epoch 1
  for (int64_t row = 0; row < 40; ++row) {
    const int64_t image = task.TrainImageAt(120 + row);
    CHECK(batch.labels[static_cast<size_t>(row)] ==
          labels->labels[static_cast<size_t>(image)]);
  }
}

TEST_CASE("fashion_mnist missing data_dir", "[data][fashion_mnist]") {
  json config = Config(100, 16);
  config["data_dir"] = "/nonexistent/fashion";
  std::string message;
  CHECK(CodeOf([&] { MakeTask(config, 1); }, &message) == ErrorCode::kNotFound);
  CHECK_THAT(message, Catch::Contains("/nonexistent/fashion/train-images-idx3-ubyte.gz"));
  CHECK_THAT(message, Catch::Contains("dataset-fashion-mnist"));
  CHECK_THAT(message, Catch::Contains("task.data_dir"));
}

TEST_CASE("idx reader rejects bad files", "[data][fashion_mnist]") {
  std::string message;
  const std::string wrong_magic =
      WriteGzip("wrong_magic.gz", {0, 0, 8, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 7});
  CHECK(CodeOf([&] { scalelock::ReadIdxImages(wrong_magic); }, &message) ==
        ErrorCode::kInvalidInput);
  CHECK_THAT(message, Catch::Contains(wrong_magic));
  CHECK_THAT(message, Catch::Contains("magic number 0x00000801"));

  const std::string truncated =
      WriteGzip("truncated.gz", {0, 0, 8, 1, 0, 0, 0, 5, 1, 2, 3});
  CHECK(CodeOf([&] { scalelock::ReadIdxLabels(truncated); }, &message) ==
        ErrorCode::kInvalidInput);
  CHECK_THAT(message, Catch::Contains("truncated"));

  const std::string trailing = WriteGzip("trailing.gz", {0, 0, 8, 1, 0, 0, 0, 1, 4, 4});
  CHECK(CodeOf([&] { scalelock::ReadIdxLabels(trailing); }, &message) ==
        ErrorCode::kInvalidInput);
  CHECK_THAT(message, Catch::Contains("after the size"));

  const std::string valid = WriteGzip("valid.gz", {0, 0, 8, 1, 0, 0, 0, 2, 4, 9});
  CHECK(scalelock::ReadIdxLabels(valid).labels == std::vector<uint8_t>{4, 9});
}

TEST_CASE("fashion_mnist invalid fields raise", "[data][fashion_mnist]") {
  const std::vector<std::pair<json, std::string>> cases = {
      {Config(0, 16), "task.train_samples"},
      {Config(60001, 16), "task.train_samples"},
      {Config(100, 0), "task.eval_samples"},
      {Config(100, 10001), "task.eval_samples"},
      {json{{"name", "fashion_mnist"}, {"data_dir", 5}}, "task.data_dir"},
      {json{{"name", "fashion_mnist"}, {"length", 28}}, "task.length"},
  };
  for (const auto& [config, field] : cases) {
    INFO(config.dump());
    std::string message;
    CHECK(CodeOf([&] { MakeTask(config, 1); }, &message) == ErrorCode::kInvalidInput);
    CHECK_THAT(message, Catch::Contains(field));
  }
}
