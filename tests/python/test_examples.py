"""Every Ray YAML in examples/ goes through bootstrap_config (credentials from VSPHERE_*), and
the simulator example drives a real (simulated) cluster."""

import pathlib

import pytest
import yaml

from vsray.ray_provider import VsphereNodeProvider

from simharness import PASSWORD, REPO, USER, wait_for
from simharness import env, start_sim  # noqa: F401 (fixtures)

EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)


def test_there_are_three_examples():
    names = {path.name for path in EXAMPLES}
    assert {"ray-sim-minimal.yaml", "ray-full.yaml", "ray-vsphere-example.yaml"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_bootstraps(path, env, monkeypatch, tmp_path):
    monkeypatch.setenv("VSPHERE_SERVER", "vcenter.example.com")
    monkeypatch.setenv("VSPHERE_USER", "ray-bot@vsphere.local")
    monkeypatch.setenv("VSPHERE_PASSWORD", "example-Pa55word")
    monkeypatch.chdir(tmp_path)  # relative file_mounts resolve here
    (tmp_path / "dist").mkdir()
    config = load(path)
    provider = config["provider"]
    assert provider["type"] == "external"
    assert provider["module"] == "vsray.ray_provider.VsphereNodeProvider"
    vsphere = provider["vsphere_config"]
    if (vsphere.get("tls") or {}).get("ca_file"):  # a CA file of this machine stands in
        ca = tmp_path / "ca.pem"
        ca.write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
        vsphere["tls"]["ca_file"] = str(ca)
    out = VsphereNodeProvider.bootstrap_config(config)
    credentials = out["provider"]["vsphere_config"]["credentials"]
    assert credentials["password"] == "example-Pa55word"
    assert credentials["server"] == vsphere.get("credentials", {}).get("server", "vcenter.example.com")
    assert out["provider"]["vsphere_config"]["frozen_vm"]
    assert pathlib.Path(out["auth"]["ssh_private_key"]).is_file()
    for node_type in out["available_node_types"].values():
        assert node_type["node_config"]["frozen_vm"]
        # Only what sizes the VM enters node_config (Ray's launch hash): CPU, Memory, GPU.
        sizing = {k: v for k, v in node_type["resources"].items() if k in ("CPU", "Memory", "GPU")}
        assert node_type["node_config"]["resources"] == sizing


def test_ray_example_is_rays_with_the_provider_and_the_head_install_changed():
    ours = load(REPO / "examples" / "ray-vsphere-example.yaml")
    rays = load(REPO / "tests" / "testdata" / "configs" / "ray-vsphere-example.yaml")
    assert rays["provider"].pop("type") == "vsphere"
    assert ours["provider"].pop("type") == "external"
    assert ours["provider"].pop("module") == "vsray.ray_provider.VsphereNodeProvider"
    # vsray's wheel is mounted and installed on the head, where the autoscaler imports it
    # (instead of Ray's vSphere SDK), and the head's Ray starts with it on PYTHONPATH.
    assert ours["file_mounts"].pop("~/vsray-dist") == "./dist"
    assert any("--target ~/vsray-lib" in c and "vsray" in c for c in ours.pop("head_setup_commands"))
    assert rays.pop("head_setup_commands")
    ours_start, rays_start = ours.pop("head_start_ray_commands"), rays.pop("head_start_ray_commands")
    assert [c.replace("PYTHONPATH=$HOME/vsray-lib${PYTHONPATH:+:$PYTHONPATH} ", "") for c in ours_start] == rays_start
    assert ours == rays


def test_simulator_example_runs_a_cluster(start_sim, env, monkeypatch, tmp_path):
    config = load(REPO / "examples" / "ray-sim-minimal.yaml")
    frozen = config["provider"]["vsphere_config"]["frozen_vm"]["name"]
    certs = tmp_path / "certs"
    sim = start_sim("--cert-dir", str(certs), "--frozen-vm", frozen, "--vms", "0")
    # The example's fixed port and CA path, pointed at this test's simulator.
    vsphere = config["provider"]["vsphere_config"]
    assert vsphere["credentials"]["user"] == USER
    vsphere["credentials"]["server"] = sim.server
    assert vsphere["tls"]["ca_file"].endswith("/ca.pem")
    vsphere["tls"]["ca_file"] = str(certs / "ca.pem")
    monkeypatch.setenv("VSPHERE_PASSWORD", PASSWORD)

    config = VsphereNodeProvider.bootstrap_config(config)
    provider = VsphereNodeProvider(config["provider"], config["cluster_name"])
    types = config["available_node_types"]
    [head] = provider.create_node(types["ray.head.default"]["node_config"],
                                  {"ray-node-type": "head", "ray-user-node-type": "ray.head.default"}, 1)
    workers = provider.create_node(types["ray.worker.default"]["node_config"],
                                   {"ray-node-type": "worker", "ray-user-node-type": "ray.worker.default"},
                                   types["ray.worker.default"]["min_workers"])
    assert len(workers) == 1
    assert sorted(provider.non_terminated_nodes({})) == sorted([head, *workers])
    assert wait_for(lambda: provider.internal_ip(head))
    provider.terminate_nodes(provider.non_terminated_nodes({}))
    assert provider.non_terminated_nodes({}) == []
    del provider
