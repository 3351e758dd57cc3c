"""vsray.ray_provider.VsphereNodeProvider driven the way Ray's launcher and autoscaler drive it,
against vsray-sim."""

import concurrent.futures
import copy
import gc
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import threading

import pytest

import vsray
from vsray import _vsray
from vsray.ray_provider import VsphereNodeProvider

from simharness import FROZEN_VM, PASSWORD, cluster_config, wait_for
from simharness import env, providers, sim, start_sim  # noqa: F401 (fixtures)

HEAD, WORKER = "ray.head.default", "ray.worker.default"
STATUSES = ["uninitialized", "waiting-for-ssh", "setting-up", "up-to-date"]


def head_tags(cluster):
    return {
        "ray-node-type": "head",
        "ray-node-name": f"ray-{cluster}-head",
        "ray-node-status": "uninitialized",
        "ray-user-node-type": HEAD,
        "ray-launch-config": "launch-hash-1",
    }


def worker_tags(cluster):
    return {
        "ray-node-type": "worker",
        "ray-node-name": f"ray-{cluster}-worker",
        "ray-node-status": "uninitialized",
        "ray-user-node-type": WORKER,
        "ray-launch-config": "launch-hash-1",
    }


def node_config(config, node_type):
    return config["available_node_types"][node_type]["node_config"]


@pytest.fixture
def bootstrapped(sim, env):
    return VsphereNodeProvider.bootstrap_config(cluster_config(sim))


def test_bootstrap_config_completes_what_ray_up_needs(sim, env, monkeypatch):
    raw = cluster_config(sim)
    del raw["provider"]["vsphere_config"]["credentials"]["password"]
    monkeypatch.setenv("VSPHERE_PASSWORD", PASSWORD)
    before = copy.deepcopy(raw)
    config = VsphereNodeProvider.bootstrap_config(raw)
    assert raw == before  # the input is not changed
    # The key pair, 0600, in the (test's) home, and its public key mounted on every node.
    key = config["auth"]["ssh_private_key"]
    assert key == str(env / "ray-bootstrap-key.pem")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert config["file_mounts"]["~/ray_bootstrap_public_key.key"] == str(env / "ray_bootstrap_public_key.key")
    # The head has no VSPHERE_* environment: the password is written in.
    vsphere = config["provider"]["vsphere_config"]
    assert vsphere["credentials"]["password"] == PASSWORD
    # The CA file is mounted on the head, where prepare_for_head_node points at it.
    assert config["file_mounts"]["~/vsray-vcenter-ca.pem"] == sim.ca_file
    # Every node type's node_config carries its frozen VM and resources.
    for node_type in (HEAD, WORKER):
        nc = node_config(config, node_type)
        assert nc["frozen_vm"] == {"name": FROZEN_VM}
        assert nc["resources"] == config["available_node_types"][node_type]["resources"]
    # Bootstrapping again changes nothing.
    assert VsphereNodeProvider.bootstrap_config(config) == config


