// The keys a run config may contain, with their types, ranges and defaults.
//
// Sections: task (keys depend on task.name), model (keys depend on
// model.family), training. FillAndValidate fills defaults in place and
// raises Error(kInvalidInput) on the first problem, using `locate` to turn a
// dotted config path ("model.kernel") into the JSON path the user wrote.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace scalelock {

// Maps a dotted config path to the place in the spec file it came from,
// e.g. "model.kernel" -> "$.grid.product[\"model.kernel\"][2]".
using PathLocator = std::function<std::string(const std::string& dotted)>;

// Fills defaults and validates sections task, model and training of config.
void FillAndValidate(nlohmann::json* config, const std::string& source,
                     const PathLocator& locate);

// Names accepted for task.name and model.family, for help and messages.
std::vector<std::string> TaskNames();
std::vector<std::string> FamilyNames();

// Number of classes of a task config (validated).
int TaskClassCount(const nlohmann::json& task);

}  // namespace scalelock
