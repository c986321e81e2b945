// Merging shard databases (one per Slurm array task) into one results database.
//
// Experiments match by name and runs by (experiment name, config_hash). A run
// is copied, with its rows in metrics and run_erf, when the output lacks it. A
// run already in the output is replaced, with those rows, only when the
// shard's copy has a better status: finished
// beats diverged and timed_out, which beat failed, which beats interrupted and
// running, which beat pending. Equal status keeps the output's copy, so merging
// the same shard twice changes nothing. Fits are not merged.
//
// Each shard is attached read-only (SQLite URI mode=ro), checked with
// PRAGMA quick_check and its schema version, and copied in one BEGIN IMMEDIATE
// transaction, so a failure leaves the output as it was before that shard.
// Errors are Error(kNotFound) for a missing shard and Error(kDatabase) for an
// unusable one. Not thread-safe; other processes may write the output meanwhile.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "spec/spec.h"

namespace scalelock {

// Run counts of one shard database, read before merging.
struct ShardCounts {
  std::string path;
  int64_t finished = 0;
  int64_t ended_early = 0;  // diverged or timed_out
  int64_t failed = 0;
  int64_t not_run = 0;   // pending, running or interrupted
  int64_t inserted = 0;  // runs new to the output
  int64_t replaced = 0;  // output runs replaced by a better status
};

// A grid run that the merged output does not have as ended.
struct IncompleteRun {
  std::string experiment;
  std::string config_hash;
  std::string status;  // "missing" when no merged shard contains the run
  std::string message;
};

struct MergeReport {
  std::vector<ShardCounts> shards;
  std::vector<IncompleteRun> incomplete;
  int64_t grid_runs = 0;  // runs checked for completion
};

// Merges shards into the database at output (created when missing). When grid
// is non-null, completion is checked against its runs; otherwise against every
// run of the experiments the shards contain. A run counts as complete when
// its status is finished, diverged or timed_out.
MergeReport MergeShards(const std::string& output, const std::vector<std::string>& shards,
                        const std::vector<Experiment>* grid);

// The per-shard lines and the incomplete list, as `scalelock merge` prints them.
std::string FormatMergeReport(const MergeReport& report);

}  // namespace scalelock
