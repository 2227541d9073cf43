#!/usr/bin/env bash
# Configures and builds CampusHub into build/ (or $HUB_BUILD_DIR) with ninja.
set -euo pipefail
cd "$(dirname "$0")/.."
# Paths relative to the checkout in ccache's hashes: a second clone (CI's next
# run, a check from /tmp) finds what an earlier one compiled.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
build=${HUB_BUILD_DIR:-build}
if [ ! -f "$build/build.ninja" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
fi
cmake --build "$build" -j "$(nproc)"
