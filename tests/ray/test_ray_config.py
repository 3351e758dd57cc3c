"""vsray's configs and vocabulary against Ray's own code: Ray's prepare_config and
validate_config (its JSON schema) on every example and every config vsray writes, Ray's
provider loader, Ray's tags.py, and Ray's schema keys against vsray's loader."""

import copy
import json
import os
import subprocess
import time

import pytest

import rayharness

if not rayharness.AVAILABLE:
    pytest.skip(rayharness.MISSING, allow_module_level=True)

import ray.autoscaler
import ray.autoscaler.tags as ray_tags
from ray.autoscaler._private import providers
from ray.autoscaler._private.util import prepare_config, validate_config
from ray.autoscaler.node_provider import NodeProvider

import vsray
from vsray import _vsray, ray_provider
from vsray.ray_provider import VsphereNodeProvider

from raytools import HEAD, SIM_FLAGS, WORKER, example_config, load_yaml, release_ray_state
from simharness import PASSWORD, REPO, start_vsray_sim, stop_vsray_sim, vsray_binary
from simharness import env, providers as made_providers, start_sim  # noqa: F401 (fixtures)

EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))


@pytest.fixture(autouse=True)
def _release():
    yield
    release_ray_state()


@pytest.fixture
def sim(start_sim):
    return start_sim(*SIM_FLAGS)


def ray_accepts(config):
    """Ray's launcher checks, in its order: prepare_config, then validate_config."""
    prepared = prepare_config(copy.deepcopy(config))
    validate_config(prepared)
    return prepared


def schema():
    with open(os.path.join(os.path.dirname(ray.autoscaler.__file__), "ray-schema.json")) as f:
        return json.load(f)


def test_ray_is_the_real_one_and_vsray_subclasses_its_node_provider():
    assert ray_provider.RAY_AVAILABLE
    assert issubclass(VsphereNodeProvider, NodeProvider)
    assert ray_provider._NodeLaunchException is not None
    assert ray_provider._NodeLaunchException.__module__ == "ray.autoscaler.node_launch_exception"
    # max_terminate_nodes is a property in Ray's base class, and in vsray's.
    assert isinstance(NodeProvider.__dict__["max_terminate_nodes"], property)
    assert isinstance(VsphereNodeProvider.__dict__["max_terminate_nodes"], property)


def test_our_tag_vocabulary_is_rays_tags_py():
    rays = {name: value for name, value in vars(ray_tags).items() if name.isupper()}
    ours = {name: value for name, value in _vsray.TAGS.items() if "VSRAY" not in name}
    assert ours == rays
    # ... and the adapter's constants are those values.
    assert ray_provider.TAG_RAY_NODE_KIND == ray_tags.TAG_RAY_NODE_KIND == "ray-node-type"
    assert ray_provider.TAG_RAY_USER_NODE_TYPE == ray_tags.TAG_RAY_USER_NODE_TYPE


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_passes_rays_prepare_and_validate(path, env, monkeypatch, tmp_path):
    config = load_yaml(path)
    prepared = ray_accepts(config)
    # Ray merged nothing in (type external): the example carried every key Ray reads.
    for key in ("max_workers", "file_mounts", "cluster_synced_files", "setup_commands",
                "head_setup_commands", "worker_setup_commands", "initialization_commands",
                "head_start_ray_commands", "worker_start_ray_commands", "idle_timeout_minutes"):
        assert key in config, f"{path.name} lacks {key}"
    assert prepared["provider"]["module"] == "vsray.ray_provider.VsphereNodeProvider"
    # What vsray's bootstrap_config makes of it passes Ray's schema too (Ray validates the
    # head's copy again in its autoscaler).
    monkeypatch.setenv("VSPHERE_SERVER", "vcenter.example.com")
    monkeypatch.setenv("VSPHERE_USER", "ray-bot@vsphere.local")
    monkeypatch.setenv("VSPHERE_PASSWORD", "example-Pa55word")
    monkeypatch.chdir(tmp_path)
    vsphere = prepared["provider"]["vsphere_config"]
    if (vsphere.get("tls") or {}).get("ca_file"):
        ca = tmp_path / "ca.pem"
        ca.write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
        vsphere["tls"]["ca_file"] = str(ca)
    bootstrapped = VsphereNodeProvider.bootstrap_config(prepared)
    validate_config(bootstrapped)


