"""Ray's own cluster launcher and autoscaler driving vsray against vsray-sim over verified TLS.

The launcher (get_or_create_head_node, teardown_cluster) runs with Ray's MockProcessRunner
for SSH, extended to copy rsync uploads into a directory that stands for the head's home;
the head's autoscaler (StandardAutoscaler with Ray's LoadMetrics and NodeLauncher threads)
then runs in this process from what the launcher put there, with the head's HOME and without
the launcher's VSPHERE_* environment. vCenter's state is checked with pyvmomi.
"""

import copy
import functools
import json
import threading

import pytest

import rayharness

if not rayharness.AVAILABLE:
    pytest.skip(rayharness.MISSING, allow_module_level=True)

from ray.autoscaler._private import commands
from ray.autoscaler._private.autoscaler import NonTerminatedNodes
from ray.autoscaler._private.updater import NodeUpdaterThread
from ray.autoscaler._private.util import hash_launch_conf
from ray.autoscaler.tags import (
    NODE_KIND_HEAD,
    NODE_KIND_WORKER,
    STATUS_SETTING_UP,
    STATUS_SYNCING_FILES,
    STATUS_UP_TO_DATE,
    STATUS_WAITING_FOR_SSH,
    TAG_RAY_CLUSTER_NAME,
    TAG_RAY_LAUNCH_CONFIG,
    TAG_RAY_NODE_KIND,
    TAG_RAY_NODE_NAME,
    TAG_RAY_NODE_STATUS,
    TAG_RAY_RUNTIME_CONFIG,
    TAG_RAY_USER_NODE_TYPE,
)
from ray.autoscaler.node_launch_exception import NodeLaunchException
from ray.tests.autoscaler_test_utils import MockProcessRunner

import vsray
from vsray.ray_provider import VsphereNodeProvider

from raytools import (
    HEAD,
    SIM_FLAGS,
    WORKER,
    HeadRunner,
    become_head,
    cluster_vms,
    example_config,
    head_autoscaler,
    load_yaml,
    ray_up,
    release_ray_state,
    set_password_env,
    tick_until,
    write_config,
)
from simharness import wait_for
from simharness import env, start_sim  # noqa: F401 (fixtures)


@pytest.fixture
def sim(start_sim):
    # 2 passthrough GPUs per host (for the GPU worker type; other node types ignore them).
    return start_sim(*SIM_FLAGS, "--gpus-per-host", "2")


@pytest.fixture(autouse=True)
def _release(monkeypatch, sim):
    """Ray's state goes before the simulator does."""
    monkeypatch.setattr(commands, "POLL_INTERVAL", 0.2)  # teardown's wait between listings
    yield
    release_ray_state()


class Cluster:
    """A cluster brought up by Ray's launcher: the config, the head's home, the SSH log."""

    def __init__(self, sim, home, tmp_path, monkeypatch, name, min_workers=1, max_workers=3):
        self.sim, self.home, self.tmp_path, self.monkeypatch, self.name = sim, home, tmp_path, monkeypatch, name
        self.raw = example_config(sim, name, min_workers=min_workers, max_workers=max_workers)
        self.path = write_config(tmp_path, self.raw)
        self.head_home = tmp_path / "head-home"
        self.head_home.mkdir()
        self.runner = HeadRunner(self.head_home)
        self.si = sim.connect()

    def as_launcher(self):
        """The process plays the launching machine again: its HOME, VSPHERE_PASSWORD."""
        self.monkeypatch.setenv("HOME", str(self.home))
        set_password_env(self.monkeypatch)

    def up(self, raw=None):
        """`ray up` as the launching machine runs it (VSPHERE_PASSWORD in its environment)."""
        self.as_launcher()
        self.config = ray_up(raw or self.raw, self.path, self.runner)
        self.launcher = commands._get_node_provider(self.config["provider"], self.name)
        [self.head] = self.launcher.non_terminated_nodes({TAG_RAY_NODE_KIND: NODE_KIND_HEAD})
        return self.head

    def autoscaler(self, runner=None):
        become_head(self.monkeypatch, self.head_home)
        self.scaler = head_autoscaler(self.head_home, runner)
        self.provider = self.scaler.provider
        return self.scaler

    def vms(self):
        return cluster_vms(self.si, self.name)

    def workers(self):
        return self.provider.non_terminated_nodes({TAG_RAY_NODE_KIND: NODE_KIND_WORKER})

    def up_to_date_workers(self, count):
        workers = self.workers()
        statuses = [self.provider.node_tags(w).get(TAG_RAY_NODE_STATUS) for w in workers]
        return (len(workers) == count and statuses == [STATUS_UP_TO_DATE] * count and not self.scaler.updaters
                and self.scaler.pending_launches.value == 0)


