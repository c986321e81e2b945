#include "report/query.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "report/status.h"
#include "store/statement.h"
#include "store/store.h"
#include "store/test_db.h"
#include "util/error.h"

namespace scalelock {
namespace {

using testing::MakeRecord;
using testing::TempDir;

ErrorCode QueryErrorCode(Store& store, const std::string& sql) {
  try {
    RunQuery(store.handle(), sql);
  } catch (const Error& error) {
    return error.code();
  }
  return ErrorCode::kInternal;
}

std::unique_ptr<Store> MakeDatabase(const TempDir& dir) {
  std::string path = dir.File("db.sqlite");
  {
    auto store = Store::Open(path, Store::Mode::kReadWrite);
    int64_t experiment = store->EnsureExperiment("e1", nlohmann::json::object());
    store->EnsureRuns(experiment, {MakeRecord(1), MakeRecord(2)});
  }
  return Store::Open(path, Store::Mode::kReadOnly);
}

TEST_CASE("query rejects INSERT", "[report]") {
  TempDir dir;
  auto store = MakeDatabase(dir);
  std::string sql =
      "INSERT INTO experiments(name, spec_json, created_at) VALUES('x','{}',0)";
  CHECK(QueryErrorCode(*store, sql) == ErrorCode::kInvalidInput);
  CHECK_THROWS_WITH(RunQuery(store->handle(), sql), Catch::Contains("read-only"));
  auto writable = Store::Open(dir.File("db.sqlite"), Store::Mode::kReadWrite);
  CHECK(QueryErrorCode(*writable, "DELETE FROM runs") == ErrorCode::kInvalidInput);
  CHECK(RunQuery(writable->handle(), "SELECT count(*) FROM runs").rows[0][0] == Cell{2L});
}

TEST_CASE("query rejects second statement", "[report]") {
  TempDir dir;
  auto store = MakeDatabase(dir);
  CHECK_THROWS_WITH(RunQuery(store->handle(), "SELECT 1; SELECT 2"),
                    Catch::Contains("one statement") && Catch::Contains("SELECT 2"));
  CHECK(RunQuery(store->handle(), "SELECT 1; -- trailing comment\n").rows.size() == 1);
}

TEST_CASE("query rejects ATTACH", "[report]") {
  TempDir dir;
  auto store = MakeDatabase(dir);
  std::string other = dir.File("other.sqlite");
  CHECK(QueryErrorCode(*store, "ATTACH '" + other + "' AS other") ==
        ErrorCode::kInvalidInput);
  CHECK_FALSE(std::filesystem::exists(other));
}

TEST_CASE("query SQL error quotes SQLite", "[report]") {
  TempDir dir;
  auto store = MakeDatabase(dir);
  CHECK_THROWS_WITH(RunQuery(store->handle(), "SELECT nope FROM runs"),
                    Catch::Contains("no such column: nope") &&
                        Catch::Contains("SELECT nope FROM runs"));
  CHECK(QueryErrorCode(*store, "   ") == ErrorCode::kInvalidInput);
}

TEST_CASE("query reads the views", "[report]") {
  TempDir dir;
  auto store = MakeDatabase(dir);
  QueryResult result =
      RunQuery(store->handle(), "SELECT run_id, scale_ratio, status FROM run_summary");
  REQUIRE(result.rows.size() == 2);
  CHECK(result.columns == std::vector<std::string>{"run_id", "scale_ratio", "status"});
  CHECK(std::get<double>(result.rows[0][1]) == Approx(8.0).epsilon(1e-12));
  CHECK(std::get<std::string>(result.rows[0][2]) == "pending");
}

TEST_CASE("CSV quoting follows RFC 4180", "[report]") {
  CHECK(CsvField("plain") == "plain");
  CHECK(CsvField("a,b") == "\"a,b\"");
  CHECK(CsvField("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(CsvField("two\nlines") == "\"two\nlines\"");
  CHECK(CsvField("cr\r") == "\"cr\r\"");
  CHECK(CsvField("") == "");
}

TEST_CASE("CSV rows and NULL", "[report]") {
  QueryResult result;
  result.columns = {"name", "n", "x", "missing"};
  result.rows = {{std::string("a,b"), Cell{int64_t{3}}, 0.1, std::monostate{}}};
  CHECK(FormatCsv(result) == "name,n,x,missing\n\"a,b\",3,0.1,\n");
}

TEST_CASE("JSON keeps native types", "[report]") {
  TempDir dir;
  auto store = MakeDatabase(dir);
  QueryResult result = RunQuery(
      store->handle(), "SELECT 7 AS i, 0.5 AS r, 'x\"y' AS t, NULL AS n, 9e999 AS inf");
  nlohmann::json parsed = nlohmann::json::parse(FormatJson(result));
  REQUIRE(parsed.is_array());
  REQUIRE(parsed.size() == 1);
  const nlohmann::json& row = parsed[0];
  CHECK(row["i"].is_number_integer());
  CHECK(row["i"] == 7);
  CHECK(row["r"].is_number_float());
  CHECK(row["r"].get<double>() == Approx(0.5).epsilon(1e-12));
  CHECK(row["t"] == "x\"y");
  CHECK(row["n"].is_null());
  CHECK(row["inf"].is_null());
  nlohmann::ordered_json ordered = nlohmann::ordered_json::parse(FormatJson(result));
  CHECK(ordered[0].begin().key() == "i");
}

TEST_CASE("table aligns numbers right", "[report]") {
  QueryResult result;
  result.columns = {"family", "loss"};
  result.rows = {{std::string("dilated"), 3.14159265}, {std::string("cnn"), 1234567.0}};
  std::string expected =
      "family          loss\n"
      "-------  -----------\n"
      "dilated      3.14159\n"
      "cnn      1.23457e+06\n";
  CHECK(FormatTable(result) == expected);
}

TEST_CASE("table aligns NULL with its column", "[report]") {
  QueryResult result;
  result.columns = {"id", "worker", "loss"};
  result.rows = {{Cell{int64_t{1}}, std::monostate{}, std::monostate{}},
                 {Cell{int64_t{2}}, std::monostate{}, 0.5}};
  std::string expected =
      "id  worker  loss\n"
      "--  ------  ----\n"
      " 1  NULL    NULL\n"
      " 2  NULL     0.5\n";
  CHECK(FormatTable(result) == expected);
}

TEST_CASE("table shows empty result", "[report]") {
  QueryResult result;
  result.columns = {"a"};
  CHECK(FormatTable(result) == "a\n-\n(0 rows)\n");
}

TEST_CASE("status counts and stale runs", "[report]") {
  TempDir dir;
  std::string path = dir.File("db.sqlite");
  {
    auto store = Store::Open(path, Store::Mode::kReadWrite);
    int64_t experiment = store->EnsureExperiment("e1", nlohmann::json::object());
    std::vector<int64_t> ids = store->EnsureRuns(
        experiment, {MakeRecord(1), MakeRecord(2), MakeRecord(3), MakeRecord(4)});
    REQUIRE(store->ClaimRun(ids[1], "fresh-host", "v"));
    REQUIRE(store->ClaimRun(ids[2], "dead-host", "v", "dead-host:7"));
    REQUIRE(store->ClaimRun(ids[3], "h", "v"));
    RunResult result;
    result.status = RunStatus::kFinished;
    store->FinishRun(ids[3], result);
    ExecSql(store->handle(),
            "UPDATE runs SET heartbeat_at = heartbeat_at - 300 WHERE run_id = " +
                std::to_string(ids[2]));
    store->EnsureExperiment("e2", nlohmann::json::object());
  }
  auto store = Store::Open(path, Store::Mode::kReadOnly);
  StatusReport report = CollectStatus(store->handle(), "", UnixNow());
  REQUIRE(report.counts.rows.size() == 2);
  const auto& e1 = report.counts.rows[0];
  const auto& columns = report.counts.columns;
  auto count = [&](const std::vector<Cell>& row, const std::string& name) {
    size_t index = std::find(columns.begin(), columns.end(), name) - columns.begin();
    return std::get<int64_t>(row.at(index));
  };
  CHECK(count(e1, "total") == 4);
  CHECK(count(e1, "pending") == 1);
  CHECK(count(e1, "running") == 1);
  CHECK(count(e1, "stale") == 1);
  CHECK(count(e1, "finished") == 1);
  CHECK(count(report.counts.rows[1], "total") == 0);
  REQUIRE(report.stale_runs.rows.size() == 1);
  CHECK(std::get<std::string>(report.stale_runs.rows[0][3]) == "dead-host");
  CHECK(std::get<std::string>(report.stale_runs.rows[0][4]) == "dead-host:7");
  CHECK(std::get<std::string>(report.stale_runs.rows[0][7]) == "stale");
  CHECK_THAT(FormatStatus(report, "table"), Catch::Contains("stale runs"));
  nlohmann::json json = nlohmann::json::parse(FormatStatus(report, "json"));
  CHECK(json["stale_runs"].size() == 1);
}

TEST_CASE("status unknown experiment", "[report]") {
  TempDir dir;
  auto store = MakeDatabase(dir);
  try {
    CollectStatus(store->handle(), "nope", UnixNow());
    FAIL("unknown experiment accepted");
  } catch (const Error& error) {
    CHECK(error.code() == ErrorCode::kNotFound);
  }
}

}  // namespace
}  // namespace scalelock