def test_examples_install_vsray_on_the_head_without_touching_the_system_python():
    for path in EXAMPLES:
        config = load_yaml(path)
        if path.name == "ray-sim-minimal.yaml":
            continue  # simulated VMs: nothing to install
        setup = " ".join(config["head_setup_commands"])
        assert "--target ~/vsray-lib" in setup and "vsray" in setup, path.name
        assert "--break-system-packages" not in setup
        start = " ".join(config["head_start_ray_commands"])
        assert "PYTHONPATH=$HOME/vsray-lib" in start and "ray start --head" in start, path.name
        assert config["file_mounts"]["~/vsray-dist"] == "./dist"


def written_by_vsray_sim(tmp_path):
    cluster = start_vsray_sim(tmp_path, cluster_name="written")
    try:
        return load_yaml(cluster.config), cluster.config.read_text()
    finally:
        stop_vsray_sim(cluster)


def printed_by_vsray_sim(tmp_path):
    """The config `vsray sim` prints when it writes none."""
    proc = subprocess.Popen([vsray_binary(), "sim", "--", "--hosts", "1", "--vms", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)})
    lines = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line or line.startswith("# Stop the simulator"):
                break
            lines.append(line)
    finally:
        proc.terminate()
        proc.wait(30)
    return "".join(lines)


def test_configs_vsray_sim_writes_and_prints_pass_rays_checks(tmp_path):
    config, text = written_by_vsray_sim(tmp_path)
    assert config["provider"]["type"] == "external"
    assert config["provider"]["module"] == "vsray.ray_provider.VsphereNodeProvider"
    ray_accepts(config)
    printed = printed_by_vsray_sim(tmp_path)
    assert "type: external" in printed
    ray_accepts(load_yaml_text(printed))


def load_yaml_text(text):
    import yaml
    return yaml.safe_load(text)


def test_rays_loader_loads_vsray_for_type_external(sim, env, monkeypatch, made_providers):
    monkeypatch.setenv("VSPHERE_PASSWORD", PASSWORD)
    config = VsphereNodeProvider.bootstrap_config(example_config(sim, "loader"))
    provider = providers._get_node_provider(config["provider"], "loader")
    made_providers.append(provider)
    assert type(provider) is VsphereNodeProvider
    assert isinstance(provider, NodeProvider)
    assert provider.non_terminated_nodes({}) == []
    # Ray caches it per provider dict and cluster name.
    assert providers._get_node_provider(config["provider"], "loader") is provider
    # type: vsphere is Ray's own provider (VsphereWcpNodeProvider), never vsray.
    try:
        cls = providers._get_node_provider_cls({"type": "vsphere"})
    except ImportError:
        cls = None  # Ray's needs the kubernetes client
    assert cls is not VsphereNodeProvider


