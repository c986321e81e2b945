#include "util/types.h"

#include "util/error.h"

namespace scalelock {

namespace {
constexpr RunStatus kAllStatuses[] = {
    RunStatus::kPending,  RunStatus::kRunning,     RunStatus::kFinished,
    RunStatus::kDiverged, RunStatus::kTimedOut,    RunStatus::kInterrupted,
    RunStatus::kFailed};
}  // namespace

const char* RunStatusName(RunStatus status) {
  switch (status) {
    case RunStatus::kPending: return "pending";
    case RunStatus::kRunning: return "running";
    case RunStatus::kFinished: return "finished";
    case RunStatus::kDiverged: return "diverged";
    case RunStatus::kTimedOut: return "timed_out";
    case RunStatus::kInterrupted: return "interrupted";
    case RunStatus::kFailed: return "failed";
  }
  return "failed";
}

RunStatus ParseRunStatus(const std::string& name) {
  for (RunStatus status : kAllStatuses) {
    if (name == RunStatusName(status)) return status;
  }
  Fail(ErrorCode::kInvalidInput,
       "invalid run status '{}': expected pending, running, finished, "
       "diverged, timed_out, interrupted or failed",
       name);
}

bool IsTerminal(RunStatus status) {
  return status != RunStatus::kPending && status != RunStatus::kRunning;
}

}  // namespace scalelock
