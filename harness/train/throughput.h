// Training throughput of one run config, for benchmarks.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

namespace scalelock {

struct Throughput {
  double samples_per_second = 0.0;  // steps * batch_size / seconds
  double seconds = 0.0;             // wall time of the timed steps
  int64_t steps = 0;                // timed steps
  double final_loss = 0.0;          // mean loss of the last timed batch
};

// Builds the task, network and optimizer of run_config as TrainRun does,
// with `threads` OpenMP threads, runs warmup_steps untimed steps, then times
// `steps` full steps (batch draw, forward, loss, backward, update). No
// evaluation runs. Throws Error for a bad config and dnnl::error when oneDNN
// fails.
Throughput MeasureTrainThroughput(const nlohmann::json& run_config, int threads,
                                  int64_t warmup_steps, int64_t steps);

}  // namespace scalelock
