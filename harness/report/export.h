// Plot data export: CSV files and gnuplot scripts built from run_summary and
// the fits table.
//
// Files written into the output folder (created when missing):
//   loss_vs_compute.csv      family, experiment, flops, params, final_eval_loss;
//                            one row per finished run with flops > 0 and a
//                            final eval loss, ordered by family and flops.
//   loss_vs_compute_fit.csv  family, flops, predicted_loss; 50 log-spaced
//                            points per family from its latest 'power' or
//                            'power0' fit on x = 'flops' (result_json numbers
//                            E, A, alpha; E absent means 0), over the flops
//                            range of the family's exported runs.
//   accuracy_vs_ratio.csv    family, rf, depth, scale_ratio, mean_accuracy,
//                            min_accuracy, max_accuracy, n; finished runs with
//                            a scale ratio, grouped over seeds (and any other
//                            axis not listed).
//   loss_vs_compute.gp, accuracy_vs_ratio.gp  gnuplot scripts that read the
//                            CSVs from their own folder and write PNGs there.
// When `gnuplot` is on PATH the scripts are run and the PNGs listed; a missing
// gnuplot or a failed script only logs a warning.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

struct sqlite3;

namespace scalelock {

struct ExportOptions {
  std::string out_dir = "plots";  // output folder
  std::string experiment;         // only this experiment; empty for all
  bool render_png = true;         // run gnuplot when it is on PATH
};

struct ExportedFile {
  std::string path;
  int64_t rows = -1;  // data rows of a CSV (header excluded); -1 for scripts and PNGs
};

// Writes the files above; throws Error(kNotFound) for an unknown experiment and
// Error(kIO) when a file cannot be written. Returns the files in write order.
std::vector<ExportedFile> ExportPlots(sqlite3* db, const ExportOptions& options);

// The predicted loss of the power law L = E + A * x^-alpha.
double PowerLaw(double E, double A, double alpha, double x);

}  // namespace scalelock
