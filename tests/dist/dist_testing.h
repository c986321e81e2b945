// Helpers for the dist tests: temporary folders and shard databases written
// through the real Store.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "store/statement.h"
#include "store/store.h"

namespace dist_testing {

class TempDir {
 public:
  TempDir() {
    std::random_device device;
    path_ =
        std::filesystem::temp_directory_path() /
        ("scalelock_dist_" + std::to_string(getpid()) + "_" + std::to_string(device()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string File(const std::string& name) const { return (path_ / name).string(); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

inline std::string ReadBytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file),
                     std::istreambuf_iterator<char>());
}

inline scalelock::RunRecord Record(const std::string& hash, int64_t seed) {
  scalelock::RunRecord record;
  record.config_hash = hash;
  record.config = {{"seed", seed}};
  record.family = "plain";
  record.task = "multiscale1d";
  record.width = 4;
  record.depth = 2;
  record.kernel = 3;
  record.receptive_field = 5;
  record.params = 100;
  record.flops = 1e6;
  record.train_samples = 160;
  record.seed = seed;
  record.lambda_min = 2;
  record.lambda_max = 4;
  return record;
}

// One run to write into a shard: its hash, the status it ends in, and the
// final eval loss. Ended runs get eval_loss at steps 10 and 20 and a
// "trained" ERF row whose radius95 is 2 + loss.
struct ShardRun {
  std::string hash;
  scalelock::RunStatus status = scalelock::RunStatus::kFinished;
  double loss = 0.5;
};

// Writes a shard database with one experiment and the given runs.
inline void WriteShard(const std::string& path, const std::string& experiment,
                       const std::vector<ShardRun>& runs) {
  using scalelock::RunStatus;
  auto store = scalelock::Store::Open(path, scalelock::Store::Mode::kReadWrite);
  int64_t experiment_id = store->EnsureExperiment(experiment, {{"name", experiment}});
  std::vector<scalelock::RunRecord> records;
  for (size_t i = 0; i < runs.size(); ++i) {
    records.push_back(Record(runs[i].hash, static_cast<int64_t>(i)));
  }
  std::vector<int64_t> ids = store->EnsureRuns(experiment_id, records);
  for (size_t i = 0; i < runs.size(); ++i) {
    if (runs[i].status == RunStatus::kPending) continue;
    store->ClaimRun(ids[i], "node1", "test");
    if (runs[i].status == RunStatus::kRunning) continue;
    store->WriteMetrics(
        ids[i], {{"eval_loss", 10, runs[i].loss + 1.0}, {"eval_loss", 20, runs[i].loss}});
    store->WriteErf(ids[i], "trained", 1.0, 2.0 + runs[i].loss, 0.5);
    scalelock::RunResult result;
    result.status = runs[i].status;
    result.steps = 20;
    result.final_eval_loss = runs[i].loss;
    result.message = scalelock::RunStatusName(runs[i].status);
    store->FinishRun(ids[i], result);
  }
}

// Runs a one-value query on a database file.
inline std::string QueryText(const std::string& path, const std::string& sql) {
  auto store = scalelock::Store::Open(path, scalelock::Store::Mode::kReadOnly);
  scalelock::Statement statement(store->handle(), sql);
  if (!statement.Step()) return "";
  return statement.IsNull(0) ? "NULL" : statement.ColumnText(0);
}

inline int64_t QueryInt(const std::string& path, const std::string& sql) {
  return std::stoll(QueryText(path, sql));
}

}  // namespace dist_testing
