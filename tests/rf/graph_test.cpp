// Layer-graph parsing, file detection and the table, CSV and JSON renderings.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "rf/analysis.h"
#include "rf/format.h"
#include "rf/layer_graph.h"
#include "rf/model_graph.h"
#include "util/error.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using scalelock::ErrorCode;
using scalelock::rf::LayerGraph;
using scalelock::rf::ParseLayerGraph;

LayerGraph Parse(const std::string& text) {
  return ParseLayerGraph(json::parse(text), "g.json");
}

ErrorCode CodeOf(const std::function<void()>& action) {
  try {
    action();
  } catch (const scalelock::Error& error) {
    return error.code();
  }
  FAIL("no scalelock::Error thrown");
  return ErrorCode::kInternal;
}

// A fresh directory under the system temp dir, removed at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "scalelock-rf-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string Write(const std::string& name, const std::string& text) const {
    fs::path file = path_ / name;
    std::ofstream(file) << text;
    return file.string();
  }

 private:
  fs::path path_;
};

const char* kTwoAxisGraph = R"({"name": "t", "dims": 2, "nodes": [
    {"name": "x", "op": "input"},
    {"name": "c", "op": "conv", "kernel": [3, 5], "padding": [1, 2]},
    {"name": "up", "op": "deconv", "kernel": 3, "stride": 2, "padding": 1}]})";

}  // namespace

TEST_CASE("graph nodes chain by default", "[rf]") {
  LayerGraph graph = Parse(R"({"dims": 1, "nodes": [
      {"name": "x", "op": "input"},
      {"name": "a", "op": "conv", "kernel": 3, "padding": [0, 2]},
      {"name": "b", "op": "maxpool", "kernel": 2}]})");
  REQUIRE(graph.nodes.size() == 3);
  CHECK(graph.nodes[1].inputs == std::vector<size_t>{0});
  CHECK(graph.nodes[2].inputs == std::vector<size_t>{1});
  CHECK(graph.nodes[1].axes[0].pad_before == 0);
  CHECK(graph.nodes[1].axes[0].pad_after == 2);
  CHECK(graph.nodes[2].axes[0].stride == 2);  // pool stride defaults to the window
}

TEST_CASE("graph unknown field names node", "[rf]") {
  auto parse = [] {
    Parse(R"({"nodes": [{"name": "x", "op": "input"},
        {"name": "c1", "op": "conv", "kernel": 3, "dilaton": 2}]})");
  };
  CHECK_THROWS_WITH(parse(), Catch::Contains("\"c1\""));
  CHECK_THROWS_WITH(parse(), Catch::Contains("unknown field \"dilaton\""));
  CHECK(CodeOf(parse) == ErrorCode::kInvalidInput);
}

TEST_CASE("graph bad values name field", "[rf]") {
  struct Case {
    const char* node;
    const char* field;
  };
  const std::pair<const char*, Case> cases[] = {
      {R"({"name": "k", "op": "conv", "kernel": 0})", {"\"k\"", "field \"kernel\""}},
      {R"({"name": "s", "op": "conv", "kernel": 3, "stride": [1, 2, 3]})",
       {"\"s\"", "field \"stride\""}},
      {R"({"name": "p", "op": "conv", "kernel": 3, "padding": "full"})",
       {"\"p\"", "field \"padding\""}},
      {R"({"name": "d", "op": "deconv", "kernel": 3, "padding": "same"})",
       {"\"d\"", "field \"padding\""}},
      {R"({"name": "o", "op": "softmax"})", {"\"o\"", "field \"op\""}},
      {R"({"name": "i", "op": "add", "inputs": ["x", "later"]})",
       {"\"i\"", "\"later\" is not one"}},
      {R"({"name": "m", "op": "concat", "inputs": ["x"]})", {"\"m\"", "at least 2"}},
      {R"({"name": "u", "op": "upsample"})", {"\"u\"", "missing field \"factor\""}},
      {R"({"name": "c", "op": "pool", "kernel": 2, "ceil_mode": 1})",
       {"\"c\"", "field \"ceil_mode\""}},
      {R"({"name": "a", "op": "pool", "kernel": 2, "mode": "sum"})",
       {"\"a\"", "field \"mode\""}},
      {R"({"name": "mx", "op": "maxpool", "kernel": 2, "mode": "avg"})",
       {"\"mx\"", "unknown field \"mode\""}},
  };
  for (const auto& [node, expected] : cases) {
    std::string text = std::string(R"({"nodes": [{"name": "x", "op": "input"}, )") +
                       node + R"(, {"name": "later", "op": "relu"}]})";
    INFO(text);
    CHECK_THROWS_WITH(Parse(text), Catch::Contains(expected.node));
    CHECK_THROWS_WITH(Parse(text), Catch::Contains(expected.field));
  }
}

