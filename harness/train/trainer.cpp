#include "train/trainer.h"

#include <omp.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <dnnl.hpp>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "data/task.h"
#include "model/erf.h"
#include "model/net_spec.h"
#include "model/network.h"
#include "model/optimizer.h"
#include "train/throughput.h"
#include "train/training_config.h"
#include "util/error.h"

namespace scalelock {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// What the network of a task must produce.
struct TaskGeometry {
  Shape sample_shape;
  int outputs = 0;  // classes, or the target dimension of a regression task
  Objective objective = Objective::kClass;
};

TaskGeometry GeometryOf(const Task& task) {
  TaskGeometry geometry;
  geometry.sample_shape = task.sample_shape();
  switch (task.target_kind()) {
    case TargetKind::kClass:
      geometry.objective = Objective::kClass;
      break;
    case TargetKind::kDenseClass:
      geometry.objective = Objective::kDenseClass;
      break;
    case TargetKind::kRegression:
      geometry.objective = Objective::kRegression;
      break;
  }
  geometry.outputs = geometry.objective == Objective::kRegression
                         ? static_cast<int>(task.target_dim())
                         : task.num_classes();
  return geometry;
}

// Geometry of a task config. Building a task can read a data set, so results
// are cached per task config (shapes do not depend on the seed).
TaskGeometry CachedGeometry(const nlohmann::json& task_config, uint64_t seed) {
  static std::mutex mutex;
  static std::map<std::string, TaskGeometry> cache;
  const std::string key = task_config.dump();
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto found = cache.find(key);
    if (found != cache.end()) return found->second;
  }
  TaskGeometry geometry = GeometryOf(*MakeTask(task_config, seed));
  std::lock_guard<std::mutex> lock(mutex);
  cache.emplace(key, geometry);
  return geometry;
}

NetSpec BuildTaskNet(const nlohmann::json& model, const TaskGeometry& geometry) {
  return BuildNetSpec(model, geometry.sample_shape, geometry.outputs, geometry.objective);
}

uint64_t ReadSeed(const nlohmann::json& run_config) {
  if (!run_config.contains("seed")) return 0;
  const nlohmann::json& seed = run_config["seed"];
  if (!seed.is_number_integer()) {
    Fail(ErrorCode::kInvalidInput, "seed: invalid value {}: expected an integer",
         seed.dump());
  }
  return seed.is_number_unsigned() ? seed.get<uint64_t>()
                                   : static_cast<uint64_t>(seed.get<int64_t>());
}

const nlohmann::json& Section(const nlohmann::json& run_config, const char* key) {
  if (!run_config.is_object() || !run_config.contains(key) ||
      !run_config[key].is_object()) {
    Fail(ErrorCode::kInvalidInput,
         "run config: \"{}\" is missing or not an object; expected a resolved run config "
         "with task, model, training and seed",
         key);
  }
  return run_config[key];
}

// Inference batch size: up to 256 samples, fewer when the activations of
// one pass would exceed kEvalActivationBytes (but never fewer than the
// training batch), and no more than the evaluation set.
constexpr double kEvalActivationBytes = 64.0 * 1024 * 1024;

int64_t EvalBatchSize(const NetSpec& spec, int64_t train_batch, int64_t eval_samples) {
  double bytes_per_sample = 0.0;
  for (const Shape& shape : spec.shapes) {
    bytes_per_sample += static_cast<double>(ShapeSize(shape)) * sizeof(float);
  }
  // An attention layer also keeps L x L scores and probabilities per head.
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    if (spec.layers[i].kind != LayerKind::kAttention) continue;
    const Shape& shape = spec.shapes[spec.layers[i].inputs[0]];
    double positions = static_cast<double>(ShapeSize(shape) / shape[0]);
    double heads = static_cast<double>(spec.layers[i].heads);
    bytes_per_sample += 2.0 * heads * positions * positions * sizeof(float);
  }
  int64_t fits = static_cast<int64_t>(kEvalActivationBytes / bytes_per_sample);
  int64_t batch = std::max(train_batch, std::min<int64_t>(256, fits));
  return std::max<int64_t>(1, std::min(batch, eval_samples));
}

