// Crash and signal tests: kill -9 at seeded random moments, SIGINT and
// SIGTERM, and the dead-worker rule, each followed by a rerun that must
// complete the grid without duplicates.
#include <catch2/catch.hpp>
#include <map>
#include <random>

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

std::string RunArgs(const std::string& spec, const std::string& db) {
  return "run " + spec + " --db " + db + " --jobs 2 --threads-per-run 1";
}

std::vector<std::string> RunArgv(const std::string& spec, const std::string& db) {
  return {"run", spec, "--db", db, "--jobs", "2", "--threads-per-run", "1"};
}

// Final eval loss per config hash.
std::map<std::string, std::string> FinalLosses(const std::string& db) {
  std::map<std::string, std::string> losses;
  for (const auto& row :
       Db(db).Rows("SELECT config_hash, printf('%.12g', final_eval_loss) FROM runs")) {
    losses[row[0]] = row[1];
  }
  return losses;
}

// Checks a completed fault-grid database: 4 runs, each finished once, every
// evaluation step (eval_steps, e.g. "50,100,150,200") stored once per eval
// metric and run.
void CheckComplete(const std::string& db,
                   const std::string& eval_steps = "50,100,150,200") {
  Db check(db);
  CHECK(check.Text("PRAGMA integrity_check") == "ok");
  CHECK(check.Int("SELECT count(*) FROM runs") == 4);
  CHECK(check.Int("SELECT count(*) FROM runs WHERE status = 'finished'") == 4);
  CHECK(check.Int("SELECT count(DISTINCT config_hash) FROM runs") == 4);
  CHECK(check.Int("SELECT count(*) FROM (SELECT run_id, metric, step FROM metrics "
                  "GROUP BY 1, 2, 3 HAVING count(*) > 1)") == 0);
  for (const char* metric : {"eval_loss", "eval_accuracy"}) {
    INFO(metric);
    CHECK(check.Text(std::string("SELECT group_concat(steps, ';') FROM (SELECT "
                                 "group_concat(step, ',') AS steps FROM (SELECT run_id, "
                                 "step FROM metrics WHERE metric = '") +
                     metric + "' ORDER BY run_id, step) GROUP BY run_id)") ==
          eval_steps + ";" + eval_steps + ";" + eval_steps + ";" + eval_steps);
  }
}

std::string HostName() {
  char name[256] = {};
  gethostname(name, sizeof(name) - 1);
  return name;
}

// The pid of a process that has exited and been reaped.
pid_t DeadPid() {
  pid_t pid = -1;
  char arg0[] = "true";
  char* argv[] = {arg0, nullptr};
  posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, environ);
  int raw = 0;
  waitpid(pid, &raw, 0);
  return pid;
}

void Exec(const std::string& db, const std::string& sql) {
  sqlite3* handle = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &handle) == SQLITE_OK);
  sqlite3_busy_timeout(handle, 30000);
  char* error = nullptr;
  int rc = sqlite3_exec(handle, sql.c_str(), nullptr, nullptr, &error);
  INFO(sql << ": " << (error ? error : ""));
  sqlite3_free(error);
  sqlite3_close(handle);
  REQUIRE(rc == SQLITE_OK);
}

}  // namespace

