#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit tests, integration tests against
# vsray-sim (each test starts its own simulator on 127.0.0.1), and the pytest suites.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VSRAY_BUILD_DIR:-$root/build}
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" -DVSRAY_WERROR=ON
cd "$build"
ctest --output-on-failure --timeout 900 -j "${VSRAY_TEST_JOBS:-2}" "$@"
