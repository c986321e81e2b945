// `scalelock query`: one read-only SQL statement on the results database.
#include <iostream>
#include <memory>
#include <string>

#include "cli/command.h"
#include "report/query.h"
#include "store/store.h"

namespace scalelock {
namespace {

struct QueryOptions {
  std::string db;
  std::string format;
  std::string sql;
};

}  // namespace

CommandHandler SetupQuery(CLI::App& app) {
  auto options = std::make_shared<QueryOptions>();
  AddDatabaseOption(app, &options->db);
  AddFormatOption(app, &options->format);
  app.add_option("sql", options->sql,
                 "one read-only SQL statement, e.g. \"SELECT family, count(*) FROM "
                 "run_summary GROUP BY family\" (views: docs/database.md)")
      ->required();
  return [options] {
    auto store = Store::Open(options->db, Store::Mode::kReadOnly);
    std::cout << FormatResult(RunQuery(store->handle(), options->sql), options->format);
    return 0;
  };
}

}  // namespace scalelock
