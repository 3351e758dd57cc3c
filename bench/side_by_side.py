#!/usr/bin/python3
"""vsray against Ray's vSphere call pattern, side by side, in one run, on one simulator.

For each inventory size it starts vsray-sim with vCenter-like timings (`--timing vcenter`:
10 ms per call, InstantClone 1 s, PowerOff 0.5 s, Destroy 0.5 s, Reconfigure 0.3 s, at most
8 provisioning tasks per host), one frozen VM, and runs on it, one after the other:

- the Ray pattern replica (`raypattern.py`, see ../shared/raybench/README.md): prepare 20
  nodes (untimed), ticks, then create(N) + terminate(N) for each N of --counts. Its SOAP tasks
  stand for Ray's synchronous REST calls (power off, delete, hardware update), which return
  when vCenter is done: it waits for them (`--task-wait poll`, info.state every 0.1 s), as
  the tasks take time here;
- vsray's Ray provider (`vsray.ray_provider.VsphereNodeProvider`, in this process), the same
  operations through the methods Ray's autoscaler calls.

Requests: the Ray pattern counts its own HTTP requests; vsray's are the simulator's count
(`/vsray/stats`) over the operation, which includes vsray's background update stream.
"ideal" is what vCenter's limits allow on this setup: rounds of concurrent tasks times their
durations (create: ceil(N / 8 per host) rounds of InstantClone, plus one Reconfigure round
when vsray reconfigured; terminate: one round of PowerOff + Destroy, which vCenter does not
queue). `--scale N` adds a run that creates, ticks and terminates N nodes over 10 hosts with
one frozen VM per host, reporting time per phase, calls per node, tick p50/p99 and RSS.

Run `scripts/bench.sh` (installs, builds, runs this), or from a build `/usr/bin/python3
bench/side_by_side.py` (see README, "Performance").
"""

import argparse
import concurrent.futures
import json
import math
import os
import pathlib
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

REPO = pathlib.Path(__file__).resolve().parents[1]
BUILD = pathlib.Path(os.environ.get("VSRAY_BUILD_DIR", str(REPO / "build")))
USER, PASSWORD = "user", "pass"
CLONE_S, RECONFIG_S, POWEROFF_S, DESTROY_S, CALL_S = 1.0, 0.3, 0.5, 0.5, 0.010
HOST_LIMIT = 8
WORKER = "ray.worker.default"


class Sim:
    """A vsray-sim process and its control end (verified TLS)."""

    def __init__(self, binary, args, workdir):
        log = open(pathlib.Path(workdir) / f"sim-{time.monotonic_ns()}.log", "wb")
        self.proc = subprocess.Popen([binary, "--password", PASSWORD, *args], stdout=subprocess.PIPE,
                                     stderr=log, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"side_by_side: vsray-sim {' '.join(args)} did not start (log: {log.name})")
        self.ready = json.loads(line)
        self.url = self.ready["url"].rsplit("/sdk", 1)[0]
        self.server = f"127.0.0.1:{self.ready['port']}"
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and the host name
        self.ctx.load_verify_locations(cafile=self.ready["ca_file"])

    def control(self, method, path):
        req = urllib.request.Request(f"{self.url}/vsray/{path}", method=method)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                             urllib.request.HTTPSHandler(context=self.ctx))
        with opener.open(req, timeout=30) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def reset(self):
        self.control("POST", "stats/reset")

    def stats(self):
        return self.control("GET", "stats")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def run_ray_pattern(args, sim, op, extra):
    """Runs raypattern.py; returns its JSON records."""
    out = pathlib.Path(tempfile.mkstemp(suffix=".jsonl")[1])
    cmd = ["/usr/bin/python3", str(args.ray_pattern), "--url", sim.url, "--user", USER, "--password",
           PASSWORD, "--ca", sim.ready["ca_file"], "--frozen-vm", "frozen", "--frozen-path", "",
           "--cluster-name", "raybase", "--server-pid", str(sim.proc.pid), "--task-wait", "poll",
           "--op", op, "--json", str(out),
           *extra]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    records = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    out.unlink()
    return records


MAX_CONCURRENCY = None  # vsphere_config.max_concurrency; None: vsray's default


def provider_config(sim, frozen_vm):
    vsphere = {"credentials": {"server": sim.server, "user": USER, "password": PASSWORD},
               "tls": {"ca_file": sim.ready["ca_file"]}, "frozen_vm": frozen_vm}
    if MAX_CONCURRENCY:
        vsphere["max_concurrency"] = MAX_CONCURRENCY
    return {"type": "external", "module": "vsray.ray_provider.VsphereNodeProvider", "vsphere_config": vsphere}


def worker_tags(cluster):
    return {"ray-node-type": "worker", "ray-node-name": f"ray-{cluster}-worker",
            "ray-node-status": "uninitialized", "ray-user-node-type": WORKER,
            "ray-launch-config": "5f1e0b7c9a2d4e6f8a1b3c5d7e9f0a2b4c6d8e0f"}


