#include "sched/signals.h"

#include <atomic>
#include <csignal>
#include <unistd.h>

namespace scalelock {

namespace {
std::atomic<int> g_stop_signal{0};

void HandleStop(int signal_number) {
  int expected = 0;
  if (!g_stop_signal.compare_exchange_strong(expected, signal_number)) {
    _exit(128 + signal_number);  // second signal: leave now
  }
  const char message[] =
      "\nscalelock: stopping: finishing the store; press Ctrl-C again to exit at once\n";
  ssize_t ignored = write(STDERR_FILENO, message, sizeof(message) - 1);
  (void)ignored;
}
}  // namespace

void InstallStopHandlers() {
  struct sigaction action = {};
  action.sa_handler = HandleStop;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

bool StopRequested() { return g_stop_signal.load() != 0; }
int StopSignal() { return g_stop_signal.load(); }
int StopExitStatus() { return g_stop_signal.load() == 0 ? 0 : 128 + g_stop_signal.load(); }

}  // namespace scalelock
