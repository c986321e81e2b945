// Network behaviour outside the gradients: the cross-entropy value, the
// inference path against the training path, initialization and labels.
#include <catch2/catch.hpp>
#include <cmath>

#include "model_testing.h"
#include "util/error.h"

namespace scalelock {
namespace {

using nlohmann::json;
using testing::CustomNet;

NetSpec LinearNet(int classes) {
  return CustomNet({{{"type", "linear"}, {"out", classes}}}, {2, 3}, classes);
}

std::unique_ptr<Network> MakeNetwork(const NetSpec& spec, int64_t batch,
                                     int64_t eval_batch, uint64_t seed) {
  testing::UseOneThread();
  NetworkOptions options;
  options.batch_size = batch;
  options.eval_batch_size = eval_batch;
  options.seed = seed;
  return std::make_unique<Network>(spec, options);
}

TEST_CASE("network cross-entropy known answer", "[model][network]") {
  // Zero weights and bias b make every sample's logits equal b, so the loss
  // is mean_n(logsumexp(b) - b[y_n]) and d loss / d b = softmax(b) - mean onehot.
  const int classes = 3;
  auto net = MakeNetwork(LinearNet(classes), 4, 4, 1);
  std::vector<Param>& params = net->params();
  std::fill(params[0].value.begin(), params[0].value.end(), 0.0f);
  const double bias[classes] = {1.0, 2.0, 0.5};
  for (int k = 0; k < classes; ++k)
    params[1].value[k] = static_cast<float>(bias[k]);
  net->MarkParamsChanged();

  std::vector<float> inputs = testing::UniformValues(4 * 6, 3);
  std::vector<int32_t> labels = {0, 1, 1, 2};
  double log_sum = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(0.5));
  double expected = ((log_sum - 1.0) + 2 * (log_sum - 2.0) + (log_sum - 0.5)) / 4.0;
  double loss = net->TrainStep(inputs.data(), labels.data());
  CHECK(loss == Approx(expected).epsilon(1e-5));

  const double label_share[classes] = {0.25, 0.5, 0.25};
  for (int k = 0; k < classes; ++k) {
    double softmax = std::exp(bias[k] - log_sum);
    CHECK(params[1].grad[k] == Approx(softmax - label_share[k]).margin(1e-6));
  }
}

TEST_CASE("network uniform logits give log classes", "[model][network]") {
  const int classes = 10;
  auto net = MakeNetwork(LinearNet(classes), 2, 2, 1);
  for (Param& param : net->params())
    std::fill(param.value.begin(), param.value.end(), 0.0f);
  net->MarkParamsChanged();
  std::vector<float> inputs = testing::UniformValues(2 * 6, 5);
  std::vector<int32_t> labels = {3, 9};
  CHECK(net->ForwardLoss(inputs.data(), labels.data()) ==
        Approx(std::log(10.0)).epsilon(1e-5));
}

TEST_CASE("network evaluate matches training forward", "[model][network]") {
  json layers = {{{"type", "conv"}, {"out", 8}, {"kernel", 3}, {"padding", 1}},
                 {{"type", "relu"}},
                 {{"type", "maxpool"}, {"kernel", 2}},
                 {{"type", "linear"}, {"out", 4}}};
  NetSpec spec = CustomNet(layers, {2, 8, 8}, 4);
  // 5 samples with an inference batch of 2: batches of 2, 2 and a padded 1.
  auto net = MakeNetwork(spec, 5, 2, 9);
  std::vector<float> inputs = testing::UniformValues(5 * 2 * 8 * 8, 8);
  std::vector<int32_t> labels = testing::Labels(5, 4);
  double train_loss = net->ForwardLoss(inputs.data(), labels.data());
  EvalResult eval = net->Evaluate(inputs.data(), labels.data(), 5);
  CHECK(eval.loss == Approx(train_loss).epsilon(1e-5));

  std::vector<float> logits = net->Activation(spec.layers.size() - 1);
  int correct = 0;
  for (int n = 0; n < 5; ++n) {
    auto row = logits.begin() + n * 4;
    correct += std::max_element(row, row + 4) - row == labels[n] ? 1 : 0;
  }
  CHECK(eval.accuracy == Approx(correct / 5.0));
}

TEST_CASE("network init deterministic per seed", "[model][network]") {
  NetSpec spec =
      BuildNetSpec({{"family", "plain"}, {"depth", 2}, {"width", 8}}, {1, 32}, 2);
  auto first = MakeNetwork(spec, 4, 4, 42);
  auto second = MakeNetwork(spec, 4, 4, 42);
  auto other = MakeNetwork(spec, 4, 4, 43);
  REQUIRE(first->params().size() == 6);
  for (size_t p = 0; p < first->params().size(); ++p) {
    CHECK(first->params()[p].value == second->params()[p].value);
  }
  CHECK(first->params()[0].value != other->params()[0].value);

  // Conv 2 weights {8, 8, 3}: fan_in 24, bound sqrt(6 / 24) = 0.5.
  const Param& weights = first->params()[2];
  REQUIRE(weights.dims == std::vector<int64_t>{8, 8, 3});
  float largest = 0.0f;
  for (float w : weights.value)
    largest = std::max(largest, std::abs(w));
  CHECK(largest <= 0.5f);
  CHECK(largest > 0.4f);
  for (float b : first->params()[3].value)
    CHECK(b == 0.0f);
}

TEST_CASE("network rejects label out of range", "[model][network]") {
  auto net = MakeNetwork(LinearNet(3), 2, 2, 1);
  std::vector<float> inputs(2 * 6, 0.5f);
  std::vector<int32_t> labels = {0, 3};
  try {
    net->TrainStep(inputs.data(), labels.data());
    FAIL("no error for label 3 of 3 classes");
  } catch (const Error& error) {
    CHECK(error.code() == ErrorCode::kInvalidInput);
    CHECK_THAT(error.what(), Catch::Matchers::Contains("label 3 of sample 1"));
  }
}

}  // namespace
}  // namespace scalelock
