#include "report/status.h"

#include <sqlite3.h>

#include "store/statement.h"
#include "util/error.h"

namespace scalelock {
namespace {

// ?1 = heartbeat cutoff (Unix seconds), ?2 = experiment name or NULL for all.
constexpr const char* kCountsSql = R"sql(
SELECT e.name AS experiment,
       count(r.run_id) AS total,
       count(r.run_id) FILTER (WHERE r.status = 'pending') AS pending,
       count(r.run_id) FILTER (WHERE r.status = 'running'
                               AND coalesce(r.heartbeat_at, r.started_at, 0) >= ?1) AS running,
       count(r.run_id) FILTER (WHERE r.status = 'running'
                               AND coalesce(r.heartbeat_at, r.started_at, 0) < ?1) AS stale,
       count(r.run_id) FILTER (WHERE r.status = 'finished') AS finished,
       count(r.run_id) FILTER (WHERE r.status = 'diverged') AS diverged,
       count(r.run_id) FILTER (WHERE r.status = 'timed_out') AS timed_out,
       count(r.run_id) FILTER (WHERE r.status = 'interrupted') AS interrupted,
       count(r.run_id) FILTER (WHERE r.status = 'failed') AS failed
FROM experiments e LEFT JOIN runs r USING (experiment_id)
WHERE ?2 IS NULL OR e.name = ?2
GROUP BY e.experiment_id
ORDER BY e.name)sql";

// ?1 = heartbeat cutoff, ?2 = experiment name or NULL, ?3 = now.
constexpr const char* kStaleSql = R"sql(
SELECT r.run_id, e.name AS experiment, r.family, r.host, r.worker, r.attempts,
       round(?3 - coalesce(r.heartbeat_at, r.started_at, 0), 1) AS heartbeat_age_s,
       'stale' AS state
FROM runs r JOIN experiments e USING (experiment_id)
WHERE r.status = 'running' AND coalesce(r.heartbeat_at, r.started_at, 0) < ?1
  AND (?2 IS NULL OR e.name = ?2)
ORDER BY e.name, r.run_id)sql";

void BindFilter(Statement& statement, double cutoff, const std::string& experiment) {
  statement.Bind(1, cutoff);
  if (experiment.empty()) {
    statement.BindNull(2);
  } else {
    statement.Bind(2, experiment);
  }
}

}  // namespace

StatusReport CollectStatus(sqlite3* db, const std::string& experiment, double now,
                           double stale_after_seconds) {
  double cutoff = now - stale_after_seconds;
  StatusReport report;
  report.stale_after_seconds = stale_after_seconds;
  Statement counts(db, kCountsSql);
  BindFilter(counts, cutoff, experiment);
  report.counts = ReadRows(counts.get(), counts.sql());
  if (!experiment.empty() && report.counts.rows.empty()) {
    Fail(ErrorCode::kNotFound,
         "experiment '{}' not found; run `scalelock status` without --experiment to list "
         "the experiments",
         experiment);
  }

  Statement stale(db, kStaleSql);
  BindFilter(stale, cutoff, experiment);
  stale.Bind(3, now);
  report.stale_runs = ReadRows(stale.get(), stale.sql());
  return report;
}

std::string FormatStatus(const StatusReport& report, const std::string& format) {
  if (format == "json") {
    nlohmann::ordered_json document;
    document["experiments"] = ToJson(report.counts);
    document["stale_runs"] = ToJson(report.stale_runs);
    return DumpJson(document);
  }
  std::string out = FormatResult(report.counts, format);
  if (report.stale_runs.rows.empty()) return out;
  if (format == "table") {
    out += fmt::format("\nstale runs (running, no heartbeat for over {:g} s):\n",
                       report.stale_after_seconds);
  } else {
    out += "\n";
  }
  return out + FormatResult(report.stale_runs, format);
}

}  // namespace scalelock
