// `scalelock status`: run counts per experiment and stale running runs.
#include <iostream>
#include <memory>
#include <string>

#include "cli/command.h"
#include "report/status.h"
#include "store/statement.h"
#include "store/store.h"

namespace scalelock {
namespace {

struct StatusOptions {
  std::string db;
  std::string format;
  std::string experiment;
};

}  // namespace

CommandHandler SetupStatus(CLI::App& app) {
  auto options = std::make_shared<StatusOptions>();
  AddDatabaseOption(app, &options->db);
  AddFormatOption(app, &options->format);
  app.add_option("--experiment", options->experiment, "only this experiment (by name)");
  return [options] {
    auto store = Store::Open(options->db, Store::Mode::kReadOnly);
    StatusReport report = CollectStatus(store->handle(), options->experiment, UnixNow());
    std::cout << FormatStatus(report, options->format);
    return 0;
  };
}

}  // namespace scalelock
