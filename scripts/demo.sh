#!/usr/bin/env bash
# Runs the default experiment end to end: set-up and build if needed, the
# grid in experiments/demo.json, the fits, and the plot data in plots/.
# Extra arguments go to `scalelock run` (e.g. --jobs 1).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

db=${SCALELOCK_DB:-results/scalelock.sqlite}
build/scalelock run experiments/demo.json --db "$db" "$@"

echo
echo "== Lock thresholds: scale ratio r* where eval accuracy falls, per family and RF =="
build/scalelock lock --db "$db" --experiment demo-lock --bootstrap 500
echo
echo "== Scaling law on Fashion-MNIST: eval loss against parameters and compute =="
build/scalelock fit --db "$db" --experiment demo-width --x params --bootstrap 500
build/scalelock fit --db "$db" --experiment demo-width --x flops --bootstrap 500
echo
for experiment in demo-lock demo-width; do
  build/scalelock export --db "$db" --experiment "$experiment" --out "plots/$experiment"
done
