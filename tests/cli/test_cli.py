"""The vsray command line, run as a user would, against vsray-sim over verified HTTPS."""

import json
import os
import pathlib
import signal
import stat
import subprocess
import time

import pytest

from simharness import REPO, Cli, vsray_binary

BAD_CONFIGS = sorted((REPO / "tests" / "testdata" / "configs" / "bad").glob("*.yaml"))
NODE_KEYS = {"id", "name", "node_type", "status", "tags", "external_ip", "internal_ip"}


def one_line(text):
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got: {text!r}"
    return lines[0]


def nodes_json(cli, config, *args):
    result = cli.run("nodes", config, "--json", *args)
    assert result.code == 0, result
    return json.loads(result.out)["nodes"]


def test_sim_writes_a_private_config_that_check_accepts(sim, cli):
    mode = stat.S_IMODE(os.stat(sim.config).st_mode)
    assert mode == 0o600
    result = cli.run("check", sim.config)
    assert result.code == 0, result
    assert "[FAIL]" not in result.out
    for check in ("config", "connect", "login", "datacenter", "folder", "frozen VM"):
        assert f"[ok]   {check}" in result.out, result
    assert "verified with" in result.out  # TLS verified against the simulator's CA


def test_up_nodes_create_set_tags_terminate_down(sim, cli):
    config = sim.config
    up = cli.run("up", config, "--yes", "--json")
    assert up.code == 0, up
    report = json.loads(up.out)
    assert report["cluster_name"] == "clitest"
    nodes = report["nodes"]
    assert len(nodes) == 3 and len(report["created"]) == 3 and report["failures"] == []
    for node in nodes:
        assert NODE_KEYS <= set(node)
        assert node["internal_ip"].startswith("127.") and node["external_ip"].startswith("127.")
        assert node["tags"]["ray-cluster-name"] == "clitest"
        assert node["status"] == "uninitialized"
    kinds = sorted(node["tags"]["ray-node-type"] for node in nodes)
    assert kinds == ["head", "worker", "worker"]
    head = next(n for n in nodes if n["tags"]["ray-node-type"] == "head")
    assert head["node_type"] == "ray.head.default"
    assert head["tags"]["ray-node-name"] == "ray-clitest-head"

    # Running `up` again creates nothing.
    again = cli.run("up", config, "--yes", "--json")
    assert again.code == 0, again
    assert json.loads(again.out)["created"] == []
    assert sorted(n["id"] for n in json.loads(again.out)["nodes"]) == sorted(n["id"] for n in nodes)

    workers = nodes_json(cli, config, "--tag", "ray-node-type=worker")
    assert len(workers) == 2
    assert nodes_json(cli, config, "--tag", "ray-node-type=nothing") == []

    created = cli.run("create", config, "--node-type", "ray.worker.default", "--count", "2",
                      "--json")
    assert created.code == 0, created
    new_ids = [n["id"] for n in json.loads(created.out)["nodes"]]
    assert len(new_ids) == 2
    assert len(nodes_json(cli, config)) == 5

    tagged = cli.run("set-tags", config, new_ids[0], "ray-node-status=up-to-date", "team=ml")
    assert tagged.code == 0, tagged
    by_id = {n["id"]: n for n in nodes_json(cli, config)}
    assert by_id[new_ids[0]]["status"] == "up-to-date"
    assert by_id[new_ids[0]]["tags"]["team"] == "ml"
    assert by_id[new_ids[1]]["status"] == "uninitialized"

    gone = cli.run("terminate", config, new_ids[1], "--json")
    assert gone.code == 0, gone
    assert json.loads(gone.out)["terminated"] == [new_ids[1]]
    assert new_ids[1] not in {n["id"] for n in nodes_json(cli, config)}

    unknown = cli.run("terminate", config, "vm-999999")
    assert unknown.code == 1
    assert "vm-999999" in one_line(unknown.err)

    down = cli.run("down", config, "--yes", "--json")
    assert down.code == 0, down
    assert len(json.loads(down.out)["terminated"]) == 4
    assert nodes_json(cli, config) == []

    # Nothing up: down is a no-op that succeeds.
    empty = cli.run("down", config, "--yes")
    assert empty.code == 0, empty
    assert "no nodes" in empty.out