@pytest.fixture
def cluster(sim, env, tmp_path, monkeypatch):
    return functools.partial(Cluster, sim, env, tmp_path, monkeypatch)


def record_statuses(monkeypatch):
    """Every status Ray's updaters set, per node, in order."""
    seen = {}
    lock = threading.Lock()
    original = VsphereNodeProvider.set_node_tags

    def spy(self, node_id, tags):
        if TAG_RAY_NODE_STATUS in tags:
            with lock:
                seen.setdefault(node_id, []).append(tags[TAG_RAY_NODE_STATUS])
        return original(self, node_id, tags)

    monkeypatch.setattr(VsphereNodeProvider, "set_node_tags", spy)
    return seen


# --- the launcher ------------------------------------------------------------------------

def test_get_or_create_head_node_makes_a_tagged_head_and_mounts_what_it_needs(cluster, monkeypatch):
    c = cluster("launch")
    statuses = record_statuses(monkeypatch)
    head = c.up()
    # The head, with Ray's tags, as vCenter stores them.
    [(name, tags)] = c.vms().items()
    assert tags[TAG_RAY_NODE_KIND] == NODE_KIND_HEAD
    assert tags[TAG_RAY_USER_NODE_TYPE] == HEAD
    assert tags[TAG_RAY_NODE_NAME] == "ray-launch-head"
    assert tags[TAG_RAY_CLUSTER_NAME] == "launch"
    assert tags[TAG_RAY_NODE_STATUS] == STATUS_UP_TO_DATE
    assert tags[TAG_RAY_RUNTIME_CONFIG]
    node_config = c.config["available_node_types"][HEAD]["node_config"]
    assert tags[TAG_RAY_LAUNCH_CONFIG] == hash_launch_conf(node_config, c.config["auth"])
    # Ray's updater walked the head through its statuses.
    assert statuses[head] == [STATUS_WAITING_FOR_SSH, STATUS_SYNCING_FILES, STATUS_SETTING_UP, STATUS_UP_TO_DATE]
    # What the launcher put on the head: the bootstrap config (credentials written in, the CA
    # at the mounted path), the CA itself, the cluster's key pair.
    remote = json.loads((c.head_home / "ray_bootstrap_config.yaml").read_text())
    vsphere = remote["provider"]["vsphere_config"]
    assert vsphere["credentials"]["password"] == "pass"
    assert vsphere["tls"]["ca_file"] == "~/vsray-vcenter-ca.pem"
    assert (c.head_home / "vsray-vcenter-ca.pem").read_bytes() == open(c.sim.ca_file, "rb").read()
    assert remote["auth"]["ssh_private_key"] == "~/ray_bootstrap_key.pem"
    assert (c.head_home / "ray_bootstrap_key.pem").read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    ip = c.launcher.external_ip(head)
    assert ip.startswith("127.")
    c.runner.assert_has_call(ip, pattern="ray start --head")


