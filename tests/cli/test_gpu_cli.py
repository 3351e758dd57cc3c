"""GPU node types from the vsray command line: `vsray check` lists the GPUs of the hosts and
says whether each GPU node type can be placed; `vsray create` makes GPU nodes or fails at once;
`vsray nodes` shows each node's GPUs (table column and JSON field)."""

import json

import pytest

from simharness import Cli, start_vsray_sim, stop_vsray_sim

GPU_TYPE = """  gpu.worker:
    min_workers: 0
    max_workers: 2
    resources: {CPU: 2, Memory: 4096, GPU: 1}
    node_config: {}
head_node_type:"""


@pytest.fixture
def gpu_sim(tmp_path):
    """vsray sim with 2 passthrough GPUs per host (the frozen VM on the first host), and a
    config with a one-GPU worker type."""
    cluster = start_vsray_sim(tmp_path, "--gpus-per-host", "2", cluster_name="gpucli", workers=0)
    cluster.gpu_config = cluster.derived_config(
        tmp_path, "gpu.yaml", lambda text: text.replace("head_node_type:", GPU_TYPE, 1))
    yield cluster
    stop_vsray_sim(cluster)


def test_check_create_and_nodes_show_gpus(gpu_sim, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    cli = Cli(home, secrets=[gpu_sim.password])
    config = gpu_sim.gpu_config

    check = cli.run("check", config)
    assert check.code == 0, check
    assert ("[ok]   GPU DC0_C0_H0 0000:3b:00.0: NVIDIA Corporation GA100 [A100 PCIe 40GB] "
            "(10de:20f1): passthrough, dynamic; free") in check.out, check
    assert ("[ok]   GPU node type 'gpu.worker': 1 GPU (passthrough); free on the hosts of its "
            "parents: DC0_C0_H0 2 of 2: can be placed") in check.out, check

    created = cli.run("create", config, "--node-type", "gpu.worker", "--count", "2", "--json")
    assert created.code == 0, created
    assert len(json.loads(created.out)["nodes"]) == 2

    listed = cli.run("nodes", config, "--json")
    assert listed.code == 0, listed
    gpus = sorted(g["id"] for n in json.loads(listed.out)["nodes"] for g in n["gpus"])
    assert gpus == ["0000:3b:00.0", "0000:3c:00.0"]
    for node in json.loads(listed.out)["nodes"]:
        assert node["gpus"][0]["mode"] == "passthrough"
        assert node["gpus"][0]["vendor_id"] == "10de"
    table = cli.run("nodes", config)
    assert table.code == 0, table
    assert "GPUS" in table.out.splitlines()[0]
    assert "0000:3b:00.0" in table.out and "0000:3c:00.0" in table.out

    # The host of the frozen VM has no free GPU left: check says the type can still be placed,
    # by a clone on a host without a frozen VM (issue 14's fallback), and create does so.
    full = cli.run("check", config)
    assert "used by vm-" in full.out
    assert ("[ok]   GPU node type 'gpu.worker': 1 GPU (passthrough); free on the hosts of its "
            "parents: DC0_C0_H0 0 of 2; on hosts without a usable parent: DC0_C0_H1 2 of 2, "
            "DC0_C0_H2 2 of 2: can be placed by a clone on a host without a frozen VM") in full.out, full
    more = cli.run("create", config, "--node-type", "gpu.worker", "--count", "1", "--json")
    assert more.code == 0, more
    listed = cli.run("nodes", config, "--json")
    gpus = sorted(g["id"] for n in json.loads(listed.out)["nodes"] for g in n["gpus"])
    assert gpus == ["0000:3b:00.0", "0000:3b:00.0", "0000:3c:00.0"]  # one of another host
