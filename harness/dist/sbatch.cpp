#include "dist/sbatch.h"

#include <fmt/format.h>

#include <cstdio>
#include <regex>

#include "util/error.h"

namespace scalelock {
namespace {

std::string ArrayRange(int64_t count, int64_t throttle) {
  std::string range = fmt::format("0-{}", count - 1);
  if (throttle > 0) range += fmt::format("%{}", throttle);
  return range;
}

std::string CommonDirectives(const SlurmJobOptions& options, const std::string& name,
                             int cpus) {
  std::string text;
  text += fmt::format("#SBATCH --job-name={}\n", name);
  text += fmt::format("#SBATCH --time={}\n", options.time_limit);
  text += "#SBATCH --ntasks=1\n";
  text += fmt::format("#SBATCH --cpus-per-task={}\n", cpus);
  if (!options.partition.empty()) {
    text += fmt::format("#SBATCH --partition={}\n", options.partition);
  }
  return text;
}

}  // namespace

std::string ShellQuote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

void ValidateSlurmJobOptions(const SlurmJobOptions& options) {
  if (options.shards < 1) {
    Fail(ErrorCode::kInvalidInput, "invalid --shards {}: expected at least 1",
         options.shards);
  }
  if (options.throttle < 0) {
    Fail(ErrorCode::kInvalidInput,
         "invalid --throttle {}: expected 0 (no limit) or a positive task count",
         options.throttle);
  }
  static const std::regex kTime("([0-9]+-)?[0-9]{1,2}:[0-5][0-9]:[0-5][0-9]");
  if (!std::regex_match(options.time_limit, kTime)) {
    Fail(ErrorCode::kInvalidInput,
         "invalid --time '{}': expected HH:MM:SS or D-HH:MM:SS, e.g. 02:00:00",
         options.time_limit);
  }
  if (options.jobs < 1 || options.threads_per_run < 1) {
    Fail(ErrorCode::kInvalidInput,
         "invalid --jobs {} or --threads-per-run {}: expected at least 1 each",
         options.jobs, options.threads_per_run);
  }
  if (options.max_array_size < 1) {
    Fail(ErrorCode::kInvalidInput, "invalid MaxArraySize {}: expected at least 1",
         options.max_array_size);
  }
  static const std::regex kName("[A-Za-z0-9_.-]+");
  if (!std::regex_match(options.job_name, kName)) {
    Fail(ErrorCode::kInvalidInput,
         "invalid job name '{}': expected letters, digits, '_', '.' or '-'",
         options.job_name);
  }
  static const std::regex kPartition("[A-Za-z0-9_.,-]*");
  if (!std::regex_match(options.partition, kPartition)) {
    Fail(ErrorCode::kInvalidInput,
         "invalid --partition '{}': expected a Slurm partition name", options.partition);
  }
}

std::vector<ArrayChunk> SplitArrays(const SlurmJobOptions& options) {
  std::vector<ArrayChunk> chunks;
  for (int64_t first = 0; first < options.shards; first += options.max_array_size) {
    chunks.push_back({first, std::min(options.max_array_size, options.shards - first)});
  }
  return chunks;
}

std::string ArrayScript(const SlurmJobOptions& options) {
  std::vector<ArrayChunk> chunks = SplitArrays(options);
  std::string text = "#!/bin/bash\n";
  text += fmt::format(
      "# Written by `scalelock slurm`: array task i runs shard i + "
      "SCALELOCK_SHARD_OFFSET of {} into its own database.\n",
      options.shards);
  text +=
      CommonDirectives(options, options.job_name, options.jobs * options.threads_per_run);
  text +=
      fmt::format("#SBATCH --array={}\n", ArrayRange(chunks[0].count, options.throttle));
  text += fmt::format("#SBATCH --output={}/logs/{}-%A_%a.out\n", options.db_dir,
                      options.job_name);
  text += "set -euo pipefail\n";
  text +=
      "if [[ -z ${SLURM_ARRAY_TASK_ID:-} ]]; then\n"
      "  echo \"not an array task: submit this script with sbatch --array\" >&2\n"
      "  exit 2\n"
      "fi\n";
  text += "shard=$((SLURM_ARRAY_TASK_ID + ${SCALELOCK_SHARD_OFFSET:-0}))\n";
  // exec, so Slurm's SIGTERM at the time limit reaches scalelock, which then
  // stores its running runs as interrupted; a resubmission resumes them.
  // Only this task writes its shard database, so a run still marked running
  // when the task starts belongs to a dead task (killed after the SIGTERM
  // grace time, maybe on another node): --stale-seconds 0 requeues it at once.
  text += fmt::format(
      "exec {} run {} --shard \"$shard/{}\" --db {}\"/shard-$shard.sqlite\" --jobs {} "
      "--threads-per-run {} --stale-seconds 0\n",
      ShellQuote(options.binary), ShellQuote(options.spec), options.shards,
      ShellQuote(options.db_dir), options.jobs, options.threads_per_run);
  return text;
}

std::string MergeScript(const SlurmJobOptions& options) {
  std::string text = "#!/bin/bash\n";
  text +=
      "# Written by `scalelock slurm`: merges the shard databases once every array "
      "task has ended.\n";
  text += CommonDirectives(options, options.job_name + "-merge", 1);
  text += fmt::format("#SBATCH --output={}/logs/{}-merge-%j.out\n", options.db_dir,
                      options.job_name);
  text += "set -euo pipefail\n";
  text += "shopt -s nullglob\n";
  text += fmt::format("shards=({}/shard-*.sqlite)\n", ShellQuote(options.db_dir));
  text += fmt::format("exec {} merge {} --spec {} \"${{shards[@]}}\"\n",
                      ShellQuote(options.binary), ShellQuote(options.output_db),
                      ShellQuote(options.spec));
  return text;
}

std::vector<std::vector<std::string>> ArraySubmitArguments(
    const SlurmJobOptions& options) {
  std::vector<std::vector<std::string>> arguments;
  for (const ArrayChunk& chunk : SplitArrays(options)) {
    arguments.push_back(
        {"--parsable", "--array=" + ArrayRange(chunk.count, options.throttle),
         fmt::format("--export=ALL,SCALELOCK_SHARD_OFFSET={}", chunk.first_shard)});
  }
  return arguments;
}

std::vector<std::string> MergeSubmitArguments(
    const std::vector<std::string>& array_job_ids) {
  std::string dependency = "--dependency=afterany";
  for (const std::string& id : array_job_ids)
    dependency += ":" + id;
  return {"--parsable", dependency};
}

int64_t QueryMaxArraySize(int64_t fallback) {
  FILE* pipe = popen("scontrol show config 2>/dev/null", "r");
  if (pipe == nullptr) return fallback;
  static const std::regex kLine(R"(^\s*MaxArraySize\s*=\s*([0-9]+)\s*$)");
  int64_t value = fallback;
  char buffer[512];
  while (std::fgets(buffer, sizeof(buffer), pipe) != nullptr) {
    std::string line(buffer);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
      line.pop_back();
    std::smatch match;
    if (std::regex_match(line, match, kLine)) value = std::stoll(match[1]);
  }
  pclose(pipe);
  return value > 0 ? value : fallback;
}

}  // namespace scalelock
