"""The one Python harness for vsray-sim, shared by every pytest suite of the repository.

tests/sim (the simulator itself, with pyvmomi), tests/python (the vsray package), tests/cli
(the vsray command line) and tests/ray (Ray's own launcher and autoscaler) import it as
`simharness` (tests/conftest.py puts this directory on sys.path).

The simulator binary is $VSRAY_SIM, else build/bin/vsray-sim; the vsray binary $VSRAY_BIN,
else build/bin/vsray. The vsray package comes from $PYTHONPATH (ctest sets it to
<build>/python) or an installed vsray. A simulator is started per test on 127.0.0.1 and
stopped at its end. Every connection to it verifies TLS against the ca_file of its ready line
only: the SSL contexts are built explicitly, so SSL_CERT_FILE and friends in the environment
play no part, and urllib never uses a proxy.
"""

import base64
import gc
import json
import os
import pathlib
import re
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


def vsray_binary():
    path = os.environ.get("VSRAY_BIN") or str(REPO / "build" / "bin" / "vsray")
    if not os.access(path, os.X_OK):
        pytest.fail(f"vsray not built ({path}); set VSRAY_BIN")
    return path


def wait_for(predicate, timeout=30.0, interval=0.05):
    """Polls predicate until it returns a truthy value or `timeout` passes; returns the last
    value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


# --- vsray-sim, started directly ----------------------------------------------------------

class Sim:
    """A running vsray-sim and clients for its SOAP, REST and control ends."""

    def __init__(self, proc, ready, stderr_path):
        self.proc = proc
        self.ready = ready
        self.stderr_path = stderr_path
        self.port = ready["port"]
        self.ca_file = ready["ca_file"]
        self.server = f"127.0.0.1:{self.port}"
        self.base = ready["url"].rsplit("/sdk", 1)[0]
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),
            urllib.request.HTTPSHandler(context=self.ssl_context()) if self.ca_file else urllib.request.HTTPHandler(),
        )

    def ssl_context(self, cafile=None):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and the host name
        ctx.load_verify_locations(cafile=cafile or self.ca_file)
        return ctx

    def connect(self, user=USER, pwd=PASSWORD):
        """A pyvmomi session (an independent client)."""
        from pyVim.connect import SmartConnect
        return SmartConnect(host="127.0.0.1", port=self.port, user=user, pwd=pwd,
                            sslContext=self.ssl_context())

    def http(self, method, path, body=None, headers=None, auth=None, raw=None):
        """One HTTP call; returns (status, decoded JSON body or None)."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if auth:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            req.add_header("Authorization", "Basic " + token)
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        try:
            with self._opener.open(req, timeout=20) as resp:
                status, payload = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, payload = err.code, err.read()
        try:
            return status, json.loads(payload) if payload else None
        except ValueError:
            return status, payload.decode(errors="replace")

    def control(self, method, path, body=None):
        status, reply = self.http(method, "/vsray/" + path, body)
        assert 200 <= status < 300, (status, reply)
        return reply

    def inject_fault(self, spec):
        return self.control("POST", "faults", {"spec": spec})

    def clear_faults(self):
        return self.control("DELETE", "faults")

    def stats(self):
        return self.control("GET", "stats")

    def stderr(self):
        return pathlib.Path(self.stderr_path).read_text(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def launch(args, tmp_path, env=None, timeout=60):
    """Starts vsray-sim with `args`; returns (proc, ready dict or None, stderr path)."""
    stderr_path = pathlib.Path(tmp_path) / f"vsray-sim-{time.monotonic_ns()}.log"
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen([sim_binary(), *args], stdout=subprocess.PIPE, stderr=stderr,
                                env=env, text=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not lines or not lines[0]:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        return proc, None, stderr_path
    return proc, json.loads(lines[0]), stderr_path


@pytest.fixture
def start_sim(tmp_path):
    """start_sim(*flags, env=None) -> Sim; every sim is stopped at the end of the test."""
    sims = []

    def start(*args, env=None):
        proc, ready, stderr_path = launch(list(args), tmp_path, env=env)
        if ready is None:
            pytest.fail(f"vsray-sim {' '.join(args)} did not start:\n{pathlib.Path(stderr_path).read_text()}")
        sim = Sim(proc, ready, stderr_path)
        sims.append(sim)
        return sim

    yield start
    for sim in sims:
        sim.stop()


@pytest.fixture
def sim(start_sim):
    """Three hosts, two unrelated VMs, the frozen VM FROZEN_VM; guest IPs 100 ms after power-on."""
    return start_sim("--hosts", "3", "--vms", "2", "--frozen-vm", FROZEN_VM, "--guest-ip-delay", "100ms")


# --- pyvmomi helpers ------------------------------------------------------------------------

def wait_task(task, timeout=10):
    """Polls a task to its end; returns its info."""
    info = wait_for(lambda: task.info if task.info.state in ("success", "error") else None, timeout)
    assert info, f"task {task} still {task.info.state}"
    return info


def all_vms(si):
    from pyVmomi import vim
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    try:
        return list(view.view)
    finally:
        view.Destroy()


def find_vm(si, name):
    for vm in all_vms(si):
        if vm.name == name:
            return vm
    return None


def nics(vm):
    from pyVmomi import vim
    return [d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualEthernetCard)]


# --- the vsray package ------------------------------------------------------------------------

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


# --- the vsray command line, and vsray-sim started by `vsray sim` ----------------------------

class Result:
    def __init__(self, proc):
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def __repr__(self):
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


class Cli:
    """Runs vsray; every run is checked never to print a known secret."""

    def __init__(self, home, secrets=()):
        self.home = home
        self.secrets = list(secrets)
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)}

    def run(self, *args, env=None, timeout=120, stdin=subprocess.DEVNULL):
        full_env = dict(self.env)
        full_env.update(env or {})
        proc = subprocess.run([vsray_binary(), *map(str, args)], env=full_env,
                              capture_output=True, text=True, timeout=timeout, stdin=stdin)
        result = Result(proc)
        for secret in self.secrets + [v for k, v in (env or {}).items() if "PASSWORD" in k]:
            assert secret not in result.out, f"secret printed on stdout: {result!r}"
            assert secret not in result.err, f"secret printed on stderr: {result!r}"
        return result


