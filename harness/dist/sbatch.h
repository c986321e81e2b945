// Slurm job-array scripts for running a spec's grid in shards.
//
// Array task i runs `scalelock run SPEC --shard i/N --db DIR/shard-i.sqlite
// --stale-seconds 0`, so each task writes its own SQLite file and no two
// processes on different nodes share one. Submitting the same array twice at
// once breaks that rule. A merge job, submitted with --dependency=afterany on every
// array, runs `scalelock merge OUT --spec SPEC DIR/shard-*.sqlite` and judges
// completion from the shard databases, not from the tasks' exit codes.
// Array indexes must stay below Slurm's MaxArraySize, so a grid of more shards
// is split into several arrays; each passes its first shard in the environment
// variable SCALELOCK_SHARD_OFFSET.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace scalelock {

struct SlurmJobOptions {
  std::string binary;     // absolute path of the scalelock executable
  std::string spec;       // absolute path of the spec file
  std::string db_dir;     // absolute folder of the shard databases and logs
  std::string output_db;  // absolute path of the merged database
  std::string job_name;   // Slurm job name of the arrays; the merge job adds "-merge"
  int64_t shards = 1;     // N: array tasks in all
  int64_t throttle = 0;   // K: array tasks running at once; 0 = no limit
  std::string time_limit = "01:00:00";  // per array task, [D-]HH:MM:SS
  int threads_per_run = 1;
  int jobs = 1;                   // concurrent runs per array task
  std::string partition;          // empty = the cluster's default partition
  int64_t max_array_size = 1001;  // Slurm MaxArraySize: indexes 0..max-1
};

// One job array: shards [first_shard, first_shard + count).
struct ArrayChunk {
  int64_t first_shard = 0;
  int64_t count = 0;
};

// Checks the options; throws Error(kInvalidInput) naming the bad value.
void ValidateSlurmJobOptions(const SlurmJobOptions& options);

// Splits the shards into arrays of at most max_array_size tasks.
std::vector<ArrayChunk> SplitArrays(const SlurmJobOptions& options);

// Text of the array script and of the merge script.
std::string ArrayScript(const SlurmJobOptions& options);
std::string MergeScript(const SlurmJobOptions& options);

// The sbatch argument lists (without "sbatch" and the script path) of each
// array, and of the merge job given the array job ids.
std::vector<std::vector<std::string>> ArraySubmitArguments(
    const SlurmJobOptions& options);
std::vector<std::string> MergeSubmitArguments(
    const std::vector<std::string>& array_job_ids);

// Reads MaxArraySize from `scontrol show config`; returns fallback when
// scontrol is missing, fails or does not print it.
int64_t QueryMaxArraySize(int64_t fallback);

// Quotes text for a POSIX shell with single quotes.
std::string ShellQuote(const std::string& text);

}  // namespace scalelock
