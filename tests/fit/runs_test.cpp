#include "fit/runs.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "fit/lock_report.h"
#include "fit/synthetic.h"
#include "store/test_db.h"
#include "util/error.h"

namespace scalelock {
namespace {

using testing::TempDir;

// A multiscale run: ratio r, receptive field rf and its seed.
RunRecord LockRecord(int64_t rf, double ratio, int64_t seed) {
  RunRecord record;
  record.config = {{"seed", seed}, {"model", {{"rf", rf}}}, {"task", {{"ratio", ratio}}}};
  record.config_hash = "rf" + std::to_string(rf) + "-r" + std::to_string(ratio) + "-s" +
                       std::to_string(seed);
  record.family = "plain";
  record.task = "multiscale1d";
  record.width = 8;
  record.depth = 3;
  record.kernel = 3;
  record.receptive_field = rf;
  record.params = 1000;
  record.flops = 1e9;
  record.train_samples = 4096;
  record.seed = seed;
  record.lambda_min = 2.0;
  record.lambda_max = 2.0 * ratio;
  return record;
}

void Finish(Store& store, int64_t run_id, double accuracy) {
  REQUIRE(store.ClaimRun(run_id, "host", "test"));
  RunResult result;
  result.status = RunStatus::kFinished;
  result.steps = 10;
  result.final_eval_loss = 1.0 - accuracy + 0.01;
  result.final_eval_accuracy = accuracy;
  store.FinishRun(run_id, result);
}

TEST_CASE("finished runs group seeds by config", "[fit]") {
  TempDir dir;
  auto store = Store::Open(dir.File("db.sqlite"), Store::Mode::kReadWrite);
  const int64_t experiment = store->EnsureExperiment("lock", {{"name", "lock"}});
  const std::vector<int64_t> ids = store->EnsureRuns(
      experiment,
      {LockRecord(16, 4.0, 1), LockRecord(16, 4.0, 2), LockRecord(16, 8.0, 1)});
  Finish(*store, ids[0], 0.9);
  Finish(*store, ids[1], 0.8);  // ids[2] stays pending

  const std::vector<RunRow> rows = LoadFinishedRuns(*store, "lock", "");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].group == rows[1].group);
  CHECK(rows[0].group.find("seed") == std::string::npos);
  CHECK(rows[0].scale_ratio == Approx(4.0));
  CHECK(rows[0].rf == 16);
  // Schema v2 has the erf column; these runs have no run_erf rows, so NULL.
  CHECK(std::isnan(rows[0].erf));
  CHECK(HasErfColumn(*store));
}

TEST_CASE("no finished runs raises", "[fit]") {
  TempDir dir;
  auto store = Store::Open(dir.File("db.sqlite"), Store::Mode::kReadWrite);
  store->EnsureExperiment("empty", {{"name", "empty"}});
  try {
    LoadFinishedRuns(*store, "empty", "plain");
    FAIL("expected an error");
  } catch (const Error& error) {
    CHECK(error.code() == ErrorCode::kInvalidInput);
    CHECK(std::string(error.what()).find("'empty'") != std::string::npos);
  }
}

TEST_CASE("lock analysis on stored runs", "[fit]") {
  TempDir dir;
  auto store = Store::Open(dir.File("db.sqlite"), Store::Mode::kReadWrite);
  const int64_t experiment = store->EnsureExperiment("lock", {{"name", "lock"}});

  // RF 16 locks at r* = 4 (delta = 16 / (4 * 2) = 2); RF 32 never locks.
  std::vector<RunRecord> records;
  std::vector<double> accuracies;
  for (int64_t rf : {16, 32}) {
    for (double ratio : testing::LogSpace(1.0, 16.0, 9)) {
      for (int64_t seed : {1, 2}) {
        records.push_back(LockRecord(rf, ratio, seed));
        const double r_star = rf == 16 ? 4.0 : 1000.0;
        accuracies.push_back(testing::LogisticAccuracy(ratio, r_star, 6.0, 0.5) +
                             0.005 * (seed == 1 ? 1 : -1));
      }
    }
  }
  const std::vector<int64_t> ids = store->EnsureRuns(experiment, records);
  for (size_t i = 0; i < ids.size(); ++i)
    Finish(*store, ids[i], accuracies[i]);

  LockOptions options;
  options.bootstrap = 50;
  const LockReport report =
      AnalyzeLock(LoadFinishedRuns(*store, "lock", ""), HasErfColumn(*store), options);
  REQUIRE(report.curves.size() == 2);
  const LockCurve& locked = report.curves[0];
  CHECK(locked.rf == 16);
  CHECK(locked.runs == 18);
  CHECK(locked.threshold.r_star == Approx(4.0).epsilon(0.05));
  CHECK(locked.delta == Approx(2.0).epsilon(0.05));
  CHECK(report.curves[1].threshold.status == "not reached: r* > max tested r");
  REQUIRE(report.families.size() == 1);
  CHECK(report.families[0].rf.status.rfind("skipped", 0) == 0);
  CHECK(report.families[0].erf.status ==
        "skipped: fewer than 2 distinct erf values with r* reached");

  FitRecord record;
  record.kind = "lock";
  record.experiment = "lock";
  record.family = "plain";
  record.x = "scale_ratio";
  record.form = "logistic";
  record.result = LockReportToJson(report);
  record.run_ids = locked.run_ids;
  CHECK(store->RecordFit(record) > 0);
}

}  // namespace
}  // namespace scalelock
