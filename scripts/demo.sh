#!/usr/bin/env bash
# The demo on the embedded default: builds vsray, starts the bundled simulated vCenter
# (vsray-sim) with a frozen VM, shows its inventory through vsray's own client over verified
# HTTPS, and stops the simulator.
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

echo "==> starting vsray-sim (simulated vCenter on 127.0.0.1)"
"$build/bin/vsray-sim" --hosts 3 --vms 4 --frozen-vm ray-frozen-vm >"$workdir/ready" 2>"$workdir/sim.log" &
sim_pid=$!
for _ in $(seq 1 300); do
  [ -s "$workdir/ready" ] && break
  kill -0 "$sim_pid" 2>/dev/null || { cat "$workdir/sim.log" >&2; exit 1; }
  sleep 0.1
done
[ -s "$workdir/ready" ] || { echo "vsray-sim did not start" >&2; exit 1; }
head -n1 "$workdir/ready"
url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$workdir/ready")
ca=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ca_file"])' "$workdir/ready")

echo "==> inventory, read by vsray over HTTPS verified against $ca"
VSPHERE_PASSWORD=pass "$build/bin/vsray" inventory --server "$url" --user user --ca-file "$ca"
echo "==> stopping vsray-sim"