// Metrics of one evaluation point and the running train-loss window.
struct Progress {
  double loss_sum = 0.0;  // train losses since the last logged point
  int64_t loss_count = 0;
  std::vector<MetricPoint> pending;
};

// The training loop of one run; TrainRun wraps it in error handling.
class Trainer {
 public:
  Trainer(const nlohmann::json& run_config, const TrainOptions& options)
      : options_(options) {
    training_ = ParseTrainingConfig(Section(run_config, "training"));
    seed_ = ReadSeed(run_config);
    task_ = MakeTask(Section(run_config, "task"), seed_);
    transfer_ = ReadTransferPhase(Section(run_config, "task"));
    if (transfer_) {
      transfer_task_ = MakeTask(transfer_->task, seed_);
      CheckTransferCompatible(*task_, *transfer_task_);
    }
    geometry_ = GeometryOf(*task_);
    spec_ = BuildTaskNet(Section(run_config, "model"), geometry_);
    NetworkOptions network_options;
    network_options.batch_size = training_.batch_size;
    network_options.eval_batch_size =
        EvalBatchSize(spec_, training_.batch_size, task_->EvalSet().size);
    network_options.seed = seed_;
    network_ = std::make_unique<Network>(spec_, network_options);
    spdlog::debug(
        "training network: {} layers, {} params, batch {}, eval batch {}, scratchpad {} "
        "bytes, {} steps",
        spec_.layers.size(), ComputeNetStats(spec_).params, training_.batch_size,
        network_options.eval_batch_size, network_->scratchpad_bytes(), training_.steps);
    optimizer_ = std::make_unique<Optimizer>(training_.optimizer, network_->params());
    wall_limit_ = training_.max_seconds;
    if (options.max_wall_seconds > 0 &&
        (wall_limit_ <= 0 || options.max_wall_seconds < wall_limit_)) {
      wall_limit_ = options.max_wall_seconds;
    }
  }

  // Draws batch `step`, runs forward and backward and, unless the loss is
  // NaN or infinite, applies the optimizer. Returns the mean batch loss.
  double TrainStep(int64_t step) {
    task_->TrainBatch(step, training_.batch_size, &batch_);
    CheckBatch(batch_, step);
    double loss = regression()
                      ? network_->TrainStep(batch_.inputs.data(), batch_.targets.data())
                      : network_->TrainStep(batch_.inputs.data(), batch_.labels.data());
    if (!std::isfinite(loss)) return loss;
    optimizer_->Step(&network_->params());
    network_->MarkParamsChanged();
    return loss;
  }

  int64_t batch_size() const { return training_.batch_size; }

  // Effective receptive field of the current parameters on up to 32
  // evaluation samples; not measured for a net without spatial features. A
  // failed measurement is logged and leaves the run going, unmeasured.
  ErfValues MeasureErfNow() const {
    ErfValues values;
    if (spec_.feature_layer < 0 || spec_.shapes[spec_.feature_layer + 1].size() < 2) {
      return values;
    }
    const Batch& eval = task_->EvalSet();
    int64_t count = std::min<int64_t>(32, eval.size);
    try {
      ErfResult erf = MeasureErf(spec_, network_->params(), eval.inputs.data(), count);
      values.measured = true;
      values.radius50 = erf.radius50;
      values.radius95 = erf.radius95;
      values.ratio = erf.ratio;
    } catch (const Error& error) {
      spdlog::warn("effective receptive field not measured: {}", error.what());
    } catch (const dnnl::error& error) {
      spdlog::warn("effective receptive field not measured: oneDNN error (status {}): {}",
                   static_cast<int>(error.status), error.what());
    }
    return values;
  }