def test_whole_contract_as_the_autoscaler_drives_it(sim, env, bootstrapped, providers):
    config = bootstrapped
    cluster = config["cluster_name"]
    provider = VsphereNodeProvider(config["provider"], cluster)
    providers.append(provider)
    assert provider.provider_config is config["provider"]
    assert provider.cluster_name == cluster
    assert provider.non_terminated_nodes({}) == []
    assert provider.max_terminate_nodes is None  # a property, as in Ray's NodeProvider
    assert provider.is_readonly() is False
    assert provider.safe_to_scale() is True
    assert provider.post_process() is None

    # The head, as `ray up` creates it.
    created = provider.create_node(node_config(config, HEAD), head_tags(cluster), 1)
    assert isinstance(created, dict) and len(created) == 1
    [head] = created
    assert head.startswith("vm-")
    # Visible at once, with its tags and the cluster name.
    assert provider.non_terminated_nodes({}) == [head]
    assert provider.non_terminated_nodes({"ray-node-type": "head"}) == [head]
    assert provider.non_terminated_nodes({"ray-node-type": "worker"}) == []
    tags = provider.node_tags(head)
    for key, value in head_tags(cluster).items():
        assert tags[key] == value
    assert tags["ray-cluster-name"] == cluster
    assert provider.is_running(head) and not provider.is_terminated(head)

    # Workers, from several NodeLauncher threads at once.
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(
            lambda _: provider.create_node_with_resources_and_labels(
                node_config(config, WORKER), worker_tags(cluster), 2, {"CPU": 4, "Memory": 8192}, {}),
            range(3)))
    workers = [node for result in results for node in result]
    assert len(workers) == 6 and len(set(workers)) == 6
    assert sorted(provider.non_terminated_nodes({"ray-node-type": "worker"})) == sorted(workers)
    assert sorted(provider.non_terminated_nodes({"ray-user-node-type": WORKER, "ray-launch-config": "launch-hash-1"})) == sorted(workers)
    assert provider.non_terminated_nodes({"ray-user-node-type": "no-such-type"}) == []
    assert sorted(provider.non_terminated_nodes({})) == sorted(workers + [head])
    # Each worker was sized by its node type's resources (CPU, Memory in MiB).
    vms = {vm["id"]: vm for vm in [provider.get_node(w) for w in workers]}
    assert all(vm is not None and vm["power_state"] == "poweredOn" for vm in vms.values())

    # The updater walks the status tag; filters follow each step.
    for status in STATUSES:
        provider.set_node_tags(head, {"ray-node-status": status})
        assert provider.node_tags(head)["ray-node-status"] == status
        assert provider.non_terminated_nodes({"ray-node-status": status, "ray-node-type": "head"}) == [head]
        with_status = provider.non_terminated_nodes({"ray-node-status": status})
        assert sorted(with_status) == (sorted(workers + [head]) if status == "uninitialized" else [head])
    # set_node_tags changes only the given keys.
    assert provider.node_tags(head)["ray-launch-config"] == "launch-hash-1"

    # IPs: reported by the guest after power-on (from 127.0.0.0/8 in the simulator).
    internal = wait_for(lambda: provider.internal_ip(head))
    external = wait_for(lambda: provider.external_ip(head))
    assert internal and internal.startswith("127.")
    assert external and external.startswith("127.")
    assert provider.get_node_id(internal, use_internal_ip=True) == head
    assert provider.get_node_id(external) == head
    assert provider._internal_ip_cache[internal] == head
    with pytest.raises(ValueError, match="10.255.255.1"):
        provider.get_node_id("10.255.255.1")
    worker_ips = [wait_for(lambda w=w: provider.internal_ip(w)) for w in workers]
    assert len(set(worker_ips + [internal])) == 7

    # Terminate some: gone at once (Ray expects no delay), the others stay.
    provider.terminate_node(workers[0])
    assert provider.terminate_nodes(workers[1:3]) is None
    remaining = sorted(workers[3:] + [head])
    assert sorted(provider.non_terminated_nodes({})) == remaining
    for node in workers[:3]:
        assert provider.is_terminated(node) and not provider.is_running(node)
    # Terminating a node that is already gone counts as done.
    provider.terminate_node(workers[0])

    # Terminate all (`ray down`).
    provider.terminate_nodes(provider.non_terminated_nodes({}))
    assert provider.non_terminated_nodes({}) == []
    assert wait_for(lambda: provider.all_nodes() == [])


