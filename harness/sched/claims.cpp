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

std::vector<RunningRun> ListRunning(Store& store, int64_t experiment_id) {
  Statement select(store.handle(),
                   "SELECT run_id, config_hash, coalesce(worker, ''), "
                   "coalesce(heartbeat_at, started_at, 0), attempts FROM runs "
                   "WHERE experiment_id = ? AND status = 'running'");
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
  return store.ClaimRun(run_id, worker.host, version, worker.Token());
}

RequeueCounts RequeueDeadRuns(Store& store, int64_t experiment_id, double stale_seconds,
                              int max_attempts) {
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
