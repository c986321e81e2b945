#include "sched/worker.h"

#include <fmt/format.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <vector>

namespace scalelock {
namespace {

std::string ReadBootId() {
  std::ifstream file("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(file, id);
  return id;
}

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

}  // namespace

std::string WorkerIdentity::Token() const {
  return fmt::format("{}/{}/{}/{}", host, boot_id, pid, start_ticks);
}

WorkerIdentity CurrentWorker() {
  WorkerIdentity worker;
  worker.host = HostName();
  worker.boot_id = ReadBootId();
  worker.pid = getpid();
  worker.start_ticks = ProcessStartTicks(worker.pid);
  return worker;
}

int64_t ProcessStartTicks(int64_t pid) {
  std::ifstream file(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(file)),
                   std::istreambuf_iterator<char>());
  // The command name (field 2) is in parentheses and may contain spaces, so
  // count fields from the last ')': the next field is field 3, the state.
  size_t close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(text.substr(close + 1));
  std::string field;
  // A zombie (Z) or dead (X) process has exited even if its parent has not
  // yet reaped it.
  if (!(fields >> field) || field == "Z" || field == "X") return -1;
  for (int index = 4; fields >> field; ++index) {
    if (index == 22) {
      try {
        return std::stoll(field);
      } catch (const std::exception&) {
        return -1;
      }
    }
  }
  return -1;
}

bool ParseWorkerToken(const std::string& token, WorkerIdentity* worker) {
  // The host may not contain '/', so split from the right into four parts.
  std::vector<std::string> parts;
  size_t end = token.size();
  for (int i = 0; i < 3; ++i) {
    size_t slash = token.rfind('/', end == 0 ? 0 : end - 1);
    if (slash == std::string::npos) return false;
    parts.insert(parts.begin(), token.substr(slash + 1, end - slash - 1));
    end = slash;
  }
  parts.insert(parts.begin(), token.substr(0, end));
  try {
    size_t used = 0;
    worker->pid = std::stoll(parts[2], &used);
    if (used != parts[2].size() || worker->pid <= 0) return false;
    worker->start_ticks = std::stoll(parts[3], &used);
    if (used != parts[3].size()) return false;
  } catch (const std::exception&) {
    return false;
  }
  worker->host = parts[0];
  worker->boot_id = parts[1];
  return !worker->host.empty();
}

WorkerLiveness CheckWorker(const std::string& token) {
  WorkerIdentity recorded;
  if (!ParseWorkerToken(token, &recorded)) return WorkerLiveness::kUnknown;
  WorkerIdentity self = CurrentWorker();
  if (recorded.host != self.host || recorded.boot_id.empty() ||
      recorded.boot_id != self.boot_id || recorded.start_ticks < 0) {
    return WorkerLiveness::kUnknown;
  }
  int64_t start = ProcessStartTicks(recorded.pid);
  return start == recorded.start_ticks ? WorkerLiveness::kAlive : WorkerLiveness::kDead;
}

}  // namespace scalelock
