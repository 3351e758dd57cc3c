"""What the real-Ray tests share: a complete Ray config for a vsray-sim, Ray's launcher run
with a fake SSH that copies file mounts into a directory standing for the head's home, the
head's autoscaler built from what the launcher left there, and independent checks of
vCenter's state with pyvmomi."""

import copy
import gc
import os
import pathlib
import shutil
import threading
import time

import yaml
from ray.autoscaler._private import commands, node_launcher, providers
from ray.autoscaler._private.autoscaler import StandardAutoscaler
from ray.autoscaler._private.load_metrics import LoadMetrics
from ray.tests.autoscaler_test_utils import MockProcessRunner

from simharness import PASSWORD, REPO, all_vms

HEAD, WORKER = "ray.head.default", "ray.worker.default"
EXAMPLE_FROZEN_VM = "frozen-vm"  # the frozen VM of examples/ray-sim-minimal.yaml
SIM_FLAGS = ("--hosts", "2", "--vms", "0", "--frozen-vm", EXAMPLE_FROZEN_VM, "--guest-ip-delay", "100ms")


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


def example_config(sim, name, min_workers=1, max_workers=3):
    """examples/ray-sim-minimal.yaml pointed at `sim` (the password comes from VSPHERE_PASSWORD)."""
    config = load_yaml(REPO / "examples" / "ray-sim-minimal.yaml")
    config["cluster_name"] = name
    config["max_workers"] = max_workers
    vsphere = config["provider"]["vsphere_config"]
    vsphere["credentials"]["server"] = sim.server
    vsphere["tls"]["ca_file"] = sim.ca_file
    worker = config["available_node_types"][WORKER]
    worker["min_workers"], worker["max_workers"] = min_workers, max_workers
    return config


def write_config(tmp_path, config, name="cluster.yaml"):
    path = pathlib.Path(tmp_path) / name
    path.write_text(yaml.safe_dump(config))
    return path


class HeadRunner(MockProcessRunner):
    """Ray's MockProcessRunner (records every command, runs none) that also carries out rsync
    uploads into `home`, the head node's home directory, so that what Ray's launcher mounts
    on the head can be checked and used."""

    def __init__(self, home):
        super().__init__()
        self.home = pathlib.Path(home)

    def check_call(self, cmd, *args, **kwargs):
        super().check_call(cmd, *args, **kwargs)
        if cmd and cmd[0] == "rsync":
            source, target = cmd[-2], cmd[-1].split(":", 1)[1]
            self._copy(source, target)

    def _copy(self, source, target):
        if target.startswith("~/"):
            target = str(self.home / target[2:])
        destination = pathlib.Path(target)
        if os.path.isdir(source):
            shutil.copytree(source, destination, dirs_exist_ok=True)
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)


def ray_up(config, config_path, runner):
    """What `ray up` does (create_or_update_cluster), with Ray's code: bootstrap the config,
    then get_or_create_head_node with `runner` for SSH. Returns the bootstrapped config."""
    config = commands._bootstrap_config(copy.deepcopy(config), no_config_cache=True)
    commands.get_or_create_head_node(config, str(config_path), no_restart=False, restart_only=False,
                                     yes=True, override_cluster_name=None, _runner=runner)
    return config


class FakeGcs:
    """The GCS client the autoscaler drains nodes through (Ray's compiled core)."""

    def __init__(self):
        self.drained = []

    def drain_nodes(self, raylet_ids, timeout=None):
        self.drained.extend(raylet_ids)
        return list(raylet_ids)


def head_autoscaler(head_home, runner=None):
    """Ray's StandardAutoscaler as the head runs it: from ~/ray_bootstrap_config.yaml (call with
    HOME set to head_home and no VSPHERE_* in the environment), with Ray's LoadMetrics and
    NodeLauncher threads; updaters use `runner` for SSH."""
    return StandardAutoscaler(
        str(pathlib.Path(head_home) / "ray_bootstrap_config.yaml"),
        LoadMetrics(),
        FakeGcs(),
        process_runner=runner or MockProcessRunner(),
        update_interval_s=0,
    )


def tick_until(autoscaler, predicate, timeout=90.0, interval=0.2):
    """Runs autoscaler.update() until predicate() is truthy; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        autoscaler.update()
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def release_ray_state():
    """Drops what Ray keeps between tests: its provider cache, and the providers its
    NodeLauncher threads (daemons blocked on their queue forever) hold."""
    providers._clear_provider_cache()
    for thread in threading.enumerate():
        if isinstance(thread, node_launcher.NodeLauncher):
            thread.provider = None
    gc.collect()  # providers in reference cycles (autoscaler <-> updaters) go now


# --- vCenter's state, seen with pyvmomi ----------------------------------------------------

def cluster_vms(si, cluster):
    """{vm name: {tag key: value}} of the VMs in the cluster's folder (ray-<cluster>): the tags
    each was born with (extraConfig guestinfo.vsray.tag.*), overridden by the custom attributes
    written since."""
    content = si.RetrieveContent()
    names = {field.key: field.name for field in content.customFieldsManager.field}
    birth = "guestinfo.vsray.tag."
    out = {}
    for vm in all_vms(si):
        if vm.parent is not None and vm.parent.name == f"ray-{cluster}":
            extra = vm.config.extraConfig if vm.config else []
            tags = {o.key[len(birth):]: o.value for o in extra if o.key.startswith(birth)}
            tags.update({names.get(v.key, v.key): v.value for v in vm.customValue})
            out[vm.name] = tags
    return out


def set_password_env(monkeypatch):
    monkeypatch.setenv("VSPHERE_PASSWORD", PASSWORD)


def become_head(monkeypatch, head_home):
    """The process now plays the head node: its HOME, no VSPHERE_* environment."""
    monkeypatch.setenv("HOME", str(head_home))
    for name in ("VSPHERE_SERVER", "VSPHERE_USER", "VSPHERE_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
