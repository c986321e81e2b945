// Tests of the task section of the spec schema (harness/spec/task_schema.cpp)
// for the new tasks, and of transfer phases on both sides: the schema at spec
// time and ReadTransferPhase / CheckTransferCompatible at run time.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/forecast.h"
#include "data/task.h"
#include "spec/spec.h"
#include "test_util.h"

using data_test::InvalidInputMessage;
using nlohmann::json;
using scalelock::ExpandSpec;
using scalelock::MakeTask;
using scalelock::ReadTransferPhase;

namespace {

json Spec(const json& task) {
  return {{"name", "tasks"},
          {"task", task},
          {"model", {{"family", "plain"}, {"depth", 2}, {"kernel", 3}, {"width", 4}}},
          {"training", {{"steps", 10}, {"batch_size", 4}}},
          {"seeds", {0}}};
}

// The resolved task section of the spec's single run.
json ResolvedTask(const json& task) {
  return ExpandSpec(Spec(task), "tasks.json").at(0).runs.at(0).config.at("task");
}

std::string SpecError(const json& task) {
  return InvalidInputMessage([&] { ExpandSpec(Spec(task), "tasks.json"); });
}

}  // namespace

TEST_CASE("schema fills new task defaults", "[data][schema]") {
  const json m2d =
      ResolvedTask({{"name", "multiscale2d"}, {"lambda_min", 2}, {"lambda_max", 8}});
  CHECK(m2d["size"] == 32);
  CHECK(m2d["noise"] == 0.1);
  CHECK(m2d["eval_samples"] == 1024);
  const json dense =
      ResolvedTask({{"name", "dense1d"}, {"lambda_min", 2}, {"lambda_max", 8}});
  CHECK(dense["regions"] == 4);
  const json synthetic = ResolvedTask({{"name", "forecast"}, {"periods", {4, 16}}});
  CHECK(synthetic["source"] == "synthetic");
  CHECK(synthetic["amplitudes"] == json({1.0, 1.0}));
  CHECK(synthetic["noise"] == 0.1);
  CHECK(synthetic["context"] == 64);
  CHECK(synthetic["horizon"] == 8);
  CHECK_FALSE(synthetic.contains("data_path"));
  const json seattle = ResolvedTask({{"name", "forecast"}, {"source", "seattle_temps"}});
  CHECK(seattle["eval_fraction"] == 0.2);
  CHECK(seattle["data_path"] == scalelock::kDefaultSeattleTempsPath);
  CHECK_FALSE(seattle.contains("noise"));

  // Every resolved config builds its task.
  for (const json& task : {m2d, dense, synthetic, seattle}) {
    INFO(task.dump());
    CHECK_NOTHROW(MakeTask(task, 1));
  }
}

TEST_CASE("schema rejects bad task fields", "[data][schema]") {
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"name", "multiscale2d"}, {"lambda_min", 2}, {"lambda_max", 17}},
       "task.lambda_max"},
      {{{"name", "multiscale2d"},
        {"lambda_min", 2},
        {"lambda_max", 8},
        {"scale_ratio", 3}},
       "task.scale_ratio"},
      {{{"name", "multiscale2d"}, {"lambda_max", 8}}, "task.lambda_min"},
      {{{"name", "dense1d"}, {"lambda_min", 3}, {"lambda_max", 8}}, "task.lambda_max"},
      {{{"name", "dense1d"}, {"lambda_min", 1}, {"lambda_max", 4096}, {"regions", 4000}},
       "task.regions"},
      {{{"name", "forecast"}}, "task.periods"},
      {{{"name", "forecast"}, {"periods", {1.5}}}, "task.periods"},
      {{{"name", "forecast"}, {"periods", {4, 80}}}, "task.context"},
      {{{"name", "forecast"}, {"periods", {4}}, {"amplitudes", {1, 2}}},
       "task.amplitudes"},
      {{{"name", "forecast"}, {"periods", {4}}, {"eval_fraction", 0.2}},
       "task.eval_fraction"},
      {{{"name", "forecast"}, {"source", "seattle_temps"}, {"noise", 0.1}}, "task.noise"},
      {{{"name", "forecast"}, {"source", "csv"}}, "task.source"},
  };
  for (const auto& [task, field] : cases) {
    INFO(task.dump());
    CHECK_THAT(SpecError(task), Catch::Contains(field));
  }
}

