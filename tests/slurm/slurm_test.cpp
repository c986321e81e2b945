// A real one-node Slurm cluster (scripts/slurm-cluster.sh): `scalelock slurm
// --submit` runs a grid as job arrays plus a merge job, and the merged
// database must equal a local run of the same spec. Skipped, with a warning,
// where the daemons cannot start (e.g. not root, or slurm-wlm missing).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <map>
#include <regex>

#include "fault/fault_support.h"

using fault::Db;
using scalelock_test::ReadFile;
using scalelock_test::RunCli;
using scalelock_test::TempDir;
using namespace std::chrono_literals;

namespace {

// Runs a shell command and returns its exit status and output.
scalelock_test::CommandResult Shell(const std::string& command) {
  scalelock_test::CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[512];
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr)
    result.output += buffer;
  int raw = pclose(pipe);
  result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
  return result;
}

// Starts the cluster in the constructor and stops it in the destructor.
class Cluster {
 public:
  explicit Cluster(const std::string& dir)
      : script_(std::string(SCALELOCK_SOURCE_DIR) + "/scripts/slurm-cluster.sh"),
        dir_(dir) {
    auto start = Shell(script_ + " start " + dir_);
    started_ = start.status == 0;
    output_ = start.output;
    if (started_) setenv("SLURM_CONF", (dir_ + "/slurm.conf").c_str(), 1);
  }
  ~Cluster() {
    Shell(script_ + " stop " + dir_);
    unsetenv("SLURM_CONF");
  }
  bool started() const { return started_; }
  const std::string& output() const { return output_; }

 private:
  std::string script_;
  std::string dir_;
  bool started_ = false;
  std::string output_;
};

std::map<std::string, double> FinalLosses(const std::string& db) {
  std::map<std::string, double> losses;
  for (const auto& row : Db(db).Rows("SELECT config_hash, final_eval_loss FROM runs")) {
    losses[row[0]] = std::stod(row[1]);
  }
  return losses;
}

// Waits until the cluster has no jobs left; false on timeout.
bool WaitForQueueEmpty(std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto queue = Shell("squeue -h -o %i");
    if (queue.status == 0 && queue.output.find_first_not_of(" \n") == std::string::npos) {
      return true;
    }
    std::this_thread::sleep_for(500ms);
  }
  return false;
}

}  // namespace

TEST_CASE("slurm array merge equals local run") {
  TempDir dir;
  Cluster cluster(dir.File("cluster"));
  if (!cluster.started()) {
    WARN("skipped: the one-node Slurm cluster did not start:\n" << cluster.output());
    return;
  }
  std::string spec = dir.Write("grid.json", fault::kGridSpec);
  std::string local = dir.File("local.sqlite");
  auto local_run =
      RunCli("run " + spec + " --db " + local + " --jobs 1 --threads-per-run 1");
  INFO(local_run.output);
  REQUIRE(local_run.status == 0);

  // MaxArraySize 3 splits the 4 shards into two arrays, as a large grid would.
  std::string merged = dir.File("merged.sqlite");
  std::string shards = dir.File("shards");
  auto submit = RunCli("slurm " + spec + " --db " + merged + " --db-dir " + shards +
                       " --shards 4 --throttle 2 --time 00:05:00 --max-array-size 3 "
                       "--submit");
  INFO(submit.output);
  REQUIRE(submit.status == 0);
  CHECK_THAT(submit.output, Catch::Contains("shards 0-2 of 4"));
  CHECK_THAT(submit.output, Catch::Contains("shards 3-3 of 4"));
  CHECK_THAT(submit.output, Catch::Contains("submitted merge job"));

  REQUIRE(WaitForQueueEmpty(90s));
  std::string logs;
  for (const auto& entry : std::filesystem::directory_iterator(shards + "/logs")) {
    logs += entry.path().string() + ":\n" + ReadFile(entry.path().string());
  }
  INFO(logs);
  CHECK_THAT(logs, Catch::Contains("complete: all 4 runs of the grid have ended"));
  for (int shard = 0; shard < 4; ++shard) {
    CHECK(
        std::filesystem::exists(shards + "/shard-" + std::to_string(shard) + ".sqlite"));
  }

  REQUIRE(std::filesystem::exists(merged));
  Db check(merged);
  CHECK(check.Text("PRAGMA integrity_check") == "ok");
  CHECK(check.Int("SELECT count(*) FROM runs WHERE status = 'finished'") == 4);
  CHECK(check.Int("SELECT count(*) FROM metrics") ==
        Db(local).Int("SELECT count(*) FROM metrics"));
  std::map<std::string, double> expected = FinalLosses(local);
  std::map<std::string, double> actual = FinalLosses(merged);
  REQUIRE(actual.size() == expected.size());
  for (const auto& [hash, loss] : expected) {
    INFO("config " << hash);
    REQUIRE(actual.count(hash) == 1);
    // One OpenMP thread per run makes training deterministic per seed.
    CHECK(std::abs(actual[hash] - loss) <= 1e-9 * std::max(1.0, std::abs(loss)));
  }

  // A second merge of the same shards changes nothing.
  auto again = RunCli("merge " + merged + " " + shards + "/shard-0.sqlite " + shards +
                      "/shard-1.sqlite " + shards + "/shard-2.sqlite " + shards +
                      "/shard-3.sqlite");
  INFO(again.output);
  CHECK(again.status == 0);
  CHECK_THAT(again.output, Catch::Contains("0 new, 0 replaced"));
  CHECK(Db(merged).Int("SELECT count(*) FROM runs") == 4);
}
