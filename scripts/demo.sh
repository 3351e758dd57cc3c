#!/usr/bin/env bash
# The demo on the embedded default: builds vsray, starts the bundled simulated vCenter
# (vsray-sim, HTTPS with its own CA, a frozen VM on one of 3 hosts) through `vsray sim`, which
# writes a cluster config for it; then `vsray check`, `vsray up` (a head and two workers, waiting
# for their IPv4 addresses), `vsray nodes`, `vsray down`, and stops the simulator.
# The SSH key pair that `vsray up` creates goes to a temporary HOME, not yours.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VSRAY_BUILD_DIR:-$root/build}
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"

workdir=$(mktemp -d)
sim_pid=""
cleanup() {
  if [ -n "$sim_pid" ]; then kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; fi
  rm -rf "$workdir"
}
trap cleanup EXIT
export HOME="$workdir/home"
mkdir -p "$HOME"
vsray="$build/bin/vsray"
config="$workdir/cluster.yaml"
start=$(date +%s%N)

echo "==> vsray sim: a simulated vCenter on 127.0.0.1 and a cluster config for it"
"$vsray" sim --write-config "$config" --workers 2 -- --hosts 3 --vms 4 >"$workdir/sim.out" 2>"$workdir/sim.log" &
sim_pid=$!
for _ in $(seq 1 300); do
  [ -s "$config" ] && grep -q "wrote the cluster config" "$workdir/sim.out" 2>/dev/null && break
  kill -0 "$sim_pid" 2>/dev/null || { cat "$workdir/sim.log" >&2; exit 1; }
  sleep 0.1
done
[ -s "$config" ] || { echo "vsray sim did not start" >&2; exit 1; }
cat "$workdir/sim.out"

echo; echo "==> vsray check $config"
"$vsray" check "$config"
echo; echo "==> vsray up (a head node and two workers)"
"$vsray" up "$config" --yes
echo; echo "==> vsray nodes"
"$vsray" nodes "$config"
echo; echo "==> vsray down"
"$vsray" down "$config" --yes
echo; echo "==> vsray nodes (after down)"
"$vsray" nodes "$config"
echo; echo "==> stopping the simulator"
kill "$sim_pid"; wait "$sim_pid" || true; sim_pid=""
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "==> done in $((elapsed_ms / 1000)).$(printf '%03d' $((elapsed_ms % 1000))) s after the build"
