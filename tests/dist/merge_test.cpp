// MergeShards on real SQLite shard files written through the Store.
#include "dist/merge.h"

#include <catch2/catch.hpp>

#include "dist/dist_testing.h"
#include "util/error.h"

using dist_testing::QueryInt;
using dist_testing::QueryText;
using dist_testing::ReadBytes;
using dist_testing::TempDir;
using dist_testing::WriteShard;
using scalelock::ErrorCode;
using scalelock::MergeReport;
using scalelock::MergeShards;
using scalelock::RunStatus;

namespace {

scalelock::Experiment Grid(const std::string& name,
                           const std::vector<std::string>& hashes) {
  scalelock::Experiment experiment;
  experiment.name = name;
  for (const std::string& hash : hashes) {
    scalelock::RunConfig run;
    run.hash = hash;
    experiment.runs.push_back(run);
  }
  return experiment;
}

ErrorCode MergeErrorCode(const std::string& output,
                         const std::vector<std::string>& shards) {
  try {
    MergeShards(output, shards, nullptr);
  } catch (const scalelock::Error& error) {
    return error.code();
  }
  return ErrorCode::kInternal;
}

}  // namespace

TEST_CASE("merge two shards into new output") {
  TempDir dir;
  WriteShard(dir.File("shard-0.sqlite"), "grid",
             {{"a"}, {"c", RunStatus::kFinished, 0.3}});
  WriteShard(dir.File("shard-1.sqlite"), "grid", {{"b"}, {"d", RunStatus::kDiverged}});
  std::string out = dir.File("merged.sqlite");

  MergeReport report =
      MergeShards(out, {dir.File("shard-0.sqlite"), dir.File("shard-1.sqlite")}, nullptr);
  REQUIRE(report.shards.size() == 2);
  CHECK(report.shards[0].finished == 2);
  CHECK(report.shards[1].finished == 1);
  CHECK(report.shards[1].ended_early == 1);
  CHECK(report.shards[0].inserted == 2);
  CHECK(report.incomplete.empty());
  CHECK(report.grid_runs == 4);

  CHECK(QueryInt(out, "SELECT count(*) FROM runs") == 4);
  CHECK(QueryInt(out, "SELECT count(*) FROM experiments") == 1);
  CHECK(QueryInt(out, "SELECT count(*) FROM metrics") == 8);
  CHECK(QueryText(out, "SELECT final_eval_loss FROM runs WHERE config_hash = 'c'") ==
        "0.3");
  CHECK(QueryText(out, "SELECT status FROM runs WHERE config_hash = 'd'") == "diverged");
  // Metrics follow their run to the output's run id.
  CHECK(QueryText(out,
                  "SELECT m.value FROM metrics m JOIN runs r USING (run_id) "
                  "WHERE r.config_hash = 'c' AND m.step = 20") == "0.3");
}

TEST_CASE("merge copies per-run ERF rows") {
  TempDir dir;
  WriteShard(dir.File("old.sqlite"), "grid", {{"a", RunStatus::kFailed, 9.0}});
  WriteShard(dir.File("new.sqlite"), "grid", {{"a", RunStatus::kFinished, 0.25}, {"b"}});
  std::string out = dir.File("merged.sqlite");
  MergeShards(out, {dir.File("old.sqlite")}, nullptr);
  MergeShards(out, {dir.File("new.sqlite")}, nullptr);

  CHECK(QueryInt(out, "SELECT count(*) FROM run_erf") == 2);
  CHECK(QueryText(out,
                  "SELECT e.radius95 FROM run_erf e JOIN runs r USING (run_id) "
                  "WHERE r.config_hash = 'a'") == "2.25");
}

TEST_CASE("merge same shard twice adds nothing") {
  TempDir dir;
  WriteShard(dir.File("shard-0.sqlite"), "grid", {{"a"}, {"b", RunStatus::kFailed}});
  std::string out = dir.File("merged.sqlite");
  MergeShards(out, {dir.File("shard-0.sqlite")}, nullptr);
  std::string before = QueryText(out,
                                 "SELECT group_concat(run_id || status || "
                                 "coalesce(final_eval_loss, ''), ',') FROM runs");

  MergeReport again = MergeShards(out, {dir.File("shard-0.sqlite")}, nullptr);
  CHECK(again.shards[0].inserted == 0);
  CHECK(again.shards[0].replaced == 0);
  CHECK(QueryInt(out, "SELECT count(*) FROM runs") == 2);
  CHECK(QueryInt(out, "SELECT count(*) FROM metrics") == 4);
  CHECK(QueryText(out,
                  "SELECT group_concat(run_id || status || "
                  "coalesce(final_eval_loss, ''), ',') FROM runs") == before);
}