TEST_CASE("kill -9 trials then rerun completes") {
  TempDir dir;
  std::string spec = dir.Write("fault.json", fault::kGridSpec);

  // A clean run gives the reference losses and the time window for kills.
  auto start = std::chrono::steady_clock::now();
  auto clean = RunCli(RunArgs(spec, dir.File("clean.sqlite")));
  double clean_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO(clean.output);
  REQUIRE(clean.status == 0);
  std::map<std::string, std::string> reference = FinalLosses(dir.File("clean.sqlite"));
  REQUIRE(reference.size() == 4);

  std::mt19937 random(20261204);
  std::uniform_real_distribution<double> moment(0.0, clean_seconds * 1.2);
  int interrupted_trials = 0;  // trials whose kill left the grid unfinished
  for (int trial = 0; trial < 10; ++trial) {
    std::string db = dir.File("trial" + std::to_string(trial) + ".sqlite");
    std::string log = dir.File("trial" + std::to_string(trial) + ".log");
    // Odd trials kill the first rerun too, so a kill can hit a resume.
    int kills = trial % 2 == 0 ? 1 : 2;
    for (int k = 0; k < kills; ++k) {
      Child child = Spawn(RunArgv(spec, db), log);
      REQUIRE(child.pid > 0);
      std::this_thread::sleep_for(std::chrono::duration<double>(moment(random)));
      kill(child.pid, SIGKILL);
      Wait(child, 10s);
    }
    // A kill before the schema was created leaves a file without tables.
    if (!fault::WaitForRows(db, "SELECT count(*) = 4 FROM runs WHERE status = 'finished'",
                            0ms)) {
      ++interrupted_trials;
    }
    auto rerun = RunCli(RunArgs(spec, db));
    INFO("trial " << trial << "\n" << ReadFile(log) << rerun.output);
    REQUIRE(rerun.status == 0);
    CheckComplete(db);
    // Training is deterministic per seed with one thread, so a resumed run
    // ends with the same loss as the clean run.
    CHECK(FinalLosses(db) == reference);
  }
  // Most kills land before the grid ends; a few may land after it.
  CHECK(interrupted_trials >= 5);
}

TEST_CASE("timed out run stored and skipped") {
  TempDir dir;
  nlohmann::json spec_json = nlohmann::json::parse(fault::kGridSpec);
  spec_json["training"]["steps"] = 100000000;
  spec_json["training"]["max_seconds"] = 0.3;
  spec_json["grid"]["product"] = {{"task.scale_ratio", {2}}};
  std::string spec = dir.Write("timed.json", spec_json.dump());
  std::string db = dir.File("results.sqlite");

  auto first = RunCli(RunArgs(spec, db));
  INFO(first.output);
  REQUIRE(first.status == 0);
  CHECK_THAT(first.output, Catch::Contains("timed_out: wall time"));
  CHECK(Db(db).Text("SELECT status FROM runs") == "timed_out");
  CHECK_THAT(Db(db).Text("SELECT message FROM runs"), Catch::Contains("limit of 0.3 s"));
  CHECK(Db(db).Int("SELECT steps FROM runs") > 0);

  auto second = RunCli(RunArgs(spec, db));
  CHECK_THAT(second.output, Catch::Contains("0 runs to train (1 already ended)"));
  auto retry = RunCli(RunArgs(spec, db) + " --retry-failed");
  CHECK_THAT(retry.output, Catch::Contains("1 runs to train"));
  CHECK(Db(db).Int("SELECT attempts FROM runs") == 2);
}

// The fault grid with 2000 steps per run: long enough to signal a running
// run, short enough to resume to completion.
std::string WriteLongerSpec(const TempDir& dir) {
  nlohmann::json spec = nlohmann::json::parse(fault::kGridSpec);
  spec["training"]["steps"] = 2000;
  spec["training"]["eval_every"] = 500;
  return dir.Write("longer.json", spec.dump());
}

