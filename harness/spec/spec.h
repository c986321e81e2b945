// Experiment specs: parsing, validation and grid expansion.
//
// A spec file is one experiment object, or {"experiments": [object, ...]}.
// An experiment object has:
//   name      string, [A-Za-z0-9_.-]+
//   task      object, base task config ("name" selects the task)
//   model     object, base model config ("family" selects the family)
//   training  object, optimizer and schedule
//   seeds     non-empty array of integers
//   grid      optional object of axes over dotted paths such as "model.depth":
//     product  {path: [values]}: every combination
//     zip      {path: [values]} or an array of such groups: the paths of a
//              group vary together, so their arrays must have equal length
//     derived  {path: "expression"}: a value computed per run from others,
//              e.g. "task.scale_ratio * task.lambda_min"; + - * / ^ ( ),
//              numbers, dotted paths, and min(), max(), round(), log2()
// Expansion is product x zip groups x seeds, then derived values. Each run is
// a resolved config {"task", "model", "training", "seed"} with every default
// filled in; its canonical JSON (sorted keys, no spaces, integral numbers as
// integers) is hashed with 64-bit FNV-1a into a 16-digit hex config hash.
//
// Every validation error is Error(kInvalidInput) with one message that gives
// the file, the JSON path, the value found and what was expected.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace scalelock {

struct RunConfig {
  nlohmann::json config;  // resolved: task, model, training, seed
  std::string canonical;  // canonical JSON of config
  std::string hash;       // FNV-1a 64 of canonical, 16 hex digits
};

struct Experiment {
  std::string name;
  nlohmann::json spec;  // the experiment object as written
  std::vector<RunConfig> runs;
};

// Reads, validates and expands a spec file.
std::vector<Experiment> LoadSpecFile(const std::string& path);

// Validates and expands a parsed spec; source names it in error messages.
std::vector<Experiment> ExpandSpec(const nlohmann::json& spec, const std::string& source);

// Fills defaults and validates one run config (task, model, training, seed);
// path_prefix is the JSON path used in messages.
nlohmann::json ResolveRunConfig(const nlohmann::json& config, const std::string& source,
                                const std::string& path_prefix);

std::string CanonicalJson(const nlohmann::json& value);
std::string ConfigHash(const std::string& canonical);

}  // namespace scalelock
