#include "dist/merge.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <set>

#include "store/schema.h"
#include "store/statement.h"
#include "store/store.h"
#include "util/error.h"

namespace scalelock {
namespace {

namespace fs = std::filesystem;

// Status order used to decide which copy of a run to keep; higher wins.
constexpr const char* kRankShard =
    "CASE s.status WHEN 'finished' THEN 4 WHEN 'diverged' THEN 3 WHEN 'timed_out' THEN 3 "
    "WHEN 'failed' THEN 2 WHEN 'interrupted' THEN 1 WHEN 'running' THEN 1 ELSE 0 END";
constexpr const char* kRankOutput =
    "CASE m.status WHEN 'finished' THEN 4 WHEN 'diverged' THEN 3 WHEN 'timed_out' THEN 3 "
    "WHEN 'failed' THEN 2 WHEN 'interrupted' THEN 1 WHEN 'running' THEN 1 ELSE 0 END";

bool IsComplete(const std::string& status) {
  return status == "finished" || status == "diverged" || status == "timed_out";
}

// A read-only SQLite URI for path; characters with a meaning in URIs are
// percent-encoded.
std::string ReadOnlyUri(const std::string& path) {
  std::string absolute = fs::absolute(path).lexically_normal().string();
  std::string uri = "file:";
  for (unsigned char c : absolute) {
    if (std::isalnum(c) || std::string("/-._~").find(c) != std::string::npos) {
      uri += static_cast<char>(c);
    } else {
      uri += fmt::format("%{:02X}", c);
    }
  }
  return uri + "?mode=ro";
}

// Attaches a shard as schema "shard" for the lifetime of the object.
class AttachedShard {
 public:
  AttachedShard(sqlite3* db, const std::string& path) : db_(db) {
    Statement attach(db_, "ATTACH DATABASE ? AS shard");
    attach.Bind(1, ReadOnlyUri(path));
    try {
      attach.Run();
    } catch (const Error& error) {
      Fail(ErrorCode::kDatabase,
           "shard '{}' is not an SQLite database or cannot be read ({}); pass only the "
           "shard-*.sqlite files written by `scalelock run --shard`",
           path, error.what());
    }
    attached_ = true;
    if (sqlite3_db_readonly(db_, "shard") != 1) {
      Fail(ErrorCode::kInternal,
           "shard '{}' was attached writable: this SQLite build ignores URI file names",
           path);
    }
  }
  ~AttachedShard() {
    if (attached_) sqlite3_exec(db_, "DETACH DATABASE shard", nullptr, nullptr, nullptr);
  }

