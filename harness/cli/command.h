// The CLI's subcommand table. Each subcommand is one row: a name, a one-line
// help and a setup function that declares its options on a CLI11 subcommand
// and returns the handler to run after parsing. main() builds --help, the
// dispatch and "did you mean" from this one table.
//
// A handler returns the process exit status. Errors are thrown as
// scalelock::Error; main() prints them and maps them to an exit status.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace scalelock {

using CommandHandler = std::function<int()>;

struct Command {
  const char* name;
  const char* help;
  CommandHandler (*setup)(CLI::App& app);
};

// The table, in the order --help lists it (cli/commands.cpp).
const std::vector<Command>& Commands();

// Default results database, relative to the working directory.
inline constexpr const char* kDefaultDatabase = "results/scalelock.sqlite";

// Adds the --db option shared by every command that opens the database.
inline void AddDatabaseOption(CLI::App& app, std::string* path) {
  *path = kDefaultDatabase;
  app.add_option("--db", *path, "results database (SQLite file)")
      ->capture_default_str();
}

// Adds --format table|csv|json.
inline void AddFormatOption(CLI::App& app, std::string* format) {
  *format = "table";
  app.add_option("--format", *format, "output format")
      ->check(CLI::IsMember({"table", "csv", "json"}))
      ->capture_default_str();
}

// Setup functions, one per file cli/cmd_<name>.cpp.
CommandHandler SetupRun(CLI::App& app);
CommandHandler SetupStatus(CLI::App& app);
CommandHandler SetupQuery(CLI::App& app);
CommandHandler SetupFit(CLI::App& app);
CommandHandler SetupLock(CLI::App& app);
CommandHandler SetupExport(CLI::App& app);
CommandHandler SetupRf(CLI::App& app);
CommandHandler SetupSlurm(CLI::App& app);
CommandHandler SetupMerge(CLI::App& app);
CommandHandler SetupScales(CLI::App& app);

}  // namespace scalelock