def test_a_second_ray_up_keeps_the_head_and_a_changed_head_type_relaunches_it(cluster):
    c = cluster("relaunch")
    head = c.up()
    # Again, unchanged: the same head (Ray compares the launch hash and the type tags).
    assert c.up() == head
    assert len(c.vms()) == 1
    # Another head node type: Ray terminates the old head and launches a new one.
    raw = copy.deepcopy(c.raw)
    types = raw["available_node_types"]
    types["ray.head.big"] = dict(types.pop(HEAD), resources={"CPU": 4, "Memory": 8192})
    raw["head_node_type"] = "ray.head.big"
    new_head = c.up(raw)
    assert new_head != head
    [(name, tags)] = c.vms().items()
    assert tags[TAG_RAY_USER_NODE_TYPE] == "ray.head.big"
    assert c.launcher.is_terminated(head)


def test_teardown_cluster_leaves_no_vm(cluster, monkeypatch):
    c = cluster("down")
    c.up()
    c.autoscaler()
    assert tick_until(c.scaler, lambda: len(c.workers()) == 1)
    assert len(c.vms()) == 2
    # `ray down` on the launching machine: Ray's teardown_cluster, its `ray stop` on the head
    # through the mock SSH.
    c.as_launcher()
    stopper = MockProcessRunner()
    monkeypatch.setattr(commands, "NodeUpdaterThread", functools.partial(NodeUpdaterThread, process_runner=stopper))
    commands.teardown_cluster(str(c.path), yes=True, workers_only=False, override_cluster_name=None,
                              keep_min_workers=False)
    assert any("ray stop" in " ".join(cmd) for cmd in stopper.calls)
    assert c.vms() == {}
    # Only the frozen VM is left in the whole inventory.
    from simharness import all_vms
    assert [vm.name for vm in all_vms(c.si)] == ["frozen-vm"]


# --- the autoscaler ----------------------------------------------------------------------

def test_autoscaler_brings_workers_up_to_min_workers_through_rays_statuses(cluster, monkeypatch):
    c = cluster("scale", min_workers=2)
    c.up()
    statuses = record_statuses(monkeypatch)
    c.autoscaler()
    assert tick_until(c.scaler, lambda: c.up_to_date_workers(2))
    assert c.scaler.num_failures == 0
    for worker in c.workers():
        assert statuses[worker] == [STATUS_WAITING_FOR_SSH, STATUS_SYNCING_FILES, STATUS_SETTING_UP, STATUS_UP_TO_DATE]
    tags = [t for t in c.vms().values() if t[TAG_RAY_NODE_KIND] == NODE_KIND_WORKER]
    assert len(tags) == 2
    node_config = c.scaler.config["available_node_types"][WORKER]["node_config"]
    for t in tags:
        assert t[TAG_RAY_USER_NODE_TYPE] == WORKER
        assert t[TAG_RAY_NODE_STATUS] == STATUS_UP_TO_DATE
        assert t[TAG_RAY_LAUNCH_CONFIG] == hash_launch_conf(node_config, c.scaler.config["auth"])
    # Nothing more happens on later ticks: the workers are up to date and not outdated.
    before = sorted(c.workers())
    for _ in range(3):
        c.scaler.update()
    assert sorted(c.workers()) == before and c.scaler.num_failures == 0


def test_idle_workers_above_min_workers_are_scaled_down(cluster):
    c = cluster("idle", min_workers=1, max_workers=3)
    c.up()
    c.autoscaler()
    # Demand for three workers' worth of CPUs (Ray's request_resources).
    # (The head's two CPUs take one request.)
    c.scaler.load_metrics.set_resource_requests([{"CPU": 2}] * 4)
    assert tick_until(c.scaler, lambda: c.up_to_date_workers(3))
    # The demand goes; the workers report being idle for an hour (idle_timeout_minutes: 5).
    c.scaler.load_metrics.set_resource_requests([])
    for worker in c.workers():
        ip = c.provider.internal_ip(worker)
        c.scaler.load_metrics.update(ip, worker.encode(), {"CPU": 2}, {"CPU": 2}, 3600)
    assert tick_until(c.scaler, lambda: len(c.workers()) == 1)
    assert c.scaler.num_failures == 0
    assert len([t for t in c.vms().values() if t[TAG_RAY_NODE_KIND] == NODE_KIND_WORKER]) == 1
    assert len(c.scaler.gcs_client.drained) == 2  # drained through the GCS, then terminated


