// Progress of experiments: run counts by status and runs whose worker stopped
// sending heartbeats.
#pragma once

#include <string>

#include "report/query.h"

struct sqlite3;

namespace scalelock {

// A running run whose heartbeat_at (or started_at) is older than this is
// reported as stale: its worker most likely died.
inline constexpr double kStaleAfterSeconds = 60.0;

struct StatusReport {
  // One row per experiment: experiment, total, then one count per status.
  // "running" counts live runs only; "stale" counts running runs past the limit.
  QueryResult counts;
  // One row per stale run: run_id, experiment, family, host, worker, attempts,
  // heartbeat_age_s (seconds), state (always "stale").
  QueryResult stale_runs;
  double stale_after_seconds = kStaleAfterSeconds;  // limit used for stale_runs
};

// Collects the report for every experiment, or only the one named (empty for
// all); an unknown name raises Error(kNotFound). now is Unix seconds.
StatusReport CollectStatus(sqlite3* db, const std::string& experiment, double now,
                           double stale_after_seconds = kStaleAfterSeconds);

// table and csv print the counts, then the stale runs after a blank line when
// there are any; json prints {"experiments": [...], "stale_runs": [...]}.
std::string FormatStatus(const StatusReport& report, const std::string& format);

}  // namespace scalelock
