#include "report/export.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "store/store.h"
#include "store/test_db.h"
#include "util/error.h"

namespace scalelock {
namespace {

using testing::MakeRecord;
using testing::ReadBytes;
using testing::TempDir;

std::vector<std::vector<std::string>> ReadCsv(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream lines(ReadBytes(path));
  std::string line;
  while (std::getline(lines, line)) {
    std::vector<std::string> fields;
    std::istringstream parts(line);
    std::string field;
    while (std::getline(parts, field, ','))
      fields.push_back(field);
    rows.push_back(fields);
  }
  return rows;
}

void Finish(Store& store, int64_t run, double loss, double accuracy) {
  REQUIRE(store.ClaimRun(run, "h", "v"));
  RunResult result;
  result.status = RunStatus::kFinished;
  result.final_eval_loss = loss;
  result.final_eval_accuracy = accuracy;
  store.FinishRun(run, result);
}

// Two families in experiment "sweep": dilated (widths 8, 16; seeds 1, 2) and
// plain (width 8, seed 1), one failed run, and a power fit for dilated. A
// second experiment "other" contains one more finished run. The fit of plain
// failed.
std::string MakeDatabase(const TempDir& dir) {
  std::string path = dir.File("db.sqlite");
  auto store = Store::Open(path, Store::Mode::kReadWrite);
  int64_t sweep = store->EnsureExperiment("sweep", nlohmann::json::object());
  std::vector<int64_t> ids = store->EnsureRuns(
      sweep, {MakeRecord(1, 8), MakeRecord(2, 8), MakeRecord(1, 16), MakeRecord(2, 16),
              MakeRecord(1, 8, "plain"), MakeRecord(3, 8)});
  Finish(*store, ids[0], 0.50, 0.80);
  Finish(*store, ids[1], 0.40, 0.90);
  Finish(*store, ids[2], 0.30, 0.95);
  Finish(*store, ids[3], 0.20, 0.97);
  Finish(*store, ids[4], 0.60, 0.55);
  REQUIRE(store->ClaimRun(ids[5], "h", "v"));
  RunResult failed;
  failed.status = RunStatus::kFailed;
  store->FinishRun(ids[5], failed);
  store->RecordFit({"power",
                    "sweep",
                    "dilated",
                    "flops",
                    "L = E + A*x^-alpha",
                    {{"E", 0.1}, {"A", 50.0}, {"alpha", 0.25}},
                    ids});
  // A failed fit stores null parameters; export draws no curve for it.
  store->RecordFit({"power",
                    "sweep",
                    "plain",
                    "flops",
                    "L = E + A*x^-alpha",
                    {{"E", nullptr}, {"A", nullptr}, {"alpha", nullptr}},
                    {ids[4]}});

  int64_t other = store->EnsureExperiment("other", nlohmann::json::object());
  Finish(*store, store->EnsureRuns(other, {MakeRecord(9, 32)})[0], 0.1, 0.99);
  return path;
}

TEST_CASE("export writes loss CSV", "[report]") {
  TempDir dir;
  auto store = Store::Open(MakeDatabase(dir), Store::Mode::kReadOnly);
  ExportOptions options{dir.File("plots"), "sweep", false};
  std::vector<ExportedFile> files = ExportPlots(store->handle(), options);
  REQUIRE(files.size() == 5);
  CHECK(files[0].path == dir.File("plots/loss_vs_compute.csv"));
  CHECK(files[0].rows == 5);

  auto rows = ReadCsv(files[0].path);
  REQUIRE(rows.size() == 6);
  CHECK(rows[0] == std::vector<std::string>{"family", "experiment", "flops", "params",
                                            "final_eval_loss"});
  CHECK(rows[1][0] == "dilated");
  CHECK(std::stod(rows[1][2]) == Approx(8e9).epsilon(1e-12));
  CHECK(rows[1][3] == "8000");
  CHECK(std::stod(rows[1][4]) == Approx(0.5).epsilon(1e-12));
  CHECK(rows[5][0] == "plain");
}

TEST_CASE("export writes fit curve", "[report]") {
  TempDir dir;
  auto store = Store::Open(MakeDatabase(dir), Store::Mode::kReadOnly);
  ExportOptions options{dir.File("plots"), "sweep", false};
  std::vector<ExportedFile> files = ExportPlots(store->handle(), options);
  CHECK(files[1].rows == 50);
  auto rows = ReadCsv(dir.File("plots/loss_vs_compute_fit.csv"));
  REQUIRE(rows.size() == 51);
  CHECK(rows[0] == std::vector<std::string>{"family", "flops", "predicted_loss"});
  // The curve spans the dilated runs' flops, 8e9 to 16e9.
  CHECK(std::stod(rows[1][1]) == Approx(8e9).epsilon(1e-9));
  CHECK(std::stod(rows[50][1]) == Approx(16e9).epsilon(1e-9));
  CHECK(std::stod(rows[1][2]) == Approx(0.1 + 50.0 / std::pow(8e9, 0.25)).epsilon(1e-9));
  CHECK(std::stod(rows[50][2]) ==
        Approx(0.1 + 50.0 / std::pow(16e9, 0.25)).epsilon(1e-9));
  CHECK(rows[50][0] == "dilated");
}

TEST_CASE("export reads power0 fit", "[report]") {
  TempDir dir;
  std::string path = MakeDatabase(dir);
  Store::Open(path, Store::Mode::kReadWrite)
      ->RecordFit({"power0",
                   "sweep",
                   "plain",
                   "flops",
                   "L = A*x^-alpha",
                   {{"A", 4.0}, {"alpha", 0.5}},
                   {}});
  auto store = Store::Open(path, Store::Mode::kReadOnly);
  ExportOptions options{dir.File("plots"), "sweep", false};
  ExportPlots(store->handle(), options);
  auto rows = ReadCsv(dir.File("plots/loss_vs_compute_fit.csv"));
  REQUIRE(rows.size() == 101);
  CHECK(rows[51][0] == "plain");
  // plain has one run at 8e9 flops, so its curve spans 4e9 to 16e9.
  CHECK(std::stod(rows[51][1]) == Approx(4e9).epsilon(1e-9));
  CHECK(std::stod(rows[51][2]) == Approx(4.0 / std::sqrt(4e9)).epsilon(1e-9));
}

TEST_CASE("export groups accuracy over seeds", "[report]") {
  TempDir dir;
  auto store = Store::Open(MakeDatabase(dir), Store::Mode::kReadOnly);
  ExportOptions options{dir.File("plots"), "sweep", false};
  ExportPlots(store->handle(), options);
  auto rows = ReadCsv(dir.File("plots/accuracy_vs_ratio.csv"));
  REQUIRE(rows.size() == 3);
  CHECK(rows[0] == std::vector<std::string>{"family", "rf", "depth", "scale_ratio",
                                            "mean_accuracy", "min_accuracy",
                                            "max_accuracy", "n"});
  // Widths 8 and 16 share (family, rf, depth, ratio), so all four dilated runs group.
  CHECK(rows[1][0] == "dilated");
  CHECK(rows[1][1] == "31");
  CHECK(std::stod(rows[1][3]) == Approx(8.0).epsilon(1e-12));
  CHECK(std::stod(rows[1][4]) == Approx((0.80 + 0.90 + 0.95 + 0.97) / 4).epsilon(1e-12));
  CHECK(std::stod(rows[1][5]) == Approx(0.80).epsilon(1e-12));
  CHECK(std::stod(rows[1][6]) == Approx(0.97).epsilon(1e-12));
  CHECK(rows[1][7] == "4");
  CHECK(rows[2][0] == "plain");
  CHECK(rows[2][7] == "1");
}

TEST_CASE("export without filter spans experiments", "[report]") {
  TempDir dir;
  auto store = Store::Open(MakeDatabase(dir), Store::Mode::kReadOnly);
  ExportOptions options{dir.File("plots"), "", false};
  std::vector<ExportedFile> files = ExportPlots(store->handle(), options);
  CHECK(files[0].rows == 6);
}

TEST_CASE("export writes gnuplot scripts", "[report]") {
  TempDir dir;
  auto store = Store::Open(MakeDatabase(dir), Store::Mode::kReadOnly);
  ExportOptions options{dir.File("plots"), "sweep", false};
  ExportPlots(store->handle(), options);
  std::string loss = ReadBytes(dir.File("plots/loss_vs_compute.gp"));
  CHECK_THAT(loss, Catch::Contains("'loss_vs_compute.csv'"));
  CHECK_THAT(loss, Catch::Contains("'loss_vs_compute_fit.csv'"));
  CHECK_THAT(loss, Catch::Contains("title 'plain'"));
  std::string accuracy = ReadBytes(dir.File("plots/accuracy_vs_ratio.gp"));
  CHECK_THAT(accuracy, Catch::Contains("title 'dilated rf=31 depth=4'"));
}

TEST_CASE("export renders PNGs with gnuplot", "[report]") {
  TempDir dir;
  auto store = Store::Open(MakeDatabase(dir), Store::Mode::kReadOnly);
  ExportOptions options{dir.File("plots"), "sweep", true};
  std::vector<ExportedFile> files = ExportPlots(store->handle(), options);
  bool have_gnuplot = std::system("command -v gnuplot > /dev/null 2>&1") == 0;
  if (!have_gnuplot) {
    CHECK(files.size() == 5);
    return;
  }
  REQUIRE(files.size() == 7);
  CHECK(files[5].path == dir.File("plots/loss_vs_compute.png"));
  CHECK(ReadBytes(files[5].path).substr(1, 3) == "PNG");
  CHECK(ReadBytes(files[6].path).substr(1, 3) == "PNG");
}

TEST_CASE("export unknown experiment", "[report]") {
  TempDir dir;
  auto store = Store::Open(MakeDatabase(dir), Store::Mode::kReadOnly);
  ExportOptions options{dir.File("plots"), "missing", false};
  try {
    ExportPlots(store->handle(), options);
    FAIL("unknown experiment accepted");
  } catch (const Error& error) {
    CHECK(error.code() == ErrorCode::kNotFound);
  }
  CHECK_FALSE(std::filesystem::exists(dir.File("plots")));
}

}  // namespace
}  // namespace scalelock
