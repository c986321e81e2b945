// Error: the one exception type that crosses module boundaries.
//
// Modules turn failures from oneDNN, SQLite, JSON and the OS into an Error at
// the point where they are detected, with a message that names the value, the
// file or JSON path, and what to do next. Only main() maps the code to an exit
// status (see ExitStatus).
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace scalelock {

enum class ErrorCode {
  kInvalidInput,  // bad spec, option or file content; exit 2
  kNotFound,      // missing file, experiment, run or table; exit 3
  kIO,            // read or write failure on a file; exit 4
  kDatabase,      // SQLite failure or an unusable database file; exit 5
  kInterrupted,   // SIGINT or SIGTERM; exit 130 or 143
  kInternal,      // a bug in scalelock; exit 1
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, std::string message)
      : std::runtime_error(std::move(message)), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// Process exit status for an error code.
int ExitStatus(ErrorCode code);

// Throws Error(code, fmt::format(format, args...)).
template <typename... Args>
[[noreturn]] void Fail(ErrorCode code, fmt::format_string<Args...> format,
                       Args&&... args) {
  throw Error(code, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace scalelock
