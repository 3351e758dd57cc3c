"""GPU node types through vsray.ray_provider.VsphereNodeProvider, against vsray-sim's GPUs, with
pyvmomi as the independent census of which devices each VM holds."""

import concurrent.futures
import pathlib
import sys

import pytest

from vsray import _vsray
from vsray.ray_provider import VsphereNodeProvider

from simharness import PASSWORD, USER, all_vms, cluster_config, wait_for
from simharness import env, providers, start_sim  # noqa: F401 (fixtures)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "sim"))
import vsphere7_types  # noqa: E402,F401  (Dynamic DirectPath types, before pyvmomi decodes them)

from pyVmomi import vim  # noqa: E402

GPU_TYPE, PLAIN_TYPE = "gpu.worker", "ray.worker.default"


def gpu_config(sim, gpus=1, node_gpu=None, **vsphere_extra):
    """Frozen VMs: the ones of pool Resources (one per host); a GPU worker type of `gpus`."""
    config = cluster_config(sim, frozen_vm={"resource_pool": "Resources"}, **vsphere_extra)
    node_config = {"gpu": node_gpu} if node_gpu else {}
    config["available_node_types"][GPU_TYPE] = {
        "min_workers": 0, "max_workers": 8,
        "resources": {"CPU": 4, "Memory": 8192, "GPU": gpus}, "node_config": node_config}
    return VsphereNodeProvider.bootstrap_config(config)


def tags(cluster, node_type):
    return {"ray-node-type": "worker", "ray-node-status": "uninitialized",
            "ray-user-node-type": node_type, "ray-node-name": f"ray-{cluster}-worker",
            "ray-launch-config": "hash-1"}


class Cluster:
    def __init__(self, sim, config, providers):
        self.sim = sim
        self.config = config
        self.name = config["cluster_name"]
        self.provider = VsphereNodeProvider(config["provider"], self.name)
        providers.append(self.provider)
        self.si = sim.connect()

    def node_config(self, node_type=GPU_TYPE):
        return self.config["available_node_types"][node_type]["node_config"]

    def create(self, count=1, node_type=GPU_TYPE):
        return list(self.provider.create_node(self.node_config(node_type), tags(self.name, node_type), count))

    def census(self):
        """{vm name: (host, power state, [(backing type, PCI id)], memory locked)} of the
        cluster's nodes, read with pyvmomi."""
        out = {}
        for vm in all_vms(self.si):
            if not vm.name.startswith(f"ray-{self.name}-"):
                continue
            devices = [d.backing for d in vm.config.hardware.device
                       if isinstance(d, vim.vm.device.VirtualPCIPassthrough)]
            ids = [(type(b).__name__.rsplit(".", 1)[-1],
                    getattr(b, "id", None) or getattr(b, "assignedId", None) or getattr(b, "vgpu", None))
                   for b in devices]
            out[vm.name] = (vm.runtime.host.name, vm.runtime.powerState, ids,
                            bool(vm.config.memoryReservationLockedToMax))
        return out


def held(census):
    """(host, PCI id) of every device the running nodes hold."""
    return [(host, pci) for host, power, ids, _ in census.values() if power == "poweredOn"
            for _, pci in ids]


@pytest.fixture
def two_hosts(start_sim):
    """2 hosts x 4 passthrough GPUs, a frozen VM on each."""
    return start_sim("--hosts", "2", "--vms", "0", "--frozen-per-host", "frozen",
                     "--gpus-per-host", "4", "--guest-ip-delay", "20ms")


def test_eight_threads_get_eight_distinct_devices_and_a_ninth_fails_fast(two_hosts, env, providers):
    cluster = Cluster(two_hosts, gpu_config(two_hosts), providers)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        created = [n for r in pool.map(lambda _: cluster.create(1), range(8)) for n in r]
    assert len(set(created)) == 8
    census = cluster.census()
    assert len(census) == 8
    for host, power, ids, locked in census.values():
        assert power == "poweredOn" and locked
        assert [kind for kind, _ in ids] == ["DeviceBackingInfo"]
    devices = held(census)
    assert len(set(devices)) == 8  # 8 distinct devices: all of both hosts
    assert {host for host, _ in devices} == {"DC0_C0_H0", "DC0_C0_H1"}
    # Each node's status is `created`, with an address.
    for node in created:
        assert cluster.provider.node_tags(node)["vsray-node-status"] == "created"
        assert cluster.provider.internal_ip(node)

    # A 9th fails before cloning, naming the node type, the need and what each host has free.
    two_hosts.control("POST", "stats/reset")
    with pytest.raises(_vsray.VsphereError) as failure:
        cluster.create(1)
    message = str(failure.value)
    assert "\n" not in message
    assert (f"node type '{GPU_TYPE}' needs 1 GPU (passthrough); free on the hosts of its parents: "
            "DC0_C0_H0 0 of 4, DC0_C0_H1 0 of 4") in message
    assert two_hosts.stats()["soap"].get("InstantClone_Task", 0) == 0
    assert len(cluster.census()) == 8

    # Terminating a node frees its device for the next create.
    victim = created[0]
    before = cluster.census()
    cluster.provider.terminate_node(victim)
    assert wait_for(lambda: len(cluster.census()) == 7)
    gone = set(before) - set(cluster.census())
    assert len(gone) == 1
    [gone_name] = gone
    gone_device = (before[gone_name][0], before[gone_name][2][0][1])
    [again] = cluster.create(1)
    after = cluster.census()
    assert len(after) == 8 and len(set(held(after))) == 8
    again_name = [n for n in after if n not in before]
    assert len(again_name) == 1
    assert (after[again_name[0]][0], after[again_name[0]][2][0][1]) == gone_device
    assert again != victim


