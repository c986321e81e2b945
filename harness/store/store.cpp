#include "store/store.h"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <filesystem>
#include <utility>

#include "store/open_checks.h"
#include "store/schema.h"
#include "store/statement.h"
#include "util/error.h"

namespace scalelock {
namespace {

namespace fs = std::filesystem;

constexpr int kBusyTimeoutMs = 30000;

// A write transaction for one Store method: BEGIN IMMEDIATE at top level, or a
// savepoint inside a transaction the caller (e.g. StoreWriter) already holds.
// Rolls back unless Commit() ran.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db), nested_(!sqlite3_get_autocommit(db)) {
    ExecSql(db_, nested_ ? "SAVEPOINT store_method" : "BEGIN IMMEDIATE");
  }
  ~Transaction() {
    if (done_) return;
    // Errors are ignored: SQLite may already have rolled back on its own.
    const char* sql =
        nested_ ? "ROLLBACK TO store_method; RELEASE store_method" : "ROLLBACK";
    sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  }
  void Commit() {
    ExecSql(db_, nested_ ? "RELEASE store_method" : "COMMIT");
    done_ = true;
  }

 private:
  sqlite3* db_;
  bool nested_;
  bool done_ = false;
};

// Returns the schema version of an open file: 0 for a file without tables.
// Throws for a file with tables but no scalelock meta table.
int64_t ReadSchemaVersion(sqlite3* db, const std::string& path) {
  Statement tables(
      db,
      "SELECT count(*), count(*) FILTER (WHERE name = 'meta') FROM sqlite_master "
      "WHERE type = 'table' AND name NOT LIKE 'sqlite_%'");
  tables.Step();
  if (tables.ColumnInt(0) == 0) return 0;
  if (tables.ColumnInt(1) == 0) {
    Fail(ErrorCode::kDatabase,
         "'{}' is an SQLite database but not a scalelock results database (it has tables "
         "but no meta table); pass --db with a new path",
         path);
  }
  Statement version(db, "SELECT value FROM meta WHERE key = 'schema_version'");
  std::string text = version.Step() ? version.ColumnText(0) : "";
  try {
    size_t used = 0;
    int64_t value = std::stoll(text, &used);
    if (used == text.size() && value >= 1) return value;
  } catch (const std::exception&) {
  }
  Fail(ErrorCode::kDatabase,
       "'{}' has a meta table without a valid schema_version (found '{}'); it was not "
       "written by scalelock, so pass --db with a new path",
       path, text);
}

void RunQuickCheck(sqlite3* db, const std::string& path) {
  Statement check(db, "PRAGMA quick_check");
  std::string problems;
  while (check.Step()) {
    std::string line = check.ColumnText(0);
    if (line == "ok") continue;
    if (!problems.empty()) problems += "; ";
    problems += line;
  }
  if (!problems.empty()) {
    Fail(ErrorCode::kDatabase,
         "'{}' failed PRAGMA quick_check ({}); restore it from a backup or pass --db "
         "with a "
         "new path",
         path, problems);
  }
}

std::string QueryPragma(sqlite3* db, const std::string& sql) {
  Statement pragma(db, sql);
  return pragma.Step() ? pragma.ColumnText(0) : "";
}

void ConfigureReadOnly(sqlite3* db, const std::string& path, int64_t version) {
  if (version == 0) {
    Fail(ErrorCode::kNotFound,
         "'{}' contains no scalelock tables yet; run `scalelock run` first", path);
  }
  if (version < kSchemaVersion) {
    Fail(ErrorCode::kDatabase,
         "'{}' has schema version {}, older than this build's {}; open it once with a "
         "writing command such as `scalelock run` to migrate it",
         path, version, kSchemaVersion);
  }
  ExecSql(db, "PRAGMA query_only = 1");
}

