"""The JSON contract, usage errors and exit codes of the vsray command line.

Every command's --json output is validated against docs/json-contract.schema.json (the
contract README's "JSON output" documents); usage errors exit 2 in every subcommand.
"""

import json
import pathlib
import re

import jsonschema
import pytest

from simharness import Cli, start_vsray_sim, stop_vsray_sim

SCHEMA = json.loads((pathlib.Path(__file__).resolve().parents[2] / "docs" /
                     "json-contract.schema.json").read_text())
jsonschema.Draft202012Validator.check_schema(SCHEMA)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def document(result, command, code=0):
    """The one JSON object of `result` on stdout, valid against the contract."""
    assert result.code == code, result
    doc = json.loads(result.out)  # exactly one object: json.loads refuses trailing data
    errors = sorted(VALIDATOR.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, f"{command}: {[e.message for e in errors]}\n{result!r}"
    assert doc["schema_version"] == 1 and doc["command"] == command, doc
    return doc


def config_value(config, key):
    return re.search(rf'{key}: "([^"]+)"', config.read_text()).group(1)


def test_every_command_follows_the_contract(sim, cli, tmp_path):
    config = sim.config
    check = document(cli.run("check", config, "--json"), "check")
    assert check["ok"] is True and check["cluster_name"] == "clitest"
    assert {c["status"] for c in check["checks"]} <= {"ok", "warn"}

    frozen = document(cli.run("frozen-vm", "status", config, "--json"), "frozen-vm status")
    assert frozen["frozen_vms"] and all(vm["state"] == "running" for vm in frozen["frozen_vms"])
    document(cli.run("frozen-vm", "prepare", config, "--json"), "frozen-vm prepare")

    up = document(cli.run("up", config, "--yes", "--json"), "up")
    assert len(up["nodes"]) == 3 and up["failures"] == [] and up["cluster_name"] == "clitest"
    assert {n["state"] for n in up["nodes"]} == {"running"}  # the table's word, not poweredOn

    listed = document(cli.run("nodes", config, "--json"), "nodes")
    table = cli.run("nodes", config)
    for node in listed["nodes"]:  # the table shows the same state word
        row = next(line for line in table.out.splitlines() if line.startswith(node["id"] + " "))
        assert f" {node['state']} " in row, (row, node)

    created = document(cli.run("create", config, "--node-type", "ray.worker.default", "--json"),
                       "create")
    new_id = created["nodes"][0]["id"]
    tagged = document(cli.run("set-tags", config, new_id, "ray-node-status=up-to-date", "--json"),
                      "set-tags")
    assert tagged["cluster_name"] == "clitest" and tagged["nodes"][0]["status"] == "up-to-date"

    gone = document(cli.run("terminate", config, new_id, "vm-nope", "--json"), "terminate", code=1)
    assert gone["terminated"] == [new_id]
    [failure] = gone["failures"]
    assert failure["id"] == "vm-nope" and failure["code"] == "not_found", failure

    shown = document(cli.run("role", "show", config, "--json"), "role show")
    assert "VirtualMachine.Inventory.Delete" in shown["privileges"]
    document(cli.run("role", "create", config, "--name", "vsray-contract", "--json"), "role create")

    env = {"VSPHERE_PASSWORD": sim.password}
    inventory = document(cli.run("inventory", "--server", sim.url, "--user", config_value(config, "user"),
                                 "--ca-file", config_value(config, "ca_file"), "--json", env=env),
                         "inventory")
    vms = [o for o in inventory["objects"] if o["kind"] == "vm"]
    assert vms and all(vm["state"] in ("running", "stopped") for vm in vms)
    assert any(vm["frozen"] is True and vm["host"] for vm in vms), vms
    hosts = [o for o in inventory["objects"] if o["kind"] == "host"]
    assert hosts and all(h["state"] == "connected" and h["maintenance"] is False for h in hosts)

    down = document(cli.run("down", config, "--yes", "--json"), "down")
    assert len(down["terminated"]) == 3 and down["failures"] == [] and down["left"] == []


def test_fatal_errors_print_one_error_object(sim, cli, tmp_path):
    wrong = sim.derived_config(tmp_path, "pw.yaml", lambda t: t.replace(sim.password, "wrong-Pa55word"))
    cli.secrets.append("wrong-Pa55word")
    failed = document(cli.run("nodes", wrong, "--json"), "nodes", code=1)
    assert failed["error"]["code"] == "login_failed" and "wrong user name" in failed["error"]["message"]

    missing = document(cli.run("up", tmp_path / "absent.yaml", "--yes", "--json"), "up", code=2)
    assert missing["error"]["code"] == "config" and "absent.yaml" in missing["error"]["message"]

    usage = document(cli.run("create", sim.config, "--json"), "create", code=2)
    assert usage["error"]["code"] == "usage" and "--node-type" in usage["error"]["message"]


def test_check_failures_say_what_to_do(sim, cli, tmp_path):
    wrong = sim.derived_config(tmp_path, "pw.yaml", lambda t: t.replace(sim.password, "wrong-Pa55word"))
    cli.secrets.append("wrong-Pa55word")
    login = document(cli.run("check", wrong, "--json"), "check", code=1)
    [failed] = [c for c in login["checks"] if c["status"] == "fail"]
    assert failed["check"] == "login" and "credentials" in failed["fix"], failed

    # Without tls.ca_file, the system CAs do not trust the simulator's certificate.
    no_ca = sim.derived_config(tmp_path, "noca.yaml", lambda t: "\n".join(
        line for line in t.splitlines() if "ca_file:" not in line) + "\n")
    tls = document(cli.run("check", no_ca, "--json"), "check", code=1)
    [failed] = [c for c in tls["checks"] if c["status"] == "fail"]
    assert failed["check"] == "connect" and "tls.ca_file" in failed["fix"], failed


@pytest.mark.parametrize("args, says", [
    (["bogus"], "unknown command 'bogus'"),
    (["--verbose", "bogus", "x.yaml"], "unknown command 'bogus'"),
    (["inventory", "--server", "127.0.0.1:1", "--user", "u", "--ca-file", "/nonexistent"],
     "--ca-file: cannot read '/nonexistent'"),
    (["inventory", "--server", "127.0.0.1:1", "--user", "u", "--thumbprint", "12:34"],
     "--thumbprint '12:34'"),
    (["inventory", "--server", "127.0.0.1:1", "--user", "u", "--insecure", "--thumbprint",
      "AB" * 32], "--insecure"),
    (["inventory", "--server", "127.0.0.1:1", "--user", "u", "--insecure", "--ca-file", "/etc/hosts"],
     "--insecure"),
    (["sim", "--", "--bogus"], "did not start"),
    (["role", "create", "x.yaml"], "--name"),
    (["frozen-vm", "nope"], "unknown command 'nope' (commands of vsray frozen-vm: status, prepare"),
    (["nodes", "x.yaml", "--tag"], "--tag"),
], ids=lambda a: " ".join(a) if isinstance(a, list) else None)
def test_usage_errors_exit_2(args, says, tmp_path):
    result = Cli(tmp_path).run(*args, env={"VSPHERE_PASSWORD": "not-used-Pa55"})
    assert result.code == 2, result
    assert says in result.err, result
    assert "A subcommand is required" not in result.err


def test_usage_error_with_json_is_an_error_object(tmp_path):
    result = Cli(tmp_path).run("inventory", "--insecure", "--thumbprint", "AB" * 32, "--json")
    doc = document(result, "inventory", code=2)
    assert doc["error"]["code"] == "usage"


def test_help_is_per_command_with_defaults(tmp_path):
    cli = Cli(tmp_path)
    create = cli.run("create", "--help")
    assert create.code == 0, create
    assert create.out.startswith("create nodes of one node type\nUsage: vsray create"), create.out
    assert "vsray create cluster.yaml --node-type" in create.out  # its own example
    assert "vsray down" not in create.out                         # not every command's
    assert re.search(r"--count INT.*=1", create.out), create.out   # the default
    sim = cli.run("sim", "--help")
    assert "=vsray-sim" in sim.out and "=2" in sim.out, sim.out
    top = cli.run("--help")
    assert "Usage: vsray [OPTIONS] SUBCOMMAND" in top.out and "/bin/vsray" not in top.out, top.out
    assert "130 interrupted" in top.out


def test_a_placement_error_is_a_structured_failure_pointing_at_check(sim, cli, tmp_path):
    def bad_pool(text):
        head, _, workers = text.partition("  ray.worker.default:")
        return head + "  ray.worker.default:" + workers.replace(
            "node_config: {}", "node_config: {resource_pool: no-such-pool}", 1)
    config = sim.derived_config(tmp_path, "pool.yaml", bad_pool)
    up = document(cli.run("up", config, "--yes", "--json"), "up", code=1)
    [failure] = up["failures"]
    assert failure["node_type"] == "ray.worker.default" and failure["id"] is None, failure
    assert failure["code"] == "not_found" and "no-such-pool" in failure["message"], failure
    assert [n["node_type"] for n in up["nodes"]] == ["ray.head.default"]
    assert f"run `vsray check {config}`" in cli.run("up", config, "--yes").err
    assert cli.run("down", config, "--yes").code == 0