def test_nodes_of_several_gpus_get_them_on_one_host(two_hosts, env, providers):
    cluster = Cluster(two_hosts, gpu_config(two_hosts, gpus=3), providers)
    created = cluster.create(2)
    assert len(created) == 2
    census = cluster.census()
    for host, power, ids, _ in census.values():
        assert power == "poweredOn" and len(ids) == 3
    assert len(set(held(census))) == 6
    # One host per node (3 + 3 do not fit in one host of 4), and a third node does not fit.
    assert len({host for host, *_ in census.values()}) == 2
    with pytest.raises(_vsray.VsphereError, match="needs 3 GPUs .*DC0_C0_H0 1 of 4, DC0_C0_H1 1 of 4"):
        cluster.create(1)


def test_a_create_that_fails_after_allocation_releases_its_devices(two_hosts, env, providers):
    cluster = Cluster(two_hosts, gpu_config(two_hosts, gpus=4), providers)
    # The first power-on (the set-up's, after the devices were added) fails.
    two_hosts.inject_fault("PowerOnVM_Task:1:task:InvalidState")
    with pytest.raises(_vsray.VsphereError, match="InvalidState"):
        cluster.create(1)
    assert wait_for(lambda: cluster.census() == {})  # the half-made VM is destroyed
    two_hosts.clear_faults()
    # Its 4 devices are free again: two nodes of 4 fit.
    created = cluster.create(2)
    assert len(created) == 2
    assert len(set(held(cluster.census()))) == 8


def test_a_partial_batch_keeps_the_nodes_that_got_gpus(two_hosts, env, providers):
    cluster = Cluster(two_hosts, gpu_config(two_hosts, gpus=3), providers)
    # Ray's launcher gets the nodes that were made; the failure of the third is logged.
    created = cluster.create(3)
    assert len(created) == 2
    census = cluster.census()
    assert len(census) == 2 and len(set(held(census))) == 6
    assert len(cluster.provider.non_terminated_nodes({})) == 2


def test_a_node_type_without_gpus_is_untouched(two_hosts, env, providers):
    cluster = Cluster(two_hosts, gpu_config(two_hosts), providers)
    two_hosts.control("POST", "stats/reset")
    [node] = cluster.create(1, PLAIN_TYPE)
    soap = two_hosts.stats()["soap"]
    for method in ("PowerOffVM_Task", "PowerOnVM_Task", "QueryConfigTarget"):
        assert soap.get(method, 0) == 0, method
    [(host, power, ids, locked)] = cluster.census().values()
    assert power == "poweredOn" and ids == [] and not locked
    assert wait_for(lambda: cluster.provider.internal_ip(node))  # as the guest reports it


def test_dynamic_directpath_devices_are_bound_at_power_on(start_sim, env, providers):
    sim = start_sim("--hosts", "2", "--vms", "0", "--frozen-per-host", "frozen",
                    "--gpus-per-host", "2", "--gpu", "DC0_C0_H1:10de:20b5:GA100 80GB:label=big")
    config = gpu_config(sim, node_gpu={"custom_label": "big"},
                        gpu_config={"dynamic_pci_passthrough": True})
    cluster = Cluster(sim, config, providers)
    [node] = cluster.create(1)
    [(host, power, ids, locked)] = cluster.census().values()
    assert power == "poweredOn" and locked
    assert host == "DC0_C0_H1"
    assert ids == [("DynamicBackingInfo", "0000:3d:00.0")]  # the labelled one, bound
    # The only labelled device is taken: the next fails fast.
    with pytest.raises(_vsray.VsphereError, match="needs 1 GPU \\(dynamic, label 'big'\\).*DC0_C0_H1 0 of 1"):
        cluster.create(1)
    cluster.provider.terminate_node(node)
    assert wait_for(lambda: cluster.census() == {})
    assert len(cluster.create(1)) == 1