def test_up_without_wait_and_plain_progress(sim, cli):
    result = cli.run("up", sim.config, "--yes", "--no-wait")
    assert result.code == 0, result
    # Not a terminal: progress is one plain line per change, on stderr.
    assert "cloning" in result.err and "created" in result.err
    assert "\x1b[" not in result.err
    assert "ray-clitest-head" in result.out
    assert cli.run("down", sim.config, "--yes").code == 0


def test_frozen_vm_status(sim, cli):
    result = cli.run("frozen-vm", "status", sim.config, "--json")
    assert result.code == 0, result
    frozen = json.loads(result.out)["frozen_vms"]
    assert [vm["name"] for vm in frozen] == ["ray-frozen-vm"]
    assert frozen[0]["usable"] and frozen[0]["frozen"]


def test_check_reports_a_missing_datacenter(sim, cli, tmp_path):
    config = sim.derived_config(tmp_path, "dc.yaml", lambda t: t.replace(
        "    tls:\n", "    datacenter: NoSuchDC\n    tls:\n"))
    result = cli.run("check", config)
    assert result.code == 1, result
    assert "[FAIL] datacenter: 'NoSuchDC' not found" in result.out


def test_missing_frozen_vm_is_one_clear_line(sim, cli, tmp_path):
    config = sim.derived_config(tmp_path, "frozen.yaml",
                                lambda t: t.replace('name: "ray-frozen-vm"', 'name: "nope-vm"'))
    result = cli.run("up", config, "--yes")
    assert result.code == 1, result
    assert "nope-vm" in one_line(result.err)
    # Commands that create nothing don't need (or prepare) the frozen VM.
    listed = cli.run("nodes", config)
    assert listed.code == 0, listed
    assert "no nodes" in listed.out


def test_wrong_password_is_one_line(sim, cli, tmp_path):
    config = sim.derived_config(tmp_path, "pw.yaml",
                                lambda t: t.replace(sim.password, "wrong-Pa55word"))
    cli.secrets.append("wrong-Pa55word")
    result = cli.run("nodes", config)
    assert result.code == 1, result
    line = one_line(result.err)
    assert "wrong user name or password" in line


def test_unreachable_server_is_one_line(sim, cli, tmp_path):
    port = sim.url.split(":")[2].split("/")[0]
    config = sim.derived_config(tmp_path, "port.yaml", lambda t: t.replace(port, "1"))
    result = cli.run("nodes", config)
    assert result.code == 1, result
    assert "cannot reach" in one_line(result.err)


def test_wrong_ca_is_one_line(sim, cli, tmp_path):
    other = tmp_path / "other-ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=other",
                    "-keyout", str(tmp_path / "other.key"), "-out", str(other), "-days", "1"],
                   check=True, capture_output=True)
    config = sim.derived_config(
        tmp_path, "ca.yaml",
        lambda t: "\n".join(f'      ca_file: "{other}"' if "ca_file:" in line else line
                            for line in t.splitlines()) + "\n")
    result = cli.run("nodes", config)
    assert result.code == 1, result
    line = one_line(result.err)
    assert "not trusted by tls.ca_file" in line and str(other) in line


def test_insecure_warns_once(sim, cli, tmp_path):
    config = sim.derived_config(
        tmp_path, "insecure.yaml",
        lambda t: "\n".join("      insecure: true" if "ca_file:" in line else line
                            for line in t.splitlines()) + "\n")
    result = cli.run("nodes", config)
    assert result.code == 0, result
    warnings = [line for line in result.err.splitlines() if "insecure" in line]
    assert len(warnings) == 1, result.err
    assert "not verified" in warnings[0] and "insecure.yaml" in warnings[0]


def test_credentials_from_the_environment(sim, cli, tmp_path):
    def strip(text):
        return "\n".join(line for line in text.splitlines()
                         if not line.strip().startswith(("server:", "user:", "password:"))) + "\n"

    config = sim.derived_config(tmp_path, "env.yaml", strip)
    missing = cli.run("nodes", config)
    assert missing.code == 2, missing
    assert "VSPHERE_SERVER" in one_line(missing.err)
    ok = cli.run("nodes", config, env={"VSPHERE_SERVER": sim.url, "VSPHERE_USER": "user",
                                       "VSPHERE_PASSWORD": sim.password})
    assert ok.code == 0, ok


