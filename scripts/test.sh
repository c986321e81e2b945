#!/usr/bin/env bash
# Runs the test suite: set-up and build if needed, then every CTest test.
# Arguments go to ctest, e.g. `scripts/test.sh -L unit` for the fast tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cd build
ctest --output-on-failure --timeout 900 "$@"
