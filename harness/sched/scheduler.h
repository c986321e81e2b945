// Scheduler: runs the pending runs of expanded experiments on a TBB arena
// and stores every result through one StoreWriter.
//
// Every run config is summarised (parameters, FLOPs, RF) before the database
// is opened, so an invalid model writes nothing. Runs already finished, failed,
// diverged or timed out are skipped. Interrupted runs and runs whose worker
// died are requeued, up to max_attempts claims per run. A dead process on this
// host is detected at once, a worker elsewhere by its stale heartbeat
// (sched/claims.h). Runs start
// longest first by training FLOPs. `jobs` runs train at once, each with
// `threads_per_run` OpenMP threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "spec/spec.h"

namespace scalelock {

struct SchedulerOptions {
  std::string database;       // path of the results database
  int jobs = 0;               // concurrent runs; 0 = usable cores / threads_per_run
  int threads_per_run = 1;    // OpenMP threads per run
  bool retry_failed = false;  // requeue failed, diverged and timed-out runs
  double stale_seconds =
      60.0;              // heartbeat age after which another host's run is requeued
  int max_attempts = 3;  // claims per run before a dead worker's run is failed
  int shard_index = 0;   // this process runs the runs i with i % count == index
  int shard_count = 1;
  bool dry_run = false;  // plan and print, but train nothing
};

struct GridSummary {
  int64_t total = 0;    // runs in the grid (this shard)
  int64_t skipped = 0;  // already ended before this invocation
  int64_t finished = 0;
  int64_t failed = 0;  // failed, diverged or timed out in this invocation
  int64_t interrupted = 0;
  double seconds = 0.0;
};

// Number of CPUs this process may use (its affinity mask, as Slurm sets it).
int UsableCores();

// Runs the grid. Throws Error for invalid options or a store failure; a run
// that fails is stored as failed and the others continue.
GridSummary RunGrid(const std::vector<Experiment>& experiments,
                    const SchedulerOptions& options);

}  // namespace scalelock
