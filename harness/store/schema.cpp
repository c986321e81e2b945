#include "store/schema.h"

#include <string>

#include "store/statement.h"
#include "util/error.h"

namespace scalelock {
namespace {

// Version 1. Times are Unix seconds (REAL). A NULL final loss or accuracy
// means the run produced none (not finished, or the value was NaN).
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE meta(
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE experiments(
  experiment_id INTEGER PRIMARY KEY,
  name          TEXT NOT NULL UNIQUE,
  spec_json     TEXT NOT NULL,
  created_at    REAL NOT NULL
);

CREATE TABLE runs(
  run_id              INTEGER PRIMARY KEY,
  experiment_id       INTEGER NOT NULL
                      REFERENCES experiments(experiment_id) ON DELETE CASCADE,
  config_hash         TEXT NOT NULL,
  config_json         TEXT NOT NULL,
  status              TEXT NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'running', 'finished', 'diverged',
                                        'timed_out', 'interrupted', 'failed')),
  message             TEXT NOT NULL DEFAULT '',
  family              TEXT NOT NULL,
  task                TEXT NOT NULL,
  width               INTEGER NOT NULL,
  depth               INTEGER NOT NULL,
  kernel              INTEGER NOT NULL,
  dilation            INTEGER NOT NULL,
  rf                  INTEGER NOT NULL,
  effective_stride    INTEGER NOT NULL,
  params              INTEGER NOT NULL,
  flops               REAL NOT NULL,
  train_samples       INTEGER NOT NULL,
  seed                INTEGER NOT NULL,
  lambda_min          REAL NOT NULL,
  lambda_max          REAL NOT NULL,
  steps               INTEGER NOT NULL DEFAULT 0,
  final_train_loss    REAL,
  final_eval_loss     REAL,
  final_eval_accuracy REAL,
  started_at          REAL,
  finished_at         REAL,
  wall_seconds        REAL,
  host                TEXT,
  worker              TEXT,
  version             TEXT,
  attempts            INTEGER NOT NULL DEFAULT 0,
  heartbeat_at        REAL,
  UNIQUE (experiment_id, config_hash)
);
CREATE INDEX runs_by_status ON runs(status, experiment_id);
CREATE INDEX runs_by_family ON runs(family, experiment_id);

CREATE TABLE metrics(
  run_id INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
  metric TEXT NOT NULL,
  step   INTEGER NOT NULL,
  value  REAL,
  PRIMARY KEY (run_id, metric, step)
) WITHOUT ROWID;

CREATE TABLE fits(
  fit_id      INTEGER PRIMARY KEY,
  created_at  REAL NOT NULL,
  kind        TEXT NOT NULL,
  experiment  TEXT,
  family      TEXT,
  x           TEXT,
  form        TEXT,
  result_json TEXT NOT NULL,
  run_ids     TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX fits_by_kind ON fits(kind, x, family, experiment);

CREATE VIEW run_summary AS
SELECT r.run_id, e.name AS experiment, r.family, r.task, r.width, r.depth, r.kernel,
       r.dilation, r.rf, r.effective_stride, r.params, r.flops, r.train_samples, r.seed,
       r.lambda_min, r.lambda_max,
       CASE WHEN r.lambda_min > 0 THEN r.lambda_max / r.lambda_min END AS scale_ratio,
       r.status, r.message, r.final_train_loss, r.final_eval_loss, r.final_eval_accuracy,
       r.wall_seconds, r.config_hash, r.steps, r.attempts, r.host, r.worker,
       r.started_at, r.finished_at, r.heartbeat_at
FROM runs r JOIN experiments e USING (experiment_id);

CREATE VIEW metric_points AS
SELECT run_id, metric, step, value FROM metrics;
)sql";

// Version 2: per-run effective padding and the strided depth requirement
// (NULL where it does not apply), the effective receptive field per run and
// phase, and run_summary with those columns appended. erf is the ERF width at
// initialisation, 2 * radius95 + 1 input samples, comparable to rf.
constexpr const char* kSchemaV2 = R"sql(
ALTER TABLE runs ADD COLUMN effective_padding INTEGER;
ALTER TABLE runs ADD COLUMN depth_requirement_met INTEGER
  CHECK (depth_requirement_met IN (0, 1));

CREATE TABLE run_erf(
  run_id   INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
  phase    TEXT NOT NULL CHECK (phase IN ('init', 'trained')),
  radius50 REAL,
  radius95 REAL,
  ratio    REAL,
  PRIMARY KEY (run_id, phase)
) WITHOUT ROWID;

DROP VIEW run_summary;
CREATE VIEW run_summary AS
SELECT r.run_id, e.name AS experiment, r.family, r.task, r.width, r.depth, r.kernel,
       r.dilation, r.rf, r.effective_stride, r.params, r.flops, r.train_samples, r.seed,
       r.lambda_min, r.lambda_max,
       CASE WHEN r.lambda_min > 0 THEN r.lambda_max / r.lambda_min END AS scale_ratio,
       r.status, r.message, r.final_train_loss, r.final_eval_loss, r.final_eval_accuracy,
       r.wall_seconds, r.config_hash, r.steps, r.attempts, r.host, r.worker,
       r.started_at, r.finished_at, r.heartbeat_at,
       r.effective_padding, r.depth_requirement_met,
       2 * ei.radius95 + 1 AS erf,
       ei.radius50 AS erf50_init, ei.radius95 AS erf95_init, ei.ratio AS erf_ratio_init,
       et.radius50 AS erf50_trained, et.radius95 AS erf95_trained,
       et.ratio AS erf_ratio_trained
FROM runs r JOIN experiments e USING (experiment_id)
LEFT JOIN run_erf ei ON ei.run_id = r.run_id AND ei.phase = 'init'
LEFT JOIN run_erf et ON et.run_id = r.run_id AND et.phase = 'trained';
)sql";

void SetVersion(sqlite3* db, int64_t version) {
  Statement statement(db,
                      "INSERT INTO meta(key, value) VALUES('schema_version', ?) "
                      "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  statement.Bind(1, std::to_string(version)).Run();
}

}  // namespace

void MigrateSchema(sqlite3* db, int64_t from) {
  if (from < 0 || from > kSchemaVersion) {
    Fail(ErrorCode::kInternal, "no migration from schema version {} to {}", from,
         kSchemaVersion);
  }
  // One block per step, in order; a future version 3 adds `if (from < 3)`.
  if (from < 1) ExecSql(db, kSchemaV1);
  if (from < 2) ExecSql(db, kSchemaV2);
  SetVersion(db, kSchemaVersion);
}

}  // namespace scalelock
