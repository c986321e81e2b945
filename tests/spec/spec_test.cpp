#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include <catch2/catch.hpp>

#include "spec/expression.h"
#include "spec/spec.h"
#include "util/error.h"

using nlohmann::json;
using scalelock::Error;
using scalelock::ErrorCode;
using scalelock::ExpandSpec;

namespace {

json BaseSpec() {
  return json::parse(R"({
    "name": "lock",
    "task": {"name": "multiscale1d", "length": 64, "lambda_min": 2, "lambda_max": 8},
    "model": {"family": "plain", "depth": 3, "kernel": 3, "width": 8},
    "training": {"steps": 10, "batch_size": 4},
    "seeds": [0, 1]
  })");
}

// Expands spec and returns the error message; fails the test if none.
std::string ExpansionError(const json& spec) {
  try {
    ExpandSpec(spec, "spec.json");
  } catch (const Error& error) {
    CHECK(error.code() == ErrorCode::kInvalidInput);
    return error.what();
  }
  FAIL("expected an invalid-spec error for " << spec.dump());
  return "";
}

}  // namespace

TEST_CASE("spec product size is product of axes") {
  json spec = BaseSpec();
  spec["grid"]["product"] = {{"model.depth", {2, 3, 4}}, {"model.family", {"plain", "dilated"}}};
  auto experiments = ExpandSpec(spec, "spec.json");
  REQUIRE(experiments.size() == 1);
  CHECK(experiments[0].runs.size() == 3 * 2 * 2);
}

TEST_CASE("spec zip varies paths together") {
  json spec = BaseSpec();
  spec["seeds"] = {0};
  spec["grid"]["zip"] = {{"model.width", {4, 8, 16}}, {"training.lr", {0.1, 0.01, 0.001}}};
  auto runs = ExpandSpec(spec, "spec.json")[0].runs;
  REQUIRE(runs.size() == 3);
  std::set<std::pair<int, double>> pairs;
  for (const auto& run : runs) {
    pairs.insert({run.config["model"]["width"].get<int>(),
                  run.config["training"]["lr"].get<double>()});
  }
  CHECK(pairs == std::set<std::pair<int, double>>{{4, 0.1}, {8, 0.01}, {16, 0.001}});
}

TEST_CASE("spec zip groups cross with product") {
  json spec = BaseSpec();
  spec["grid"]["product"] = {{"model.depth", {2, 3}}};
  spec["grid"]["zip"] = json::array({{{"model.width", {4, 8}}, {"training.lr", {0.1, 0.2}}},
                                     {{"training.steps", {5, 6, 7}}}});
  CHECK(ExpandSpec(spec, "spec.json")[0].runs.size() == 2 * 2 * 3 * 2);
}

TEST_CASE("spec derived value computed per run") {
  json spec = BaseSpec();
  spec["task"].erase("lambda_max");
  spec["task"]["length"] = 256;  // fits lambda_max 16: 3 * 16 - 4 + 1 <= 256
  spec["grid"]["product"] = {{"task.scale_ratio", {2, 4, 8}}};
  spec["grid"]["derived"] = {{"task.lambda_max", "task.scale_ratio * task.lambda_min"}};
  auto runs = ExpandSpec(spec, "spec.json")[0].runs;
  REQUIRE(runs.size() == 6);
  for (const auto& run : runs) {
    const json& task = run.config["task"];
    CHECK(task["lambda_max"].is_number_integer());
    CHECK(task["lambda_max"].get<int>() == task["scale_ratio"].get<int>() * 2);
  }
}

TEST_CASE("spec derived values chain in order") {
  json spec = BaseSpec();
  spec["grid"]["derived"] = {{"model.width", "model.depth * 4"},
                             {"training.batch_size", "model.width / 2"}};
  auto run = ExpandSpec(spec, "spec.json")[0].runs[0];
  CHECK(run.config["model"]["width"] == 12);
  CHECK(run.config["training"]["batch_size"] == 6);
}

TEST_CASE("spec hashes unique and stable") {
  json spec = BaseSpec();
  spec["grid"]["product"] = {{"model.depth", {2, 3, 4, 5}}, {"model.width", {4, 8}}};
  auto runs = ExpandSpec(spec, "spec.json")[0].runs;
  std::set<std::string> hashes;
  for (const auto& run : runs) {
    CHECK(run.hash.size() == 16);
    hashes.insert(run.hash);
  }
  CHECK(hashes.size() == runs.size());

  // Defaults written out explicitly, keys reordered and 3.0 for 3 give the same hash.
  json explicit_spec = BaseSpec();
  explicit_spec["model"]["pool"] = "none";
  explicit_spec["training"]["optimizer"] = "adam";
  explicit_spec["model"]["depth"] = 3.0;
  auto first = ExpandSpec(BaseSpec(), "a.json")[0].runs[0];
  auto second = ExpandSpec(explicit_spec, "b.json")[0].runs[0];
  CHECK(first.hash == second.hash);
  CHECK(first.canonical == second.canonical);
}

