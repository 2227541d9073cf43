#!/usr/bin/env bash
# Configures and builds CampusHub into build/ (or $HUB_BUILD_DIR) with ninja.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${HUB_BUILD_DIR:-build}
if [ ! -f "$build/build.ninja" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
fi
cmake --build "$build" -j "$(nproc)"
