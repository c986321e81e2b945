#include "spec/schema.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <map>

#include "spec/schema_tables.h"
#include "util/error.h"

namespace scalelock {

namespace {

using nlohmann::json;

using namespace schema;  // Field, Type, Schema and the key tables

const Schema& TrainingSchema() {
  static const Schema schema = {
      {"optimizer", Type::kString, "adam", -kInf, kInf, {"sgd", "adam"}},
      {"lr", Type::kNumber, 1e-3, 1e-12, 100},
      {"momentum", Type::kNumber, 0.9, 0, 1},
      {"beta1", Type::kNumber, 0.9, 0, 1},
      {"beta2", Type::kNumber, 0.999, 0, 1},
      {"epsilon", Type::kNumber, 1e-8, 0, 1},
      {"weight_decay", Type::kNumber, 0.0, 0, 10},
      {"batch_size", Type::kInt, 32, 1, 65536},
      {"steps", Type::kInt, 500, 1, 1e9},
      {"eval_every", Type::kInt, 100, 1, 1e9},
      {"max_seconds", Type::kNumber, 0.0, 0, 1e9}};
  return schema;
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += "\"" + names[i] + "\"";
  }
  return out;
}

template <typename Map>
std::vector<std::string> KeysOf(const Map& map) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : map)
    keys.push_back(key);
  return keys;
}

// Validation context: where the section sits and how to report problems.
struct Context {
  const std::string& source;
  const PathLocator& locate;
  std::string prefix;  // dotted path of the section, e.g. "model"

  std::string Path(const std::string& key) const {
    return locate(prefix.empty() ? key : prefix + "." + key);
  }

  [[noreturn]] void Reject(const std::string& key, const json& value,
                           const std::string& expected) const {
    Fail(ErrorCode::kInvalidInput, "{}: {}: invalid value {}: expected {}", source,
         Path(key), value.dump(), expected);
  }
};

std::string DescribeField(const Field& field) {
  std::string what;
  switch (field.type) {
    case Type::kInt:
      what = field.odd ? "an odd integer" : "an integer";
      break;
    case Type::kNumber:
      what = "a number";
      break;
    case Type::kString:
      what = "a string";
      break;
    case Type::kArray:
      what = "an array";
      break;
    case Type::kObject:
      what = "an object";
      break;
  }
  if (!field.choices.empty()) return "one of " + JoinNames(field.choices);
  bool has_min = std::isfinite(field.min);
  bool has_max = std::isfinite(field.max);
  if (has_min && has_max) {
    what += fmt::format(" in [{}, {}]", field.min, field.max);
  } else if (has_min) {
    what += fmt::format(" >= {}", field.min);
  }
  return what;
}

// Integral doubles (from derived expressions) become integers for kInt.
bool NormalizeInt(json* value) {
  if (value->is_number_integer()) return true;
  if (!value->is_number_float()) return false;
  double number = value->get<double>();
  if (std::floor(number) != number || std::fabs(number) > 9e15) return false;
  *value = static_cast<int64_t>(number);
  return true;
}

void CheckField(const Field& field, json* value, const Context& context) {
  bool type_ok = false;
  switch (field.type) {
    case Type::kInt:
      type_ok = NormalizeInt(value);
      break;
    case Type::kNumber:
      type_ok = value->is_number();
      break;
    case Type::kString:
      type_ok = value->is_string();
      break;
    case Type::kArray:
      type_ok = value->is_array();
      break;
    case Type::kObject:
      type_ok = value->is_object();
      break;
  }
  if (!type_ok) context.Reject(field.key, *value, DescribeField(field));

  if (value->is_number()) {
    double number = value->get<double>();
    if (!(number >= field.min && number <= field.max) ||
        (field.odd && value->get<int64_t>() % 2 == 0)) {
      context.Reject(field.key, *value, DescribeField(field));
    }
  }
  if (!field.choices.empty()) {
    const std::string& text = value->get_ref<const std::string&>();
    if (std::find(field.choices.begin(), field.choices.end(), text) ==
        field.choices.end()) {
      context.Reject(field.key, *value, DescribeField(field));
    }
  }
}

// Rejects unknown keys, checks present ones, fills defaults.
void ApplySchema(const Schema& schema, json* section, const Context& context) {
  for (const auto& [key, value] : section->items()) {
    bool known = false;
    for (const Field& field : schema)
      known = known || field.key == key;
    if (!known) {
      std::vector<std::string> names;
      for (const Field& field : schema)
        names.push_back(field.key);
      Fail(ErrorCode::kInvalidInput, "{}: {}: unknown key \"{}\": expected one of {}",
           context.source, context.Path(key), key, JoinNames(names));
    }
  }
  for (const Field& field : schema) {
    if (!section->contains(field.key)) {
      if (field.optional) continue;
      if (field.default_value.is_null()) {
        Fail(ErrorCode::kInvalidInput, "{}: {}: missing required key: expected {}",
             context.source, context.Path(field.key), DescribeField(field));
      }
      (*section)[field.key] = field.default_value;
      continue;
    }
    CheckField(field, &(*section)[field.key], context);
  }
}

json* RequireObject(json* config, const std::string& key, const Context& context) {
  if (!config->contains(key)) {
    Fail(ErrorCode::kInvalidInput, "{}: {}: missing required key: expected an object",
         context.source, context.locate(key));
  }
  json* section = &(*config)[key];
  if (!section->is_object()) context.Reject(key, *section, "an object");
  return section;
}

