// scalelock rf FILE: receptive field, effective stride, effective padding and
// first-output centre of every layer of a network (see docs/receptive-fields.md).
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>
#include <string>

#include "cli/command.h"
#include "rf/analysis.h"
#include "rf/format.h"
#include "rf/model_graph.h"

namespace scalelock {

namespace {

struct RfOptions {
  std::string path;
  std::string format;
  int64_t input_size = 0;  // samples per axis; 0 keeps the file's size
};

int RunRf(const RfOptions& options) {
  rf::LayerGraph graph = rf::LoadGraphFile(options.path);
  if (options.input_size > 0) graph.input_size.assign(graph.dims, options.input_size);
  spdlog::debug("rf: {} nodes, {}D, from {}", graph.nodes.size(), graph.dims,
                options.path);

  rf::Analysis analysis = rf::AnalyzeGraph(graph);
  std::string text;
  if (options.format == "json") {
    text = rf::ToJson(analysis).dump(2) + "\n";
  } else if (options.format == "csv") {
    text = rf::FormatCsv(analysis);
  } else {
    text = rf::FormatTable(analysis);
  }
  std::fputs(text.c_str(), stdout);
  return 0;
}

}  // namespace

CommandHandler SetupRf(CLI::App& app) {
  auto options = std::make_shared<RfOptions>();
  app.add_option("file", options->path,
                 "layer-graph JSON, or a run config {\"task\", \"model\"}")
      ->required();
  AddFormatOption(app, &options->format);
  app.add_option(
         "--input-size", options->input_size,
         "input size in samples on every axis; replaces the file's input size and "
         "adds output sizes to the report")
      ->check(CLI::PositiveNumber);
  return [options] { return RunRf(*options); };
}

}  // namespace scalelock