TEST_CASE("schema validates transfer phases", "[data][schema]") {
  const json base = {{"name", "multiscale1d"},
                     {"length", 64},
                     {"lambda_min", 2},
                     {"lambda_max", 8},
                     {"scale_ratio", 4}};
  json task = base;
  task["transfer"] = {{"lambda_max", 16}};
  const json resolved = ResolvedTask(task);
  CHECK(resolved["transfer"]["mode"] == "eval");
  CHECK(resolved["transfer"]["steps"] == 0);

  const std::vector<std::pair<json, std::string>> cases = {
      {{{"lambda_max", 30}}, "task.transfer.lambda_max"},
      {{{"lambda_max", 16}, {"mode", "train"}}, "task.transfer.mode"},
      {{{"lambda_max", 16}, {"mode", "finetune"}}, "task.transfer.steps"},
      {{{"lambda_max", 16}, {"steps", 5}}, "task.transfer.steps"},
      {{{"mode", "eval"}}, "task.transfer"},
      {{{"name", "dense1d"}, {"lambda_max", 16}}, "task.transfer.name"},
      {{{"lambda_maximum", 16}}, "task.transfer.lambda_maximum"},
  };
  for (const auto& [transfer, field] : cases) {
    json bad = base;
    bad["transfer"] = transfer;
    INFO(bad.dump());
    CHECK_THAT(SpecError(bad), Catch::Contains(field));
  }
  json not_object = base;
  not_object["transfer"] = 16;
  CHECK_THAT(SpecError(not_object), Catch::Contains("task.transfer"));
}

TEST_CASE("transfer phase builds second task", "[data][transfer]") {
  json task = {{"name", "multiscale1d"},
               {"length", 64},
               {"lambda_min", 2},
               {"lambda_max", 8},
               {"scale_ratio", 4},
               {"transfer", {{"lambda_max", 16}, {"mode", "finetune"}, {"steps", 50}}}};
  CHECK_FALSE(ReadTransferPhase({{"name", "multiscale1d"}}).has_value());
  const auto phase = ReadTransferPhase(task);
  REQUIRE(phase.has_value());
  CHECK(phase->mode == "finetune");
  CHECK(phase->steps == 50);
  CHECK(phase->task["lambda_max"] == 16);
  CHECK(phase->task["lambda_min"] == 2);
  CHECK_FALSE(phase->task.contains("transfer"));
  CHECK_FALSE(phase->task.contains("scale_ratio"));

  // The first phase ignores the transfer; the second uses the override.
  auto first = MakeTask(task, 3);
  auto second = MakeTask(phase->task, 3);
  json plain = task;
  plain.erase("transfer");
  CHECK(first->EvalSet().inputs == MakeTask(plain, 3)->EvalSet().inputs);
  CHECK(second->EvalSet().inputs != first->EvalSet().inputs);
  CHECK_NOTHROW(scalelock::CheckTransferCompatible(*first, *second));

  // dense1d derives its length from lambda_max, so a transfer changes the shape.
  json dense = {{"name", "dense1d"},
                {"lambda_min", 2},
                {"lambda_max", 8},
                {"transfer", {{"lambda_max", 16}}}};
  const auto dense_phase = ReadTransferPhase(dense);
  REQUIRE(dense_phase.has_value());
  auto dense_first = MakeTask(dense, 1);
  auto dense_second = MakeTask(dense_phase->task, 1);
  CHECK_THAT(InvalidInputMessage([&] {
               scalelock::CheckTransferCompatible(*dense_first, *dense_second);
             }),
             Catch::Contains("sample shape"));
}

TEST_CASE("transfer phase rejects bad fields", "[data][transfer]") {
  const json base = {{"name", "multiscale1d"}, {"lambda_min", 2}, {"lambda_max", 8}};
  const std::vector<std::pair<json, std::string>> cases = {
      {16, "task.transfer"},
      {{{"mode", "train"}, {"lambda_max", 16}}, "task.transfer.mode"},
      {{{"mode", "finetune"}, {"lambda_max", 16}}, "task.transfer.steps"},
      {{{"mode", "eval"}, {"steps", 3}, {"lambda_max", 16}}, "task.transfer.steps"},
      {{{"mode", "eval"}}, "task.transfer"},
      {{{"name", "dense1d"}}, "task.transfer.name"},
  };
  for (const auto& [transfer, field] : cases) {
    json task = base;
    task["transfer"] = transfer;
    INFO(task.dump());
    CHECK_THAT(InvalidInputMessage([&] { ReadTransferPhase(task); }),
               Catch::Contains(field));
  }
}
