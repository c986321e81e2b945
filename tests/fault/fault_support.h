// Helpers for the fault tests: start the real scalelock binary as a child
// process (so it can be killed or signalled), wait for it, and read the
// results database with the SQLite C API.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "e2e/cli_support.h"

extern char** environ;

namespace fault {

// Small grid: 2 families x 2 scale ratios, 1 seed, 200 steps; eval every 50.
inline const char* kGridSpec = R"({
  "name": "fault",
  "task": {"name": "multiscale1d", "length": 32, "lambda_min": 2, "eval_samples": 64},
  "model": {"family": "plain", "depth": 2, "kernel": 3, "width": 4},
  "training": {"steps": 200, "batch_size": 8, "eval_every": 50},
  "seeds": [0],
  "grid": {
    "product": {"model.family": ["plain", "dilated"], "task.scale_ratio": [2, 4]},
    "derived": {"task.lambda_max": "task.scale_ratio * task.lambda_min"}
  }
})";

// A started scalelock process writing its output to a log file.
struct Child {
  pid_t pid = -1;
  std::string log;
};

// Starts `scalelock args...` with stdout and stderr appended to log.
inline Child Spawn(const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> argv_text = {SCALELOCK_BINARY};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& text : argv_text)
    argv.push_back(text.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  Child child;
  child.log = log;
  if (posix_spawn(&child.pid, SCALELOCK_BINARY, &actions, nullptr, argv.data(),
                  environ) != 0) {
    child.pid = -1;
  }
  posix_spawn_file_actions_destroy(&actions);
  return child;
}

// Waits up to timeout for the child and returns its exit status, or 128 +
// signal when a signal ended it. On timeout it kills the child and returns -1.
inline int Wait(const Child& child, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int raw = 0;
    pid_t done = waitpid(child.pid, &raw, WNOHANG);
    if (done == child.pid) return WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
    if (std::chrono::steady_clock::now() > deadline) {
      kill(child.pid, SIGKILL);
      waitpid(child.pid, &raw, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// A read-only connection for checks; query_only guards against writes.
class Db {
 public:
  explicit Db(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      throw std::runtime_error("cannot open " + path);
    }
    sqlite3_busy_timeout(db_, 30000);
  }
  ~Db() { sqlite3_close_v2(db_); }

  // Rows of the query, each column as text ("NULL" for NULL).
  std::vector<std::vector<std::string>> Rows(const std::string& sql) const {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
      throw std::runtime_error(std::string(sqlite3_errmsg(db_)) + " in " + sql);
    }
    std::vector<std::vector<std::string>> rows;
    int rc;
    while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(statement); ++i) {
        const unsigned char* text = sqlite3_column_text(statement, i);
        row.push_back(text == nullptr ? "NULL" : reinterpret_cast<const char*>(text));
      }
      rows.push_back(row);
    }
    sqlite3_finalize(statement);
    if (rc != SQLITE_DONE) throw std::runtime_error(sqlite3_errmsg(db_));
    return rows;
  }
  std::string Text(const std::string& sql) const {
    auto rows = Rows(sql);
    return rows.empty() ? "" : rows[0][0];
  }
  int64_t Int(const std::string& sql) const { return std::stoll(Text(sql)); }

 private:
  sqlite3* db_ = nullptr;
};

// Polls until the query returns a count of at least one, or timeout passes;
// checks at least once.
inline bool WaitForRows(const std::string& db_path, const std::string& count_sql,
                        std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    try {
      if (std::filesystem::exists(db_path) && Db(db_path).Int(count_sql) > 0) return true;
    } catch (const std::exception&) {
      // The file may not have its tables yet.
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace fault
