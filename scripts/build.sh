#!/usr/bin/env bash
# Configures and builds vsray (and vsray-sim) into build/ (or $VSRAY_BUILD_DIR).
# Extra arguments go to cmake's configure step; $VSRAY_TARGETS (space-separated) limits the
# build to those targets.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VSRAY_BUILD_DIR:-$root/build}
jobs=${VSRAY_JOBS:-$(nproc)}
if [ ! -f "$build/CMakeCache.txt" ] || [ "$#" -gt 0 ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
fi
# shellcheck disable=SC2086
cmake --build "$build" -j "$jobs" ${VSRAY_TARGETS:+--target $VSRAY_TARGETS}
