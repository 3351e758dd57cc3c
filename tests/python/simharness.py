"""Fixtures and helpers for the tests of the vsray Python package against vsray-sim.

Test modules import the fixtures they use from here (there is no conftest.py: its module
name would clash with tests/sim/conftest.py when both suites run in one pytest).

The package comes from $PYTHONPATH (ctest sets it to <build>/python, where the build puts
vsray/_vsray*.so next to a copy of python/vsray/*.py) or from an installed vsray. The
simulator binary is $VSRAY_SIM, else build/bin/vsray-sim. As in tests/sim/conftest.py, the
simulator is started per test on 127.0.0.1 and its control endpoint is reached with an SSL
context built from its own CA only (no SSL_CERT_FILE, no proxy).
"""

import gc
import json
import os
import pathlib
import signal
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
USER, PASSWORD = "user", "pass"
FROZEN_VM = "frozen"


def sim_binary():
    path = os.environ.get("VSRAY_SIM") or str(REPO / "build" / "bin" / "vsray-sim")
    if not os.access(path, os.X_OK):
        pytest.skip(f"vsray-sim not built ({path}); set VSRAY_SIM")
    return path


def wait_for(predicate, timeout=30.0, interval=0.05):
    """Polls predicate until it returns a truthy value; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


class Sim:
    def __init__(self, proc, ready):
        self.proc = proc
        self.ready = ready
        self.port = ready["port"]
        self.ca_file = ready["ca_file"]
        self.server = f"127.0.0.1:{self.port}"
        self.base = ready["url"].rsplit("/sdk", 1)[0]
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cafile=self.ca_file)
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                                   urllib.request.HTTPSHandler(context=ctx))

    def control(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.base}/vsray/{path}", data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with self._opener.open(req, timeout=20) as resp:
                status, payload = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, payload = err.code, err.read()
        assert 200 <= status < 300, (status, payload)
        return json.loads(payload) if payload else None

    def inject_fault(self, spec):
        return self.control("POST", "faults", {"spec": spec})

    def clear_faults(self):
        return self.control("DELETE", "faults")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()



def launch(args, log_path):
    """Starts vsray-sim with `args`; returns a Sim, or None if it did not start (see log_path)."""
    with open(log_path, "wb") as stderr:
        proc = subprocess.Popen([sim_binary(), *args], stdout=subprocess.PIPE, stderr=stderr, text=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(60)
    if not lines or not lines[0]:
        proc.kill()
        proc.wait()
        return None
    return Sim(proc, json.loads(lines[0]))


def cluster_config(sim, name="pyc", **vsphere_extra):
    """A Ray cluster config for the simulator, as `ray up` would read it from YAML."""
    vsphere = {
        "credentials": {"server": sim.server, "user": USER, "password": PASSWORD},
        "tls": {"ca_file": sim.ca_file},
        "frozen_vm": {"name": FROZEN_VM},
    }
    vsphere.update(vsphere_extra)
    return {
        "cluster_name": name,
        "max_workers": 8,
        "provider": {
            "type": "external",
            "module": "vsray.ray_provider.VsphereNodeProvider",
            "vsphere_config": vsphere,
        },
        "auth": {"ssh_user": "ray"},
        "available_node_types": {
            "ray.head.default": {"resources": {"CPU": 2, "Memory": 4096}, "node_config": {}},
            "ray.worker.default": {
                "min_workers": 0,
                "max_workers": 8,
                "resources": {"CPU": 4, "Memory": 8192},
                "node_config": {},
            },
        },
        "head_node_type": "ray.head.default",
    }


@pytest.fixture
def start_sim(tmp_path):
    """start_sim(*flags) -> Sim; stopped at the end of the test."""
    sims = []

    def start(*args):
        log = tmp_path / f"vsray-sim-{len(sims)}.log"
        sim = launch(list(args), log)
        if sim is None:
            pytest.fail(f"vsray-sim {' '.join(args)} did not start:\n{pathlib.Path(log).read_text()}")
        sims.append(sim)
        return sim

    yield start
    for sim in sims:
        sim.stop()


@pytest.fixture
def sim(start_sim):
    return start_sim("--hosts", "3", "--vms", "2", "--frozen-vm", FROZEN_VM, "--guest-ip-delay", "100ms")


@pytest.fixture
def env(monkeypatch, tmp_path):
    """A home of its own (bootstrap writes the key pair there) and no VSPHERE_* from outside."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("VSPHERE_SERVER", "VSPHERE_USER", "VSPHERE_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def providers():
    """Drops every provider a test made before its simulator stops (list it after `sim`)."""
    made = []
    yield made
    made.clear()
    gc.collect()
