// Schema version 2: migration of a version-1 file (the DDL below is version
// 1 as first released) and the ERF and depth columns of run_summary.
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <string>

#include "store/schema.h"
#include "store/statement.h"
#include "store/store.h"
#include "store/test_db.h"
#include "util/error.h"

namespace scalelock {
namespace {

using testing::MakeRecord;
using testing::TempDir;

constexpr const char* kVersion1 = R"sql(
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

TEST_CASE("schema v1 file migrates to v2", "[store][schema]") {
  TempDir dir;
  const std::string path = dir.File("old.sqlite");
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  std::string sql =
      std::string(kVersion1) +
      "INSERT INTO meta VALUES('schema_version', '1');"
      "INSERT INTO experiments(name, spec_json, created_at) "
      "VALUES('old', '{}', 0);"
      "INSERT INTO runs(experiment_id, config_hash, config_json, family, task, "
      "width, depth, kernel, dilation, rf, effective_stride, params, flops, "
      "train_samples, seed, lambda_min, lambda_max) VALUES(1, 'h', '{}', "
      "'plain', 'multiscale1d', 4, 2, 3, 1, 5, 1, 10, 1.0, 10, 0, 2, 8);";
  REQUIRE(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);

  auto store = Store::Open(path, Store::Mode::kReadWrite);
  Statement version(store->handle(),
                    "SELECT value FROM meta WHERE key = 'schema_version'");
  REQUIRE(version.Step());
  CHECK(version.ColumnText(0) == "2");
  Statement old_run(store->handle(),
                    "SELECT rf, effective_padding, depth_requirement_met, erf "
                    "FROM run_summary WHERE experiment = 'old'");
  REQUIRE(old_run.Step());
  CHECK(old_run.ColumnInt(0) == 5);
  CHECK(old_run.IsNull(1));
  CHECK(old_run.IsNull(2));
  CHECK(old_run.IsNull(3));
}

TEST_CASE("schema v2 stores erf and depth", "[store][schema]") {
  TempDir dir;
  auto store = Store::Open(dir.File("new.sqlite"), Store::Mode::kReadWrite);
  int64_t experiment = store->EnsureExperiment("erf", {{"name", "erf"}});
  RunRecord met = MakeRecord(1);
  met.effective_padding = 6;
  met.depth_requirement_met = 1;
  RunRecord not_applicable = MakeRecord(2);
  not_applicable.depth_requirement_met = -1;
  std::vector<int64_t> ids = store->EnsureRuns(experiment, {met, not_applicable});
  store->WriteErf(ids[0], "init", 1.5, 4.0, 0.9);
  store->WriteErf(ids[0], "trained", 2.0, 5.0, 1.1);
  store->WriteErf(ids[0], "trained", 2.5, 5.5, 1.2);  // replaces the row
  const double nan = std::numeric_limits<double>::quiet_NaN();
  store->WriteErf(ids[1], "init", nan, nan, nan);

  Statement rows(store->handle(),
                 "SELECT effective_padding, depth_requirement_met, erf, erf50_init, "
                 "erf95_init, erf_ratio_init, erf50_trained, erf95_trained, "
                 "erf_ratio_trained FROM run_summary ORDER BY run_id");
  REQUIRE(rows.Step());
  CHECK(rows.ColumnInt(0) == 6);
  CHECK(rows.ColumnInt(1) == 1);
  CHECK(rows.ColumnDouble(2) == 9.0);  // 2 * 4.0 + 1
  CHECK(rows.ColumnDouble(3) == 1.5);
  CHECK(rows.ColumnDouble(4) == 4.0);
  CHECK(rows.ColumnDouble(5) == 0.9);
  CHECK(rows.ColumnDouble(6) == 2.5);
  CHECK(rows.ColumnDouble(7) == 5.5);
  CHECK(rows.ColumnDouble(8) == 1.2);
  REQUIRE(rows.Step());
  CHECK(rows.IsNull(1));
  CHECK(rows.IsNull(2));
  CHECK(rows.IsNull(3));
  CHECK(rows.IsNull(6));
  CHECK_FALSE(rows.Step());
}

TEST_CASE("schema v2 rejects unknown erf phase", "[store][schema]") {
  TempDir dir;
  auto store = Store::Open(dir.File("phase.sqlite"), Store::Mode::kReadWrite);
  int64_t experiment = store->EnsureExperiment("erf", {{"name", "erf"}});
  std::vector<int64_t> ids = store->EnsureRuns(experiment, {MakeRecord(1)});
  CHECK_THROWS_AS(store->WriteErf(ids[0], "final", 1.0, 2.0, 0.5), Error);
}

}  // namespace
}  // namespace scalelock