def test_autoscaler_brings_up_gpu_workers_on_distinct_gpus(cluster):
    c = cluster("gpus", min_workers=0, max_workers=3)
    raw = copy.deepcopy(c.raw)
    raw["available_node_types"]["gpu.worker"] = {
        "min_workers": 0, "max_workers": 2,
        "resources": {"CPU": 2, "Memory": 4096, "GPU": 1}, "node_config": {}}
    c.up(raw)
    c.autoscaler()
    # Demand for two GPUs: Ray's scheduler picks the GPU type, vsray gives each a GPU.
    c.scaler.load_metrics.set_resource_requests([{"GPU": 1}] * 2)
    assert tick_until(c.scaler, lambda: c.up_to_date_workers(2))
    assert c.scaler.num_failures == 0
    from pyVmomi import vim
    from simharness import find_vm
    devices = []
    for name, tags in c.vms().items():
        if tags[TAG_RAY_NODE_KIND] != NODE_KIND_WORKER:
            continue
        assert tags[TAG_RAY_USER_NODE_TYPE] == "gpu.worker"
        vm = find_vm(c.si, name)
        [device] = [d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualPCIPassthrough)]
        devices.append(device.backing.id)
        assert vm.config.memoryReservationLockedToMax
    assert sorted(devices) == ["0000:3b:00.0", "0000:3c:00.0"]  # both GPUs of the frozen VM's host


def delete_vm(si, name):
    from pyVmomi import vim
    from simharness import find_vm, wait_task
    vm = find_vm(si, name)
    if vm.runtime.powerState == vim.VirtualMachinePowerState.poweredOn:
        assert wait_task(vm.PowerOffVM_Task()).state == "success"
    assert wait_task(vm.Destroy_Task()).state == "success"


def test_a_worker_deleted_outside_ray_is_replaced(cluster):
    c = cluster("replace", min_workers=2)
    c.up()
    c.autoscaler()
    assert tick_until(c.scaler, lambda: c.up_to_date_workers(2))
    victim = c.workers()[0]
    delete_vm(c.si, c.provider.get_node(victim)["name"])
    assert wait_for(lambda: c.provider.is_terminated(victim))
    assert tick_until(c.scaler, lambda: c.up_to_date_workers(2) and victim not in c.workers())
    assert c.scaler.num_failures == 0


def test_a_node_deleted_between_listing_and_reading_its_tags_breaks_no_tick(cluster, monkeypatch):
    c = cluster("vanish", min_workers=1)
    c.up()
    c.autoscaler()
    assert tick_until(c.scaler, lambda: c.up_to_date_workers(1))
    [worker] = c.workers()
    original = VsphereNodeProvider.non_terminated_nodes

    def list_then_lose_a_worker(self, tag_filters):
        nodes = original(self, tag_filters)
        if not tag_filters and worker in nodes and c.provider.get_node(worker):
            delete_vm(c.si, c.provider.get_node(worker)["name"])
            assert wait_for(lambda: c.provider.is_terminated(worker))
        return nodes

    monkeypatch.setattr(VsphereNodeProvider, "non_terminated_nodes", list_then_lose_a_worker)
    # Ray's own listing step: every listed id's node_tags()[TAG_RAY_NODE_KIND].
    listing = NonTerminatedNodes(c.provider)
    assert worker in listing.worker_ids
    assert c.provider.node_tags(worker)[TAG_RAY_NODE_KIND] == NODE_KIND_WORKER
    assert c.provider.internal_ip(worker).startswith("127.")
    # A whole tick with the vanished worker: no error, and the next listing forgets it.
    failures = c.scaler.num_failures
    monkeypatch.setattr(VsphereNodeProvider, "non_terminated_nodes", original)
    c.scaler.update()
    assert c.scaler.num_failures == failures
    assert worker not in c.provider.non_terminated_nodes({})
    assert c.provider.node_tags(worker) == {}


