"""Fixtures of the reliability suite: a vsray-sim per test, a cluster config for it, the vsray
command line as a process the test can kill or interrupt at an exact point (a held call of the
simulator), and an independent census of the inventory with pyvmomi.

Every test ends by comparing the census (the VMs that carry this cluster's identity, their
tags and power state) with what was asked.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from simharness import (PASSWORD, USER, Cli, all_vms, cluster_config, start_sim,  # noqa: F401
                        vsray_binary, wait_for)

CLUSTER = "rel"
WORKERS = 3  # min_workers of the worker type: `up` asks for 1 head + WORKERS workers


BIRTH_TAG = "guestinfo.vsray.tag."


class Census:
    """What exists, seen by pyvmomi (not by vsray)."""

    def __init__(self, sim, cluster=CLUSTER):
        si = sim.connect()
        content = si.RetrieveContent()
        names = {field.key: field.name for field in content.customFieldsManager.field}
        self.nodes = []
        for vm in all_vms(si):
            config = vm.config
            extra = {option.key: option.value for option in (config.extraConfig if config else [])}
            if extra.get("guestinfo.vsray.cluster") != cluster:
                continue
            # The record: the tags a node is born with (extraConfig), overridden by the custom
            # attributes written since.
            tags = {key[len(BIRTH_TAG):]: value for key, value in extra.items() if key.startswith(BIRTH_TAG)}
            tags.update({names.get(value.key): value.value for value in vm.customValue})
            self.nodes.append({
                "id": vm._moId,
                "name": vm.name,
                "power": vm.runtime.powerState,
                "frozen": bool(vm.runtime.instantCloneFrozen),
                "status": tags.get("vsray-node-status"),
                "kind": tags.get("ray-node-type"),
                "type": tags.get("ray-user-node-type"),
                "tags": tags,
            })

    def __repr__(self):
        return json.dumps(self.nodes, indent=1)

    def complete(self):
        return [n for n in self.nodes if n["status"] == "created"]

    def assert_exactly(self, heads=1, workers=WORKERS):
        """Exactly the asked nodes: every one complete (its tags written, `created`), running,
        of its kind and type, under a name of its own."""
        assert all(n["status"] == "created" for n in self.nodes), f"half-made nodes: {self!r}"
        assert all(n["power"] == "poweredOn" for n in self.nodes), self
        assert len({n["name"] for n in self.nodes}) == len(self.nodes), f"duplicate names: {self!r}"
        kinds = sorted(n["kind"] for n in self.nodes)
        assert kinds == ["head"] * heads + ["worker"] * workers, self
        for node in self.nodes:
            assert node["tags"].get("ray-cluster-name") == CLUSTER, node
            expected = "ray.head.default" if node["kind"] == "head" else "ray.worker.default"
            assert node["type"] == expected, node


def write_config(sim, tmp_path, workers=WORKERS, **vsphere):
    config = cluster_config(sim, name=CLUSTER, **vsphere)
    config["available_node_types"]["ray.worker.default"]["min_workers"] = workers
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


class Runner(Cli):
    """The vsray command line, also as a process of its own (stdout and stderr to files)."""

    def start(self, *args, tmp_path, name):
        out = open(tmp_path / f"{name}.out", "w")
        err = open(tmp_path / f"{name}.err", "w")
        proc = subprocess.Popen([vsray_binary(), *map(str, args)], env=self.env, stdout=out,
                                stderr=err, stdin=subprocess.DEVNULL)
        proc.out_path, proc.err_path = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
        return proc


def stderr_of(proc):
    return proc.err_path.read_text()


def stdout_of(proc):
    return proc.out_path.read_text()


def finish(proc, timeout=180):
    """Waits for a process the test started; returns its exit code."""
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"still running after {timeout} s:\n{stderr_of(proc)}")


def holds(sim):
    return sim.control("GET", "holds") or []


def wait_for_hold(sim, method=None, timeout=120):
    """Waits until a call is held (by a hold or hold-answer fault); returns the holds."""
    def held():
        listed = holds(sim)
        return [h for h in listed if method is None or h["method"] == method]
    found = wait_for(held, timeout=timeout, interval=0.05)
    assert found, f"no call of {method or 'any method'} was held within {timeout} s"
    return found


def release_all(sim):
    sim.clear_faults()
    sim.control("POST", "holds/release", {})


@pytest.fixture
def rsim(start_sim):
    """Three hosts, the frozen VM, guest IPs 50 ms after power-on."""
    return start_sim("--hosts", "3", "--vms", "1", "--frozen-vm", "frozen", "--guest-ip-delay", "50ms")


@pytest.fixture
def home(tmp_path):
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def cli(home):
    runner = Runner(home, secrets=[PASSWORD])
    runner.env["PYTHONPATH"] = os.environ.get("PYTHONPATH", "")
    return runner


PROVIDER_SCRIPT = r"""
import json, sys
from vsray.ray_provider import VsphereNodeProvider
config = json.load(open(sys.argv[1]))
provider = VsphereNodeProvider(config["provider"], config["cluster_name"])
tags = {"ray-node-type": "head", "ray-user-node-type": "ray.head.default",
        "ray-node-name": "ray-%s-head" % config["cluster_name"], "ray-node-status": "uninitialized",
        "ray-launch-config": "launched-by-ray"}
created = provider.create_node({"resources": {"CPU": 2, "Memory": 4096}}, tags, 1)
print(json.dumps(sorted(created)), flush=True)
"""


def start_python_provider(cli, sim, tmp_path, name="ray-launcher"):
    """A Python process that creates the head as Ray's launcher does (create_node)."""
    config = cluster_config(sim, name=CLUSTER)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(config))
    script = tmp_path / f"{name}.py"
    script.write_text(PROVIDER_SCRIPT)
    out = open(tmp_path / f"{name}.out", "w")
    err = open(tmp_path / f"{name}.err", "w")
    proc = subprocess.Popen([sys.executable, str(script), str(path)], env=cli.env, stdout=out,
                            stderr=err, stdin=subprocess.DEVNULL)
    proc.out_path, proc.err_path = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
    return proc


def kill(proc, sig=signal.SIGKILL):
    proc.send_signal(sig)
    if sig == signal.SIGKILL:
        proc.wait(30)


def wait_for_text(proc, text, timeout=120):
    assert wait_for(lambda: text in stderr_of(proc), timeout=timeout), \
        f"{text!r} never appeared:\n{stderr_of(proc)}"


def now():
    return time.monotonic()