def test_launcher_and_head_instances_share_one_provider(sim, env, bootstrapped, providers):
    config = bootstrapped
    cluster = config["cluster_name"]
    launcher = VsphereNodeProvider(config["provider"], cluster)
    providers.append(launcher)
    # The head's config: another dict object, through prepare_for_head_node and JSON.
    head_config = json.loads(json.dumps(launcher.prepare_for_head_node(config)))
    # (Its CA path is the head's; on this machine, the launcher's file is the same.)
    head_config["provider"]["vsphere_config"]["tls"]["ca_file"] = sim.ca_file
    assert head_config["provider"] == config["provider"]
    head_provider = VsphereNodeProvider(head_config["provider"], cluster)
    providers.append(head_provider)
    assert launcher._provider.shares_with(head_provider._provider)
    assert _vsray._live_providers() == 1

    [node] = launcher.create_node(node_config(config, HEAD), head_tags(cluster), 1)
    assert head_provider.non_terminated_nodes({"ray-node-type": "head"}) == [node]
    # The launcher answers from its own listing while the shared cache is unchanged, and sees
    # the other object's write at once (the cache's version moved).
    assert launcher.non_terminated_nodes({}) == [node]
    listed_status = launcher.node_tags(node)["ray-node-status"]
    # The version both read without a call is the shared cache's, and a write moves it.
    before = launcher._version[0]
    assert before == head_provider._version[0] == launcher._provider.cache_version()
    head_provider.set_node_tags(node, {"ray-node-status": "up-to-date"})
    assert launcher._version[0] == launcher._provider.cache_version() != before
    assert listed_status != "up-to-date"
    assert launcher.node_tags(node)["ray-node-status"] == "up-to-date"

    # Another cluster name is another provider.
    other = VsphereNodeProvider(config["provider"], "other-cluster")
    providers.append(other)
    assert not other._provider.shares_with(launcher._provider)
    assert other.non_terminated_nodes({}) == []
    providers.clear()
    del launcher, head_provider, other
    gc.collect()
    assert _vsray._live_providers() == 0


HEAD_PROCESS = textwrap.dedent("""
    import json, sys
    sys.modules["ray"] = None  # Ray is not importable in this process, whatever is installed
    from vsray import ray_provider
    assert not ray_provider.RAY_AVAILABLE
    config = json.load(sys.stdin)
    provider = ray_provider.VsphereNodeProvider(config["provider"], config["cluster_name"])
    nodes = provider.non_terminated_nodes({"ray-node-type": "worker"})
    tags = {node: provider.node_tags(node) for node in nodes}
    for node in nodes:
        provider.set_node_tags(node, {"ray-node-status": "setting-up"})
    print(json.dumps({"nodes": nodes, "tags": tags}))
""")


def test_head_in_another_process_without_ray_sees_the_same_nodes_and_tags(sim, env, bootstrapped, providers, tmp_path):
    config = bootstrapped
    cluster = config["cluster_name"]
    launcher = VsphereNodeProvider(config["provider"], cluster)
    providers.append(launcher)
    workers = sorted(launcher.create_node(node_config(config, WORKER), worker_tags(cluster), 2))
    launcher.set_node_tags(workers[0], {"ray-node-status": "waiting-for-ssh"})

    # The head node: its own home, where Ray's file mounts put the CA file, and no VSPHERE_*
    # environment; its config is what prepare_for_head_node made.
    head_home = tmp_path / "head-home"
    head_home.mkdir()
    shutil.copy(config["file_mounts"]["~/vsray-vcenter-ca.pem"], head_home / "vsray-vcenter-ca.pem")
    head_env = {k: v for k, v in os.environ.items() if not k.startswith("VSPHERE_")}
    head_env["HOME"] = str(head_home)
    head_config = launcher.prepare_for_head_node(config)
    proc = subprocess.run([sys.executable, "-c", HEAD_PROCESS], input=json.dumps(head_config),
                          capture_output=True, text=True, timeout=120, env=head_env)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert sorted(seen["nodes"]) == workers
    assert seen["tags"][workers[0]]["ray-node-status"] == "waiting-for-ssh"
    assert seen["tags"][workers[1]]["ray-node-status"] == "uninitialized"
    assert seen["tags"][workers[1]]["ray-user-node-type"] == WORKER
    # What the other process wrote reaches this one's live cache.
    assert wait_for(lambda: all(launcher.node_tags(w)["ray-node-status"] == "setting-up" for w in workers))