def test_a_vcenter_fault_during_launch_is_rays_launch_failure_and_the_next_tick_recovers(cluster):
    c = cluster("fault", min_workers=2)
    c.up()
    c.autoscaler()
    c.sim.inject_fault("InstantClone_Task:*:task:InvalidState")
    c.scaler.update()
    tracker = c.scaler.node_provider_availability_tracker
    assert wait_for(lambda: c.scaler.pending_launches.value == 0)
    availability = tracker.summary().node_availabilities[WORKER]
    assert not availability.is_available
    assert availability.unavailable_node_information.category == "InvalidState"
    assert "InvalidState" in availability.unavailable_node_information.description
    events = c.scaler.event_summarizer.summary()
    assert any("Failed to launch 2 node(s) of type ray.worker.default. (InvalidState)" in e for e in events), events
    assert c.workers() == [] and [t for t in c.vms().values() if t[TAG_RAY_NODE_KIND] == NODE_KIND_WORKER] == []
    assert c.scaler.num_failures == 0
    # What the launcher got: Ray's exception, with the VsphereError as its cause.
    node_config = c.scaler.config["available_node_types"][WORKER]["node_config"]
    with pytest.raises(NodeLaunchException) as info:
        c.provider.create_node(node_config, {TAG_RAY_NODE_KIND: NODE_KIND_WORKER}, 1)
    assert info.value.category == "InvalidState"
    assert "InvalidState" in info.value.description and "\n" not in info.value.description
    error_type, error, _ = info.value.src_exc_info
    assert issubclass(error_type, vsray.VsphereError) and error.fault == "InvalidState"
    assert not isinstance(error, vsray.ConfigError)
    # vCenter is fine again: the next ticks launch the workers.
    c.sim.clear_faults()
    assert tick_until(c.scaler, lambda: c.up_to_date_workers(2))
    assert tracker.summary().node_availabilities[WORKER].is_available


def test_ticks_while_a_launch_is_in_flight_see_the_new_nodes_with_rays_tags(cluster, monkeypatch):
    c = cluster("inflight", min_workers=2)
    c.up()
    statuses = record_statuses(monkeypatch)
    c.autoscaler()
    # Clones stay running in vCenter for 3 s: NodeLauncher's create_node is in flight while
    # the autoscaler's main loop ticks.
    c.sim.control("POST", "task-durations", {"method": "InstantClone_Task", "duration": "3s"})
    c.scaler.update()
    seen_creating = []

    def tick_and_look():
        c.scaler.update()
        for node in c.provider.non_terminated_nodes({}):
            tags = c.provider.node_tags(node)
            assert TAG_RAY_NODE_KIND in tags and TAG_RAY_USER_NODE_TYPE in tags, tags
            if tags.get("vsray-node-status") == "creating":
                seen_creating.append(node)
        return c.scaler.pending_launches.value == 0 and len(c.workers()) == 2

    assert tick_until(c.scaler, tick_and_look, interval=0.1)
    assert seen_creating, "no tick saw a node while its clone was in flight"
    assert c.scaler.num_failures == 0
    assert tick_until(c.scaler, lambda: c.up_to_date_workers(2))
    # Ray's updaters started on the nodes while they were being created; the end of the
    # creation did not put their status back: each was set up once, through Ray's statuses.
    for worker in c.workers():
        assert statuses[worker] == [STATUS_WAITING_FOR_SSH, STATUS_SYNCING_FILES, STATUS_SETTING_UP,
                                    STATUS_UP_TO_DATE], statuses
        assert c.scaler.num_successful_updates[worker] == 1
    assert [t[TAG_RAY_NODE_STATUS] for t in c.vms().values()] == [STATUS_UP_TO_DATE] * 3
