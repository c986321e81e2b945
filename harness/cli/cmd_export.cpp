// `scalelock export`: plot data CSVs, gnuplot scripts and (with gnuplot) PNGs.
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <string>

#include "cli/command.h"
#include "report/export.h"
#include "store/store.h"

namespace scalelock {
namespace {

struct ExportCommandOptions {
  std::string db;
  ExportOptions plots;
};

}  // namespace

CommandHandler SetupExport(CLI::App& app) {
  auto options = std::make_shared<ExportCommandOptions>();
  AddDatabaseOption(app, &options->db);
  app.add_option("--out", options->plots.out_dir,
                 "output folder for CSVs, scripts and PNGs")
      ->capture_default_str();
  app.add_option("--experiment", options->plots.experiment,
                 "only this experiment (by name)");
  return [options] {
    auto store = Store::Open(options->db, Store::Mode::kReadOnly);
    for (const ExportedFile& file : ExportPlots(store->handle(), options->plots)) {
      if (file.rows >= 0) {
        std::cout << fmt::format("wrote {} ({} rows)\n", file.path, file.rows);
      } else {
        std::cout << fmt::format("wrote {}\n", file.path);
      }
    }
    return 0;
  };
}

}  // namespace scalelock
