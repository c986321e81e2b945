// `scalelock merge OUT SHARD...`: merges shard databases into OUT and reports
// per shard how many runs ended, and which runs of the grid have not.
#include <spdlog/spdlog.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "dist/merge.h"
#include "spec/spec.h"

namespace scalelock {
namespace {

// Exit status when the merge worked but some run of the grid has not ended.
constexpr int kIncompleteExitStatus = 1;

struct MergeOptions {
  std::string output;
  std::vector<std::string> shards;
  std::string spec;
};

int Merge(const MergeOptions& options) {
  std::vector<Experiment> grid;
  if (!options.spec.empty()) grid = LoadSpecFile(options.spec);
  MergeReport report =
      MergeShards(options.output, options.shards, options.spec.empty() ? nullptr : &grid);
  std::cout << FormatMergeReport(report);
  if (!report.incomplete.empty()) {
    spdlog::error(
        "merge: {} of {} runs have not ended; rerun their shards (e.g. resubmit "
        "the array) and merge again",
        report.incomplete.size(), report.grid_runs);
    return kIncompleteExitStatus;
  }
  return 0;
}

}  // namespace

CommandHandler SetupMerge(CLI::App& app) {
  auto options = std::make_shared<MergeOptions>();
  app.add_option("output", options->output,
                 "merged results database (SQLite file, created when missing)")
      ->required();
  app.add_option("shards", options->shards, "shard databases, e.g. shards/shard-*.sqlite")
      ->required();
  app.add_option("--spec", options->spec,
                 "spec of the grid: check that every one of its runs has ended, so a "
                 "shard that never ran is reported");
  app.footer(
      "Exit status 0 when every run has ended (finished, diverged or timed out), 1 when "
      "some have not; merging a shard again adds nothing.");
  return [options] { return Merge(*options); };
}

}  // namespace scalelock
