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


def build_wheel(dist, package_dir):
    """A wheel of the built vsray package (what `pip wheel .` makes, without the build)."""
    import base64
    import hashlib
    import zipfile

    dist.mkdir()
    name = "vsray-0.1.0"
    path = dist / f"{name}-py3-none-any.whl"
    records = []
    with zipfile.ZipFile(path, "w") as wheel:
        def add(arcname, data):
            wheel.writestr(arcname, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            records.append(f"{arcname},sha256={digest},{len(data)}")
        for file in sorted(pathlib.Path(package_dir).iterdir()):
            if file.is_file():
                add(f"vsray/{file.name}", file.read_bytes())
        add(f"{name}.dist-info/METADATA", b"Metadata-Version: 2.1\nName: vsray\nVersion: 0.1.0\n")
        add(f"{name}.dist-info/WHEEL", b"Wheel-Version: 1.0\nGenerator: vsray-tests\nRoot-Is-Purelib: false\nTag: py3-none-any\n")
        records.append(f"{name}.dist-info/RECORD,,")
        wheel.writestr(f"{name}.dist-info/RECORD", "\n".join(records) + "\n")
    return path


@pytest.mark.skipif(not pathlib.Path("/usr/lib/python3.11/EXTERNALLY-MANAGED").exists(),
                    reason="needs a Debian 12 Python that is externally managed (PEP 668)")
def test_the_examples_head_commands_install_vsray_where_rays_python_imports_it(tmp_path):
    """The head's setup and start commands of the examples, run by bash on this Debian 12
    machine: the pip of the interpreter that runs `ray` installs the mounted wheel into
    ~/vsray-lib despite PEP 668, and Ray's processes (started with the PYTHONPATH of the
    start command) import vsray's provider from there."""
    import subprocess
    import vsray

    home = tmp_path / "home"
    home.mkdir()
    build_wheel(home / "vsray-dist", pathlib.Path(vsray.__file__).parent)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ray = bin_dir / "ray"  # a `ray` script as pip installs it: its shebang names Ray's Python
    ray.write_text("#!/usr/bin/python3\nimport sys\nimport vsray.ray_provider\nprint('provider:', vsray.ray_provider.VsphereNodeProvider.__module__, sys.argv[1:])\n")
    ray.chmod(0o755)
    env = {"HOME": str(home), "PATH": f"{bin_dir}:/usr/bin:/bin"}
    # The system Python refuses a plain install (PEP 668): the reason for --target.
    refused = subprocess.run(["/usr/bin/python3", "-m", "pip", "install", "--no-index", "--find-links",
                              str(home / "vsray-dist"), "vsray"], env=env, capture_output=True, text=True)
    assert refused.returncode != 0 and "externally-managed-environment" in refused.stderr
    config = load(REPO / "examples" / "ray-full.yaml")
    install = config["head_setup_commands"][-1]
    start = config["head_start_ray_commands"][-1]
    for command in (install, install):  # twice: a second `ray up` reruns the setup commands
        result = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
    assert (home / "vsray-lib" / "vsray" / "ray_provider.py").is_file()
    started = subprocess.run(["bash", "-c", start.replace("ulimit -n 65536; ", "")], env=env,
                             capture_output=True, text=True, timeout=60)
    assert started.returncode == 0, started.stderr
    assert "provider: vsray.ray_provider ['start', '--head'" in started.stdout
