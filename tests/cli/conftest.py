"""Fixtures for the command-line tests: the real vsray binary against vsray-sim.

The simulator is started the way a user would: `vsray sim --write-config PATH`, which runs
the bundled vsray-sim with a random password and writes a ready-to-use cluster config.
"""

import os
import pathlib
import re
import signal
import subprocess
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


def vsray_binary():
    path = os.environ.get("VSRAY_BIN") or str(REPO / "build" / "bin" / "vsray")
    if not os.access(path, os.X_OK):
        pytest.fail(f"vsray not built ({path}); set VSRAY_BIN")
    return path


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


def start_sim(tmp_path, *sim_args, cluster_name="clitest"):
    config = tmp_path / "cluster.yaml"
    out = tmp_path / "sim.out"
    err = tmp_path / "sim.err"
    proc = subprocess.Popen(
        [vsray_binary(), "sim", "--write-config", str(config), "--cluster-name", cluster_name,
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


def stop_sim(sim):
    sim.proc.send_signal(signal.SIGINT)
    try:
        return sim.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        sim.proc.kill()
        raise


@pytest.fixture
def sim(tmp_path):
    cluster = start_sim(tmp_path)
    yield cluster
    stop_sim(cluster)


@pytest.fixture
def cli(tmp_path, sim):
    home = tmp_path / "home"
    home.mkdir()
    return Cli(home, secrets=[sim.password])
