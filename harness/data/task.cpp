#include "data/task.h"

#include <fmt/format.h>

#include "data/dense1d.h"
#include "data/fashion_mnist.h"
#include "data/forecast.h"
#include "data/multiscale1d.h"
#include "data/multiscale2d.h"
#include "util/error.h"

namespace scalelock {

namespace {

constexpr const char* kTaskNames =
    "\"multiscale1d\", \"multiscale2d\", \"dense1d\", \"forecast\" or \"fashion_mnist\"";

std::string ShapeText(const std::vector<int64_t>& shape) {
  return fmt::format("{{{}}}", fmt::join(shape, ", "));
}

}  // namespace

std::unique_ptr<Task> MakeTask(const nlohmann::json& task_config, uint64_t seed) {
  if (!task_config.is_object() || !task_config.contains("name") ||
      !task_config.at("name").is_string()) {
    Fail(ErrorCode::kInvalidInput,
         "task.name is missing or not a string in {}: expected {}", task_config.dump(),
         kTaskNames);
  }
  nlohmann::json config = task_config;
  config.erase("transfer");
  const std::string name = config.at("name").get<std::string>();
  if (name == "multiscale1d") {
    return std::make_unique<Multiscale1dTask>(ParseMultiscale1dParams(config), seed);
  }
  if (name == "multiscale2d") {
    return std::make_unique<Multiscale2dTask>(ParseMultiscale2dParams(config), seed);
  }
  if (name == "dense1d") {
    return std::make_unique<Dense1dTask>(ParseDense1dParams(config), seed);
  }
  if (name == "forecast") {
    return std::make_unique<ForecastTask>(ParseForecastParams(config), seed);
  }
  if (name == "fashion_mnist") {
    return std::make_unique<FashionMnistTask>(ParseFashionMnistParams(config), seed);
  }
  Fail(ErrorCode::kInvalidInput, "task.name = \"{}\" is not a known task: expected {}",
       name, kTaskNames);
}

std::optional<TransferPhase> ReadTransferPhase(const nlohmann::json& task_config) {
  if (!task_config.is_object() || !task_config.contains("transfer")) return std::nullopt;
  const nlohmann::json& transfer = task_config.at("transfer");
  if (!transfer.is_object()) {
    Fail(ErrorCode::kInvalidInput,
         "task.transfer = {} is invalid: expected an object such as {{\"mode\": "
         "\"eval\", \"lambda_max\": 32}}",
         transfer.dump());
  }

  TransferPhase phase;
  const nlohmann::json mode = transfer.value("mode", nlohmann::json("eval"));
  if (mode != "eval" && mode != "finetune") {
    Fail(ErrorCode::kInvalidInput,
         "task.transfer.mode = {} is invalid: expected \"eval\" or \"finetune\"",
         mode.dump());
  }
  phase.mode = mode.get<std::string>();
  const nlohmann::json steps = transfer.value("steps", nlohmann::json(0));
  const bool finetune = phase.mode == "finetune";
  if (!steps.is_number_integer() || steps.get<int64_t>() < (finetune ? 1 : 0) ||
      (!finetune && steps.get<int64_t>() != 0)) {
    Fail(ErrorCode::kInvalidInput,
         "task.transfer.steps = {} is invalid: expected an integer >= 1 for mode "
         "\"finetune\" and 0 (or no steps) for mode \"eval\"",
         steps.dump());
  }
  phase.steps = steps.get<int64_t>();

  // Overrides: every other field replaces the task field of the same name.
  phase.task = task_config;
  phase.task.erase("transfer");
  bool overrides = false;
  for (const auto& item : transfer.items()) {
    if (item.key() == "mode" || item.key() == "steps") continue;
    if (item.key() == "name") {
      Fail(ErrorCode::kInvalidInput,
           "task.transfer.name cannot change the task: transfer moves between "
           "configs of one task; remove task.transfer.name");
    }
    phase.task[item.key()] = item.value();
    overrides = true;
  }
  if (!overrides) {
    Fail(ErrorCode::kInvalidInput,
         "task.transfer = {} has no task field to change: add e.g. \"lambda_max\"",
         transfer.dump());
  }
  if (!transfer.contains("scale_ratio")) phase.task.erase("scale_ratio");
  return phase;
}

void CheckTransferCompatible(const Task& first, const Task& second) {
  if (first.sample_shape() != second.sample_shape()) {
    Fail(ErrorCode::kInvalidInput,
         "task.transfer changes the sample shape from {} to {}: the trained model "
         "needs inputs of one shape; keep the length or size fields unchanged",
         ShapeText(first.sample_shape()), ShapeText(second.sample_shape()));
  }
  if (first.target_kind() != second.target_kind() ||
      first.num_classes() != second.num_classes() ||
      first.target_dim() != second.target_dim()) {
    Fail(ErrorCode::kInvalidInput,
         "task.transfer changes the model output ({} classes, {} targets to {} "
         "classes, {} targets): keep the fields that set the output unchanged",
         first.num_classes(), first.target_dim(), second.num_classes(),
         second.target_dim());
  }
}

}  // namespace scalelock
