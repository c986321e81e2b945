#include "spec/spec.h"

#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "spec/expression.h"
#include "spec/schema.h"
#include "util/error.h"

namespace scalelock {

namespace {

using nlohmann::json;

const std::set<std::string> kExperimentKeys = {"name",     "description", "task", "model",
                                               "training", "seeds",       "grid"};
const std::set<std::string> kGridKeys = {"product", "zip", "derived"};
const std::set<std::string> kSections = {"task", "model", "training"};

// Largest grid one experiment may expand to. A resolved run takes about 8 KB,
// so this bounds a spec's expansion near 1.6 GB.
constexpr int64_t kMaxRunsPerExperiment = 200000;

// One grid axis: a set of dotted paths that take their i-th values together.
struct Axis {
  std::vector<std::string> paths;
  std::vector<std::string> json_paths;  // where the values array sits in the file
  std::vector<const json*> values;      // one array per path, equal lengths
  size_t size() const { return values.front()->size(); }
};

struct DerivedValue {
  std::string path;
  std::string json_path;
  Expression expression;
};

std::string Quote(const std::string& key) {
  return "[\"" + key + "\"]";
}

[[noreturn]] void Reject(const std::string& source, const std::string& json_path,
                         const json& value, const std::string& expected) {
  Fail(ErrorCode::kInvalidInput, "{}: {}: invalid value {}: expected {}", source,
       json_path, value.dump(), expected);
}

void CheckKeys(const json& object, const std::set<std::string>& allowed,
               const std::string& source, const std::string& json_path) {
  for (const auto& [key, value] : object.items()) {
    if (allowed.count(key) == 0) {
      std::string names;
      for (const std::string& name : allowed)
        names += (names.empty() ? "" : ", ") + name;
      Fail(ErrorCode::kInvalidInput, "{}: {}.{}: unknown key \"{}\": expected one of {}",
           source, json_path, key, key, names);
    }
  }
}

// Checks that an axis path has the form section.key.
void CheckAxisPath(const std::string& path, const std::string& source,
                   const std::string& json_path) {
  size_t dot = path.find('.');
  std::string section = path.substr(0, dot);
  if (dot == std::string::npos || kSections.count(section) == 0 ||
      path.find('.', dot + 1) != std::string::npos || dot + 1 == path.size()) {
    Fail(ErrorCode::kInvalidInput,
         "{}: {}: invalid axis path \"{}\": expected \"task.KEY\", \"model.KEY\" or "
         "\"training.KEY\"",
         source, json_path, path);
  }
}

const json& RequireNonEmptyArray(const json& value, const std::string& source,
                                 const std::string& json_path) {
  if (!value.is_array() || value.empty()) {
    Reject(source, json_path, value, "a non-empty array of values");
  }
  return value;
}

std::vector<Axis> ParseAxes(const json& grid, const std::string& source,
                            const std::string& grid_path) {
  std::vector<Axis> axes;
  if (grid.contains("product")) {
    const json& product = grid["product"];
    std::string path = grid_path + ".product";
    if (!product.is_object()) Reject(source, path, product, "an object {path: [values]}");
    for (const auto& [key, values] : product.items()) {
      std::string value_path = path + Quote(key);
      CheckAxisPath(key, source, value_path);
      axes.push_back(
          {{key}, {value_path}, {&RequireNonEmptyArray(values, source, value_path)}});
    }
  }
  if (grid.contains("zip")) {
    const json& zip = grid["zip"];
    std::string path = grid_path + ".zip";
    std::vector<std::pair<const json*, std::string>> groups;
    if (zip.is_object()) {
      groups.push_back({&zip, path});
    } else if (zip.is_array() && !zip.empty()) {
      for (size_t i = 0; i < zip.size(); ++i) {
        groups.push_back({&zip[i], fmt::format("{}[{}]", path, i)});
      }
    } else {
      Reject(source, path, zip,
             "an object {path: [values]} or a non-empty array of them");
    }
    for (const auto& [group, group_path] : groups) {
      if (!group->is_object() || group->empty()) {
        Reject(source, group_path, *group, "a non-empty object {path: [values]}");
      }
      Axis axis;
      for (const auto& [key, values] : group->items()) {
        std::string value_path = group_path + Quote(key);
        CheckAxisPath(key, source, value_path);
        const json& array = RequireNonEmptyArray(values, source, value_path);
        if (!axis.values.empty() && array.size() != axis.size()) {
          Fail(ErrorCode::kInvalidInput,
               "{}: {}: zipped axis has {} values but {} has {}: zipped axes vary "
               "together, so give them equal lengths",
               source, value_path, array.size(), axis.json_paths.front(), axis.size());
        }
        axis.paths.push_back(key);
        axis.json_paths.push_back(value_path);
        axis.values.push_back(&array);
      }
      axes.push_back(axis);
    }
  }
  return axes;
}

std::vector<DerivedValue> ParseDerived(const json& grid, const std::string& source,
                                       const std::string& grid_path) {
  std::vector<DerivedValue> derived;
  if (!grid.contains("derived")) return derived;
  const json& object = grid["derived"];
  std::string path = grid_path + ".derived";
  if (!object.is_object())
    Reject(source, path, object, "an object {path: \"expression\"}");
  for (const auto& [key, text] : object.items()) {
    std::string value_path = path + Quote(key);
    CheckAxisPath(key, source, value_path);
    if (!text.is_string()) Reject(source, value_path, text, "an expression string");
    try {
      derived.push_back({key, value_path, Expression::Parse(text.get<std::string>())});
    } catch (const Error& error) {
      Fail(ErrorCode::kInvalidInput, "{}: {}: invalid expression: {}", source, value_path,
           error.what());
    }
  }
  return derived;
}

// Orders derived values so each comes after the derived values it reads.
std::vector<DerivedValue> SortDerived(std::vector<DerivedValue> derived,
                                      const std::string& source) {
  std::vector<DerivedValue> sorted;
  std::set<std::string> done;
  while (!derived.empty()) {
    bool progressed = false;
    for (auto it = derived.begin(); it != derived.end();) {
      bool ready = true;
      for (const std::string& ref : it->expression.references()) {
        for (const DerivedValue& other : derived) {
          ready = ready && !(other.path == ref && done.count(ref) == 0);
        }
      }
      if (ready) {
        done.insert(it->path);
        sorted.push_back(*it);
        it = derived.erase(it);
        progressed = true;
      } else {
        ++it;
      }
    }
    if (!progressed) {
      Fail(ErrorCode::kInvalidInput,
           "{}: {}: derived values refer to each other in a cycle: break the cycle "
           "by setting one of them as an axis or in the base config",
           source, derived.front().json_path);
    }
  }
  return sorted;
}

void CheckUniquePaths(const std::vector<Axis>& axes,
                      const std::vector<DerivedValue>& derived,
                      const std::string& source) {
  std::map<std::string, std::string> seen;
  auto claim = [&](const std::string& path, const std::string& json_path) {
    auto [it, inserted] = seen.emplace(path, json_path);
    if (!inserted) {
      Fail(ErrorCode::kInvalidInput,
           "{}: {}: \"{}\" is already set by {}: give each path one axis", source,
           json_path, path, it->second);
    }
  };
  for (const Axis& axis : axes) {
    for (size_t i = 0; i < axis.paths.size(); ++i)
      claim(axis.paths[i], axis.json_paths[i]);
  }
  for (const DerivedValue& value : derived)
    claim(value.path, value.json_path);
}

std::vector<int64_t> ParseSeeds(const json& experiment, const std::string& source,
                                const std::string& path) {
  if (!experiment.contains("seeds")) return {0};
  const json& seeds = experiment["seeds"];
  std::string seeds_path = path + ".seeds";
  if (!seeds.is_array() || seeds.empty()) {
    Reject(source, seeds_path, seeds, "a non-empty array of integer seeds");
  }
  std::vector<int64_t> out;
  for (size_t i = 0; i < seeds.size(); ++i) {
    std::string seed_path = fmt::format("{}[{}]", seeds_path, i);
    if (!seeds[i].is_number_integer() || seeds[i].get<int64_t>() < 0) {
      Reject(source, seed_path, seeds[i], "a non-negative integer");
    }
    int64_t seed = seeds[i];
    if (std::find(out.begin(), out.end(), seed) != out.end()) {
      Reject(source, seed_path, seeds[i], "a seed not listed before");
    }
    out.push_back(seed);
  }
  return out;
}

void SetPath(json* config, const std::string& path, const json& value) {
  size_t dot = path.find('.');
  (*config)[path.substr(0, dot)][path.substr(dot + 1)] = value;
}

const json* FindPath(const json& config, const std::string& path) {
  size_t dot = path.find('.');
  if (dot == std::string::npos) return nullptr;
  std::string section = path.substr(0, dot);
  std::string key = path.substr(dot + 1);
  if (!config.contains(section) || !config[section].is_object() ||
      !config[section].contains(key)) {
    return nullptr;
  }
  return &config[section][key];
}

void ApplyDerived(json* config, const std::vector<DerivedValue>& derived,
                  const std::string& source) {
  for (const DerivedValue& value : derived) {
    double result = value.expression.Evaluate([&](const std::string& ref) {
      const json* found = FindPath(*config, ref);
      if (found == nullptr) {
        Fail(ErrorCode::kInvalidInput,
             "{}: {}: the expression reads \"{}\", which is not set: set it in the base "
             "config or on an axis",
             source, value.json_path, ref);
      }
      if (!found->is_number()) {
        Reject(source, value.json_path, *found, "\"" + ref + "\" to be a number");
      }
      return found->get<double>();
    });
    if (!std::isfinite(result)) {
      Fail(ErrorCode::kInvalidInput,
           "{}: {}: the expression evaluates to {} for this run", source, value.json_path,
           result);
    }
    SetPath(config, value.path, result);
  }
}

// Integral floating-point numbers become integers, recursively.
json Normalize(const json& value) {
  if (value.is_object()) {
    json out = json::object();
    for (const auto& [key, item] : value.items())
      out[key] = Normalize(item);
    return out;
  }
  if (value.is_array()) {
    json out = json::array();
    for (const json& item : value)
      out.push_back(Normalize(item));
    return out;
  }
  if (value.is_number_float()) {
    double number = value.get<double>();
    if (std::isfinite(number) && std::floor(number) == number &&
        std::fabs(number) < 9e15) {
      return static_cast<int64_t>(number);
    }
  }
  return value;
}

Experiment ExpandExperiment(const json& experiment, const std::string& source,
                            const std::string& path) {
  if (!experiment.is_object()) Reject(source, path, experiment, "an experiment object");
  CheckKeys(experiment, kExperimentKeys, source, path);

  static const std::regex kNamePattern("[A-Za-z0-9_.-]+");
  if (!experiment.contains("name")) {
    Fail(ErrorCode::kInvalidInput, "{}: {}.name: missing required key: expected a name",
         source, path);
  }
  const json& name = experiment["name"];
  if (!name.is_string() || !std::regex_match(name.get<std::string>(), kNamePattern)) {
    Reject(source, path + ".name", name, "a name of letters, digits, '_', '.' or '-'");
  }

  // Grid axes and derived values.
  std::vector<Axis> axes;
  std::vector<DerivedValue> derived;
  if (experiment.contains("grid")) {
    const json& grid = experiment["grid"];
    std::string grid_path = path + ".grid";
    if (!grid.is_object()) Reject(source, grid_path, grid, "an object");
    CheckKeys(grid, kGridKeys, source, grid_path);
    axes = ParseAxes(grid, source, grid_path);
    derived = SortDerived(ParseDerived(grid, source, grid_path), source);
    CheckUniquePaths(axes, derived, source);
  }
  std::vector<int64_t> seeds = ParseSeeds(experiment, source, path);

  json base = json::object();
  for (const std::string& section : kSections) {
    base[section] = experiment.contains(section) ? experiment[section] : json::object();
    if (!base[section].is_object()) {
      Reject(source, path + "." + section, base[section], "an object");
    }
  }

  // Reject grids too large to hold in memory before expanding them.
  double run_count = static_cast<double>(seeds.size());
  for (const Axis& axis : axes) run_count *= static_cast<double>(axis.size());
  if (run_count > kMaxRunsPerExperiment) {
    Fail(ErrorCode::kInvalidInput,
         "{}: {}.grid: the grid has {:.0f} runs, more than the limit of {}: check the "
         "axes for a mistyped range, or split the grid into several experiments",
         source, path, run_count, kMaxRunsPerExperiment);
  }

  // Walk the product of all axes with a mixed-radix counter; seeds vary fastest.
  Experiment out{name.get<std::string>(), experiment, {}};
  std::vector<size_t> index(axes.size(), 0);
  std::map<std::string, size_t> seen_hashes;
  while (true) {
    json config = base;
    std::map<std::string, std::string> origin;
    for (size_t a = 0; a < axes.size(); ++a) {
      for (size_t p = 0; p < axes[a].paths.size(); ++p) {
        SetPath(&config, axes[a].paths[p], (*axes[a].values[p])[index[a]]);
        origin[axes[a].paths[p]] = fmt::format("{}[{}]", axes[a].json_paths[p], index[a]);
      }
    }
    for (const DerivedValue& value : derived)
      origin[value.path] = value.json_path;
    ApplyDerived(&config, derived, source);

    PathLocator locate = [&](const std::string& dotted) {
      auto it = origin.find(dotted);
      return it != origin.end() ? it->second : path + "." + dotted;
    };
    FillAndValidate(&config, source, locate);

    for (int64_t seed : seeds) {
      json run = config;
      run["seed"] = seed;
      run = Normalize(run);
      std::string canonical = CanonicalJson(run);
      std::string hash = ConfigHash(canonical);
      auto [it, inserted] = seen_hashes.emplace(hash, out.runs.size());
      if (!inserted) {
        Fail(ErrorCode::kInvalidInput,
             "{}: {}.grid: runs {} and {} have the same resolved config (hash {}): "
             "remove the repeated axis value",
             source, path, it->second, out.runs.size(), hash);
      }
      out.runs.push_back({run, canonical, hash});
    }

    size_t a = 0;
    while (a < axes.size() && ++index[a] == axes[a].size())
      index[a++] = 0;
    if (a == axes.size()) break;
  }
  return out;
}

}  // namespace

std::string CanonicalJson(const json& value) {
  return Normalize(value).dump();
}

std::string ConfigHash(const std::string& canonical) {
  uint64_t hash = 14695981039346656037ull;  // FNV-1a 64 offset basis
  for (unsigned char c : canonical) {
    hash ^= c;
    hash *= 1099511628211ull;  // FNV-1a 64 prime
  }
  return fmt::format("{:016x}", hash);
}

std::vector<Experiment> ExpandSpec(const json& spec, const std::string& source) {
  if (!spec.is_object()) Reject(source, "$", spec, "an experiment object");
  if (!spec.contains("experiments")) return {ExpandExperiment(spec, source, "$")};

  CheckKeys(spec, {"experiments", "description"}, source, "$");
  const json& list = spec["experiments"];
  if (!list.is_array() || list.empty()) {
    Reject(source, "$.experiments", list, "a non-empty array of experiment objects");
  }
  std::vector<Experiment> experiments;
  std::set<std::string> names;
  for (size_t i = 0; i < list.size(); ++i) {
    std::string path = fmt::format("$.experiments[{}]", i);
    experiments.push_back(ExpandExperiment(list[i], source, path));
    if (!names.insert(experiments.back().name).second) {
      Reject(source, path + ".name", list[i]["name"],
             "a name not used by another experiment");
    }
  }
  return experiments;
}

std::vector<Experiment> LoadSpecFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    Fail(ErrorCode::kNotFound, "spec file '{}' not found or not readable: check the path",
         path);
  }
  std::stringstream text;
  text << in.rdbuf();
  // nlohmann/json keeps the last of repeated keys; a spec with one is
  // ambiguous, so the parser callback records the first repeat.
  std::vector<std::set<std::string>> open_objects;
  std::string repeated_key;
  auto find_repeats = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) open_objects.emplace_back();
    if (event == json::parse_event_t::object_end) open_objects.pop_back();
    if (event == json::parse_event_t::key && repeated_key.empty() &&
        !open_objects.back().insert(parsed.get<std::string>()).second) {
      repeated_key = parsed.get<std::string>();
    }
    return true;
  };
  json spec;
  try {
    spec = json::parse(text.str(), find_repeats);
  } catch (const json::parse_error& error) {
    Fail(ErrorCode::kInvalidInput, "{}: invalid JSON at byte {}: {}", path, error.byte,
         error.what());
  }
  if (!repeated_key.empty()) {
    Fail(ErrorCode::kInvalidInput,
         "{}: key \"{}\" appears twice in one object: keep one of them", path,
         repeated_key);
  }
  return ExpandSpec(spec, path);
}

json ResolveRunConfig(const json& config, const std::string& source,
                      const std::string& path_prefix) {
  if (!config.is_object()) Reject(source, path_prefix, config, "a run config object");
  CheckKeys(config, {"task", "model", "training", "seed"}, source, path_prefix);
  json run = config;
  if (!run.contains("training")) run["training"] = json::object();
  FillAndValidate(&run, source,
                  [&](const std::string& dotted) { return path_prefix + "." + dotted; });
  if (!run.contains("seed")) run["seed"] = 0;
  if (!run["seed"].is_number_integer() || run["seed"].get<int64_t>() < 0) {
    Reject(source, path_prefix + ".seed", run["seed"], "a non-negative integer");
  }
  return Normalize(run);
}

}  // namespace scalelock
