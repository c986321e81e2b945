#include "sched/claims.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <vector>

#include "store/statement.h"

namespace scalelock {
namespace {

struct RunningRun {
  int64_t run_id = 0;
  std::string config_hash;
  std::string worker;
  double last_seen = 0.0;  // heartbeat_at, else started_at; Unix seconds
  int64_t attempts = 0;
};

// TODO: move runs' worker token into the versioned schema (store/schema.cpp)
// as a runs column; until then this table is created on first use.
void EnsureWorkerTable(Store& store) {
  ExecSql(store.handle(),
          "CREATE TABLE IF NOT EXISTS run_workers("
          "run_id INTEGER PRIMARY KEY REFERENCES runs(run_id) ON DELETE CASCADE, "
          "worker TEXT NOT NULL)");
}

std::vector<RunningRun> ListRunning(Store& store, int64_t experiment_id) {
  Statement select(store.handle(),
                   "SELECT r.run_id, r.config_hash, coalesce(w.worker, ''), "
                   "coalesce(r.heartbeat_at, r.started_at, 0), r.attempts FROM runs r "
                   "LEFT JOIN run_workers w USING (run_id) "
                   "WHERE r.experiment_id = ? AND r.status = 'running'");
  select.Bind(1, experiment_id);
  std::vector<RunningRun> runs;
  while (select.Step()) {
    runs.push_back({select.ColumnInt(0), select.ColumnText(1), select.ColumnText(2),
                    select.ColumnDouble(3), select.ColumnInt(4)});
  }
  return runs;
}

}  // namespace

bool ClaimRunForWorker(Store& store, int64_t run_id, const WorkerIdentity& worker,
                       const std::string& version) {
  EnsureWorkerTable(store);
  if (!store.ClaimRun(run_id, worker.host, version)) return false;
  Statement record(store.handle(),
                   "INSERT INTO run_workers(run_id, worker) VALUES (?, ?) "
                   "ON CONFLICT(run_id) DO UPDATE SET worker = excluded.worker");
  record.Bind(1, run_id).Bind(2, worker.Token()).Run();
  return true;
}

RequeueCounts RequeueDeadRuns(Store& store, int64_t experiment_id, double stale_seconds,
                              int max_attempts) {
  EnsureWorkerTable(store);
  Statement requeue(
      store.handle(),
      "UPDATE runs SET status = 'pending', heartbeat_at = NULL, message = ? "
      "WHERE run_id = ? AND status = 'running'");
  Statement give_up(store.handle(),
                    "UPDATE runs SET status = 'failed', message = ?, finished_at = ? "
                    "WHERE run_id = ? AND status = 'running'");
  RequeueCounts counts;
  double now = UnixNow();
  for (const RunningRun& run : ListRunning(store, experiment_id)) {
    WorkerLiveness liveness = CheckWorker(run.worker);
    double age = now - run.last_seen;
    if (liveness == WorkerLiveness::kAlive) continue;
    if (liveness == WorkerLiveness::kUnknown && age <= stale_seconds) continue;

    std::string why =
        liveness == WorkerLiveness::kDead
            ? fmt::format("worker {} exited without finishing it", run.worker)
            : fmt::format("worker {} sent no heartbeat for {:.0f} s",
                          run.worker.empty() ? "(unknown)" : run.worker, age);
    if (run.attempts >= max_attempts) {
      std::string message = fmt::format(
          "{} on attempt {} of {}; not retried (run again with --retry-failed, or raise "
          "--max-attempts)",
          why, run.attempts, max_attempts);
      give_up.Bind(1, message).Bind(2, now).Bind(3, run.run_id).Run();
      give_up.Reset();
      spdlog::warn("run {} ({}) failed: {}", run.run_id, run.config_hash, message);
      ++counts.failed;
    } else {
      std::string message = fmt::format("requeued: {} on attempt {}", why, run.attempts);
      requeue.Bind(1, message).Bind(2, run.run_id).Run();
      requeue.Reset();
      spdlog::info("run {} ({}) {}", run.run_id, run.config_hash, message);
      ++counts.requeued;
    }
  }
  return counts;
}

}  // namespace scalelock