TEST_CASE("graph needs one input node", "[rf]") {
  CHECK_THROWS_WITH(Parse(R"({"nodes": [{"name": "a", "op": "relu"}]})"),
                    Catch::Contains("first node"));
  CHECK_THROWS_WITH(Parse(R"({"nodes": [{"name": "a", "op": "input"},
                                        {"name": "b", "op": "input"}]})"),
                    Catch::Contains("found 2"));
  CHECK_THROWS_WITH(Parse(R"({"nodes": [{"name": "a", "op": "input"},
                                        {"name": "a", "op": "relu"}]})"),
                    Catch::Contains("a name no earlier node uses"));
}

TEST_CASE("load file detects run config", "[rf]") {
  TempDir dir;
  std::string path = dir.Write("run.json", R"({"task": {"name": "multiscale1d",
      "length": 128}, "model": {"family": "plain", "depth": 3, "kernel": 5},
      "training": {}, "seed": 1})");
  LayerGraph graph = scalelock::rf::LoadGraphFile(path);
  CHECK(graph.dims == 1);
  CHECK(graph.input_size == std::vector<int64_t>{128});
  CHECK(graph.nodes.size() == 4);
  // 1 + 3 * (5 - 1) = 13
  CHECK(scalelock::rf::AnalyzeGraph(graph).layers.back().axes[0].rf == 13);
}

TEST_CASE("load file rejects grid spec", "[rf]") {
  TempDir dir;
  std::string path = dir.Write("spec.json", R"({"name": "e", "task": {"name":
      "multiscale1d"}, "model": {"family": "plain"}, "seeds": [1],
      "grid": {"product": {"model.depth": [2, 4]}}})");
  CHECK_THROWS_WITH(scalelock::rf::LoadGraphFile(path), Catch::Contains("grid"));
  CHECK(CodeOf([&] { scalelock::rf::LoadGraphFile(path); }) == ErrorCode::kInvalidInput);
}

TEST_CASE("load file missing and invalid", "[rf]") {
  TempDir dir;
  std::string broken = dir.Write("broken.json", "{\"nodes\": [");
  CHECK(CodeOf([&] { scalelock::rf::LoadGraphFile(broken + ".absent"); }) ==
        ErrorCode::kNotFound);
  CHECK(CodeOf([&] { scalelock::rf::LoadGraphFile(broken); }) ==
        ErrorCode::kInvalidInput);
  CHECK_THROWS_WITH(scalelock::rf::LoadGraphFile(broken), Catch::Contains("broken.json"));
}