  void Run(TrainOutcome* outcome, Clock::time_point start) {
    const int64_t steps = training_.steps;
    for (int64_t step = 0; step < steps; ++step) {
      if (StopRequested(outcome, step, start)) return;

      double loss = TrainStep(step);
      if (!std::isfinite(loss)) {
        outcome->status = RunStatus::kDiverged;
        outcome->message =
            fmt::format("train loss became {} at step {} of {}", loss, step + 1, steps);
        Emit();
        return;
      }
      outcome->steps_done = step + 1;
      progress_.loss_sum += loss;
      progress_.loss_count += 1;

      if (outcome->steps_done % training_.eval_every == 0 ||
          outcome->steps_done == steps) {
        LogTrainLoss(outcome);
        if (!Evaluate(outcome)) return;
        Emit();
      }
    }
    outcome->status = RunStatus::kFinished;
    outcome->message = fmt::format("finished {} steps", steps);
  }

  // Runs the second phase of a transfer run (task.transfer, docs/tasks.md)
  // after a finished first phase: `steps` fine-tuning steps on the second task
  // ("finetune" only), then an evaluation on its evaluation set. Its metrics
  // are named "transfer_<metric>" and its steps continue after the first
  // phase's. The outcome keeps the first phase's final losses. A stop or a
  // divergence in this phase sets the outcome's status and message.
  void RunTransfer(TrainOutcome* outcome, Clock::time_point start) {
    if (!transfer_ || outcome->status != RunStatus::kFinished) return;
    TrainOutcome phase = *outcome;
    std::swap(task_, transfer_task_);  // TrainStep and Evaluate read task_
    metric_prefix_ = "transfer_";
    const int64_t first_steps = outcome->steps_done;
    bool stopped = false;
    for (int64_t step = 0; step < transfer_->steps; ++step) {
      if (StopRequested(&phase, first_steps + step, start)) {
        stopped = true;
        break;
      }
      double loss = TrainStep(step);
      if (!std::isfinite(loss)) {
        phase.status = RunStatus::kDiverged;
        phase.message = fmt::format("train loss became {} at step {}", loss, step + 1);
        stopped = true;
        break;
      }
      phase.steps_done = first_steps + step + 1;
      progress_.loss_sum += loss;
      progress_.loss_count += 1;
    }
    if (!stopped) {
      LogTrainLoss(&phase);
      stopped = !Evaluate(&phase);
    }
    Emit();
    std::swap(task_, transfer_task_);
    metric_prefix_.clear();

    outcome->steps_done = phase.steps_done;
    if (phase.status != RunStatus::kFinished) {
      outcome->status = phase.status;
      outcome->message = "transfer phase: " + phase.message;
      return;
    }
    outcome->message += fmt::format(", then transfer ({}) with {} steps", transfer_->mode,
                                    transfer_->steps);
    spdlog::debug("transfer phase done: eval loss {:.4g}", phase.final_eval_loss);
  }

 private:
  // Checks should_stop and the wall limit before a step; on a stop, logs the
  // partial window (and, on a timeout, evaluates) and fills the outcome.
  bool StopRequested(TrainOutcome* outcome, int64_t step, Clock::time_point start) {
    if (options_.should_stop && options_.should_stop()) {
      outcome->status = RunStatus::kInterrupted;
      outcome->message =
          fmt::format("interrupted after {} of {} steps", step, training_.steps);
      LogTrainLoss(outcome);
      Emit();
      return true;
    }
    double elapsed = SecondsSince(start);
    if (wall_limit_ > 0 && elapsed >= wall_limit_) {
      outcome->status = RunStatus::kTimedOut;
      outcome->message = fmt::format(
          "wall time {:.1f} s reached the limit of {:.1f} s after {} of {} steps",
          elapsed, wall_limit_, step, training_.steps);
      LogTrainLoss(outcome);
      if (step > 0) Evaluate(outcome);
      Emit();
      return true;
    }
    return false;
  }