 private:
  sqlite3* db_;
  bool attached_ = false;
};

// Checks that the attached shard is an intact scalelock database this build reads.
void CheckShard(sqlite3* db, const std::string& path) {
  Statement tables(db,
                   "SELECT count(*) FROM shard.sqlite_master WHERE type = 'table' AND "
                   "name IN ('meta', 'experiments', 'runs', 'metrics')");
  tables.Step();
  if (tables.ColumnInt(0) != 4) {
    Fail(ErrorCode::kDatabase,
         "shard '{}' is not a scalelock results database (tables meta, experiments, runs "
         "and metrics expected); pass only the shard-*.sqlite files written by "
         "`scalelock run --shard`",
         path);
  }
  Statement version(db, "SELECT value FROM shard.meta WHERE key = 'schema_version'");
  std::string text = version.Step() ? version.ColumnText(0) : "";
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos ||
      std::stoll(text) > kSchemaVersion) {
    Fail(ErrorCode::kDatabase,
         "shard '{}' has schema version '{}', expected at most {}; merge it with the "
         "scalelock version that wrote it",
         path, text, kSchemaVersion);
  }
  Statement check(db, "PRAGMA shard.quick_check");
  std::string problems;
  while (check.Step()) {
    if (check.ColumnText(0) != "ok")
      problems += (problems.empty() ? "" : "; ") + check.ColumnText(0);
  }
  if (!problems.empty()) {
    Fail(ErrorCode::kDatabase,
         "shard '{}' failed PRAGMA quick_check ({}); rerun its array task to rewrite it",
         path, problems);
  }
}

std::vector<std::string> ColumnNames(sqlite3* db, const std::string& schema,
                                     const std::string& table) {
  Statement info(db, "SELECT name FROM pragma_table_info(?, ?)");
  info.Bind(1, table).Bind(2, schema);
  std::vector<std::string> names;
  while (info.Step())
    names.push_back(info.ColumnText(0));
  return names;
}

// Columns of table that both files have, except run_id and experiment_id,
// which the output assigns. Empty when either file lacks the table.
std::string SharedColumns(sqlite3* db, const std::string& table,
                          const std::string& prefix) {
  std::vector<std::string> shard = ColumnNames(db, "shard", table);
  std::string list;
  for (const std::string& name : ColumnNames(db, "main", table)) {
    if (name == "run_id" || name == "experiment_id") continue;
    if (std::find(shard.begin(), shard.end(), name) == shard.end()) continue;
    if (!list.empty()) list += ", ";
    list += prefix + "\"" + name + "\"";
  }
  return list;
}

std::string SharedRunColumns(sqlite3* db, const std::string& prefix) {
  return SharedColumns(db, "runs", prefix);
}

void CountShardRuns(sqlite3* db, ShardCounts* counts) {
  Statement select(db, "SELECT status, count(*) FROM shard.runs GROUP BY status");
  while (select.Step()) {
    std::string status = select.ColumnText(0);
    int64_t n = select.ColumnInt(1);
    if (status == "finished") {
      counts->finished += n;
    } else if (status == "diverged" || status == "timed_out") {
      counts->ended_early += n;
    } else if (status == "failed") {
      counts->failed += n;
    } else {
      counts->not_run += n;
    }
  }
}

// Pairs every shard run with its output run and the action to take.
void PlanPairs(sqlite3* db) {
  ExecSql(db,
          "DROP TABLE IF EXISTS temp.merge_pairs; "
          "CREATE TEMP TABLE merge_pairs(shard_run INTEGER PRIMARY KEY, "
          "out_experiment INTEGER NOT NULL, out_run INTEGER, action TEXT NOT NULL)");
  ExecSql(db,
          fmt::format("INSERT INTO temp.merge_pairs "
                      "SELECT s.run_id, me.experiment_id, m.run_id, "
                      "CASE WHEN m.run_id IS NULL THEN 'insert' "
                      "WHEN {} > {} THEN 'replace' ELSE 'keep' END "
                      "FROM shard.runs s "
                      "JOIN shard.experiments se ON se.experiment_id = s.experiment_id "
                      "JOIN main.experiments me ON me.name = se.name "
                      "LEFT JOIN main.runs m ON m.experiment_id = me.experiment_id "
                      "AND m.config_hash = s.config_hash",
                      kRankShard, kRankOutput));
}

int64_t CountAction(sqlite3* db, const char* action) {
  Statement count(db, "SELECT count(*) FROM temp.merge_pairs WHERE action = ?");
  count.Bind(1, std::string(action)).Step();
  return count.ColumnInt(0);
}

void ReplaceRuns(sqlite3* db) {
  std::string columns = SharedRunColumns(db, "");
  Statement replace(
      db, fmt::format("UPDATE main.runs SET ({0}) = (SELECT {0} FROM shard.runs "
                      "WHERE shard.runs.run_id = ?1) WHERE main.runs.run_id = ?2",
                      columns));
  Statement pairs(
      db, "SELECT shard_run, out_run FROM temp.merge_pairs WHERE action = 'replace'");
  while (pairs.Step()) {
    replace.Bind(1, pairs.ColumnInt(0)).Bind(2, pairs.ColumnInt(1)).Run();
    replace.Reset();
  }
}

void InsertRuns(sqlite3* db) {
  ExecSql(db, fmt::format("INSERT INTO main.runs(experiment_id, {}) "
                          "SELECT p.out_experiment, {} FROM shard.runs s "
                          "JOIN temp.merge_pairs p ON p.shard_run = s.run_id "
                          "WHERE p.action = 'insert'",
                          SharedRunColumns(db, ""), SharedRunColumns(db, "s.")));
  ExecSql(db,
          "UPDATE temp.merge_pairs SET out_run = ("
          "SELECT m.run_id FROM main.runs m JOIN shard.runs s "
          "ON s.config_hash = m.config_hash "
          "WHERE m.experiment_id = merge_pairs.out_experiment "
          "AND s.run_id = merge_pairs.shard_run) WHERE action = 'insert'");
}

// Tables with one or more rows per run, keyed by run_id.
constexpr const char* kRunTables[] = {"metrics", "run_erf"};

// Copies the per-run rows of inserted and replaced runs. A replaced run loses
// its old rows first, so no step of an older attempt remains.
void CopyRunRows(sqlite3* db) {
  for (const char* table : kRunTables) {
    std::string columns = SharedColumns(db, table, "");
    if (columns.empty()) continue;
    ExecSql(db,
            fmt::format("DELETE FROM main.\"{}\" WHERE run_id IN "
                        "(SELECT out_run FROM temp.merge_pairs WHERE action = 'replace')",
                        table));
    ExecSql(db, fmt::format("INSERT OR REPLACE INTO main.\"{0}\"(run_id, {1}) "
                            "SELECT p.out_run, {2} FROM shard.\"{0}\" x "
                            "JOIN temp.merge_pairs p ON p.shard_run = x.run_id "
                            "WHERE p.action IN ('insert', 'replace')",
                            table, columns, SharedColumns(db, table, "x.")));
  }
}

// Copies one attached shard into the output inside one transaction.
void MergeOne(Store& store, ShardCounts* counts) {
  sqlite3* db = store.handle();
  store.Begin();
  try {
    ExecSql(db,
            "INSERT INTO main.experiments(name, spec_json, created_at) "
            "SELECT name, spec_json, created_at FROM shard.experiments WHERE true "
            "ON CONFLICT(name) DO NOTHING");
    PlanPairs(db);
    counts->inserted = CountAction(db, "insert");
    counts->replaced = CountAction(db, "replace");
    ReplaceRuns(db);
    InsertRuns(db);
    CopyRunRows(db);
    ExecSql(db, "DROP TABLE temp.merge_pairs");
    store.Commit();
  } catch (...) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

std::set<std::string> ShardExperimentNames(sqlite3* db) {
  Statement select(db, "SELECT name FROM shard.experiments");
  std::set<std::string> names;
  while (select.Step())
    names.insert(select.ColumnText(0));
  return names;
}

void CheckDistinct(const std::string& output, const std::vector<std::string>& shards) {
  std::set<std::string> seen;
  for (const std::string& shard : shards) {
    std::error_code error;
    if (!fs::is_regular_file(shard, error)) {
      Fail(ErrorCode::kNotFound,
           "shard database '{}' not found; check the path (its array task may not have "
           "run)",
           shard);
    }
    std::string canonical = fs::weakly_canonical(shard).string();
    if (!seen.insert(canonical).second) {
      Fail(ErrorCode::kInvalidInput, "shard '{}' is listed twice; list each shard once",
           shard);
    }
    if (fs::exists(output, error) && fs::equivalent(output, shard, error)) {
      Fail(ErrorCode::kInvalidInput,
           "output '{}' is also listed as a shard; write the merge to a new file",
           output);
    }
  }
}

// Lists the grid runs the output lacks or has not ended.
void CheckCompletion(Store& store, const std::vector<Experiment>* grid,
                     const std::set<std::string>& names, MergeReport* report) {
  Statement lookup(store.handle(),
                   "SELECT r.status, r.message FROM runs r JOIN experiments e "
                   "USING (experiment_id) WHERE e.name = ? AND r.config_hash = ?");
  auto check = [&](const std::string& experiment, const std::string& hash) {
    ++report->grid_runs;
    lookup.Bind(1, experiment).Bind(2, hash);
    if (!lookup.Step()) {
      report->incomplete.push_back({experiment, hash, "missing", ""});
    } else if (!IsComplete(lookup.ColumnText(0))) {
      report->incomplete.push_back(
          {experiment, hash, lookup.ColumnText(0), lookup.ColumnText(1)});
    }
    lookup.Reset();
  };
  if (grid != nullptr) {
    for (const Experiment& experiment : *grid) {
      for (const RunConfig& run : experiment.runs)
        check(experiment.name, run.hash);
    }
    return;
  }
  Statement runs(store.handle(),
                 "SELECT e.name, r.config_hash FROM runs r JOIN experiments e "
                 "USING (experiment_id) ORDER BY r.run_id");
  std::vector<std::pair<std::string, std::string>> keys;
  while (runs.Step()) {
    if (names.count(runs.ColumnText(0)))
      keys.emplace_back(runs.ColumnText(0), runs.ColumnText(1));
  }
  for (const auto& [experiment, hash] : keys)
    check(experiment, hash);
}

// Checks every shard on a private in-memory connection, so a bad shard is
// reported before the output is created or changed.
void ValidateShards(const std::vector<std::string>& shards) {
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(":memory:", &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI,
                      nullptr) != SQLITE_OK) {
    sqlite3_close(raw);
    Fail(ErrorCode::kInternal, "cannot open an in-memory SQLite database");
  }
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> db(raw, sqlite3_close_v2);
  for (const std::string& path : shards) {
    AttachedShard attached(db.get(), path);
    CheckShard(db.get(), path);
  }
}

}  // namespace

