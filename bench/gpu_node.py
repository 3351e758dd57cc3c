"""Figures, not a test: the time and the vCenter calls of making one GPU node against one plain
node, through vsray.ray_provider against vsray-sim (its /vsray/stats counts the calls).

  PYTHONPATH=build/python VSRAY_SIM=build/bin/vsray-sim /usr/bin/python3 bench/gpu_node.py [--timing vcenter]

Each kind is made REPEAT times (one node each, a new provider per run, so that each run pays
the same set-up); the median time and the calls of the last run are printed.
"""

import pathlib
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "support"))

import simharness  # noqa: E402
from vsray.ray_provider import VsphereNodeProvider  # noqa: E402

REPEAT = 5


def config(sim):
    raw = simharness.cluster_config(sim, name="bench", frozen_vm={"resource_pool": "Resources"})
    raw["available_node_types"]["gpu.worker"] = {
        "min_workers": 0, "max_workers": 8,
        "resources": {"CPU": 4, "Memory": 8192, "GPU": 1}, "node_config": {}}
    return VsphereNodeProvider.bootstrap_config(raw)


def one_node(sim, bootstrapped, node_type):
    provider = VsphereNodeProvider(bootstrapped["provider"], bootstrapped["cluster_name"])
    provider.non_terminated_nodes({})  # the provider is up; count only the create
    sim.control("POST", "stats/reset")
    tags = {"ray-node-type": "worker", "ray-node-status": "uninitialized",
            "ray-user-node-type": node_type, "ray-node-name": "ray-bench-worker"}
    start = time.monotonic()
    [node] = provider.create_node(bootstrapped["available_node_types"][node_type]["node_config"], tags, 1)
    elapsed = time.monotonic() - start
    soap = sim.stats()["soap"]
    provider.terminate_node(node)
    del provider
    return elapsed, soap


def main():
    timing = sys.argv[1:]
    with tempfile.TemporaryDirectory() as tmp:
        home = pathlib.Path(tmp) / "home"
        home.mkdir()
        import os
        os.environ["HOME"] = str(home)
        proc, ready, _ = simharness.launch(["--hosts", "2", "--vms", "0", "--frozen-per-host", "frozen",
                                            "--gpus-per-host", "4", "--guest-ip-delay", "100ms", *timing], tmp)
        sim = simharness.Sim(proc, ready, "")
        try:
            bootstrapped = config(sim)
            print(f"vsray-sim {' '.join(timing) or '(no latency)'}; guest IPs 100 ms after power-on")
            for node_type in ("ray.worker.default", "gpu.worker"):
                runs = [one_node(sim, bootstrapped, node_type) for _ in range(REPEAT)]
                times = [t for t, _ in runs]
                soap = runs[-1][1]
                calls = ", ".join(f"{k} {v}" for k, v in sorted(soap.items()))
                print(f"{node_type:20s} median {statistics.median(times) * 1000:7.0f} ms "
                      f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}); "
                      f"{sum(soap.values())} SOAP calls: {calls}")
        finally:
            sim.stop()


if __name__ == "__main__":
    main()
