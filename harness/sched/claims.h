// Claims with a recorded worker, and requeueing of runs whose worker died.
//
// Both take a Store inside a write transaction (a StoreWriter task), so the
// check and the update are atomic against other processes on the same file.
#pragma once

#include <cstdint>
#include <string>

#include "sched/worker.h"
#include "store/store.h"

namespace scalelock {

// Claims a pending run (Store::ClaimRun) with the worker's token in
// runs.worker. Returns false when the run is not pending.
bool ClaimRunForWorker(Store& store, int64_t run_id, const WorkerIdentity& worker,
                       const std::string& version);

struct RequeueCounts {
  int64_t requeued = 0;  // set back to pending
  int64_t failed = 0;    // set to failed: max_attempts reached
};

// Finds the experiment's running runs whose worker is dead: on this host and
// boot, its process is gone; elsewhere, its heartbeat is older than
// stale_seconds. A dead run with fewer than max_attempts claims goes back to
// pending; one with max_attempts or more becomes failed with a message naming
// the worker. Throws Error(kDatabase) on SQLite failure.
// NOTE: RunGrid calls this once per experiment when it starts, so a run whose
// worker dies stays running until the next `scalelock run` on the database.
RequeueCounts RequeueDeadRuns(Store& store, int64_t experiment_id, double stale_seconds,
                              int max_attempts);

}  // namespace scalelock
