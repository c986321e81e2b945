// Plain value types shared by the trainer, the scheduler and the store.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace scalelock {

// Life cycle of a run row. A run is created pending, claimed as running, and
// ends in one of the terminal states; each terminal state is a stop reason.
enum class RunStatus {
  kPending,
  kRunning,
  kFinished,     // all training steps done
  kDiverged,     // a loss became NaN or infinite
  kTimedOut,     // the per-run wall-time limit was reached
  kInterrupted,  // SIGINT or SIGTERM arrived while the run was training
  kFailed,       // an exception; its message is stored
};

const char* RunStatusName(RunStatus status);
// Parses a name written by RunStatusName; throws Error(kInvalidInput).
RunStatus ParseRunStatus(const std::string& name);
bool IsTerminal(RunStatus status);

// One logged value: metric name ("train_loss", "eval_loss", "eval_accuracy"),
// optimizer step, value.
struct MetricPoint {
  std::string metric;
  int64_t step = 0;
  double value = 0.0;
};

}  // namespace scalelock