  void CheckBatch(const Batch& batch, int64_t step) const {
    size_t expected = static_cast<size_t>(training_.batch_size * sample_size());
    size_t targets = regression() ? batch.targets.size() : batch.labels.size();
    size_t expected_targets =
        static_cast<size_t>(training_.batch_size * targets_per_sample());
    if (batch.size != training_.batch_size || batch.inputs.size() != expected ||
        targets != expected_targets) {
      Fail(ErrorCode::kInternal,
           "training batch {} has {} samples, {} input values and {} targets; expected "
           "{}, {} and {}",
           step, batch.size, batch.inputs.size(), targets, training_.batch_size, expected,
           expected_targets);
    }
  }

  bool regression() const { return geometry_.objective == Objective::kRegression; }

  // Labels (one per sample or per position) or regression values per sample.
  int64_t targets_per_sample() const {
    const int64_t outputs = ShapeSize(spec_.shapes.back());
    return regression() ? outputs : outputs / spec_.num_classes;
  }

  int64_t sample_size() const { return ShapeSize(task_->sample_shape()); }

  void LogTrainLoss(TrainOutcome* outcome) {
    if (progress_.loss_count == 0) return;
    double mean = progress_.loss_sum / static_cast<double>(progress_.loss_count);
    progress_.pending.push_back(
        {metric_prefix_ + "train_loss", outcome->steps_done, mean});
    outcome->final_train_loss = mean;
    progress_.loss_sum = 0.0;
    progress_.loss_count = 0;
  }

  // Evaluates on the task's evaluation set; false (and kDiverged) when the
  // evaluation loss is not finite.
  bool Evaluate(TrainOutcome* outcome) {
    const Batch& eval = task_->EvalSet();
    EvalResult result =
        regression()
            ? network_->Evaluate(eval.inputs.data(), eval.targets.data(), eval.size)
            : network_->Evaluate(eval.inputs.data(), eval.labels.data(), eval.size);
    if (!std::isfinite(result.loss)) {
      outcome->status = RunStatus::kDiverged;
      outcome->message = fmt::format("eval loss became {} at step {} of {}", result.loss,
                                     outcome->steps_done, training_.steps);
      Emit();
      return false;
    }
    progress_.pending.push_back(
        {metric_prefix_ + "eval_loss", outcome->steps_done, result.loss});
    outcome->final_eval_loss = result.loss;
    if (regression()) {
      progress_.pending.push_back(
          {metric_prefix_ + "eval_mae", outcome->steps_done, result.mae});
      outcome->final_eval_accuracy = std::numeric_limits<double>::quiet_NaN();
    } else {
      progress_.pending.push_back(
          {metric_prefix_ + "eval_accuracy", outcome->steps_done, result.accuracy});
      outcome->final_eval_accuracy = result.accuracy;
    }
    return true;
  }

  // Sends the pending metrics to on_metrics as one batch.
  void Emit() {
    if (progress_.pending.empty()) return;
    if (options_.on_metrics) options_.on_metrics(progress_.pending);
    progress_.pending.clear();
  }

  TrainOptions options_;
  TrainingConfig training_;
  uint64_t seed_ = 0;
  // Smaller positive one of training.max_seconds and options.max_wall_seconds,
  // in seconds from the start of TrainRun (task loading included); 0 = none.
  double wall_limit_ = 0.0;
  std::unique_ptr<Task> task_;
  // Second phase of a transfer run and its task; empty without task.transfer.
  std::optional<TransferPhase> transfer_;
  std::unique_ptr<Task> transfer_task_;
  std::string metric_prefix_;  // "transfer_" while the second phase runs
  TaskGeometry geometry_;
  NetSpec spec_;
  std::unique_ptr<Network> network_;
  std::unique_ptr<Optimizer> optimizer_;
  Progress progress_;
  Batch batch_;  // reused by every step
};

// See ModelSummary::depth_requirement_met. The relative tolerance keeps an
// exact power r = stride^depth on the met side despite rounding.
int DepthRequirementMet(const nlohmann::json& model, const nlohmann::json& task) {
  if (model["family"] != "strided" || !task.contains("lambda_min") ||
      !task.contains("lambda_max")) {
    return -1;
  }
  double ratio = task["lambda_max"].get<double>() / task["lambda_min"].get<double>();
  int64_t stride = model.value("stride", 2);
  int64_t depth = model.value("depth", 3);
  double reach = std::pow(static_cast<double>(stride), static_cast<double>(depth));
  return reach >= ratio * (1.0 - 1e-12) ? 1 : 0;
}

}  // namespace