TEST_CASE("SIGINT and SIGTERM interrupt then resume") {
  TempDir dir;
  std::string spec = WriteLongerSpec(dir);
  for (int signal_number : {SIGINT, SIGTERM}) {
    INFO("signal " << signal_number);
    std::string db = dir.File("signal" + std::to_string(signal_number) + ".sqlite");
    std::string log = dir.File("signal" + std::to_string(signal_number) + ".log");
    Child child = Spawn(RunArgv(spec, db), log);
    REQUIRE(fault::WaitForRows(db, "SELECT count(*) FROM runs WHERE status = 'running'",
                               20s));
    kill(child.pid, signal_number);
    int status = Wait(child, 20s);
    INFO(ReadFile(log));
    CHECK(status == 128 + signal_number);

    Db check(db);
    CHECK(check.Text("PRAGMA integrity_check") == "ok");
    CHECK(check.Int("SELECT count(*) FROM runs WHERE status = 'running'") == 0);
    CHECK(check.Int("SELECT count(*) FROM runs WHERE status = 'interrupted'") >= 1);
    CHECK(check.Int("SELECT count(*) FROM runs WHERE status IN "
                    "('interrupted', 'finished', 'pending')") == 4);
    CHECK_THAT(check.Text("SELECT message FROM runs WHERE status = 'interrupted'"),
               Catch::Contains("interrupted after"));

    auto rerun = RunCli(RunArgs(spec, db));
    INFO(rerun.output);
    REQUIRE(rerun.status == 0);
    CheckComplete(db, "500,1000,1500,2000");
  }
}

TEST_CASE("second SIGINT exits at once") {
  TempDir dir;
  std::string spec = WriteLongerSpec(dir);
  std::string db = dir.File("results.sqlite");
  std::string log = dir.File("run.log");

  Child child = Spawn(RunArgv(spec, db), log);
  REQUIRE(
      fault::WaitForRows(db, "SELECT count(*) FROM runs WHERE status = 'running'", 20s));
  kill(child.pid, SIGINT);
  // The handler prints its notice before the workers stop; signal again then.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (ReadFile(log).find("press Ctrl-C again") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  kill(child.pid, SIGINT);
  auto start = std::chrono::steady_clock::now();
  int status = Wait(child, 10s);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO(ReadFile(log));
  CHECK(status == 130);
  CHECK(seconds < 2.0);
  CHECK(Db(db).Text("PRAGMA integrity_check") == "ok");

  // Runs left running by the immediate exit belong to a dead process, so the
  // next invocation requeues them at once and completes the grid.
  auto rerun = RunCli(RunArgs(spec, db));
  INFO(rerun.output);
  REQUIRE(rerun.status == 0);
  CheckComplete(db, "500,1000,1500,2000");
}

TEST_CASE("dead worker run requeued at once") {
  TempDir dir;
  std::string spec = dir.Write("fault.json", fault::kGridSpec);
  std::string db = dir.File("results.sqlite");
  REQUIRE(RunCli(RunArgs(spec, db)).status == 0);

  // Run 1 looks like kill -9 hit it a second ago on this host.
  std::string boot_id = ReadFile("/proc/sys/kernel/random/boot_id");
  boot_id.erase(boot_id.find_last_not_of("\n") + 1);
  std::string token = HostName() + "/" + boot_id + "/" + std::to_string(DeadPid()) + "/1";
  Exec(db,
       "UPDATE runs SET status = 'running', attempts = 1, heartbeat_at = "
       "unixepoch('now'), worker = '" +
           token + "' WHERE run_id = 1");

  auto rerun = RunCli(RunArgs(spec, db));
  INFO(rerun.output);
  REQUIRE(rerun.status == 0);
  CHECK_THAT(rerun.output, Catch::Contains("exited without finishing it"));
  CHECK(Db(db).Text("SELECT status FROM runs WHERE run_id = 1") == "finished");
  CHECK(Db(db).Int("SELECT attempts FROM runs WHERE run_id = 1") == 2);
  CheckComplete(db);
}