MergeReport MergeShards(const std::string& output, const std::vector<std::string>& shards,
                        const std::vector<Experiment>* grid) {
  if (shards.empty()) {
    Fail(ErrorCode::kInvalidInput, "no shard databases given; pass DIR/shard-*.sqlite");
  }
  CheckDistinct(output, shards);
  ValidateShards(shards);
  std::unique_ptr<Store> store = Store::Open(output, Store::Mode::kReadWrite);

  MergeReport report;
  std::set<std::string> names;
  for (const std::string& path : shards) {
    ShardCounts counts;
    counts.path = path;
    try {
      AttachedShard attached(store->handle(), path);
      CheckShard(store->handle(), path);
      CountShardRuns(store->handle(), &counts);
      std::set<std::string> shard_names = ShardExperimentNames(store->handle());
      names.insert(shard_names.begin(), shard_names.end());
      MergeOne(*store, &counts);
    } catch (const Error& error) {
      if (std::string(error.what()).find(path) != std::string::npos) throw;
      throw Error(error.code(), fmt::format("merging shard '{}' into '{}': {}", path,
                                            output, error.what()));
    }
    spdlog::info("merge: {}: {} runs new, {} replaced", path, counts.inserted,
                 counts.replaced);
    report.shards.push_back(counts);
  }
  CheckCompletion(*store, grid, names, &report);
  return report;
}

std::string FormatMergeReport(const MergeReport& report) {
  std::string text;
  for (const ShardCounts& shard : report.shards) {
    text += fmt::format(
        "{}: {} finished, {} diverged or timed out, {} failed, {} not run "
        "(pending, running or interrupted); {} new, {} replaced\n",
        shard.path, shard.finished, shard.ended_early, shard.failed, shard.not_run,
        shard.inserted, shard.replaced);
  }
  if (report.incomplete.empty()) {
    text +=
        fmt::format("complete: all {} runs of the grid have ended\n", report.grid_runs);
    return text;
  }
  text += fmt::format("incomplete: {} of {} runs of the grid have not ended:\n",
                      report.incomplete.size(), report.grid_runs);
  for (const IncompleteRun& run : report.incomplete) {
    text += fmt::format("  {} {} {}{}\n", run.experiment, run.config_hash, run.status,
                        run.message.empty() ? "" : ": " + run.message);
  }
  return text;
}

}  // namespace scalelock