void ConfigureReadWrite(sqlite3* db, const std::string& path, int64_t version) {
  RunQuickCheck(db, path);
  std::string journal = QueryPragma(db, "PRAGMA journal_mode = WAL");
  if (journal != "wal") {
    Fail(ErrorCode::kDatabase,
         "'{}' could not be switched to WAL journal mode (got '{}'); put it on a local "
         "file system that supports shared memory",
         path, journal);
  }
  ExecSql(db, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON");
  if (version == kSchemaVersion) return;

  // Reread under the write lock: another process may have migrated meanwhile.
  Transaction transaction(db);
  int64_t current = ReadSchemaVersion(db, path);
  if (current < kSchemaVersion) {
    spdlog::info("store: migrating '{}' from schema version {} to {}", path, current,
                 kSchemaVersion);
    MigrateSchema(db, current);
  }
  transaction.Commit();
}

const char* kInsertRun = R"sql(
INSERT INTO runs(experiment_id, config_hash, config_json, family, task, width, depth,
                 kernel, dilation, rf, effective_stride, params, flops, train_samples,
                 seed, lambda_min, lambda_max, effective_padding, depth_requirement_met)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (experiment_id, config_hash) DO NOTHING)sql";

void BindRun(Statement& insert, int64_t experiment_id, const RunRecord& record) {
  insert.Bind(1, experiment_id)
      .Bind(2, record.config_hash)
      .Bind(3, record.config.dump())
      .Bind(4, record.family)
      .Bind(5, record.task)
      .Bind(6, record.width)
      .Bind(7, record.depth)
      .Bind(8, record.kernel)
      .Bind(9, record.dilation)
      .Bind(10, record.receptive_field)
      .Bind(11, record.effective_stride)
      .Bind(12, record.params)
      .Bind(13, record.flops)
      .Bind(14, record.train_samples)
      .Bind(15, record.seed)
      .Bind(16, record.lambda_min)
      .Bind(17, record.lambda_max)
      .Bind(18, record.effective_padding);
  if (record.depth_requirement_met < 0) {
    insert.BindNull(19);
  } else {
    insert.Bind(19, static_cast<int64_t>(record.depth_requirement_met));
  }
}

void BindOptionalText(Statement& statement, int index, const std::string& text) {
  if (text.empty()) {
    statement.BindNull(index);
  } else {
    statement.Bind(index, text);
  }
}

}  // namespace

std::unique_ptr<Store> Store::Open(const std::string& path, Mode mode) {
  const bool read_only = mode == Mode::kReadOnly;

  // File-level checks first, so a foreign or remote file is never opened.
  CheckSqliteHeader(path);
  CheckLocalFileSystem(path);
  std::error_code error;
  if (read_only && !fs::exists(path, error)) {
    Fail(ErrorCode::kNotFound,
         "database '{}' not found; run `scalelock run` to create it or pass --db with an "
         "existing file",
         path);
  }
  fs::path parent = fs::path(path).parent_path();
  if (!read_only && !parent.empty() && !fs::create_directories(parent, error) && error) {
    Fail(ErrorCode::kIO, "creating folder '{}' for the database failed: {}",
         parent.string(), error.message());
  }

  sqlite3* db = nullptr;
  int flags =
      read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  std::unique_ptr<Store> store(new Store(db, path));
  if (rc != SQLITE_OK) FailSqlite(db, fmt::format("opening '{}'", path), "");
  sqlite3_busy_timeout(db, kBusyTimeoutMs);

  // Inspect before any write: version and integrity decide whether we may touch it.
  int64_t version = ReadSchemaVersion(db, path);
  if (version > kSchemaVersion) {
    Fail(ErrorCode::kDatabase,
         "'{}' has schema version {}, newer than this build's {}; upgrade scalelock to "
         "open it",
         path, version, kSchemaVersion);
  }
  // quick_check guards writes only: it reads every page, and a 67 MB file with
  // 2M metric rows took 2.1 s on a 2-core VM. Readers see SQLITE_CORRUPT anyway.
  if (read_only) {
    ConfigureReadOnly(db, path, version);
  } else {
    ConfigureReadWrite(db, path, version);
  }
  spdlog::debug("store: opened '{}' ({}, schema version {})", path,
                read_only ? "read-only" : "read-write", kSchemaVersion);
  return store;
}