def test_rays_schema_keys_are_known_to_vsrays_loader_and_typos_are_rejected(env):
    rays = schema()
    base = {
        "cluster_name": "keys",
        "provider": {"type": "external", "module": "vsray.ray_provider.VsphereNodeProvider",
                     "vsphere_config": {"credentials": {"server": "vc.example.com", "user": "u", "password": "p"},
                                        "frozen_vm": {"name": "f"}}},
        "auth": {"ssh_user": "ray"},
        "available_node_types": {HEAD: {"resources": {}, "node_config": {}},
                                 WORKER: {"resources": {}, "node_config": {}}},
        "head_node_type": HEAD,
    }
    samples = {"object": {}, "array": [], "boolean": False, "integer": 1, "number": 1.0, "string": "x"}

    def sample(spec):
        kind = spec.get("type") or ("array" if "commands" in spec.get("$ref", "") else None)
        return samples.get(kind if isinstance(kind, str) else None, None)

    # Every top-level key of Ray's schema loads (an empty or typical value of its type).
    for key, spec in rays["properties"].items():
        config = copy.deepcopy(base)
        config.setdefault(key, sample(spec))
        VsphereNodeProvider.bootstrap_config(config)
    # So does every key of a node type, and of auth.
    node_type_keys = rays["properties"]["available_node_types"]["patternProperties"][".*"]["properties"]
    for key, spec in node_type_keys.items():
        config = copy.deepcopy(base)
        config["available_node_types"][WORKER].setdefault(key, sample(spec))
        VsphereNodeProvider.bootstrap_config(config)
    for key in rays["properties"]["auth"]["properties"]:
        assert key in ("ssh_user", "ssh_private_key", "ssh_public_key", "ssh_proxy_command")

    # Typos: Ray's schema rejects them, and so does vsray, naming the place and the fix.
    typos = [
        (lambda c: c.update(max_wokers=2), r"^cluster_config:1: \(top level\): unknown key 'max_wokers'; did you mean 'max_workers'"),
        (lambda c: c["available_node_types"][WORKER].update(min_worker=1),
         r'available_node_types\["ray.worker.default"\]: unknown key \'min_worker\'; did you mean \'min_workers\''),
        (lambda c: c["auth"].update(ssh_usr="ray"), r"auth: unknown key 'ssh_usr'; did you mean 'ssh_user'"),
    ]
    for edit, message in typos:
        config = copy.deepcopy(base)
        edit(config)
        with pytest.raises(Exception):
            validate_config(prepare_config(copy.deepcopy({**config, "max_workers": 2, "cluster_synced_files": []})))
        with pytest.raises(vsray.ConfigError, match=message):
            VsphereNodeProvider.bootstrap_config(config)


def test_only_what_sizes_the_vm_enters_node_config_so_rays_launch_hash_ignores_custom_resources(env):
    from ray.autoscaler._private.util import hash_launch_conf

    base = {
        "cluster_name": "hash",
        "max_workers": 2,
        "provider": {"type": "external", "module": "vsray.ray_provider.VsphereNodeProvider",
                     "vsphere_config": {"credentials": {"server": "vc.example.com", "user": "u", "password": "p"},
                                        "frozen_vm": {"name": "f"}}},
        "auth": {"ssh_user": "ray"},
        "available_node_types": {HEAD: {"resources": {"CPU": 2, "Memory": 4096, "custom": 1}, "node_config": {}},
                                 WORKER: {"resources": {"CPU": 4, "Memory": 8192, "GPU": 1}, "node_config": {}}},
        "head_node_type": HEAD,
    }

    def launch_hash(config, node_type):
        out = VsphereNodeProvider.bootstrap_config(config)
        node_config = out["available_node_types"][node_type]["node_config"]
        return hash_launch_conf(node_config, out["auth"]), node_config

    before, node_config = launch_hash(base, HEAD)
    assert node_config["resources"] == {"CPU": 2, "Memory": 4096}
    changed = copy.deepcopy(base)
    changed["available_node_types"][HEAD]["resources"]["custom"] = 5
    changed["available_node_types"][HEAD]["resources"]["accelerator_type:T4"] = 1
    assert launch_hash(changed, HEAD)[0] == before  # a custom resource changes nothing
    resized = copy.deepcopy(base)
    resized["available_node_types"][HEAD]["resources"]["CPU"] = 8
    assert launch_hash(resized, HEAD)[0] != before  # the VM's size does
    assert launch_hash(base, WORKER)[1]["resources"] == {"CPU": 4, "Memory": 8192, "GPU": 1}