def test_log_file_has_debug_lines_but_no_password(sim, cli, tmp_path):
    log = tmp_path / "vsray.log"
    result = cli.run("nodes", sim.config, "--log-file", log)
    assert result.code == 0, result
    text = log.read_text()
    assert "[debug]" in text and "SOAP RetrievePropertiesEx" in text
    assert sim.password not in text


@pytest.mark.parametrize("path", BAD_CONFIGS, ids=lambda p: p.stem)
def test_bad_config_is_exit_2_and_one_located_line(path, tmp_path):
    expect = {}
    for line in path.with_suffix(".expect").read_text().splitlines():
        key, _, value = line.partition(":")
        expect.setdefault(key.strip(), []).append(value.strip())
    # A password in the environment must not leak either (except where its absence is the
    # error under test).
    env = {}
    if "missing_password" not in path.stem and "missing_credentials" not in path.stem:
        env["VSPHERE_PASSWORD"] = "env-Pa55word-secret"
    for item in expect.get("env", []):
        name, _, value = item.partition("=")
        env[name] = value
    cli = Cli(tmp_path, secrets=expect.get("secret", []) + ["env-Pa55word-secret"])
    result = cli.run("nodes", path, env=env)
    assert result.code == 2, result
    assert result.out == ""
    line = one_line(result.err)
    assert line.startswith(f"vsray: {path}:{expect['line'][0]}: "), line
    if expect["path"][0]:
        assert expect["path"][0] in line, line


def test_bad_config_corpus_is_large_enough():
    assert len(BAD_CONFIGS) >= 30


@pytest.mark.parametrize("args", [
    [],
    ["nope"],
    ["up"],
    ["create", "x.yaml"],
    ["create", "x.yaml", "--node-type", "w", "--count", "0"],
    ["nodes", "x.yaml", "--unknown-flag"],
    ["--verbose", "--quiet", "nodes", "x.yaml"],
], ids=lambda a: " ".join(a) or "no-args")
def test_invalid_usage_is_exit_2(args, tmp_path):
    result = Cli(tmp_path).run(*args)
    assert result.code == 2, result


def test_missing_config_file_is_exit_2(tmp_path):
    result = Cli(tmp_path).run("nodes", tmp_path / "absent.yaml")
    assert result.code == 2, result
    assert "absent.yaml" in one_line(result.err)


def test_bad_tag_arguments_are_exit_2(sim, cli):
    assert cli.run("nodes", sim.config, "--tag", "novalue").code == 2
    assert cli.run("set-tags", sim.config, "vm-1", "=x").code == 2
    unknown_type = cli.run("create", sim.config, "--node-type", "gpu")
    assert unknown_type.code == 2
    assert "ray.worker.default" in one_line(unknown_type.err)


def test_version_and_help(tmp_path):
    cli = Cli(tmp_path)
    version = cli.run("--version")
    assert version.code == 0 and version.out.startswith("vsray ")
    help_text = cli.run("--help")
    assert help_text.code == 0
    for word in ("up", "down", "nodes", "create", "terminate", "set-tags", "check", "sim",
                 "frozen-vm", "Examples:", "Exit codes"):
        assert word in help_text.out


def test_sim_prints_a_config_without_the_password(tmp_path):
    proc = subprocess.Popen([vsray_binary(), "sim", "--", "--hosts", "1", "--vms", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)})
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("# Stop the simulator"):
            break
    text = "".join(lines)
    password_file = next(line.split("cat ")[1].rstrip(')"\n')
                         for line in lines if "export VSPHERE_PASSWORD" in line)
    password = pathlib.Path(password_file).read_text()
    assert stat.S_IMODE(os.stat(password_file).st_mode) == 0o600
    assert password and password not in text
    assert "password:" not in text.replace("# The password", "")
    assert "frozen_vm:" in text and "ca_file:" in text
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    assert not pathlib.Path(password_file).exists()  # the simulator's temp dir is removed


def test_second_cluster_on_the_same_sim_is_separate(sim, cli, tmp_path):
    other = sim.derived_config(tmp_path, "other.yaml",
                               lambda t: t.replace("cluster_name: clitest", "cluster_name: other"))
    assert cli.run("up", other, "--yes", "--no-wait").code == 0
    assert nodes_json(cli, sim.config) == []
    assert len(nodes_json(cli, other)) == 3
    assert cli.run("down", sim.config, "--yes").code == 0
    assert len(nodes_json(cli, other)) == 3
    assert cli.run("down", other, "--yes").code == 0
