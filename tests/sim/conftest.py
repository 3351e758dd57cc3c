"""Fixtures that run vsray-sim and talk to it as an independent client would.

The binary comes from $VSRAY_SIM, else build/bin/vsray-sim under the repo root.
Every connection verifies TLS against the ca_file of the ready line only:
the SSL contexts are built explicitly, so SSL_CERT_FILE and friends in the
environment play no part, and urllib never uses a proxy.
"""

import base64
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


def sim_binary():
    path = os.environ.get("VSRAY_SIM") or str(REPO / "build" / "bin" / "vsray-sim")
    if not os.access(path, os.X_OK):
        pytest.skip(f"vsray-sim not built ({path}); set VSRAY_SIM")
    return path


def wait_for(predicate, timeout=5.0, interval=0.05):
    """Polls predicate until it returns a truthy value; returns that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


class Sim:
    """A running vsray-sim and clients for its SOAP, REST and control ends."""

    def __init__(self, proc, ready, stderr_path):
        self.proc = proc
        self.ready = ready
        self.stderr_path = stderr_path
        self.port = ready["port"]
        self.ca_file = ready["ca_file"]
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
    """Starts vsray-sim; returns (proc, ready dict or None, stderr path)."""
    stderr_path = tmp_path / f"vsray-sim-{time.monotonic_ns()}.log"
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
    """start_sim(*flags) -> Sim; every sim is stopped at the end of the test."""
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


def wait_task(task, timeout=10):
    """Polls a task to its end; returns its info."""
    info = wait_for(lambda: task.info if task.info.state in ("success", "error") else None, timeout)
    assert info, f"task {task} still {task.info.state}"
    return info


def find_vm(si, name):
    from pyVmomi import vim
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    try:
        for vm in view.view:
            if vm.name == name:
                return vm
    finally:
        view.Destroy()
    return None


def nics(vm):
    from pyVmomi import vim
    return [d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualEthernetCard)]