TEST_CASE("dead worker at max attempts fails") {
  TempDir dir;
  std::string spec = dir.Write("fault.json", fault::kGridSpec);
  std::string db = dir.File("results.sqlite");
  REQUIRE(RunCli(RunArgs(spec, db)).status == 0);
  std::string boot_id = ReadFile("/proc/sys/kernel/random/boot_id");
  boot_id.erase(boot_id.find_last_not_of("\n") + 1);
  std::string token = HostName() + "/" + boot_id + "/" + std::to_string(DeadPid()) + "/1";
  Exec(db, "UPDATE runs SET status = 'running', attempts = 3, worker = '" + token +
               "' WHERE run_id = 2");

  auto rerun = RunCli(RunArgs(spec, db) + " --max-attempts 3");
  INFO(rerun.output);
  REQUIRE(rerun.status == 0);
  CHECK(Db(db).Text("SELECT status FROM runs WHERE run_id = 2") == "failed");
  CHECK_THAT(Db(db).Text("SELECT message FROM runs WHERE run_id = 2"),
             Catch::Contains("on attempt 3 of 3"));

  auto retry = RunCli(RunArgs(spec, db) + " --retry-failed");
  INFO(retry.output);
  REQUIRE(retry.status == 0);
  CHECK(Db(db).Text("SELECT status FROM runs WHERE run_id = 2") == "finished");
  CheckComplete(db);
}

TEST_CASE("other host run requeued when stale") {
  TempDir dir;
  std::string spec = dir.Write("fault.json", fault::kGridSpec);
  std::string db = dir.File("results.sqlite");
  REQUIRE(RunCli(RunArgs(spec, db)).status == 0);
  // Run 1's worker on another host went silent 2 minutes ago; run 2's is alive.
  Exec(db,
       "UPDATE runs SET status = 'running', attempts = 1, heartbeat_at = "
       "unixepoch('now') - 120, worker = 'node7/abc/4242/99' WHERE run_id = 1; "
       "UPDATE runs SET status = 'running', attempts = 1, heartbeat_at = "
       "unixepoch('now'), worker = 'node7/abc/4243/99' WHERE run_id = 2");

  auto status = RunCli("status --db " + db + " --format json");
  INFO(status.output);
  REQUIRE(status.status == 0);
  nlohmann::json report = nlohmann::json::parse(status.output);
  REQUIRE(report["stale_runs"].size() == 1);
  CHECK(report["stale_runs"][0]["run_id"] == 1);

  auto rerun = RunCli(RunArgs(spec, db) + " --stale-seconds 60");
  INFO(rerun.output);
  REQUIRE(rerun.status == 0);
  CHECK(Db(db).Text("SELECT status FROM runs WHERE run_id = 1") == "finished");
  CHECK(Db(db).Text("SELECT status FROM runs WHERE run_id = 2") == "running");
}

TEST_CASE("live worker runs left alone") {
  TempDir dir;
  nlohmann::json long_spec = nlohmann::json::parse(fault::kGridSpec);
  long_spec["training"]["steps"] = 200000;
  long_spec["training"]["eval_every"] = 50000;
  std::string spec = dir.Write("long.json", long_spec.dump());
  std::string db = dir.File("results.sqlite");

  Child first = Spawn({"run", spec, "--db", db, "--jobs", "1"}, dir.File("first.log"));
  REQUIRE(
      fault::WaitForRows(db, "SELECT count(*) FROM runs WHERE status = 'running'", 20s));
  // --stale-seconds 0 would requeue any run judged by heartbeat age; the
  // first worker is alive on this host, so its run must stay claimed.
  Child third = Spawn({"run", spec, "--db", db, "--jobs", "1", "--stale-seconds", "0"},
                      dir.File("third.log"));
  REQUIRE(fault::WaitForRows(db, "SELECT count(*) - 1 FROM runs WHERE status = 'running'",
                             20s));
  CHECK(Db(db).Int("SELECT max(attempts) FROM runs") == 1);
  kill(first.pid, SIGTERM);
  kill(third.pid, SIGTERM);
  CHECK(Wait(first, 20s) == 143);
  CHECK(Wait(third, 20s) == 143);
  CHECK(Db(db).Int("SELECT count(*) FROM runs WHERE status = 'interrupted'") == 2);
  CHECK(Db(db).Text("PRAGMA integrity_check") == "ok");
}
