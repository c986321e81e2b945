#!/usr/bin/env bash
# Installs the Debian 12 packages scalelock needs (only the missing ones) and
# builds it into build/. Safe to run again: it does nothing that is done.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake pkg-config
  libdnnl-dev libtbb-dev libsqlite3-dev sqlite3 nlohmann-json3-dev catch2
  libcli11-dev libspdlog-dev libfmt-dev libeigen3-dev libceres-dev zlib1g-dev
  dataset-fashion-mnist gnuplot-nox
  python3-vega-datasets         # seattle-temps.csv, the real series of the forecast task
  python3-torch                 # the speed peer in bench/
  slurm-wlm munge               # the one-node cluster of the slurm tests
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq \
    --no-install-recommends "${missing[@]}"
fi

build_type=${BUILD_TYPE:-Release}
cmake -S . -B build -DCMAKE_BUILD_TYPE="$build_type" >/dev/null
cmake --build build -j"$(nproc)"