TEST_CASE("model config errors name path", "[rf]") {
  json bad_layer = json::parse(R"({"task": {"name": "fashion_mnist"}, "model": {
      "family": "custom", "layers": [{"type": "conv", "out": 8},
                                     {"type": "conv", "out": 8, "kernel": -1}]}})");
  CHECK_THROWS_WITH(scalelock::rf::BuildRunConfigGraph(bad_layer, "run.json"),
                    Catch::Contains("model.layers[1].kernel"));
  json bad_type = json::parse(R"({"task": {"name": "fashion_mnist"}, "model": {
      "family": "custom", "layers": [{"type": "lstm"}]}})");
  CHECK_THROWS_WITH(scalelock::rf::BuildRunConfigGraph(bad_type, "run.json"),
                    Catch::Contains("model.layers[0].type"));
  json bad_task =
      json::parse(R"({"task": {"name": "cifar"}, "model": {"family": "plain"}})");
  CHECK_THROWS_WITH(scalelock::rf::BuildRunConfigGraph(bad_task, "run.json"),
                    Catch::Contains("task.name"));
  json even = json::parse(R"({"task": {"name": "multiscale1d"}, "model": {
      "family": "dilated", "kernel": 4}})");
  CHECK_THROWS_WITH(scalelock::rf::BuildRunConfigGraph(even, "run.json"),
                    Catch::Contains("model.kernel"));
}

TEST_CASE("json output carries fields", "[rf]") {
  std::string path =
      std::string(SCALELOCK_SOURCE_DIR) + "/experiments/architectures/vgg16.json";
  json doc = scalelock::rf::ToJson(
      scalelock::rf::AnalyzeGraph(scalelock::rf::LoadGraphFile(path)));
  REQUIRE(doc["layers"].is_array());
  CHECK(doc["layers"].size() == 19);  // input, 13 convs, 5 pools
  const json& pool5 = doc["layers"].back();
  CHECK(pool5["name"] == "pool5");
  CHECK(pool5["rf"] == 212);
  CHECK(pool5["effective_stride"] == 32);
  CHECK(pool5["effective_padding"] == 90);
  CHECK(pool5["center"] == 15.5);
  CHECK(pool5["output_size"] == 7);
  CHECK(doc["input_size"] == json::array({224, 224}));
}

TEST_CASE("json output per axis values", "[rf]") {
  json doc = scalelock::rf::ToJson(scalelock::rf::AnalyzeGraph(Parse(kTwoAxisGraph)));
  const json& conv = doc["layers"][1];
  CHECK(conv["rf"] == json::array({3, 5}));
  CHECK(conv["effective_padding"] == json::array({1, 2}));
  CHECK(conv["output_size"].is_null());
  const json& up = doc["layers"][2];
  CHECK(up["effective_stride"] == 0.5);
  CHECK(up["effective_stride_fraction"] == "1/2");
  CHECK(up["rf_min"] == json::array({3, 5}));
  CHECK(up["rf"] == json::array({4, 6}));
  CHECK(doc["input_size"].is_null());
}

TEST_CASE("table and csv output", "[rf]") {
  scalelock::rf::Analysis analysis = scalelock::rf::AnalyzeGraph(Parse(kTwoAxisGraph));
  std::string table = scalelock::rf::FormatTable(analysis);
  CHECK_THAT(table, Catch::StartsWith("t (2D, input size unknown)\nlayer"));
  CHECK_THAT(table, Catch::Contains("[3, 5]"));  // per-axis RF of c
  CHECK_THAT(table, Catch::Contains("1/2"));     // fractional stride of up
  CHECK_THAT(table, Catch::Contains("[3..4, 5..6]"));
  std::string csv = scalelock::rf::FormatCsv(analysis);
  CHECK_THAT(csv, Catch::StartsWith("layer,op,axis,rf,rf_min,effective_stride,"));
  CHECK_THAT(csv, Catch::Contains("\nup,deconv,W,6,5,0.5,"));
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 1 + 3 * 2);
}

TEST_CASE("csv quotes node names", "[rf]") {
  std::string csv =
      scalelock::rf::FormatCsv(scalelock::rf::AnalyzeGraph(Parse(R"({"dims": 1,
      "nodes": [{"name": "in, \"raw\"", "op": "input"}]})")));
  CHECK_THAT(csv, Catch::Contains("\n\"in, \"\"raw\"\"\",input,W,1,1,1,0,0,\n"));
}