def calls(stats):
    return stats["total"]


def max_running(stats):
    hosts = stats.get("provisioning", {}).get("hosts", {})
    return max((h.get("max_running", 0) for h in hosts.values()), default=0)


def by_method(stats):
    return stats.get("soap", {})


class VsrayRunner:
    """vsray's Ray provider driven as Ray's autoscaler drives it."""

    def __init__(self, sim, cluster, frozen_vm):
        from vsray.ray_provider import VsphereNodeProvider

        self.sim, self.cluster = sim, cluster
        self.provider = VsphereNodeProvider(provider_config(sim, frozen_vm), cluster)
        self.node_config = {"resources": {"CPU": 2, "Memory": 4096}}

    def measure(self, fn):
        self.sim.reset()
        t0 = time.perf_counter()
        out = fn()
        wall = time.perf_counter() - t0
        return out, wall, self.sim.stats()

    def create(self, count):
        return self.measure(lambda: self.provider.create_node(self.node_config, worker_tags(self.cluster), count))

    def terminate(self, ids):
        return self.measure(lambda: self.provider.terminate_nodes(list(ids)))

    def tick(self):
        def one():
            ids = self.provider.non_terminated_nodes({})
            for node in ids:
                self.provider.node_tags(node)
                self.provider.external_ip(node)
            return len(ids)
        return self.measure(one)


def ideal_create(count, hosts_with_parent, reconfigured):
    rounds = math.ceil(count / (HOST_LIMIT * hosts_with_parent))
    return rounds * CLONE_S + (RECONFIG_S if reconfigured else 0.0)


def ideal_terminate():
    return POWEROFF_S + DESTROY_S


def ray_side(args, sim, counts):
    rows = {}
    run_ray_pattern(args, sim, "prepare", ["--count", "20"])
    ticks = [r for r in run_ray_pattern(args, sim, "tick", ["--repeat", str(args.ticks)]) if r["op"] == "tick"]
    rows["tick"] = (statistics.median(r["wall_s"] for r in ticks), statistics.median(r["requests"] for r in ticks))
    for count in counts:
        for rec in run_ray_pattern(args, sim, "cycle", ["--count", str(count), "--repeat", "1"]):
            kind = "create" if rec["op"].startswith("create") else "terminate"
            rows[f"{kind}({count})"] = (rec["wall_s"], rec["requests"])
    return rows


def vsray_side(sim, counts, ticks):
    runner = VsrayRunner(sim, "vsbench", {"name": "frozen"})
    rows, ideals = {}, {}
    made, _, _ = runner.create(20)
    for node in made:
        runner.provider.set_node_tags(node, {"ray-node-status": "up-to-date"})
    runner.tick()  # the cache is warm from here on, as on an autoscaler's head
    samples = [runner.tick() for _ in range(ticks)]
    rows["tick"] = (statistics.median(s[1] for s in samples), statistics.median(calls(s[2]) for s in samples))
    for count in counts:
        created, wall, stats = runner.create(count)
        if len(created) != count:
            raise SystemExit(f"side_by_side: vsray created {len(created)} of {count} nodes")
        rows[f"create({count})"] = (wall, calls(stats))
        ideals[f"create({count})"] = ideal_create(count, 1, by_method(stats).get("ReconfigVM_Task", 0) > 0)
        _, wall, stats = runner.terminate(created)
        rows[f"terminate({count})"] = (wall, calls(stats))
        ideals[f"terminate({count})"] = ideal_terminate()
    runner.provider.terminate_nodes(list(made))
    return rows, ideals


def print_vsray_table(size, vs, ideals, load):
    print(f"\n## vsray alone, ~{size} VMs in the inventory (load average at start: {load})")
    print(f"{'operation':<16}{'vsray':>24}{'ideal':>10}{'vsray/ideal':>13}")
    for op, (vw, vr) in vs.items():
        vs_wall = f"{vw * 1000:.2f} ms" if op == "tick" else f"{vw:.2f} s"
        ideal = f"{ideals[op]:.2f} s" if op in ideals else "-"
        ratio = f"{vw / ideals[op]:.2f}x" if op in ideals else "-"
        print(f"{op:<16}{vs_wall:>12} {int(vr):>7} req{ideal:>10}{ratio:>13}")


def print_table(size, ray, vs, ideals, load):
    print(f"\n## ~{size} VMs in the inventory (load average at start: {load})")
    print(f"{'operation':<16}{'Ray pattern':>22}{'vsray':>24}{'speed-up':>10}{'vsray/ideal':>13}")
    for op in ray:
        rw, rr = ray[op]
        vw, vr = vs[op]
        ratio = rw / vw if vw > 0 else float("inf")
        ideal = f"{vw / ideals[op]:.2f}x" if op in ideals else "-"
        vs_wall = f"{vw * 1000:.2f} ms" if op == "tick" else f"{vw:.2f} s"
        print(f"{op:<16}{rw:>9.2f} s {int(rr):>7} req{vs_wall:>12} {int(vr):>7} req{ratio:>9.0f}x{ideal:>13}")


