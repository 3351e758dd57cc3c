#!/usr/bin/env bash
# Installs what is missing, builds (release flags are the build's defaults), and runs the
# side-by-side benchmark: vsray against the replica of Ray's vSphere call pattern
# (../shared/raybench/raypattern.py, or --ray-pattern PATH), on vsray-sim with vCenter-like
# timings, then the 1,000-node scale run. Arguments go to bench/side_by_side.py (--help).
# Run it on an idle machine: the figures are wall times.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VSRAY_BUILD_DIR:-$root/build}
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
exec env VSRAY_SIM="$build/bin/vsray-sim" /usr/bin/python3 "$root/bench/side_by_side.py" "$@"