def test_vgpu_profiles_fill_a_gpu_as_its_memory_allows(start_sim, env, providers):
    sim = start_sim("--hosts", "2", "--vms", "0", "--frozen-per-host", "frozen",
                    "--gpu", "DC0_C0_H1:10de:1eb8:TU104GL [Tesla T4]:vgpu=grid_t4-4c,grid_t4-8c:mem=16")
    config = gpu_config(sim, node_gpu={"vgpu_profile": "grid_t4-8c"})
    cluster = Cluster(sim, config, providers)
    created = cluster.create(2)  # 2 x 8 GB on the one 16 GB T4
    assert len(created) == 2
    census = cluster.census()
    for host, power, ids, locked in census.values():
        assert host == "DC0_C0_H1" and power == "poweredOn" and locked
        assert ids == [("VmiopBackingInfo", "grid_t4-8c")]
    with pytest.raises(_vsray.VsphereError,
                       match="needs 1 vGPU of profile grid_t4-8c; .*DC0_C0_H0 0 of 0, DC0_C0_H1 0 of 2"):
        cluster.create(1)
    cluster.provider.terminate_node(created[0])
    assert wait_for(lambda: len(cluster.census()) == 1)
    assert len(cluster.create(1)) == 1


def test_a_gpu_node_goes_by_linked_clone_to_a_host_without_a_frozen_vm(start_sim, env, providers):
    """One frozen VM (on H0), 2 GPUs per host: once H0's GPUs are taken, the next GPU node is a
    linked clone of the frozen VM placed on H1; nodes without GPUs stay instant clones on H0."""
    sim = start_sim("--hosts", "2", "--vms", "0", "--frozen-vm", "frozen@DC0_C0_H0",
                    "--gpus-per-host", "2")
    config = cluster_config(sim, frozen_vm={"name": "frozen"})
    config["available_node_types"][GPU_TYPE] = {
        "min_workers": 0, "max_workers": 8,
        "resources": {"CPU": 4, "Memory": 8192, "GPU": 1}, "node_config": {}}
    config = VsphereNodeProvider.bootstrap_config(config)
    cluster = Cluster(sim, config, providers)
    first = cluster.create(2)  # H0 can serve both: instant clones
    assert len(first) == 2
    assert {host for host, *_ in cluster.census().values()} == {"DC0_C0_H0"}
    sim.control("POST", "stats/reset")

    [node] = cluster.create(1)
    soap = sim.stats()["soap"]
    assert soap.get("InstantClone_Task", 0) == 0
    assert soap.get("CloneVM_Task", 0) == 1
    vm = next(v for v in all_vms(cluster.si) if v._moId == node)
    assert vm.runtime.host.name == "DC0_C0_H1"
    assert vm.runtime.powerState == "poweredOn"
    devices = [d.backing for d in vm.config.hardware.device
               if isinstance(d, vim.vm.device.VirtualPCIPassthrough)]
    assert len(devices) == 1 and isinstance(devices[0], vim.vm.device.VirtualPCIPassthrough.DeviceBackingInfo)
    assert vm.config.memoryReservationLockedToMax
    disks = [d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualDisk)]
    assert disks and all(d.backing.parent is not None for d in disks)  # a linked clone
    frozen = next(v for v in all_vms(cluster.si) if v.name == "frozen")
    frozen_disks = [d for d in frozen.config.hardware.device if isinstance(d, vim.vm.device.VirtualDisk)]
    assert {d.backing.parent.fileName for d in disks} == {d.backing.fileName for d in frozen_disks}
    assert vm.config.extraConfig and any(
        o.key == "guestinfo.vsray.intent" and "linked" in o.value for o in vm.config.extraConfig)
    assert cluster.provider.node_tags(node)["vsray-node-status"] == "created"
    assert wait_for(lambda: cluster.provider.internal_ip(node))
    census = cluster.census()
    assert len(set(held(census))) == 3
    assert {host for host, _ in held(census)} == {"DC0_C0_H0", "DC0_C0_H1"}

    # Nodes without GPUs are instant clones of the frozen VM, on H0, as before.
    sim.control("POST", "stats/reset")
    [plain] = cluster.create(1, PLAIN_TYPE)
    assert sim.stats()["soap"].get("CloneVM_Task", 0) == 0
    plain_vm = next(v for v in all_vms(cluster.si) if v._moId == plain)
    assert plain_vm.runtime.host.name == "DC0_C0_H0"
    assert not [d for d in plain_vm.config.hardware.device
                if isinstance(d, vim.vm.device.VirtualPCIPassthrough)]

    # H1's last GPU, then none anywhere: the failure names both kinds of host.
    assert len(cluster.create(1)) == 1
    with pytest.raises(_vsray.VsphereError,
                       match="free on the hosts of its parents: DC0_C0_H0 0 of 2; "
                             "on hosts without a usable parent: DC0_C0_H1 0 of 2"):
        cluster.create(1)
