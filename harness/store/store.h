// Store: the results database, one SQLite file in WAL mode.
//
// Tables (schema version in meta.schema_version; full DDL in store/schema.cpp):
//   experiments(experiment_id, name UNIQUE, spec_json, created_at)
//   runs(run_id, experiment_id, config_hash, config_json, status, message,
//        family, task, width, depth, kernel, dilation, rf, effective_stride,
//        params, flops, train_samples, seed, lambda_min, lambda_max, steps,
//        final_train_loss, final_eval_loss, final_eval_accuracy, started_at,
//        finished_at, wall_seconds, host, worker, version, attempts,
//        heartbeat_at, effective_padding, depth_requirement_met),
//        UNIQUE(experiment_id, config_hash)
//   run_erf(run_id, phase 'init' | 'trained', radius50, radius95, ratio)
//   metrics(run_id, metric, step, value), PRIMARY KEY(run_id, metric, step)
//   fits(fit_id, created_at, kind, experiment, family, x, form, result_json,
//        run_ids)
// Views, the stable query surface: run_summary and metric_points.
//
// A Store is one connection and is not thread-safe: share it through a
// StoreWriter (store/writer.h). Every method throws Error(kDatabase) with the
// SQLite message and the statement on failure. Methods that write several rows
// use BEGIN IMMEDIATE, or a savepoint when a transaction is already open.
// The columns and the views are documented in docs/database.md.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "util/types.h"

struct sqlite3;

namespace scalelock {

// What is known of a run before it trains; written when the run row is made.
struct RunRecord {
  std::string config_hash;
  nlohmann::json config;  // resolved run config
  std::string family;
  std::string task;
  int64_t width = 0;
  int64_t depth = 0;
  int64_t kernel = 0;
  int64_t dilation = 1;
  int64_t receptive_field = 0;
  int64_t effective_stride = 1;
  int64_t effective_padding = 0;
  int depth_requirement_met = -1;  // 0 or 1; -1 = does not apply (stored NULL)
  int64_t params = 0;
  double flops = 0.0;         // training FLOPs of the whole run
  int64_t train_samples = 0;  // samples seen in training
  int64_t seed = 0;
  double lambda_min = 0.0;  // 0 where the task has no scales
  double lambda_max = 0.0;
};

// How a run ended.
struct RunResult {
  RunStatus status = RunStatus::kFailed;
  std::string message;
  int64_t steps = 0;
  double final_train_loss = 0.0;
  double final_eval_loss = 0.0;
  double final_eval_accuracy = 0.0;
  double wall_seconds = 0.0;
};

// A fitted law, written by the fit module and read by export.
struct FitRecord {
  std::string kind;        // "power", "lock", ...
  std::string experiment;  // experiment name; empty (stored NULL) when it spans several
  std::string family;      // model family; empty (stored NULL) when it spans several
  std::string x;           // fitted variable: "flops", "params", "train_samples", ...
  std::string form;        // fitted formula, e.g. "L = E + A*x^-alpha"
  nlohmann::json result;   // fitted values; a power fit has numbers E, A and alpha
  std::vector<int64_t> run_ids;  // runs the fit used
};

// Current state of a run row.
struct RunState {
  int64_t run_id = 0;
  std::string config_hash;
  RunStatus status = RunStatus::kPending;
  int64_t attempts = 0;
};

class Store {
 public:
  enum class Mode { kReadWrite, kReadOnly };

  // Opens or creates the database at path (creating its folder), enables WAL
  // and a busy timeout, and creates or migrates the schema. A file that is not
  // a scalelock database, or has a newer schema, is left untouched and raises
  // Error(kDatabase) naming the file. So does a file on NFS, SMB or CIFS, and
  // in kReadWrite a file that fails PRAGMA quick_check. kReadOnly opens an
  // existing, current database with query_only set and skips quick_check; a
  // missing file raises kNotFound.
  static std::unique_ptr<Store> Open(const std::string& path, Mode mode);
  ~Store();

  // Returns the id of the experiment called name, creating it with spec; an
  // existing experiment gets spec as its new spec_json.
  int64_t EnsureExperiment(const std::string& name, const nlohmann::json& spec);

  // Inserts, as pending, every record whose hash the experiment lacks; all in
  // one transaction. Returns the run ids in the order of records.
  std::vector<int64_t> EnsureRuns(int64_t experiment_id,
                                  const std::vector<RunRecord>& records);

  std::vector<RunState> ListRuns(int64_t experiment_id);

  // Moves a pending run to running inside BEGIN IMMEDIATE, raising attempts
  // and recording host, version, start time and the claiming process's worker
  // token (stored NULL when empty). Returns false when the run is not pending
  // (another worker has it, or it has ended).
  bool ClaimRun(int64_t run_id, const std::string& host, const std::string& version,
                const std::string& worker = "");

  void Heartbeat(int64_t run_id);
  void FinishRun(int64_t run_id, const RunResult& result);

  // Upserts on (run_id, metric, step): rewriting a step replaces its value.
  // One prepared statement is reused per point, so any batch size works.
  void WriteMetrics(int64_t run_id, const std::vector<MetricPoint>& points);

  // Upserts the effective receptive field of a run at phase "init" or
  // "trained" (radii in input samples; NaN values are stored NULL).
  void WriteErf(int64_t run_id, const std::string& phase, double radius50,
                double radius95, double ratio);

  // Inserts a fit row stamped with the current time; returns its fit_id.
  int64_t RecordFit(const FitRecord& fit);

  // Sets the experiment's runs whose status is in `from` back to pending, so
  // a rerun retries them; returns how many rows changed.
  int64_t ResetRuns(int64_t experiment_id, const std::vector<RunStatus>& from);

  // Sets running runs whose heartbeat_at is more than max_age_seconds old (a
  // worker that died) back to pending; returns how many rows changed.
  int64_t ResetStaleRuns(int64_t experiment_id, double max_age_seconds);

  void Begin();  // BEGIN IMMEDIATE
  void Commit();
  void Rollback();
  bool InTransaction() const;

  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }

 private:
  Store(sqlite3* db, std::string path);
  sqlite3* db_;
  std::string path_;
};

}  // namespace scalelock
