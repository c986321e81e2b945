// Finished runs read from the results database for fitting.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fit/lock.h"
#include "fit/scaling.h"
#include "store/store.h"

namespace scalelock {

// One finished run from the run_summary view, with its bootstrap group.
struct RunRow {
  int64_t run_id = 0;
  std::string experiment;
  std::string family;
  int64_t rf = 0;
  double erf = kNaN;  // effective RF; NaN when run_summary has no erf column
  double params = 0.0;
  double flops = 0.0;
  double train_samples = 0.0;
  double lambda_min = 0.0;
  double scale_ratio = kNaN;  // NaN for tasks without scales
  double final_eval_loss = kNaN;
  double final_eval_accuracy = kNaN;
  std::string group;  // the run's config JSON without "seed"
};

// Whether run_summary has an erf (effective receptive field) column.
bool HasErfColumn(Store& store);

// Loads finished runs, filtered by experiment and family where non-empty, in
// run id order. Throws Error(kInvalidInput) when no finished run matches,
// naming the filters, and Error(kDatabase) on SQLite failures.
std::vector<RunRow> LoadFinishedRuns(Store& store, const std::string& experiment,
                                     const std::string& family);

// Distinct families of rows, sorted.
std::vector<std::string> FamiliesOf(const std::vector<RunRow>& rows);

// Points for a scaling fit of the rows of one family: loss = final_eval_loss;
// for chinchilla N = params and D = train_samples, otherwise x is the column
// named by x_name ("params", "flops" or "samples"). Throws
// Error(kInvalidInput) for another x_name.
std::vector<ScalingPoint> ScalingPointsFromRuns(const std::vector<RunRow>& rows,
                                                Form form, const std::string& x_name);

}  // namespace scalelock