TEST_CASE("spec canonical json and hash known value") {
  // FNV-1a 64 of the empty string is the offset basis.
  CHECK(scalelock::ConfigHash("") == "cbf29ce484222325");
  // FNV-1a 64 of "a", from the published FNV test vectors.
  CHECK(scalelock::ConfigHash("a") == "af63dc4c8601ec8c");
  CHECK(scalelock::CanonicalJson(json::parse(R"({"b": 2.0, "a": [1.5, 3.0]})")) ==
        R"({"a":[1.5,3],"b":2})");
}

TEST_CASE("spec experiments list expands each") {
  json first = BaseSpec();
  json second = BaseSpec();
  second["name"] = "other";
  second["task"] = {{"name", "fashion_mnist"}, {"train_samples", 100}};
  auto experiments = ExpandSpec(json{{"experiments", {first, second}}}, "spec.json");
  REQUIRE(experiments.size() == 2);
  CHECK(experiments[1].runs[0].config["task"]["eval_samples"] == 10000);
}

TEST_CASE("spec defaults filled") {
  auto run = ExpandSpec(BaseSpec(), "spec.json")[0].runs[0];
  CHECK(run.config["training"]["optimizer"] == "adam");
  CHECK(run.config["model"]["head"] == "gap");
  CHECK(run.config["task"]["noise"] == 0.1);
  CHECK(run.config["seed"] == 0);
}