class SimCluster:
    """vsray-sim run by `vsray sim --write-config`, and the config it wrote."""

    def __init__(self, proc, config, password, url):
        self.proc = proc
        self.config = config
        self.password = password
        self.url = url

    def derived_config(self, tmp_path, name, edit):
        """A copy of the written config with `edit(text) -> text` applied."""
        path = tmp_path / name
        path.write_text(edit(self.config.read_text()))
        return path


def start_vsray_sim(tmp_path, *sim_args, cluster_name="clitest", workers=None):
    """Runs `vsray sim --write-config` as a user would (HOME = tmp_path); returns a SimCluster."""
    config = tmp_path / "cluster.yaml"
    out = tmp_path / "sim.out"
    err = tmp_path / "sim.err"
    extra = ["--workers", str(workers)] if workers is not None else []
    proc = subprocess.Popen(
        [vsray_binary(), "sim", "--write-config", str(config), "--cluster-name", cluster_name, *extra,
         "--", "--hosts", "3", "--vms", "2", *sim_args],
        stdout=open(out, "w"), stderr=open(err, "w"), stdin=subprocess.DEVNULL,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)})
    deadline = time.monotonic() + 60
    while "wrote the cluster config" not in out.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"vsray sim did not start: {out.read_text()} {err.read_text()}")
        time.sleep(0.05)
    text = config.read_text()
    password = re.search(r'password: "([^"]+)"', text).group(1)
    url = re.search(r'server: "([^"]+)"', text).group(1)
    return SimCluster(proc, config, password, url)


def stop_vsray_sim(cluster):
    cluster.proc.send_signal(signal.SIGINT)
    try:
        return cluster.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        cluster.proc.kill()
        raise