Store::Store(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

Store::~Store() {
  sqlite3_close_v2(db_);
}

int64_t Store::EnsureExperiment(const std::string& name, const nlohmann::json& spec) {
  Statement upsert(
      db_,
      "INSERT INTO experiments(name, spec_json, created_at) VALUES (?, ?, ?) "
      "ON CONFLICT(name) DO UPDATE SET spec_json = excluded.spec_json "
      "RETURNING experiment_id");
  upsert.Bind(1, name).Bind(2, spec.dump()).Bind(3, UnixNow());
  if (!upsert.Step())
    FailSqlite(db_, "inserting experiment '" + name + "'", upsert.sql());
  int64_t id = upsert.ColumnInt(0);
  upsert.Run();
  return id;
}

std::vector<int64_t> Store::EnsureRuns(int64_t experiment_id,
                                       const std::vector<RunRecord>& records) {
  Transaction transaction(db_);
  Statement insert(db_, kInsertRun);
  Statement lookup(db_,
                   "SELECT run_id FROM runs WHERE experiment_id = ? AND config_hash = ?");
  std::vector<int64_t> ids;
  ids.reserve(records.size());
  int64_t created = 0;
  for (const RunRecord& record : records) {
    BindRun(insert, experiment_id, record);
    insert.Run();
    created += sqlite3_changes(db_);
    insert.Reset();
    lookup.Bind(1, experiment_id).Bind(2, record.config_hash);
    if (!lookup.Step())
      FailSqlite(db_, "looking up run " + record.config_hash, lookup.sql());
    ids.push_back(lookup.ColumnInt(0));
    lookup.Reset();
  }
  transaction.Commit();
  spdlog::debug("store: experiment {} has {} runs, {} new", experiment_id, ids.size(),
                created);
  return ids;
}

std::vector<RunState> Store::ListRuns(int64_t experiment_id) {
  Statement select(db_,
                   "SELECT run_id, config_hash, status, attempts FROM runs "
                   "WHERE experiment_id = ? ORDER BY run_id");
  select.Bind(1, experiment_id);
  std::vector<RunState> states;
  while (select.Step()) {
    RunState state;
    state.run_id = select.ColumnInt(0);
    state.config_hash = select.ColumnText(1);
    state.status = ParseRunStatus(select.ColumnText(2));
    state.attempts = select.ColumnInt(3);
    states.push_back(std::move(state));
  }
  return states;
}

bool Store::ClaimRun(int64_t run_id, const std::string& host, const std::string& version,
                     const std::string& worker) {
  Transaction transaction(db_);
  Statement claim(
      db_,
      "UPDATE runs SET status = 'running', attempts = attempts + 1, host = ?1, "
      "version = ?2, started_at = ?3, heartbeat_at = ?3, worker = ?5, message = '' "
      "WHERE run_id = ?4 AND status = 'pending'");
  double now = UnixNow();
  claim.Bind(1, host).Bind(2, version).Bind(3, now).Bind(4, run_id);
  BindOptionalText(claim, 5, worker);
  claim.Run();
  bool claimed = sqlite3_changes(db_) == 1;
  transaction.Commit();
  return claimed;
}

void Store::Heartbeat(int64_t run_id) {
  Statement beat(db_, "UPDATE runs SET heartbeat_at = ? WHERE run_id = ?");
  beat.Bind(1, UnixNow()).Bind(2, run_id).Run();
}

void Store::WriteErf(int64_t run_id, const std::string& phase, double radius50,
                     double radius95, double ratio) {
  Statement upsert(db_,
                   "INSERT INTO run_erf(run_id, phase, radius50, radius95, ratio) "
                   "VALUES (?, ?, ?, ?, ?) ON CONFLICT(run_id, phase) DO UPDATE SET "
                   "radius50 = excluded.radius50, radius95 = excluded.radius95, "
                   "ratio = excluded.ratio");
  upsert.Bind(1, run_id)
      .Bind(2, phase)
      .Bind(3, radius50)
      .Bind(4, radius95)
      .Bind(5, ratio);
  upsert.Run();
}

void Store::FinishRun(int64_t run_id, const RunResult& result) {
  if (!IsTerminal(result.status)) {
    Fail(ErrorCode::kInternal, "FinishRun for run {} with non-terminal status '{}'",
         run_id, RunStatusName(result.status));
  }
  Statement finish(
      db_,
      "UPDATE runs SET status = ?, message = ?, steps = ?, final_train_loss = ?, "
      "final_eval_loss = ?, final_eval_accuracy = ?, wall_seconds = ?, "
      "finished_at = ?, heartbeat_at = ? WHERE run_id = ?");
  double now = UnixNow();
  finish.Bind(1, std::string(RunStatusName(result.status)))
      .Bind(2, result.message)
      .Bind(3, result.steps)
      .Bind(4, result.final_train_loss)
      .Bind(5, result.final_eval_loss)
      .Bind(6, result.final_eval_accuracy)
      .Bind(7, result.wall_seconds)
      .Bind(8, now)
      .Bind(9, now)
      .Bind(10, run_id);
  finish.Run();
  if (sqlite3_changes(db_) != 1) {
    Fail(ErrorCode::kNotFound, "run {} not found in '{}'; cannot store its result",
         run_id, path_);
  }
}

void Store::WriteMetrics(int64_t run_id, const std::vector<MetricPoint>& points) {
  Transaction transaction(db_);
  Statement upsert(
      db_,
      "INSERT INTO metrics(run_id, metric, step, value) VALUES (?, ?, ?, ?) "
      "ON CONFLICT(run_id, metric, step) DO UPDATE SET value = excluded.value");
  for (const MetricPoint& point : points) {
    upsert.Bind(1, run_id).Bind(2, point.metric).Bind(3, point.step).Bind(4, point.value);
    upsert.Run();
    upsert.Reset();
  }
  transaction.Commit();
}

int64_t Store::RecordFit(const FitRecord& fit) {
  Statement insert(db_,
                   "INSERT INTO fits(created_at, kind, experiment, family, x, form, "
                   "result_json, run_ids) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  insert.Bind(1, UnixNow()).Bind(2, fit.kind);
  BindOptionalText(insert, 3, fit.experiment);
  BindOptionalText(insert, 4, fit.family);
  BindOptionalText(insert, 5, fit.x);
  BindOptionalText(insert, 6, fit.form);
  insert.Bind(7, fit.result.dump()).Bind(8, nlohmann::json(fit.run_ids).dump());
  insert.Run();
  return sqlite3_last_insert_rowid(db_);
}

int64_t Store::ResetRuns(int64_t experiment_id, const std::vector<RunStatus>& from) {
  Transaction transaction(db_);
  Statement reset(db_,
                  "UPDATE runs SET status = 'pending', heartbeat_at = NULL "
                  "WHERE experiment_id = ? AND status = ?");
  int64_t changed = 0;
  for (RunStatus status : from) {
    reset.Bind(1, experiment_id).Bind(2, std::string(RunStatusName(status)));
    reset.Run();
    changed += sqlite3_changes(db_);
    reset.Reset();
  }
  transaction.Commit();
  return changed;
}

int64_t Store::ResetStaleRuns(int64_t experiment_id, double max_age_seconds) {
  Statement reset(db_,
                  "UPDATE runs SET status = 'pending', heartbeat_at = NULL "
                  "WHERE experiment_id = ? AND status = 'running' "
                  "AND coalesce(heartbeat_at, started_at, 0) < ?");
  reset.Bind(1, experiment_id).Bind(2, UnixNow() - max_age_seconds).Run();
  return sqlite3_changes(db_);
}

void Store::Begin() {
  ExecSql(db_, "BEGIN IMMEDIATE");
}
void Store::Commit() {
  ExecSql(db_, "COMMIT");
}
void Store::Rollback() {
  ExecSql(db_, "ROLLBACK");
}
bool Store::InTransaction() const {
  return !sqlite3_get_autocommit(db_);
}

}  // namespace scalelock