// Picks the schema named by section[selector] ("name" or "family").
template <typename Map>
const Schema& SelectSchema(const Map& schemas, const json& section,
                           const std::string& selector, const Context& context) {
  if (!section.contains(selector)) {
    Fail(ErrorCode::kInvalidInput, "{}: {}: missing required key: expected one of {}",
         context.source, context.Path(selector), JoinNames(KeysOf(schemas)));
  }
  const json& name = section[selector];
  auto it = name.is_string() ? schemas.find(name.get<std::string>()) : schemas.end();
  if (it == schemas.end()) {
    context.Reject(selector, name, "one of " + JoinNames(KeysOf(schemas)));
  }
  return it->second;
}

// Cross-field task checks; the second phase of task.transfer is validated as a
// task config of its own.
void ValidateTask(json* task, const Context& context) {
  auto reject = [&context](const std::string& key, const json& value,
                           const std::string& expected) {
    context.Reject(key, value, expected);
  };
  CheckTaskConfig(task, reject);
  if (!task->contains("transfer")) return;

  Context transfer_context{context.source, context.locate, context.prefix + ".transfer"};
  auto reject_transfer = [&transfer_context](const std::string& key, const json& value,
                                             const std::string& expected) {
    transfer_context.Reject(key, value, expected);
  };
  json phase = TransferTaskConfig(task, reject);
  ApplySchema(SelectSchema(TaskSchemas(), phase, "name", transfer_context), &phase,
              transfer_context);
  CheckTaskConfig(&phase, reject_transfer);
}

void CheckStack(const json& model, const json& task, const Context& context) {
  int64_t pool_every = model["pool_every"];
  bool pooled = model["pool"] != "none";
  if (pooled != (pool_every > 0)) {
    context.Reject("pool_every", model["pool_every"],
                   pooled ? "a positive layer count because model.pool is set"
                          : "0 because model.pool is \"none\"");
  }
  if (!pooled) return;
  int64_t pools = model["depth"].get<int64_t>() / pool_every;
  int64_t size = TaskSpatialSize(task);
  if ((size >> pools) < 1) {
    context.Reject("pool_every", model["pool_every"],
                   fmt::format("a value that leaves a spatial size >= 1: {} pools of "
                               "stride 2 shrink {} samples to nothing",
                               pools, size));
  }
}

void CheckCustomLayers(json* model, const json& task, const Context& context) {
  json& layers = (*model)["layers"];
  if (layers.empty()) context.Reject("layers", layers, "a non-empty array of layers");
  for (size_t i = 0; i < layers.size(); ++i) {
    Context layer_context{context.source, context.locate,
                          fmt::format("{}.layers[{}]", context.prefix, i)};
    if (!layers[i].is_object()) {
      Fail(ErrorCode::kInvalidInput,
           "{}: {}.layers[{}]: invalid value {}: expected an "
           "object such as {{\"type\": \"conv\", \"out\": 16}}",
           context.source, context.Path("layers").c_str(), i, layers[i].dump());
    }
    const Schema& schema = SelectSchema(LayerSchemas(), layers[i], "type", layer_context);
    ApplySchema(schema, &layers[i], layer_context);
    if (layers[i]["type"] != "conv" && layers[i]["type"] != "linear" &&
        layers[i].contains("kernel") && !layers[i].contains("stride")) {
      layers[i]["stride"] = layers[i]["kernel"];
    }
  }
  const json& last = layers.back();
  int classes = schema::TaskClassCount(task);
  if (last["type"] != "linear" || last["out"] != classes) {
    context.Reject(fmt::format("layers[{}]", layers.size() - 1), last,
                   fmt::format("a final {{\"type\": \"linear\", \"out\": {}}} layer, one "
                               "output per class of task \"{}\"",
                               classes, task["name"].get<std::string>()));
  }
}

}  // namespace

void FillAndValidate(json* config, const std::string& source, const PathLocator& locate) {
  Context root{source, locate, ""};

  json* task = RequireObject(config, "task", root);
  Context task_context{source, locate, "task"};
  ApplySchema(SelectSchema(TaskSchemas(), *task, "name", task_context), task,
              task_context);
  ValidateTask(task, task_context);

  json* model = RequireObject(config, "model", root);
  Context model_context{source, locate, "model"};
  ApplySchema(SelectSchema(FamilySchemas(), *model, "family", model_context), model,
              model_context);
  const json& family = (*model)["family"];
  if (family == "custom") {
    CheckCustomLayers(model, *task, model_context);
  } else if (family == "plain" || family == "dilated" || family == "spp") {
    CheckStack(*model, *task, model_context);
  }
  // Other family constraints (unet input divisible by 2^depth, spp bins that
  // fit, dense heads only on dense tasks) are checked by BuildNetSpec when
  // the run is summarised, before anything is stored.

  json* training = RequireObject(config, "training", root);
  ApplySchema(TrainingSchema(), training, Context{source, locate, "training"});
}

std::vector<std::string> TaskNames() {
  return KeysOf(TaskSchemas());
}
std::vector<std::string> FamilyNames() {
  return KeysOf(FamilySchemas());
}

int TaskClassCount(const json& task) {
  return schema::TaskClassCount(task);
}

}  // namespace scalelock
