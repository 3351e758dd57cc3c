"""Clusters are interchangeable between the vsray command line and Ray's own launcher and
autoscaler: `vsray up` then Ray manages the cluster (keeps the head, sets up and keeps the
workers), and a cluster Ray made is listed, resized and torn down by `vsray nodes/create/down`."""

import json

import pytest

import rayharness

if not rayharness.AVAILABLE:
    pytest.skip(rayharness.MISSING, allow_module_level=True)

from ray.autoscaler._private import commands
from ray.autoscaler.tags import (
    NODE_KIND_HEAD,
    NODE_KIND_WORKER,
    STATUS_UP_TO_DATE,
    TAG_RAY_NODE_KIND,
    TAG_RAY_NODE_STATUS,
    TAG_RAY_USER_NODE_TYPE,
)

from raytools import (
    HEAD,
    SIM_FLAGS,
    WORKER,
    HeadRunner,
    become_head,
    cluster_vms,
    example_config,
    head_autoscaler,
    ray_up,
    release_ray_state,
    set_password_env,
    tick_until,
    write_config,
)
from simharness import PASSWORD, Cli
from simharness import env, start_sim  # noqa: F401 (fixtures)

CLI_ENV = {"VSPHERE_PASSWORD": PASSWORD}


@pytest.fixture(autouse=True)
def _release():
    yield
    release_ray_state()


@pytest.fixture
def sim(start_sim):
    return start_sim(*SIM_FLAGS)


def nodes(cli, path):
    result = cli.run("nodes", path, "--json", env=CLI_ENV)
    assert result.code == 0, result
    return json.loads(result.out)["nodes"]


def up_to_date(provider, ids):
    return all(provider.node_tags(n).get(TAG_RAY_NODE_STATUS) == STATUS_UP_TO_DATE for n in ids)


def test_vsray_up_then_rays_launcher_and_autoscaler_manage_the_cluster(sim, env, tmp_path, monkeypatch):
    config = example_config(sim, "fromvsray", min_workers=2)
    path = write_config(tmp_path, config)
    cli = Cli(env, secrets=[PASSWORD])
    up = cli.run("up", path, "--yes", "--json", env=CLI_ENV)
    assert up.code == 0, up
    made = {n["id"]: n for n in json.loads(up.out)["nodes"]}
    [head] = [i for i, n in made.items() if n["tags"][TAG_RAY_NODE_KIND] == NODE_KIND_HEAD]
    workers = sorted(i for i, n in made.items() if n["tags"][TAG_RAY_NODE_KIND] == NODE_KIND_WORKER)
    assert len(workers) == 2

    # `ray up` on the same file (same HOME, so the same key pair): Ray finds vsray's head,
    # finds it up to date (its launch hash is Ray's), keeps it and sets it up.
    set_password_env(monkeypatch)
    head_home = tmp_path / "head-home"
    head_home.mkdir()
    ray_up(config, path, HeadRunner(head_home))
    si = sim.connect()
    vms = cluster_vms(si, "fromvsray")
    assert len(vms) == 3
    launcher = commands._get_node_provider(commands._bootstrap_config(dict(config), no_config_cache=True)["provider"],
                                           "fromvsray")
    assert launcher.non_terminated_nodes({TAG_RAY_NODE_KIND: NODE_KIND_HEAD}) == [head]
    assert launcher.node_tags(head)[TAG_RAY_NODE_STATUS] == STATUS_UP_TO_DATE

    # The head's autoscaler adopts vsray's workers: sets them up, launches and removes nothing.
    become_head(monkeypatch, head_home)
    scaler = head_autoscaler(head_home)
    provider = scaler.provider
    assert tick_until(scaler, lambda: up_to_date(provider, workers) and not scaler.updaters)
    for _ in range(3):
        scaler.update()
    assert sorted(provider.non_terminated_nodes({TAG_RAY_NODE_KIND: NODE_KIND_WORKER})) == workers
    assert scaler.num_failures == 0
    assert len(cluster_vms(si, "fromvsray")) == 3


def test_a_cluster_ray_made_is_listed_resized_and_torn_down_by_vsray(sim, env, tmp_path, monkeypatch):
    config = example_config(sim, "fromray", min_workers=1, max_workers=3)
    path = write_config(tmp_path, config)
    set_password_env(monkeypatch)
    head_home = tmp_path / "head-home"
    head_home.mkdir()
    ray_up(config, path, HeadRunner(head_home))
    become_head(monkeypatch, head_home)
    scaler = head_autoscaler(head_home)
    provider = scaler.provider
    worker_ids = lambda: provider.non_terminated_nodes({TAG_RAY_NODE_KIND: NODE_KIND_WORKER})  # noqa: E731
    assert tick_until(scaler, lambda: len(worker_ids()) == 1 and up_to_date(provider, worker_ids())
                      and not scaler.updaters)

    # vsray nodes: Ray's head and worker, with their node types and Ray's statuses.
    cli = Cli(env, secrets=[PASSWORD])
    listed = nodes(cli, path)
    assert sorted((n["tags"][TAG_RAY_NODE_KIND], n["node_type"], n["status"]) for n in listed) == [
        (NODE_KIND_HEAD, HEAD, STATUS_UP_TO_DATE), (NODE_KIND_WORKER, WORKER, STATUS_UP_TO_DATE)]

    # vsray create: one more worker, which Ray's autoscaler takes as its own and sets up.
    created = cli.run("create", path, "--node-type", WORKER, "--count", "1", "--json", env=CLI_ENV)
    assert created.code == 0, created
    assert tick_until(scaler, lambda: len(worker_ids()) == 2 and up_to_date(provider, worker_ids())
                      and not scaler.updaters)
    assert scaler.num_failures == 0
    assert all(n["tags"][TAG_RAY_USER_NODE_TYPE] in (HEAD, WORKER) for n in nodes(cli, path))

    # vsray down: nothing of the cluster is left in vCenter.
    down = cli.run("down", path, "--yes", env=CLI_ENV)
    assert down.code == 0, down
    assert cluster_vms(sim.connect(), "fromray") == {}
    assert nodes(cli, path) == []
