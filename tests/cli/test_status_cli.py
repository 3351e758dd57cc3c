"""`vsray status` (the cluster at a glance), the summary that ends `vsray up`, and `down`
refusing to delete without --yes when it cannot ask; against vsray-sim over verified HTTPS."""

import json
import os
import signal
import ssl
import subprocess
import time

import jsonschema
import pytest
import yaml

from simharness import REPO, vsray_binary

SCHEMA = json.loads((REPO / "docs" / "json-contract.schema.json").read_text())


def validate_status(report):
    """Checks one `status --json` object against the contract's `status` definition."""
    schema = dict(SCHEMA["$defs"]["status"], **{"$defs": SCHEMA["$defs"]})
    jsonschema.validate(report, schema)


def status_json(cli, config):
    result = cli.run("status", config, "--json")
    report = json.loads(result.out)
    validate_status(report)
    return result, report


def move_into_cluster_folder(config_path, folder_name):
    """Moves one of the simulator's own VMs into the cluster's folder, with pyvmomi (an
    independent client over verified TLS): a VM there without the cluster's identity. Returns
    its (id, name)."""
    from pyVim.connect import Disconnect, SmartConnect
    from pyVmomi import vim

    vsphere = yaml.safe_load(config_path.read_text())["provider"]["vsphere_config"]
    creds = vsphere["credentials"]
    host, port = creds["server"].removeprefix("https://").split("/")[0].split(":")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=vsphere["tls"]["ca_file"])
    si = SmartConnect(host=host, port=int(port), user=creds["user"], pwd=creds["password"],
                      sslContext=ctx)
    try:
        content = si.RetrieveContent()
        view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine],
                                                       True)
        vm = next(v for v in view.view if v.name.startswith("DC0_"))
        view = content.viewManager.CreateContainerView(content.rootFolder, [vim.Folder], True)
        folder = next(f for f in view.view if f.name == folder_name)
        task = folder.MoveIntoFolder_Task([vm])
        deadline = time.monotonic() + 30
        while task.info.state not in ("success", "error"):
            assert time.monotonic() < deadline, "MoveIntoFolder_Task did not finish"
            time.sleep(0.05)
        assert task.info.state == "success", task.info.error
        return vm._moId, vm.name
    finally:
        Disconnect(si)


def test_up_ends_with_the_summary_and_status_shows_the_cluster(sim, cli):
    up = cli.run("up", sim.config, "--yes")
    assert up.code == 0, up
    key = cli.home / "ray-bootstrap-key.pem"
    assert "Next:" in up.out and f"ssh -i {key} ray@127." in up.out, up
    assert f"vsray status {sim.config}" in up.out

    result, report = status_json(cli, sim.config)
    assert result.code == 0, result
    assert report["cluster_name"] == "clitest"
    assert report["vcenter"] == {"server": report["vcenter"]["server"], "tls_mode": "ca_file",
                                 "reachable": True}
    head = report["head"]
    assert head["state"] == "running" and head["ip"].startswith("127.")
    assert head["ssh_command"] == f"ssh -i {key} ray@{head['ip']}"
    types = {t["name"]: t for t in report["node_types"]}
    worker = types["ray.worker.default"]
    assert worker["workers"] == 2 and worker["states"] == {"running": 2}
    assert worker["min_workers"] == 2 and worker["max_workers"] >= 2
    assert types["ray.head.default"]["head"] and types["ray.head.default"]["workers"] == 0
    assert [vm["name"] for vm in report["frozen_vms"]] == ["ray-frozen-vm"]
    assert report["frozen_vms"][0]["usable"] and report["frozen_vms"][0]["clones_on_host"] == 3
    assert report["foreign_vms"] == [] and report["failures"] == [] and report["gpus"] is None
    assert "error" not in report

    # A VM without the cluster's identity in its folder is shown, and never removed.
    stray, stray_name = move_into_cluster_folder(sim.config, "ray-clitest")
    result, report = status_json(cli, sim.config)
    assert result.code == 0, result
    assert report["foreign_vms"] == [{"id": stray, "name": stray_name, "cluster": None}]

    text = cli.run("status", sim.config)
    assert text.code == 0, text
    assert "reachable" in text.out and "NOT reachable" not in text.out
    assert head["ssh_command"] in text.out
    assert "ray.worker.default" in text.out and f"{stray_name} (untagged)" in text.out
    assert "\x1b[" not in text.out  # not a terminal, not --watch: no escape codes

    assert cli.run("down", sim.config, "--yes").code == 0
    _, after = status_json(cli, sim.config)
    assert after["head"] is None
    assert after["foreign_vms"] == [{"id": stray, "name": stray_name, "cluster": None}]


def test_unreachable_vcenter_is_a_fact_with_exit_1(sim, cli, tmp_path):
    port = sim.url.split(":")[2].split("/")[0]
    config = sim.derived_config(tmp_path, "port.yaml", lambda t: t.replace(port, "1"))
    result, report = status_json(cli, config)
    assert result.code == 1, result
    assert report["vcenter"]["reachable"] is False
    assert report["error"]["code"] == "unreachable"
    assert "cannot reach" in report["error"]["message"]
    assert report["head"] is None and report["frozen_vms"] == []
    text = cli.run("status", config)
    assert text.code == 1, text
    assert "NOT reachable" in text.out and "cannot reach" in text.out


def test_bad_config_is_exit_2(cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("cluster_name: [\n")
    result = cli.run("status", bad)
    assert result.code == 2, result
    assert str(bad) in result.err
    assert cli.run("status", bad, "--watch", "0").code == 2  # SECONDS must be at least 1


def test_watch_redraws_until_ctrl_c(sim, cli):
    proc = subprocess.Popen([vsray_binary(), "status", str(sim.config), "--json", "--watch", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, env=dict(cli.env))
    try:
        rounds = []
        deadline = time.monotonic() + 60
        while len(rounds) < 2:
            line = proc.stdout.readline()  # one compact object per round
            assert line, f"status --watch ended early: {proc.stderr.read()}"
            rounds.append(json.loads(line))
            assert time.monotonic() < deadline
        for report in rounds:
            validate_status(report)
            assert report["vcenter"]["reachable"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_down_without_a_terminal_needs_yes(sim, cli):
    assert cli.run("up", sim.config, "--yes", "--no-wait").code == 0
    _, before = status_json(cli, sim.config)
    refused = cli.run("down", sim.config)  # stdin is not a terminal
    assert refused.code == 2, refused
    lines = [line for line in refused.err.splitlines() if line.strip()]
    assert len(lines) == 1 and "--yes" in lines[0], refused
    _, after = status_json(cli, sim.config)
    assert after["head"]["id"] == before["head"]["id"]  # nothing deleted
    assert sum(t["workers"] for t in after["node_types"]) == 2
    assert cli.run("down", sim.config, "--yes").code == 0


@pytest.mark.parametrize("term", ["dumb", "xterm"])
def test_status_on_a_pipe_has_no_escape_codes(sim, cli, term):
    result = cli.run("status", sim.config, env={"TERM": term})
    assert result.code == 0, result
    assert "\x1b" not in result.out and "Head      none" in result.out
    assert os.linesep in result.out