# --- errors ------------------------------------------------------------------------------

def test_bad_cluster_config_names_the_yaml_path(sim, env):
    config = cluster_config(sim)
    config["provider"]["vsphere_config"]["frozen_vm"] = {"library_item": "ubuntu-frozen"}
    with pytest.raises(vsray.ConfigError) as info:
        VsphereNodeProvider.bootstrap_config(config)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, vsray.VsphereError)
    assert "provider.vsphere_config.frozen_vm" in str(info.value)
    assert info.value.code == "INVALID_ARGUMENT"
    assert info.value.fault is None

    config = cluster_config(sim)
    config["provider"]["vsphere_config"]["frozen_vmm"] = config["provider"]["vsphere_config"].pop("frozen_vm")
    with pytest.raises(ValueError, match=r"provider\.vsphere_config: unknown key 'frozen_vmm'; did you mean 'frozen_vm'"):
        VsphereNodeProvider.bootstrap_config(config)

    config = cluster_config(sim)
    config["available_node_types"][WORKER]["resources"]["CPU"] = "many"
    with pytest.raises(vsray.ConfigError, match=r'available_node_types\["ray\.worker\.default"\]\.resources\.CPU: expected a number' ):
        VsphereNodeProvider.bootstrap_config(config)


def test_bad_provider_and_node_config(sim, env, providers):
    config = cluster_config(sim)
    bad = copy.deepcopy(config["provider"])
    bad["vsphere_config"]["max_concurrency"] = 0
    with pytest.raises(vsray.ConfigError, match=r"provider\.vsphere_config\.max_concurrency"):
        VsphereNodeProvider(bad, "pyc")

    provider = VsphereNodeProvider(config["provider"], "pyc")
    providers.append(provider)
    with pytest.raises(vsray.ConfigError, match=r"node_config\.clone_mode"):
        provider.create_node({"clone_mode": "sideways"}, worker_tags("pyc"), 1)
    assert provider.non_terminated_nodes({}) == []


def test_missing_frozen_vm_is_a_vsphere_error(sim, env):
    config = cluster_config(sim, frozen_vm={"name": "no-such-frozen-vm"})
    with pytest.raises(vsray.VsphereError) as info:
        VsphereNodeProvider(config["provider"], "pyc")
    assert not isinstance(info.value, ValueError)
    assert info.value.code == "NOT_FOUND"
    assert "no-such-frozen-vm" in str(info.value)


def test_vcenter_fault_reaches_python_with_its_name(sim, env, bootstrapped, providers):
    config = bootstrapped
    provider = VsphereNodeProvider(config["provider"], config["cluster_name"])
    providers.append(provider)
    sim.inject_fault("InstantClone_Task:*:task:InvalidState")
    with pytest.raises(vsray.VsphereError) as info:
        provider.create_node(node_config(config, WORKER), worker_tags("pyc"), 2)
    assert info.value.fault == "InvalidState"
    assert "InvalidState" in str(info.value)
    assert provider.non_terminated_nodes({}) == []  # failed clones are not left behind
    sim.clear_faults()
    assert len(provider.create_node(node_config(config, WORKER), worker_tags("pyc"), 1)) == 1

    sim.inject_fault("SetField:*:NoPermission")
    [node] = provider.non_terminated_nodes({})
    with pytest.raises(vsray.VsphereError) as info:
        provider.set_node_tags(node, {"ray-node-status": "up-to-date"})
    assert info.value.fault == "NoPermission"


