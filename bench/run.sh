#!/usr/bin/env bash
# Training-throughput benchmark: scalelock against PyTorch on the same CNN and
# the same Fashion-MNIST batches. Builds train_bench if needed, then prints a
# table of samples/s per thread count and the ratio scalelock / PyTorch.
#
# Usage: bench/run.sh [--threads "1 2"] [--steps 200] [--warmup 25] [--repeats 3]
# Environment: SCALELOCK_BUILD_DIR (default <repo>/build-bench), JOBS (default 2).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${SCALELOCK_BUILD_DIR:-$repo/build-bench}"
jobs="${JOBS:-2}"
threads="1 2"
steps=200
warmup=25
repeats=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --repeats) repeats="$2"; shift 2 ;;
    *) echo "run.sh: unknown option $1 (expected --threads, --steps, --warmup, --repeats)" >&2
       exit 2 ;;
  esac
done

# Build only what the benchmark links, so half-written modules elsewhere do not
# block it.
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  cmake -S "$repo" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build_dir" -j"$jobs" --target train_bench >/dev/null
bench="$build_dir/bench/train_bench"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
batches="$work/batches.bin"
results="$work/results.jsonl"
common=(--steps "$steps" --warmup "$warmup" --repeats "$repeats")

"$bench" --dump-batches "$batches" --steps "$steps" --warmup "$warmup"
for t in $threads; do
  echo "measuring $t thread(s): scalelock" >&2
  OMP_NUM_THREADS="$t" "$bench" --threads "$t" "${common[@]}" >>"$results"
  echo "measuring $t thread(s): pytorch" >&2
  OMP_NUM_THREADS="$t" /usr/bin/python3 "$repo/bench/torch_peer.py" --batches "$batches" \
    --threads "$t" "${common[@]}" >>"$results"
done

/usr/bin/python3 - "$results" <<'PY'
import json, sys
rows = {}
for line in open(sys.argv[1]):
    record = json.loads(line)
    rows.setdefault(record["threads"], {})[record["impl"]] = record["samples_per_s"]
print(f"{'threads':>7}  {'scalelock samples/s':>19}  {'pytorch samples/s':>17}  {'ratio':>5}")
for threads in sorted(rows):
    ours, theirs = rows[threads]["scalelock"], rows[threads]["pytorch"]
    print(f"{threads:>7}  {ours:>19.1f}  {theirs:>17.1f}  {ours / theirs:>5.2f}")
PY
