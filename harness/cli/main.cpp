// scalelock: command-line entry point. Builds the subcommands from the table
// in commands.cpp, runs the chosen one and maps errors to exit statuses.
#include <cstdio>
#include <string>

#include <spdlog/spdlog.h>

#include "cli/command.h"
#include "util/error.h"
#include "version.h"

namespace {

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t substitution = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      diagonal = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitution});
    }
  }
  return row[b.size()];
}

// Returns 0 if argv[1] names a command or is an option, else prints a
// "did you mean" message and returns exit status 2.
int CheckCommandName(int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') return 0;
  std::string given = argv[1];
  std::string best;
  size_t best_distance = 3;  // suggest only names within two edits
  for (const scalelock::Command& command : scalelock::Commands()) {
    if (given == command.name) return 0;
    size_t distance = EditDistance(given, command.name);
    if (distance < best_distance) {
      best_distance = distance;
      best = command.name;
    }
  }
  std::fprintf(stderr, "scalelock: unknown command '%s'", given.c_str());
  if (!best.empty()) std::fprintf(stderr, "; did you mean '%s'?", best.c_str());
  std::fprintf(stderr, "\nRun 'scalelock --help' for the list of commands.\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_pattern("%^[%H:%M:%S %l]%$ %v");
  spdlog::set_level(spdlog::level::info);
  if (int status = CheckCommandName(argc, argv)) return status;

  CLI::App app{
      "scalelock: scaling-law and receptive-field experiments on oneDNN.\n"
      "Runs grids of models from a JSON spec, stores every loss in SQLite,\n"
      "fits power laws and lock thresholds, and exports plot data."};
  app.set_version_flag("--version", std::string("scalelock ") + SCALELOCK_VERSION);
  app.require_subcommand(1);
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "log debug detail");

  std::vector<std::pair<CLI::App*, scalelock::CommandHandler>> handlers;
  for (const scalelock::Command& command : scalelock::Commands()) {
    CLI::App* sub = app.add_subcommand(command.name, command.help);
    handlers.emplace_back(sub, command.setup(*sub));
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int status = app.exit(error);
    return status == 0 ? 0 : 2;
  }
  if (verbose) spdlog::set_level(spdlog::level::debug);

  try {
    for (auto& [sub, handler] : handlers) {
      if (sub->parsed()) return handler();
    }
  } catch (const scalelock::Error& error) {
    std::fprintf(stderr, "scalelock: error: %s\n", error.what());
    return scalelock::ExitStatus(error.code());
  } catch (const std::exception& error) {
    std::fprintf(stderr, "scalelock: internal error: %s\n", error.what());
    return 1;
  }
  return 1;
}
