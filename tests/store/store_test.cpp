#include "store/store.h"

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "store/schema.h"
#include "store/statement.h"
#include "store/test_db.h"
#include "util/error.h"

namespace scalelock {
namespace {

using testing::MakeRecord;
using testing::ReadBytes;
using testing::TempDir;
using testing::WriteBytes;

int64_t CountRows(Store& store, const std::string& sql) {
  Statement count(store.handle(), sql);
  count.Step();
  return count.ColumnInt(0);
}

// Writes a database with the raw C API, in rollback-journal mode so the whole
// content sits in the main file.
void WriteRawDatabase(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
}

ErrorCode OpenErrorCode(const std::string& path, Store::Mode mode) {
  try {
    Store::Open(path, mode);
  } catch (const Error& error) {
    return error.code();
  }
  return ErrorCode::kInternal;
}

TEST_CASE("store round trip through views", "[store]") {
  TempDir dir;
  auto store = Store::Open(dir.File("results/db.sqlite"), Store::Mode::kReadWrite);
  int64_t experiment = store->EnsureExperiment("lock_sweep", {{"name", "lock_sweep"}});
  std::vector<int64_t> ids =
      store->EnsureRuns(experiment, {MakeRecord(1), MakeRecord(2)});
  REQUIRE(ids.size() == 2);
  REQUIRE(store->ClaimRun(ids[0], "node1", "0.1.0"));
  store->WriteMetrics(ids[0], {{"train_loss", 10, 0.5}, {"train_loss", 20, 0.25}});
  RunResult result;
  result.status = RunStatus::kFinished;
  result.steps = 20;
  result.final_train_loss = 0.25;
  result.final_eval_loss = 0.3;
  result.final_eval_accuracy = 0.875;
  result.wall_seconds = 1.5;
  store->FinishRun(ids[0], result);

  Statement summary(
      store->handle(),
      "SELECT experiment, family, rf, scale_ratio, status, final_eval_loss, "
      "final_eval_accuracy, steps, attempts, host FROM run_summary "
      "WHERE run_id = " +
          std::to_string(ids[0]));
  REQUIRE(summary.Step());
  CHECK(summary.ColumnText(0) == "lock_sweep");
  CHECK(summary.ColumnText(1) == "dilated");
  CHECK(summary.ColumnInt(2) == 31);
  CHECK(summary.ColumnDouble(3) == Approx(8.0).epsilon(1e-12));
  CHECK(summary.ColumnText(4) == "finished");
  CHECK(summary.ColumnDouble(5) == Approx(0.3).epsilon(1e-12));
  CHECK(summary.ColumnDouble(6) == Approx(0.875).epsilon(1e-12));
  CHECK(summary.ColumnInt(7) == 20);
  CHECK(summary.ColumnInt(8) == 1);
  CHECK(summary.ColumnText(9) == "node1");

  Statement points(store->handle(),
                   "SELECT step, value FROM metric_points WHERE metric = 'train_loss' "
                   "ORDER BY step");
  REQUIRE(points.Step());
  CHECK(points.ColumnInt(0) == 10);
  CHECK(points.ColumnDouble(1) == Approx(0.5).epsilon(1e-12));
  REQUIRE(points.Step());
  CHECK(points.ColumnInt(0) == 20);
  CHECK_FALSE(points.Step());
}

TEST_CASE("store reopen keeps WAL and data", "[store]") {
  TempDir dir;
  std::string path = dir.File("db.sqlite");
  {
    auto store = Store::Open(path, Store::Mode::kReadWrite);
    store->EnsureExperiment("a", nlohmann::json::object());
  }
  auto store = Store::Open(path, Store::Mode::kReadWrite);
  Statement journal(store->handle(), "PRAGMA journal_mode");
  REQUIRE(journal.Step());
  CHECK(journal.ColumnText(0) == "wal");
  CHECK(CountRows(*store, "SELECT count(*) FROM experiments") == 1);
  Statement version(store->handle(),
                    "SELECT value FROM meta WHERE key = 'schema_version'");
  REQUIRE(version.Step());
  CHECK(version.ColumnText(0) == std::to_string(kSchemaVersion));
}

TEST_CASE("store resume keeps finished runs", "[store]") {
  TempDir dir;
  auto store = Store::Open(dir.File("db.sqlite"), Store::Mode::kReadWrite);
  int64_t experiment = store->EnsureExperiment("resume", nlohmann::json::object());
  std::vector<int64_t> first =
      store->EnsureRuns(experiment, {MakeRecord(1), MakeRecord(2)});
  REQUIRE(store->ClaimRun(first[0], "host", "v"));
  RunResult result;
  result.status = RunStatus::kFinished;
  store->FinishRun(first[0], result);

  std::vector<int64_t> second =
      store->EnsureRuns(experiment, {MakeRecord(1), MakeRecord(2), MakeRecord(3)});
  REQUIRE(second.size() == 3);
  CHECK(second[0] == first[0]);
  CHECK(second[1] == first[1]);
  CHECK(CountRows(*store, "SELECT count(*) FROM runs") == 3);
  std::vector<RunState> states = store->ListRuns(experiment);
  REQUIRE(states.size() == 3);
  CHECK(states[0].status == RunStatus::kFinished);
  CHECK(states[1].status == RunStatus::kPending);
  CHECK(states[2].status == RunStatus::kPending);
  CHECK(states[0].attempts == 1);
}

TEST_CASE("store claims a run once", "[store]") {
  TempDir dir;
  auto store = Store::Open(dir.File("db.sqlite"), Store::Mode::kReadWrite);
  int64_t experiment = store->EnsureExperiment("claim", nlohmann::json::object());
  int64_t run = store->EnsureRuns(experiment, {MakeRecord(1)})[0];
  CHECK(store->ClaimRun(run, "a", "v", "a:boot:42:7"));
  CHECK_FALSE(store->ClaimRun(run, "b", "v", "b:boot:43:8"));
  Statement row(store->handle(), "SELECT host, worker FROM run_summary");
  REQUIRE(row.Step());
  CHECK(row.ColumnText(0) == "a");
  CHECK(row.ColumnText(1) == "a:boot:42:7");
}

TEST_CASE("store resets interrupted and stale runs", "[store]") {
  TempDir dir;
  auto store = Store::Open(dir.File("db.sqlite"), Store::Mode::kReadWrite);
  int64_t experiment = store->EnsureExperiment("reset", nlohmann::json::object());
  std::vector<int64_t> ids =
      store->EnsureRuns(experiment, {MakeRecord(1), MakeRecord(2)});
  REQUIRE(store->ClaimRun(ids[0], "a", "v"));
  RunResult result;
  result.status = RunStatus::kInterrupted;
  store->FinishRun(ids[0], result);
  REQUIRE(store->ClaimRun(ids[1], "a", "v"));
  ExecSql(store->handle(),
          "UPDATE runs SET heartbeat_at = heartbeat_at - 120 WHERE run_id = " +
              std::to_string(ids[1]));

  CHECK(store->ResetRuns(experiment, {RunStatus::kInterrupted, RunStatus::kFailed}) == 1);
  CHECK(store->ResetStaleRuns(experiment, 60.0) == 1);
  CHECK(CountRows(*store, "SELECT count(*) FROM runs WHERE status = 'pending'") == 2);
}

TEST_CASE("store metric upsert replaces value", "[store]") {
  TempDir dir;
  auto store = Store::Open(dir.File("db.sqlite"), Store::Mode::kReadWrite);
  int64_t experiment = store->EnsureExperiment("upsert", nlohmann::json::object());
  int64_t run = store->EnsureRuns(experiment, {MakeRecord(1)})[0];
  store->WriteMetrics(run, {{"eval_loss", 100, 2.0}});
  store->WriteMetrics(run, {{"eval_loss", 100, 1.5}});
  CHECK(CountRows(*store, "SELECT count(*) FROM metrics") == 1);
  Statement value(store->handle(), "SELECT value FROM metric_points");
  REQUIRE(value.Step());
  CHECK(value.ColumnDouble(0) == Approx(1.5).epsilon(1e-12));
}

TEST_CASE("store writes 40000-point batch", "[store]") {
  TempDir dir;
  auto store = Store::Open(dir.File("db.sqlite"), Store::Mode::kReadWrite);
  int64_t experiment = store->EnsureExperiment("big", nlohmann::json::object());
  int64_t run = store->EnsureRuns(experiment, {MakeRecord(1)})[0];
  std::vector<MetricPoint> points;
  for (int64_t step = 0; step < 40000; ++step) {
    points.push_back({"train_loss", step, 1.0 / static_cast<double>(step + 1)});
  }
  store->WriteMetrics(run, points);
  CHECK(CountRows(*store, "SELECT count(*) FROM metric_points") == 40000);
  Statement last(store->handle(), "SELECT value FROM metric_points WHERE step = 39999");
  REQUIRE(last.Step());
  CHECK(last.ColumnDouble(0) == Approx(1.0 / 40000.0).epsilon(1e-12));
}

TEST_CASE("store stores NaN loss as NULL", "[store]") {
  TempDir dir;
  auto store = Store::Open(dir.File("db.sqlite"), Store::Mode::kReadWrite);
  int64_t experiment = store->EnsureExperiment("nan", nlohmann::json::object());
  int64_t run = store->EnsureRuns(experiment, {MakeRecord(1)})[0];
  RunResult result;
  result.status = RunStatus::kDiverged;
  result.final_train_loss = std::nan("");
  store->FinishRun(run, result);
  CHECK(CountRows(*store, "SELECT count(*) FROM runs WHERE final_train_loss IS NULL") ==
        1);
  CHECK(CountRows(*store, "SELECT count(*) FROM runs WHERE status = 'diverged'") == 1);
}

TEST_CASE("store rejects unknown status value", "[store]") {
  TempDir dir;
  auto store = Store::Open(dir.File("db.sqlite"), Store::Mode::kReadWrite);
  int64_t experiment = store->EnsureExperiment("check", nlohmann::json::object());
  store->EnsureRuns(experiment, {MakeRecord(1)});
  CHECK_THROWS_AS(ExecSql(store->handle(), "UPDATE runs SET status = 'done'"), Error);
}

TEST_CASE("store records a fit", "[store]") {
  TempDir dir;
  auto store = Store::Open(dir.File("db.sqlite"), Store::Mode::kReadWrite);
  FitRecord fit{"power",
                "exp",
                "dilated",
                "flops",
                "L = E + A*x^-alpha",
                {{"E", 0.1}, {"A", 2.0}, {"alpha", 0.3}},
                {4, 5}};
  int64_t id = store->RecordFit(fit);
  Statement row(store->handle(),
                "SELECT kind, json_extract(result_json, '$.alpha'), run_ids FROM fits "
                "WHERE fit_id = " +
                    std::to_string(id));
  REQUIRE(row.Step());
  CHECK(row.ColumnText(0) == "power");
  CHECK(row.ColumnDouble(1) == Approx(0.3).epsilon(1e-12));
  CHECK(row.ColumnText(2) == "[4,5]");
}

TEST_CASE("store rejects non-SQLite file untouched", "[store]") {
  TempDir dir;
  std::string path = dir.File("notes.sqlite");
  std::string bytes = "experiment notes, not a database\n";
  WriteBytes(path, bytes);
  CHECK(OpenErrorCode(path, Store::Mode::kReadWrite) == ErrorCode::kDatabase);
  CHECK(ReadBytes(path) == bytes);
  CHECK_FALSE(std::filesystem::exists(path + "-wal"));
}

TEST_CASE("store message names the path", "[store]") {
  TempDir dir;
  std::string path = dir.File("notes.sqlite");
  WriteBytes(path, "plain text file with more than sixteen bytes");
  CHECK_THROWS_WITH(Store::Open(path, Store::Mode::kReadWrite),
                    Catch::Contains(path) && Catch::Contains("not an SQLite database"));
}

TEST_CASE("store rejects newer schema untouched", "[store]") {
  TempDir dir;
  std::string path = dir.File("future.sqlite");
  WriteRawDatabase(path,
                   "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                   "INSERT INTO meta VALUES('schema_version', '99');");
  std::string before = ReadBytes(path);
  CHECK_THROWS_WITH(Store::Open(path, Store::Mode::kReadWrite),
                    Catch::Contains("99") && Catch::Contains("upgrade scalelock"));
  CHECK(ReadBytes(path) == before);
}

TEST_CASE("store rejects foreign tables untouched", "[store]") {
  TempDir dir;
  std::string path = dir.File("other.sqlite");
  WriteRawDatabase(path, "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT);");
  std::string before = ReadBytes(path);
  CHECK(OpenErrorCode(path, Store::Mode::kReadWrite) == ErrorCode::kDatabase);
  CHECK(ReadBytes(path) == before);
}

TEST_CASE("store rejects corrupt file untouched", "[store]") {
  TempDir dir;
  std::string path = dir.File("corrupt.sqlite");
  {
    auto store = Store::Open(path, Store::Mode::kReadWrite);
    int64_t experiment = store->EnsureExperiment("c", nlohmann::json::object());
    int64_t run = store->EnsureRuns(experiment, {MakeRecord(1)})[0];
    std::vector<MetricPoint> points;
    for (int64_t step = 0; step < 5000; ++step)
      points.push_back({"train_loss", step, 1.0});
    store->WriteMetrics(run, points);
  }
  // Overwrite the middle of the file, which contains metric b-tree pages.
  std::string bytes = ReadBytes(path);
  REQUIRE(bytes.size() > 40000);
  for (size_t i = 20000; i < 30000; ++i)
    bytes[i] = static_cast<char>(0xA5);
  WriteBytes(path, bytes);
  CHECK(OpenErrorCode(path, Store::Mode::kReadWrite) == ErrorCode::kDatabase);
  CHECK(ReadBytes(path) == bytes);
}

TEST_CASE("store read-only missing file", "[store]") {
  TempDir dir;
  CHECK(OpenErrorCode(dir.File("none.sqlite"), Store::Mode::kReadOnly) ==
        ErrorCode::kNotFound);
  CHECK_FALSE(std::filesystem::exists(dir.File("none.sqlite")));
}

TEST_CASE("store read-only rejects writes", "[store]") {
  TempDir dir;
  std::string path = dir.File("db.sqlite");
  Store::Open(path, Store::Mode::kReadWrite)->EnsureExperiment("a", {});
  auto store = Store::Open(path, Store::Mode::kReadOnly);
  CHECK(CountRows(*store, "SELECT count(*) FROM experiments") == 1);
  CHECK_THROWS_AS(store->EnsureExperiment("b", {}), Error);
}

TEST_CASE("store FinishRun unknown run", "[store]") {
  TempDir dir;
  auto store = Store::Open(dir.File("db.sqlite"), Store::Mode::kReadWrite);
  RunResult result;
  result.status = RunStatus::kFailed;
  try {
    store->FinishRun(12345, result);
    FAIL("FinishRun accepted a missing run");
  } catch (const Error& error) {
    CHECK(error.code() == ErrorCode::kNotFound);
  }
}

}  // namespace
}  // namespace scalelock
