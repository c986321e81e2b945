#include "data/task.h"

#include "data/fashion_mnist.h"
#include "data/multiscale1d.h"
#include "util/error.h"

namespace scalelock {

std::unique_ptr<Task> MakeTask(const nlohmann::json& task_config, uint64_t seed) {
  if (!task_config.is_object() || !task_config.contains("name") ||
      !task_config.at("name").is_string()) {
    Fail(ErrorCode::kInvalidInput,
         "task.name is missing or not a string in {}: expected \"multiscale1d\" or "
         "\"fashion_mnist\"",
         task_config.dump());
  }
  const std::string name = task_config.at("name").get<std::string>();
  if (name == "multiscale1d") {
    return std::make_unique<Multiscale1dTask>(ParseMultiscale1dParams(task_config), seed);
  }
  if (name == "fashion_mnist") {
    return std::make_unique<FashionMnistTask>(ParseFashionMnistParams(task_config), seed);
  }
  Fail(ErrorCode::kInvalidInput,
       "task.name = \"{}\" is not a known task: expected \"multiscale1d\" or "
       "\"fashion_mnist\"",
       name);
}

}  // namespace scalelock