TEST_CASE("merge finished replaces failed, not reverse") {
  TempDir dir;
  WriteShard(dir.File("old.sqlite"), "grid",
             {{"a", RunStatus::kFailed, 9.0},
              {"b", RunStatus::kFinished, 0.2},
              {"c", RunStatus::kPending}});
  WriteShard(dir.File("new.sqlite"), "grid",
             {{"a", RunStatus::kFinished, 0.1},
              {"b", RunStatus::kFailed, 7.0},
              {"c", RunStatus::kInterrupted}});
  std::string out = dir.File("merged.sqlite");
  MergeShards(out, {dir.File("old.sqlite")}, nullptr);
  MergeReport report = MergeShards(out, {dir.File("new.sqlite")}, nullptr);

  CHECK(report.shards[0].replaced == 2);
  CHECK(QueryText(out, "SELECT status FROM runs WHERE config_hash = 'a'") == "finished");
  CHECK(QueryText(out, "SELECT final_eval_loss FROM runs WHERE config_hash = 'a'") ==
        "0.1");
  CHECK(QueryText(out, "SELECT status FROM runs WHERE config_hash = 'b'") == "finished");
  CHECK(QueryText(out, "SELECT final_eval_loss FROM runs WHERE config_hash = 'b'") ==
        "0.2");
  CHECK(QueryText(out, "SELECT status FROM runs WHERE config_hash = 'c'") ==
        "interrupted");
  // The replaced run keeps only the new shard's metric values.
  CHECK(QueryText(out,
                  "SELECT group_concat(value, ',') FROM (SELECT m.value FROM "
                  "metrics m JOIN runs r USING (run_id) WHERE r.config_hash = 'a' "
                  "ORDER BY m.step)") == "1.1,0.1");
  REQUIRE(report.incomplete.size() == 1);
  CHECK(report.incomplete[0].config_hash == "c");
  CHECK(report.incomplete[0].status == "interrupted");
}

TEST_CASE("merge spec grid reports missing runs") {
  TempDir dir;
  WriteShard(dir.File("shard-0.sqlite"), "grid", {{"a"}, {"b", RunStatus::kRunning}});
  std::vector<scalelock::Experiment> grid = {Grid("grid", {"a", "b", "z"})};

  MergeReport report =
      MergeShards(dir.File("merged.sqlite"), {dir.File("shard-0.sqlite")}, &grid);
  CHECK(report.grid_runs == 3);
  REQUIRE(report.incomplete.size() == 2);
  CHECK(report.incomplete[0].config_hash == "b");
  CHECK(report.incomplete[0].status == "running");
  CHECK(report.incomplete[1].config_hash == "z");
  CHECK(report.incomplete[1].status == "missing");
  std::string text = scalelock::FormatMergeReport(report);
  CHECK_THAT(text, Catch::Contains("incomplete: 2 of 3 runs"));
  CHECK_THAT(text, Catch::Contains("grid z missing"));
}

TEST_CASE("merge leaves shard file unchanged") {
  TempDir dir;
  WriteShard(dir.File("shard-0.sqlite"), "grid", {{"a"}, {"b"}});
  std::string before = ReadBytes(dir.File("shard-0.sqlite"));
  MergeShards(dir.File("merged.sqlite"), {dir.File("shard-0.sqlite")}, nullptr);
  CHECK(ReadBytes(dir.File("shard-0.sqlite")) == before);
}

TEST_CASE("merge rejects bad shard arguments") {
  TempDir dir;
  WriteShard(dir.File("shard-0.sqlite"), "grid", {{"a"}});
  std::string out = dir.File("merged.sqlite");
  std::ofstream(dir.File("notes.sqlite")) << "not a database, just text\n";

  CHECK(MergeErrorCode(out, {dir.File("absent.sqlite")}) == ErrorCode::kNotFound);
  CHECK(MergeErrorCode(out, {dir.File("notes.sqlite")}) == ErrorCode::kDatabase);
  CHECK(MergeErrorCode(out, {dir.File("shard-0.sqlite"), dir.File("shard-0.sqlite")}) ==
        ErrorCode::kInvalidInput);
  CHECK(MergeErrorCode(dir.File("shard-0.sqlite"), {dir.File("shard-0.sqlite")}) ==
        ErrorCode::kInvalidInput);
  CHECK(MergeErrorCode(out, {}) == ErrorCode::kInvalidInput);
}

TEST_CASE("merge bad shard writes nothing") {
  TempDir dir;
  WriteShard(dir.File("shard-0.sqlite"), "grid", {{"a"}});
  std::ofstream(dir.File("shard-1.sqlite")) << "SQLite format 3" << std::string(200, 'x');
  std::string out = dir.File("merged.sqlite");

  CHECK(MergeErrorCode(out, {dir.File("shard-0.sqlite"), dir.File("shard-1.sqlite")}) ==
        ErrorCode::kDatabase);
  CHECK_FALSE(std::filesystem::exists(out));
}