ModelSummary SummarizeRun(const nlohmann::json& run_config) {
  TrainingConfig training = ParseTrainingConfig(Section(run_config, "training"));
  const nlohmann::json& model = Section(run_config, "model");
  const nlohmann::json& task = Section(run_config, "task");
  NetStats stats =
      ComputeNetStats(BuildTaskNet(model, CachedGeometry(task, ReadSeed(run_config))));

  ModelSummary summary;
  summary.family = model["family"].get<std::string>();
  summary.width = stats.width;
  summary.depth = stats.depth;
  summary.kernel = stats.kernel;
  summary.dilation = stats.dilation;
  summary.receptive_field = stats.receptive_field;
  summary.effective_stride = stats.effective_stride;
  summary.effective_padding = stats.effective_padding;
  summary.depth_requirement_met = DepthRequirementMet(model, task);
  summary.params = stats.params;
  summary.forward_flops = stats.forward_flops;
  summary.train_samples_seen = training.batch_size * training.steps;
  summary.train_flops =
      3.0 * stats.forward_flops * static_cast<double>(summary.train_samples_seen);
  return summary;
}

Throughput MeasureTrainThroughput(const nlohmann::json& run_config, int threads,
                                  int64_t warmup_steps, int64_t steps) {
  if (warmup_steps < 0 || steps < 1) {
    Fail(
        ErrorCode::kInvalidInput,
        "throughput measurement of {} warm-up and {} timed steps: expected >= 0 and >= 1",
        warmup_steps, steps);
  }
  omp_set_num_threads(std::max(1, threads));
  Trainer trainer(run_config, TrainOptions{});
  for (int64_t step = 0; step < warmup_steps; ++step)
    trainer.TrainStep(step);

  Throughput result;
  const Clock::time_point start = Clock::now();
  for (int64_t step = 0; step < steps; ++step) {
    result.final_loss = trainer.TrainStep(warmup_steps + step);
  }
  result.seconds = SecondsSince(start);
  result.steps = steps;
  result.samples_per_second =
      static_cast<double>(steps * trainer.batch_size()) / result.seconds;
  return result;
}

TrainOutcome TrainRun(const nlohmann::json& run_config, const TrainOptions& options) {
  TrainOutcome outcome;
  const Clock::time_point start = Clock::now();
  try {
    // oneDNN's OpenMP runtime reads the calling thread's thread count when it
    // creates and runs primitives, so it is set before the network exists.
    omp_set_num_threads(std::max(1, options.threads));
    Trainer trainer(run_config, options);
    outcome.erf_init = trainer.MeasureErfNow();
    trainer.Run(&outcome, start);
    if (outcome.steps_done > 0 && (outcome.status == RunStatus::kFinished ||
                                   outcome.status == RunStatus::kTimedOut)) {
      outcome.erf_trained = trainer.MeasureErfNow();
    }
    trainer.RunTransfer(&outcome, start);
  } catch (const Error& error) {
    outcome.status = RunStatus::kFailed;
    outcome.message = error.what();
  } catch (const dnnl::error& error) {
    outcome.status = RunStatus::kFailed;
    outcome.message = fmt::format("oneDNN error (status {}): {}",
                                  static_cast<int>(error.status), error.what());
  } catch (const std::exception& error) {
    outcome.status = RunStatus::kFailed;
    outcome.message = fmt::format("unexpected error: {}", error.what());
  }
  outcome.wall_seconds = SecondsSince(start);
  if (outcome.status != RunStatus::kFinished) {
    spdlog::warn("run stopped as {} after {} steps: {}", RunStatusName(outcome.status),
                 outcome.steps_done, outcome.message);
  }
  return outcome;
}

}  // namespace scalelock
