// Training of one resolved run config: builds the task and the oneDNN model,
// runs the optimizer for training.steps steps, evaluates every
// training.eval_every steps, and reports metrics through a callback.
// Metrics: train_loss and eval_loss (cross-entropy, or mean squared error for
// regression tasks), eval_accuracy (class tasks, per position for dense
// tasks) and eval_mae (regression tasks).
//
// A resolved run config is a JSON object with the keys "task", "model",
// "training" and "seed", every default filled in (see spec/spec.h).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "util/types.h"

namespace scalelock {

// What a run is before it trains: used for scheduling and stored per run.
struct ModelSummary {
  std::string family;
  int64_t width = 0;
  int64_t depth = 0;
  int64_t kernel = 0;
  int64_t dilation = 1;           // largest dilation in the network
  int64_t receptive_field = 0;    // theoretical RF in input samples (per axis)
  int64_t effective_stride = 1;   // input samples between neighbouring features
  int64_t effective_padding = 0;  // zero padding the first feature's RF reaches
  // strided family on a task with scales: 1 when stride^depth >= r =
  // lambda_max / lambda_min (depth >= log_s r), else 0; -1 where it does not
  // apply (other families, or tasks without lambda_min and lambda_max).
  int depth_requirement_met = -1;
  int64_t params = 0;              // trainable parameters, exact
  double forward_flops = 0.0;      // per sample, 2 per multiply-add
  double train_flops = 0.0;        // whole run: 3 * forward * batch * steps
  int64_t train_samples_seen = 0;  // batch_size * steps
};

// Computes the summary without training. Throws Error(kInvalidInput) on a
// config the model cannot be built from.
ModelSummary SummarizeRun(const nlohmann::json& run_config);

struct TrainOptions {
  int threads = 1;                // OpenMP threads for oneDNN in this run
  double max_wall_seconds = 0.0;  // 0 = no limit; else stop as timed_out
  // Called from the training thread with each new batch of metrics.
  std::function<void(const std::vector<MetricPoint>&)> on_metrics;
  // Polled once per step; true stops the run as interrupted.
  std::function<bool()> should_stop;
};

// Effective receptive field of the trained network at one point of the run
// (see model/erf.h). NaN radii mean an all-zero input gradient.
struct ErfValues {
  bool measured = false;  // false: not computed (the run failed first, or the
                          // network has no spatial feature layer)
  double radius50 = 0.0;  // input samples
  double radius95 = 0.0;  // input samples
  double ratio = 0.0;     // (2 * radius95 + 1) / receptive_field
};

struct TrainOutcome {
  RunStatus status = RunStatus::kFailed;
  std::string message;  // stop reason with its numbers
  int64_t steps_done = 0;
  double final_train_loss = 0.0;
  double final_eval_loss = 0.0;
  // NaN for regression tasks, which report eval_mae instead (stored NULL).
  double final_eval_accuracy = 0.0;
  double wall_seconds = 0.0;
  ErfValues erf_init;     // before the first step, on up to 32 eval samples
  ErfValues erf_trained;  // after the last step (also for timed-out runs)
};

// Trains one run. Never throws for a training failure: exceptions become
// status kFailed with the message, NaN or inf loss becomes kDiverged.
// Sets the OpenMP thread count of the calling thread to options.threads
// before any primitive is created.
TrainOutcome TrainRun(const nlohmann::json& run_config, const TrainOptions& options);

}  // namespace scalelock
