#include "cli/command.h"

namespace scalelock {

const std::vector<Command>& Commands() {
  static const std::vector<Command> commands = {
      {"run", "run every pending run of a spec's grid and store the results", SetupRun},
      {"status", "show how many runs of each experiment are pending, running, done",
       SetupStatus},
      {"query", "run a read-only SQL query on the results database", SetupQuery},
      {"fit", "fit scaling laws L = E + A * X^-alpha (and other forms)", SetupFit},
      {"lock", "fit the scale ratio r* where each receptive field stops learning",
       SetupLock},
      {"export", "write plot data (CSV) and gnuplot scripts into plots/", SetupExport},
      {"rf", "compute receptive field, effective stride and padding per layer", SetupRf},
      {"slurm", "write an sbatch job-array script that runs a spec's grid in shards",
       SetupSlurm},
      {"merge", "merge shard databases into one results database", SetupMerge},
      {"scales", "estimate lambda_min and lambda_max of each task's inputs", SetupScales},
  };
  return commands;
}

}  // namespace scalelock
