// Task: a deterministic source of labelled training batches plus a fixed
// held-out evaluation set.
//
// A task is built from the "task" object of a resolved run config and the
// run's seed. The same (config, seed) always yields the same batches and the
// same evaluation set, so a rerun of a config reproduces its losses.
// Inputs are float32 in NCW (1D) or NCHW (2D) order, labels are class indices.
// Tasks are not thread-safe; each run owns its own.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace scalelock {

// What a task asks the model to predict.
enum class TargetKind {
  kClass,       // one class per sample: Batch::labels has size entries
  kDenseClass,  // one class per input position: labels has size * positions
                // entries (positions = W, or H * W), in sample-major order
  kRegression,  // real values: Batch::targets has size * target_dim entries
};

struct Batch {
  int64_t size = 0;             // number of samples
  std::vector<float> inputs;    // size * prod(sample_shape), NCW or NCHW
  std::vector<int32_t> labels;  // kClass and kDenseClass, values in [0, num_classes)
  std::vector<float> targets;   // kRegression only
};

class Task {
 public:
  virtual ~Task() = default;

  // Shape of one sample without the batch axis: {C, W} or {C, H, W}.
  virtual std::vector<int64_t> sample_shape() const = 0;
  // Classes of kClass and kDenseClass tasks; 0 for kRegression tasks.
  virtual int num_classes() const = 0;

  virtual TargetKind target_kind() const { return TargetKind::kClass; }
  // Outputs per sample of a kRegression task (e.g. the forecast horizon).
  virtual int64_t target_dim() const { return 0; }

  // Fills *batch with training batch number `index` (0, 1, 2, ...).
  // Deterministic in (config, seed, index).
  virtual void TrainBatch(int64_t index, int64_t batch_size, Batch* batch) = 0;

  // The held-out evaluation set, fixed for the task's config and seed.
  virtual const Batch& EvalSet() const = 0;

  // Number of distinct training samples, or 0 for an unbounded stream.
  virtual int64_t train_samples() const = 0;

  // Best accuracy reachable by a model that cannot see lambda_max, or a
  // negative value where the notion does not apply (Fashion-MNIST).
  virtual double blind_ceiling() const { return -1.0; }
};

// Builds the task described by task_config ("name" selects it; a "transfer"
// field is ignored here, see ReadTransferPhase). Throws Error(kInvalidInput)
// naming the bad field, or Error(kNotFound/kIO) when a data file is missing or
// unreadable.
std::unique_ptr<Task> MakeTask(const nlohmann::json& task_config, uint64_t seed);

// Second phase of a transfer run, from task.transfer = {"mode": "eval" |
// "finetune", "steps": N, <task field>: value, ...}. The run first trains on
// the task without the override, then evaluates the trained model on the
// second-phase task ("eval") or trains it for `steps` more steps on that task
// and evaluates it ("finetune"). Metrics of the second phase are stored with
// the prefix "transfer_" (e.g. transfer_eval_loss, transfer_eval_accuracy).
struct TransferPhase {
  std::string mode;     // "eval" or "finetune"
  int64_t steps = 0;    // finetune steps; 0 for "eval"
  nlohmann::json task;  // task config of the second phase, without "transfer"
};

// Reads task_config["transfer"]; nullopt when absent. Every field of the
// transfer object other than mode and steps replaces the task field of that
// name (e.g. "lambda_max"); a scale_ratio that the override would contradict
// is dropped. Throws Error(kInvalidInput) naming task.transfer.<field>; the
// second-phase task itself is validated by MakeTask.
std::optional<TransferPhase> ReadTransferPhase(const nlohmann::json& task_config);

// Throws Error(kInvalidInput) unless `second` can be fed to a model trained on
// `first`: equal sample shape, target kind, class count and target size.
void CheckTransferCompatible(const Task& first, const Task& second);

}  // namespace scalelock
