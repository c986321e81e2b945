#!/usr/bin/env bash
# Runs the default experiment end to end: set-up and build if needed, the
# grid in experiments/demo.json, the fits, and the plot data in plots/.
# Extra arguments go to `scalelock run` (e.g. --db other.sqlite).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

db=results/scalelock.sqlite
build/scalelock run experiments/demo.json --db "$db" "$@"

echo
echo "== Lock thresholds: scale ratio r* where accuracy drops, per family and RF =="
build/scalelock lock --db "$db" --experiment demo-lock --bootstrap 200
echo
echo "== Scaling law on Fashion-MNIST: eval loss against parameters =="
build/scalelock fit --db "$db" --experiment demo-width --x params --bootstrap 200
echo
build/scalelock export --db "$db" --out plots