def test_package_imports_without_ray():
    code = textwrap.dedent("""
        import sys
        sys.modules["ray"] = None
        import vsray, vsray.ray_provider as rp
        assert not rp.RAY_AVAILABLE
        base = rp.VsphereNodeProvider.__mro__[1]
        assert base.__module__ == "vsray.ray_provider", base
        for name in ("non_terminated_nodes", "is_running", "is_terminated", "node_tags", "external_ip",
                     "internal_ip", "get_node_id", "create_node", "create_node_with_resources_and_labels",
                     "set_node_tags", "terminate_node", "terminate_nodes",
                     "is_readonly", "safe_to_scale", "post_process", "prepare_for_head_node",
                     "bootstrap_config"):
            assert callable(getattr(rp.VsphereNodeProvider, name)), name
        assert isinstance(rp.VsphereNodeProvider.max_terminate_nodes, property)
        assert issubclass(vsray.ConfigError, ValueError) and issubclass(vsray.ConfigError, vsray.VsphereError)
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_frozen_vm_only_in_the_head_node_config(sim, env, providers):
    config = cluster_config(sim)
    frozen = config["provider"]["vsphere_config"].pop("frozen_vm")
    config["available_node_types"][HEAD]["node_config"]["frozen_vm"] = frozen
    # Without bootstrap, the provider dict alone names no frozen VM.
    with pytest.raises(vsray.ConfigError, match="frozen_vm"):
        VsphereNodeProvider(config["provider"], "pyc")
    config = VsphereNodeProvider.bootstrap_config(config)
    assert config["provider"]["vsphere_config"]["frozen_vm"] == frozen
    provider = VsphereNodeProvider(config["provider"], "pyc")
    providers.append(provider)
    assert len(provider.create_node(node_config(config, WORKER), worker_tags("pyc"), 1)) == 1


def test_blocking_calls_let_other_python_threads_run(sim, env, bootstrapped, providers):
    config = bootstrapped
    provider = VsphereNodeProvider(config["provider"], config["cluster_name"])
    providers.append(provider)
    # Clone tasks stay running in vCenter for a while: create_node waits on them, then
    # reconfigures the clone.
    sim.control("POST", "task-durations", {"method": "InstantClone_Task", "duration": "3s"})
    started = threading.Event()

    def break_reconfigure():
        started.wait(30)
        sim.inject_fault("ReconfigVM_Task:*:NoPermission")

    helper = threading.Thread(target=break_reconfigure)
    helper.start()
    started.set()
    # The helper can run while this call waits on the clone only if the call released the
    # GIL; then its fault makes the reconfiguration after the clone fail. (Holding the GIL,
    # the call would finish first, successfully.)
    with pytest.raises(vsray.VsphereError) as info:
        provider.create_node(node_config(config, WORKER), worker_tags("pyc"), 1)
    helper.join(30)
    assert info.value.fault == "NoPermission"
    assert provider.non_terminated_nodes({}) == []


def test_prepare_for_head_node_gives_the_head_what_it_needs(sim, env, monkeypatch, providers):
    raw = cluster_config(sim)
    del raw["provider"]["vsphere_config"]["credentials"]["user"]
    monkeypatch.setenv("VSPHERE_USER", "user")
    config = VsphereNodeProvider.bootstrap_config(raw)
    provider = VsphereNodeProvider(config["provider"], config["cluster_name"])
    providers.append(provider)
    # What Ray hands over: its own rewrite of the key path already done, or not.
    before = copy.deepcopy(config)
    head = provider.prepare_for_head_node(config)
    assert config == before  # a new dict; the launcher's config is unchanged
    vsphere = head["provider"]["vsphere_config"]
    assert vsphere["credentials"] == {"server": sim.server, "user": "user", "password": PASSWORD}
    assert vsphere["tls"]["ca_file"] == "~/vsray-vcenter-ca.pem"
    assert config["file_mounts"]["~/vsray-vcenter-ca.pem"] == sim.ca_file
    assert head["auth"]["ssh_private_key"] == "~/ray_bootstrap_key.pem"
    # Everything else is the launcher's config.
    for key in ("available_node_types", "head_node_type", "cluster_name", "file_mounts"):
        assert head[key] == config[key]
    # A CA file that bootstrap_config did not mount stays where it is.
    unmounted = copy.deepcopy(config)
    del unmounted["file_mounts"]["~/vsray-vcenter-ca.pem"]
    assert provider.prepare_for_head_node(unmounted)["provider"]["vsphere_config"]["tls"]["ca_file"] == sim.ca_file
    # Credentials missing everywhere stay missing (the head then reports them).
    monkeypatch.delenv("VSPHERE_USER")
    bare = copy.deepcopy(config)
    del bare["provider"]["vsphere_config"]["credentials"]["user"]
    assert "user" not in provider.prepare_for_head_node(bare)["provider"]["vsphere_config"]["credentials"]


def test_subclasses_rays_node_provider_when_ray_is_importable(tmp_path):
    # A stand-in for Ray's module layout: the class must come from there when it imports.
    package = tmp_path / "fake-ray" / "ray" / "autoscaler"
    package.mkdir(parents=True)
    (package.parent / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "node_provider.py").write_text(textwrap.dedent("""
        class NodeProvider:
            def __init__(self, provider_config, cluster_name):
                self.provider_config = provider_config
                self.cluster_name = cluster_name
                self._internal_ip_cache = {}
                self._external_ip_cache = {}
                self.made_by_ray = True
    """))
    code = textwrap.dedent("""
        from ray.autoscaler.node_provider import NodeProvider
        from vsray import ray_provider
        assert ray_provider.RAY_AVAILABLE
        assert issubclass(ray_provider.VsphereNodeProvider, NodeProvider)
        try:  # config errors are ValueErrors with Ray too
            credentials = {"server": "vc.example.com", "user": "u", "password": "p"}
            ray_provider.VsphereNodeProvider(
                {"vsphere_config": {"credentials": credentials, "max_concurrency": 0}}, "c")
        except ValueError as error:
            assert "max_concurrency" in str(error), error
        else:
            raise AssertionError("no ConfigError")
        print("ok")
    """)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "fake-ray"), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_a_listed_node_deleted_outside_keeps_its_tags_until_a_listing_would_return_it(sim, env, bootstrapped, providers):
    config = bootstrapped
    provider = VsphereNodeProvider(config["provider"], config["cluster_name"])
    providers.append(provider)
    [head] = provider.create_node(node_config(config, HEAD), head_tags("pyc"), 1)
    [worker] = provider.create_node(node_config(config, WORKER), worker_tags("pyc"), 1)
    wait_for(lambda: provider.internal_ip(worker))
    assert sorted(provider.non_terminated_nodes({})) == sorted([head, worker])
    ip = provider.internal_ip(worker)
    # Deleted by someone else (pyvmomi) right after the listing.
    from pyVim.task import WaitForTask
    from simharness import find_vm
    si = sim.connect()
    vm = find_vm(si, provider.get_node(worker)["name"])
    WaitForTask(vm.PowerOffVM_Task())
    WaitForTask(vm.Destroy_Task())
    assert wait_for(lambda: provider.is_terminated(worker))
    # Ray reads what it listed: the tags and IP it was listed with.
    assert provider.node_tags(worker)["ray-node-type"] == "worker"
    assert provider.internal_ip(worker) == ip
    assert not provider.is_running(worker)
    # A listing that would not have returned it (the head only) keeps it readable ...
    assert provider.non_terminated_nodes({"ray-node-type": "head"}) == [head]
    assert provider.node_tags(worker)["ray-user-node-type"] == WORKER
    # ... one that would have returned it forgets it.
    assert provider.non_terminated_nodes({"ray-node-type": "worker"}) == []
    assert provider.node_tags(worker) == {} and provider.internal_ip(worker) is None
    # Ray's calls about node None (a cluster without a head) answer "no such node".
    assert provider.node_tags(None) == {} and provider.internal_ip(None) is None
    assert provider.is_terminated(None) and not provider.is_running(None)
