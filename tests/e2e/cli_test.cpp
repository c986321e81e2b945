// End-to-end tests: the scalelock binary on a tiny grid with real oneDNN
// training, real task data and a real SQLite file in a temporary folder.
#include <catch2/catch.hpp>

#include "e2e/cli_support.h"

using nlohmann::json;
using scalelock_test::ReadFile;
using scalelock_test::RunCli;
using scalelock_test::TempDir;

namespace {

// Two families x two scale ratios x one seed on a short 1D task.
const char* kTinySpec = R"({
  "name": "tiny",
  "task": {"name": "multiscale1d", "length": 32, "lambda_min": 2, "eval_samples": 64},
  "model": {"family": "plain", "depth": 2, "kernel": 3, "width": 4},
  "training": {"steps": 20, "batch_size": 8, "eval_every": 10},
  "seeds": [0],
  "grid": {
    "product": {"model.family": ["plain", "dilated"], "task.scale_ratio": [2, 4]},
    "derived": {"task.lambda_max": "task.scale_ratio * task.lambda_min"}
  }
})";

json QueryJson(const std::string& db, const std::string& sql) {
  auto result = RunCli("query --db " + db + " --format json \"" + sql + "\"");
  INFO(result.output);
  REQUIRE(result.status == 0);
  return json::parse(result.output);
}

}  // namespace

TEST_CASE("cli tiny grid runs, stores and resumes") {
  TempDir dir;
  std::string spec = dir.Write("tiny.json", kTinySpec);
  std::string db = dir.File("results.sqlite");

  auto first = RunCli("run " + spec + " --db " + db + " --jobs 2");
  INFO(first.output);
  REQUIRE(first.status == 0);

  json runs = QueryJson(db, "SELECT family, status, rf, params, flops, scale_ratio "
                            "FROM run_summary ORDER BY run_id");
  REQUIRE(runs.size() == 4);
  for (const json& run : runs) {
    CHECK(run["status"] == "finished");
    CHECK(run["params"].get<int64_t>() > 0);
    CHECK(run["flops"].get<double>() > 0);
  }
  // plain depth 2 kernel 3: RF 5; dilated depth 2 (dilations 1, 2): RF 7.
  json rfs = QueryJson(db, "SELECT DISTINCT family, rf FROM run_summary ORDER BY family");
  CHECK(rfs[0]["family"] == "dilated");
  CHECK(rfs[0]["rf"] == 7);
  CHECK(rfs[1]["rf"] == 5);

  // Two evaluations (steps 10 and 20) of eval_accuracy per run.
  json points = QueryJson(db, "SELECT COUNT(*) AS n FROM metric_points "
                              "WHERE metric = 'eval_accuracy'");
  CHECK(points[0]["n"] == 8);

  // The same spec again trains nothing and adds no rows.
  auto second = RunCli("run " + spec + " --db " + db);
  INFO(second.output);
  REQUIRE(second.status == 0);
  CHECK_THAT(second.output, Catch::Contains("0 runs to train (4 already ended)"));
  json count = QueryJson(db, "SELECT COUNT(*) AS n FROM runs");
  CHECK(count[0]["n"] == 4);
}

TEST_CASE("cli invalid spec exits 2 and writes nothing") {
  TempDir dir;
  json spec = json::parse(kTinySpec);
  spec["model"]["kernel"] = 4;
  std::string path = dir.Write("bad.json", spec.dump());
  std::string db = dir.File("results.sqlite");

  auto result = RunCli("run " + path + " --db " + db);
  CHECK(result.status == 2);
  CHECK_THAT(result.output, Catch::Contains("$.model.kernel"));
  CHECK_THAT(result.output, Catch::Contains("odd integer"));
  CHECK_FALSE(std::filesystem::exists(db));
}

TEST_CASE("cli invalid spec leaves existing database unchanged") {
  TempDir dir;
  std::string good = dir.Write("tiny.json", kTinySpec);
  std::string db = dir.File("results.sqlite");
  REQUIRE(RunCli("run " + good + " --db " + db).status == 0);
  json before = QueryJson(db, "SELECT COUNT(*) AS n FROM runs");

  json spec = json::parse(kTinySpec);
  spec["name"] = "second";
  spec["grid"]["product"]["model.depth"] = json::array();
  std::string bad = dir.Write("bad.json", spec.dump());
  auto result = RunCli("run " + bad + " --db " + db);
  CHECK(result.status == 2);
  CHECK_THAT(result.output, Catch::Contains("$.grid.product[\"model.depth\"]"));
  json after = QueryJson(db, "SELECT COUNT(*) AS n FROM runs");
  CHECK(after == before);
  json experiments = QueryJson(db, "SELECT COUNT(*) AS n FROM experiments");
  CHECK(experiments[0]["n"] == 1);
}

TEST_CASE("cli unknown command suggests a name") {
  auto result = RunCli("fti");
  CHECK(result.status == 2);
  CHECK_THAT(result.output, Catch::Contains("did you mean 'fit'"));
}

TEST_CASE("cli help lists every command") {
  auto result = RunCli("--help");
  CHECK(result.status == 0);
  for (const char* name : {"run", "status", "query", "fit", "lock", "export", "rf"}) {
    CHECK_THAT(result.output, Catch::Contains(name));
  }
}

TEST_CASE("cli oversubscription rejected") {
  TempDir dir;
  std::string spec = dir.Write("tiny.json", kTinySpec);
  auto result = RunCli("run " + spec + " --db " + dir.File("r.sqlite") +
                       " --jobs 64 --threads-per-run 64");
  CHECK(result.status == 2);
  CHECK_THAT(result.output, Catch::Contains("--jobs 64"));
  CHECK_FALSE(std::filesystem::exists(dir.File("r.sqlite")));
}

TEST_CASE("cli export writes plot data") {
  TempDir dir;
  std::string spec = dir.Write("tiny.json", kTinySpec);
  std::string db = dir.File("results.sqlite");
  REQUIRE(RunCli("run " + spec + " --db " + db).status == 0);
  auto result = RunCli("export --db " + db + " --out " + dir.File("plots"));
  INFO(result.output);
  REQUIRE(result.status == 0);
  std::string accuracy = ReadFile(dir.File("plots/accuracy_vs_ratio.csv"));
  CHECK_THAT(accuracy, Catch::Contains("scale_ratio"));
  CHECK_THAT(accuracy, Catch::Contains("dilated"));
}

TEST_CASE("cli rf reproduces published vgg16") {
  // Araujo, Norris and Sim (2019), Distill: VGG-16 pool5 RF 212, stride 32, padding 90.
  auto result = RunCli(std::string("rf --format json ") + SCALELOCK_SOURCE_DIR +
                       "/experiments/architectures/vgg16.json");
  INFO(result.output);
  REQUIRE(result.status == 0);
  json layers = json::parse(result.output)["layers"];
  REQUIRE_FALSE(layers.empty());
  const json& pool5 = layers.back();
  CHECK(pool5["name"] == "pool5");
  CHECK(pool5["rf"] == 212);
  CHECK(pool5["effective_stride"] == 32);
  CHECK(pool5["effective_padding"] == 90);
}
