// Worker identity recorded in each claim, and the rule that decides whether
// the worker of a running run is dead so the run can be requeued.
//
// A worker is "host/boot_id/pid/start_ticks". The kernel boot id
// distinguishes reboots, and the process start time (field 22 of
// /proc/PID/stat, in clock ticks since boot) distinguishes a reused pid. On the same host
// and boot, a worker is dead exactly when no process with that pid and start time exists,
// which is known at once, so a rerun right after kill -9 requeues its runs. For a worker
// on another host only the heartbeat age can tell.
#pragma once

#include <cstdint>
#include <string>

namespace scalelock {

struct WorkerIdentity {
  std::string host;     // gethostname()
  std::string boot_id;  // /proc/sys/kernel/random/boot_id, "" if unreadable
  int64_t pid = 0;
  int64_t start_ticks = -1;  // process start time since boot; -1 if unreadable

  // "host/boot_id/pid/start_ticks", as stored in runs.worker.
  std::string Token() const;
};

// The calling process.
WorkerIdentity CurrentWorker();

// Parses a token written by Token(); returns false for any other text.
bool ParseWorkerToken(const std::string& token, WorkerIdentity* worker);

// Liveness of a recorded worker as seen from this process.
enum class WorkerLiveness {
  kAlive,    // same host and boot, and the process still exists
  kDead,     // same host and boot, and the process is gone (or its pid was reused)
  kUnknown,  // another host or boot, or no token: judge by heartbeat age
};

WorkerLiveness CheckWorker(const std::string& token);

// Start time of a process in clock ticks since boot; -1 when it does not
// exist or has exited (a zombie).
int64_t ProcessStartTicks(int64_t pid);

}  // namespace scalelock