def rss_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def scale_run(args, workdir, nodes):
    """Creates, ticks and terminates `nodes` nodes over 10 hosts (one frozen VM per host)."""
    sim = Sim(args.sim, ["--timing", "vcenter", "--hosts", "10", "--vms", "10", "--frozen-per-host", "frozen",
                         "--guest-ip-delay", "0s"], workdir)
    try:
        rss0 = rss_kib()
        runner = VsrayRunner(sim, "vsscale", {"name": "frozen", "resource_pool": "Resources"})
        created, create_wall, create_stats = runner.create(nodes)
        if len(created) != nodes:
            raise SystemExit(f"side_by_side: vsray created {len(created)} of {nodes} nodes")
        rss_created = rss_kib()
        # The first tick after the create lists the changed cache (one pass in C++); the
        # steady ticks after it are answered from that listing while nothing changes.
        _, first_wall, first_stats = runner.tick()
        samples = [runner.tick() for _ in range(args.ticks * 40)]
        walls = sorted(s[1] for s in samples)
        _, term_wall, term_stats = runner.terminate(created)
        p99 = walls[min(len(walls) - 1, math.ceil(0.99 * len(walls)) - 1)]
        print(f"\n## {nodes} nodes over 10 hosts (one frozen VM per host)")
        print(f"create({nodes}): {create_wall:.1f} s, {len(created)} created, "
              f"{calls(create_stats) / max(1, len(created)):.2f} vCenter calls per node; "
              f"ideal {ideal_create(nodes, 10, by_method(create_stats).get('ReconfigVM_Task', 0) > 0):.1f} s")
        top = sorted(by_method(create_stats).items(), key=lambda kv: -kv[1])[:8]
        print("  create's SOAP calls: " + ", ".join(f"{m} {n}" for m, n in top)
              + f"; most clones running on one host at once: {max_running(create_stats)}")
        print(f"tick over {len(created)} nodes, steady ({len(walls)} ticks): p50 "
              f"{statistics.median(walls) * 1000:.3f} ms, p99 {p99 * 1000:.3f} ms, max {walls[-1] * 1000:.3f} ms, "
              f"{max(calls(s[2]) for s in samples)} vCenter calls at most; the first after the create "
              f"(a new listing): {first_wall * 1000:.1f} ms, {calls(first_stats)} vCenter calls")
        print(f"terminate({nodes}): {term_wall:.1f} s, {calls(term_stats) / max(1, len(created)):.2f} calls per node")
        print(f"RSS of this process: {rss0 / 1024:.1f} MiB before the provider, {rss_created / 1024:.1f} MiB "
              f"with {len(created)} nodes (provider: {(rss_created - rss0) / 1024:.1f} MiB)")
    finally:
        sim.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sim", default=os.environ.get("VSRAY_SIM", str(BUILD / "bin/vsray-sim")))
    p.add_argument("--ray-pattern", type=pathlib.Path, default=REPO.parent / "shared/raybench/raypattern.py")
    p.add_argument("--sizes", default="200,2000", help="inventory sizes (VMs), comma-separated")
    p.add_argument("--counts", default="20,100", help="create/terminate sizes, comma-separated")
    p.add_argument("--ticks", type=int, default=5, help="timed ticks per side")
    p.add_argument("--scale", type=int, default=1000, help="nodes of the scale run (0: none)")
    p.add_argument("--skip-side-by-side", action="store_true")
    p.add_argument("--vsray-only", action="store_true", help="the side-by-side sizes without the Ray pattern")
    p.add_argument("--max-concurrency", type=int, help="vsphere_config.max_concurrency for vsray (default: vsray's)")
    args = p.parse_args()
    global MAX_CONCURRENCY
    MAX_CONCURRENCY = args.max_concurrency
    sys.path.insert(0, str(BUILD / "python"))
    workdir = tempfile.mkdtemp(prefix="vsray-bench-")
    os.environ["HOME"] = workdir
    counts = [int(c) for c in args.counts.split(",") if c]
    if not args.skip_side_by_side:
        if not args.vsray_only and not args.ray_pattern.exists():
            raise SystemExit(f"side_by_side: {args.ray_pattern} not found (--ray-pattern)")
        for size in [int(s) for s in args.sizes.split(",") if s]:
            load = open("/proc/loadavg").read().split()[0]
            sim = Sim(args.sim, ["--timing", "vcenter", "--hosts", "3", "--vms", str(size), "--frozen-vm",
                                 "frozen", "--guest-ip-delay", "0s"], workdir)
            try:
                ray = None if args.vsray_only else ray_side(args, sim, counts)
                vs, ideals = vsray_side(sim, counts, args.ticks)
            finally:
                sim.stop()
            if ray is None:
                print_vsray_table(size, vs, ideals, load)
            else:
                print_table(size, ray, vs, ideals, load)
    if args.scale:
        scale_run(args, workdir, args.scale)


if __name__ == "__main__":
    main()
