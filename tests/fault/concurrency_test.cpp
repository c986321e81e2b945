// Eight scalelock processes started at the same instant on one database,
// with the same spec or with different specs, while readers run long queries.
#include <atomic>
#include <catch2/catch.hpp>

#include "fault/fault_support.h"

using fault::Child;
using fault::Db;
using fault::Spawn;
using fault::Wait;
using scalelock_test::ReadFile;
using scalelock_test::RunCli;
using scalelock_test::TempDir;
using namespace std::chrono_literals;

namespace {

// The fault grid with three seeds (12 runs) under another experiment name.
std::string WriteSpec(const TempDir& dir, const std::string& name) {
  nlohmann::json spec = nlohmann::json::parse(fault::kGridSpec);
  spec["name"] = name;
  spec["seeds"] = {0, 1, 2};
  return dir.Write(name + ".json", spec.dump());
}

// Reads the database in a loop until stop is set: a `scalelock query` that
// takes a few hundred milliseconds, and a read transaction held open across
// writer commits. Counts failures.
void ReadWhileWriting(const std::string& db, const std::atomic<bool>& stop,
                      std::atomic<int>& failures, std::string& failure_output) {
  const std::string slow_query =
      "query --db " + db +
      " \"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < "
      "300000) "
      "SELECT count(*) FROM c, (SELECT count(*) FROM metrics)\"";
  while (!stop) {
    if (!std::filesystem::exists(db) ||
        !fault::WaitForRows(db, "SELECT count(*) FROM runs", 10ms)) {
      std::this_thread::sleep_for(10ms);
      continue;
    }
    auto result = RunCli(slow_query);
    if (result.status != 0) {
      ++failures;
      failure_output = result.output;
    }
    Db held(db);
    held.Rows("BEGIN");
    held.Rows("SELECT count(*) FROM metrics");
    std::this_thread::sleep_for(200ms);
    held.Rows("SELECT count(*) FROM runs");
    held.Rows("COMMIT");
  }
}

void CheckLogs(const std::vector<Child>& children) {
  for (const Child& child : children) {
    std::string log = ReadFile(child.log);
    INFO(log);
    CHECK(log.find("database is locked") == std::string::npos);
    CHECK(log.find("error") == std::string::npos);
  }
}

}  // namespace

TEST_CASE("eight processes one spec, long readers") {
  TempDir dir;
  std::string spec = WriteSpec(dir, "shared");
  std::string db = dir.File("results.sqlite");

  std::atomic<bool> stop{false};
  std::atomic<int> read_failures{0};
  std::string read_output;
  std::thread reader(ReadWhileWriting, std::cref(db), std::cref(stop),
                     std::ref(read_failures), std::ref(read_output));
  std::vector<Child> children;
  for (int i = 0; i < 8; ++i) {
    children.push_back(Spawn({"run", spec, "--db", db, "--jobs", "1"},
                             dir.File("worker" + std::to_string(i) + ".log")));
  }
  for (const Child& child : children) {
    INFO(ReadFile(child.log));
    CHECK(Wait(child, 120s) == 0);
  }
  stop = true;
  reader.join();
  CheckLogs(children);
  INFO(read_output);
  CHECK(read_failures == 0);

  Db check(db);
  CHECK(check.Text("PRAGMA integrity_check") == "ok");
  CHECK(check.Int("SELECT count(*) FROM runs") == 12);
  CHECK(check.Int("SELECT count(*) FROM runs WHERE status = 'finished'") == 12);
  // Each config ran exactly once across all eight processes.
  CHECK(check.Int("SELECT max(attempts) FROM runs") == 1);
  CHECK(check.Int("SELECT count(*) FROM metrics WHERE metric = 'eval_loss'") == 48);
}

TEST_CASE("eight processes four specs") {
  TempDir dir;
  std::string db = dir.File("results.sqlite");
  std::vector<std::string> specs;
  for (const char* name : {"alpha", "beta", "gamma", "delta"}) {
    specs.push_back(WriteSpec(dir, name));
  }
  std::vector<Child> children;
  for (int i = 0; i < 8; ++i) {
    children.push_back(Spawn({"run", specs[i % 4], "--db", db, "--jobs", "1"},
                             dir.File("worker" + std::to_string(i) + ".log")));
  }
  for (const Child& child : children) {
    INFO(ReadFile(child.log));
    CHECK(Wait(child, 120s) == 0);
  }
  CheckLogs(children);

  Db check(db);
  CHECK(check.Text("PRAGMA integrity_check") == "ok");
  CHECK(check.Int("SELECT count(*) FROM experiments") == 4);
  CHECK(check.Text("SELECT group_concat(n, ',') FROM (SELECT count(*) AS n FROM runs "
                   "WHERE status = 'finished' GROUP BY experiment_id)") == "12,12,12,12");
  CHECK(check.Int("SELECT max(attempts) FROM runs") == 1);
}