// Each invalid spec, and the JSON path and words its error must contain.
TEST_CASE("spec invalid inputs name path and fix") {
  struct Case {
    const char* what;
    std::function<void(json&)> edit;
    std::vector<std::string> expected;
  };
  std::vector<Case> cases = {
      {"unknown top key", [](json& s) { s["modle"] = json::object(); },
       {"$.modle", "unknown key"}},
      {"unknown model key", [](json& s) { s["model"]["widht"] = 3; },
       {"$.model.widht", "unknown key", "\"width\""}},
      {"wrong type", [](json& s) { s["model"]["depth"] = "four"; },
       {"$.model.depth", "\"four\"", "an integer"}},
      {"even kernel", [](json& s) { s["model"]["kernel"] = 4; },
       {"$.model.kernel", "odd integer"}},
      {"negative lr", [](json& s) { s["training"]["lr"] = -1; }, {"$.training.lr", "-1"}},
      {"unknown family", [](json& s) { s["model"]["family"] = "resnet"; },
       {"$.model.family", "\"plain\""}},
      {"unknown task", [](json& s) { s["task"]["name"] = "cifar"; },
       {"$.task.name", "\"fashion_mnist\""}},
      {"missing name", [](json& s) { s.erase("name"); }, {"$.name", "missing"}},
      {"bad name", [](json& s) { s["name"] = "a b"; }, {"$.name"}},
      {"missing lambda_max", [](json& s) { s["task"].erase("lambda_max"); },
       {"$.task.lambda_max", "missing"}},
      {"empty axis", [](json& s) { s["grid"]["product"]["model.depth"] = json::array(); },
       {"$.grid.product[\"model.depth\"]", "non-empty array"}},
      {"axis not array", [](json& s) { s["grid"]["product"]["model.depth"] = 3; },
       {"$.grid.product[\"model.depth\"]", "non-empty array"}},
      {"bad axis path", [](json& s) { s["grid"]["product"]["depth"] = {1}; },
       {"invalid axis path", "\"depth\""}},
      {"unknown grid key", [](json& s) { s["grid"]["cross"] = json::object(); },
       {"$.grid.cross", "unknown key"}},
      {"zip lengths", [](json& s) {
         s["grid"]["zip"] = {{"model.width", {1, 2}}, {"model.depth", {1, 2, 3}}};
       },
       {"$.grid.zip", "equal lengths"}},
      {"axis value invalid", [](json& s) { s["grid"]["product"]["model.kernel"] = {3, 4}; },
       {"$.grid.product[\"model.kernel\"][1]", "4", "odd integer"}},
      {"same path twice", [](json& s) {
         s["grid"]["product"]["model.depth"] = {1, 2};
         s["grid"]["zip"] = {{"model.depth", {3, 4}}};
       },
       {"already set"}},
      {"duplicate runs", [](json& s) { s["grid"]["product"]["model.depth"] = {2, 2}; },
       {"same resolved config"}},
      {"empty seeds", [](json& s) { s["seeds"] = json::array(); },
       {"$.seeds", "non-empty array"}},
      {"repeated seed", [](json& s) { s["seeds"] = {1, 1}; }, {"$.seeds[1]"}},
      {"lambda too large", [](json& s) { s["task"]["lambda_max"] = 30; },
       {"$.task.lambda_max", "(length + 2 * lambda_min - 1) / 3 = 22", "at least 87"}},
      {"lambda too small", [](json& s) { s["task"]["lambda_max"] = 3; },
       {"$.task.lambda_max", "2 * lambda_min = 4"}},
      {"ratio inconsistent", [](json& s) { s["task"]["scale_ratio"] = 3; },
       {"$.task.scale_ratio", "lambda_max / lambda_min = 4"}},
      {"pool without every", [](json& s) { s["model"]["pool"] = "max"; },
       {"$.model.pool_every"}},
      {"too many pools", [](json& s) {
         s["model"]["pool"] = "max";
         s["model"]["pool_every"] = 1;
         s["model"]["depth"] = 7;
       },
       {"$.model.pool_every", "shrink 64"}},
      {"derived syntax", [](json& s) { s["grid"]["derived"]["model.width"] = "2 *"; },
       {"$.grid.derived[\"model.width\"]", "invalid expression"}},
      {"derived missing ref", [](json& s) {
         s["grid"]["derived"]["model.width"] = "model.nothing * 2";
       },
       {"\"model.nothing\"", "not set"}},
      {"derived cycle", [](json& s) {
         s["grid"]["derived"]["model.width"] = "model.depth";
         s["grid"]["derived"]["model.depth"] = "model.width";
       },
       {"cycle"}},
      {"derived not integer", [](json& s) {
         s["grid"]["derived"]["model.width"] = "model.depth / 2";
       },
       {"$.grid.derived[\"model.width\"]", "1.5"}},
      {"custom last layer", [](json& s) {
         s["model"] = {{"family", "custom"},
                       {"layers", {{{"type", "conv"}, {"out", 4}}, {{"type", "gap"}}}}};
       },
       {"$.model.layers[1]", "\"linear\""}},
      {"custom layer type", [](json& s) {
         s["model"] = {{"family", "custom"}, {"layers", {{{"type", "lstm"}}}}};
       },
       {"$.model.layers[0].type", "\"conv\""}},
      {"grid too large", [](json& s) {
         json widths = json::array();
         for (int i = 1; i <= 1000; ++i) widths.push_back(i);
         s["grid"]["product"]["model.width"] = widths;
         s["grid"]["product"]["training.steps"] = widths;
       },
       {"$.grid", "2000000 runs", "limit of 200000"}},
      {"experiments empty", [](json& s) { s = {{"experiments", json::array()}}; },
       {"$.experiments", "non-empty array"}},
  };
  for (const Case& c : cases) {
    SECTION(c.what) {
      json spec = BaseSpec();
      c.edit(spec);
      std::string message = ExpansionError(spec);
      CHECK_THAT(message, Catch::Contains("spec.json"));
      for (const std::string& part : c.expected) {
        CHECK_THAT(message, Catch::Contains(part));
      }
    }
  }
}

TEST_CASE("expression precedence and functions") {
  auto evaluate = [](const std::string& text) {
    return scalelock::Expression::Parse(text).Evaluate(
        [](const std::string& path) { return path == "a.b" ? 3.0 : 0.0; });
  };
  CHECK(evaluate("1 + 2 * 3") == Approx(7));
  CHECK(evaluate("2 ^ 3 ^ 2") == Approx(512));
  CHECK(evaluate("-2 ^ 2") == Approx(-4));
  CHECK(evaluate("(1 + 2) * a.b") == Approx(9));
  CHECK(evaluate("max(a.b, 5) + log2(8) + round(2.6)") == Approx(11));
  CHECK_THROWS_AS(scalelock::Expression::Parse("foo(1)"), Error);
  CHECK_THROWS_AS(scalelock::Expression::Parse("(1 + 2"), Error);
}

TEST_CASE("spec file repeated key rejected") {
  std::string path =
      (std::filesystem::temp_directory_path() / "scalelock-repeated-key.json").string();
  std::ofstream(path) << R"({"name": "a", "training": {"steps": 20, "steps": 30}})";
  try {
    scalelock::LoadSpecFile(path);
    FAIL("expected an error for the repeated key");
  } catch (const Error& error) {
    CHECK(error.code() == ErrorCode::kInvalidInput);
    CHECK_THAT(error.what(), Catch::Contains("\"steps\" appears twice"));
  }
  std::remove(path.c_str());
}
