// The bad-input corpus in tests/data/bad_specs: each malformed spec or
// command line must fail with its exit status and message and leave a
// database that already contains results byte-identical.
#include <catch2/catch.hpp>
#include <regex>

#include "fault/fault_support.h"

using nlohmann::json;
using scalelock_test::ReadFile;
using scalelock_test::RunCli;
using scalelock_test::TempDir;

namespace {

std::string Substitute(std::string text, const std::string& dir, const std::string& db,
                       const std::string& tmp) {
  text = std::regex_replace(text, std::regex(R"(\{dir\})"), dir);
  text = std::regex_replace(text, std::regex(R"(\{db\})"), db);
  return std::regex_replace(text, std::regex(R"(\{tmp\})"), tmp);
}

}  // namespace

TEST_CASE("bad input corpus rejected, db unchanged") {
  const std::string dir = std::string(SCALELOCK_SOURCE_DIR) + "/tests/data/bad_specs";
  json manifest = json::parse(ReadFile(dir + "/cases.json"));
  REQUIRE(manifest["cases"].size() >= 30);

  TempDir tmp;
  std::string db = tmp.File("results.sqlite");
  auto setup = RunCli("run " + dir + "/valid_tiny.json --db " + db);
  INFO(setup.output);
  REQUIRE(setup.status == 0);
  const std::string before = ReadFile(db);
  REQUIRE_FALSE(before.empty());
  const std::string rows = fault::Db(db).Text(
      "SELECT group_concat(run_id || status || final_eval_loss, ',') FROM runs");

  for (const json& item : manifest["cases"]) {
    TempDir scratch;
    std::string scratch_dir =
        std::filesystem::path(scratch.File("x")).parent_path().string();
    std::string args =
        item.contains("file")
            ? "run " + dir + "/" + item["file"].get<std::string>() + " --db " + db
            : Substitute(item["args"].get<std::string>(), dir, db, scratch_dir);
    std::string message =
        Substitute(item["message"].get<std::string>(), dir, db, scratch_dir);
    auto result = RunCli(args);
    INFO("case: scalelock " << args);
    INFO("output: " << result.output);
    CHECK(result.status == item["status"].get<int>());
    CHECK_THAT(result.output, Catch::Contains(message));
    CHECK(ReadFile(db) == before);
  }
  CHECK(
      fault::Db(db).Text("SELECT group_concat(run_id || status || final_eval_loss, ',') "
                         "FROM runs") == rows);
  CHECK(fault::Db(db).Text("PRAGMA integrity_check") == "ok");
}
