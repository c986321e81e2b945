#include <spdlog/spdlog.h>

#include <regex>

#include "cli/command.h"
#include "sched/scheduler.h"
#include "sched/signals.h"
#include "util/error.h"

namespace scalelock {

namespace {

struct RunCommandOptions {
  std::string spec;
  std::string shard;
  SchedulerOptions scheduler;
};

void ParseShard(const std::string& text, SchedulerOptions* options) {
  std::smatch match;
  static const std::regex kShard("([0-9]{1,6})/([0-9]{1,6})");
  if (!std::regex_match(text, match, kShard) || std::stoi(match[2]) < 1 ||
      std::stoi(match[1]) >= std::stoi(match[2])) {
    Fail(ErrorCode::kInvalidInput,
         "invalid --shard '{}': expected I/N with 0 <= I < N <= 999999, e.g. 0/4", text);
  }
  options->shard_index = std::stoi(match[1]);
  options->shard_count = std::stoi(match[2]);
}

int Run(const RunCommandOptions& options) {
  SchedulerOptions scheduler = options.scheduler;
  if (!options.shard.empty()) ParseShard(options.shard, &scheduler);

  std::vector<Experiment> experiments = LoadSpecFile(options.spec);
  InstallStopHandlers();
  GridSummary summary = RunGrid(experiments, scheduler);
  if (scheduler.dry_run) return 0;

  spdlog::info(
      "done in {:.1f} s: {} finished, {} failed or diverged, {} interrupted, "
      "{} skipped (already ended) of {} runs",
      summary.seconds, summary.finished, summary.failed, summary.interrupted,
      summary.skipped, summary.total);
  if (int status = StopExitStatus()) return status;
  return 0;
}

}  // namespace

CommandHandler SetupRun(CLI::App& app) {
  auto options = std::make_shared<RunCommandOptions>();
  app.add_option("spec", options->spec,
                 "experiment spec (JSON), e.g. experiments/demo.json")
      ->required();
  AddDatabaseOption(app, &options->scheduler.database);
  app.add_option("-j,--jobs", options->scheduler.jobs,
                 "runs trained at once (default: usable cores / threads per run)");
  app.add_option("-t,--threads-per-run", options->scheduler.threads_per_run,
                 "OpenMP threads for oneDNN in each run")
      ->capture_default_str();
  app.add_flag("--retry-failed", options->scheduler.retry_failed,
               "run failed, diverged and timed-out runs again");
  app.add_option(
      "--shard", options->shard,
      "run only shard I of N (I/N, 0-based): runs whose grid position % N == I");
  app.add_option("--stale-seconds", options->scheduler.stale_seconds,
                 "requeue another host's running runs whose heartbeat is older than this "
                 "(seconds); runs of dead processes on this host are requeued at once")
      ->capture_default_str();
  app.add_option("--max-attempts", options->scheduler.max_attempts,
                 "claims per run; a run whose worker died this many times is failed")
      ->capture_default_str();
  app.add_flag("--dry-run", options->scheduler.dry_run,
               "validate the spec, print the run count and FLOPs, and train nothing");
  return [options] { return Run(*options); };
}

}  // namespace scalelock
