"""Interrupted, crashed and concurrent runs converge (issue 13), against vsray-sim over verified
HTTPS. Kills and interrupts happen at exact points: a call the simulator holds (before doing
it, or after doing it with its answer held) tells the test that the client is there; the test
then kills or interrupts it, releases the call, and runs `up` again. Each test ends with a
pyvmomi census compared with what was asked."""

import json
import re
import signal
import socket
import ssl
import threading

import pytest

from conftest import (CLUSTER, WORKERS, Census, finish, holds, kill, release_all, start_python_provider,
                      stderr_of, stdout_of, wait_for_hold, wait_for_text, write_config)

# Where a create is stopped: the fault that holds a call there. 1 head + 3 workers make 4
# clones, each followed by a resize (ReconfigVM_Task) and one SetField (`created`; Ray's tags
# are born with the clone). A node killed between its resize and `created` is the
# "configuring" point: the held resize is done when released, `created` never is.
KILL_POINTS = {
    "clone-sent": "InstantClone_Task:3:hold",             # the clone call went out, not done yet
    "clone-done": "InstantClone_Task:2:hold-answer",      # the clone exists, its answer held
    "configuring": "ReconfigVM_Task:2:hold",              # after a clone, while sizing it
}


def up_again_converges(cli, sim, config):
    again = cli.run("up", config, "--yes", "--json", timeout=240)
    assert again.code == 0, again
    census = Census(sim)
    census.assert_exactly()
    report = json.loads(again.out)
    assert sorted(n["id"] for n in report["nodes"]) == sorted(n["id"] for n in census.nodes)
    return report, census


@pytest.mark.parametrize("point", sorted(KILL_POINTS))
def test_kill_9_of_up_then_up_again_makes_exactly_the_asked_nodes(rsim, cli, tmp_path, point):
    config = write_config(rsim, tmp_path)
    rsim.inject_fault(KILL_POINTS[point])
    proc = cli.start("up", config, "--yes", "--json", tmp_path=tmp_path, name="killed")
    wait_for_hold(rsim)
    kill(proc)
    release_all(rsim)  # a call vCenter received is done, its client gone or not
    report, census = up_again_converges(cli, rsim, config)
    # What the killed run left half-made was finished or removed, never duplicated.
    assert len(report["finished"]) + len(report["removed"]) >= 1, report


@pytest.mark.parametrize("fault", ["InstantClone_Task:1:hold-answer", "ReconfigVM_Task:1:hold"])
def test_kill_9_of_rays_launcher_then_up_makes_exactly_the_asked_nodes(rsim, cli, tmp_path, fault):
    config = write_config(rsim, tmp_path)
    rsim.inject_fault(fault)
    launcher = start_python_provider(cli, rsim, tmp_path)
    wait_for_hold(rsim)
    kill(launcher)
    release_all(rsim)
    report, census = up_again_converges(cli, rsim, config)
    # The launcher's head was finished (it counts as the head), not made a second time.
    [head] = [n for n in census.nodes if n["kind"] == "head"]
    assert head["id"] in report["finished"], report
    assert head["tags"]["ray-launch-config"] == "launched-by-ray"


@pytest.mark.parametrize("point", ["clone-sent", "configuring"])
def test_ctrl_c_of_up_finishes_what_is_in_flight_reports_and_exits_130(rsim, cli, tmp_path, point):
    # One clone at a time, held at its first call: when Ctrl-C comes, exactly one node is in
    # flight and the others are not started.
    config = write_config(rsim, tmp_path, max_concurrency=1)
    method, _, kind = KILL_POINTS[point].split(":")
    rsim.inject_fault(f"{method}:1:{kind}")
    proc = cli.start("up", config, "--yes", "--json", tmp_path=tmp_path, name="interrupted")
    wait_for_hold(rsim)
    proc.send_signal(signal.SIGINT)
    wait_for_text(proc, "interrupted")
    release_all(rsim)
    assert finish(proc) == 130, stderr_of(proc)
    report = json.loads(stdout_of(proc))
    assert report["interrupted"] is True and report["not_created"] >= 1, report
    assert "run the command again" in stderr_of(proc)
    # What it printed is what exists, and nothing it started is left half-made.
    census = Census(rsim)
    assert census.nodes and all(n["status"] == "created" for n in census.nodes), census
    assert sorted(n["id"] for n in report["nodes"]) == sorted(n["id"] for n in census.nodes)
    assert len(census.nodes) == 1 and report["not_created"] == WORKERS, census
    up_again_converges(cli, rsim, config)


def test_a_second_ctrl_c_exits_at_once_and_the_next_up_repairs(rsim, cli, tmp_path):
    config = write_config(rsim, tmp_path)
    rsim.inject_fault("SetField:4:hold")
    proc = cli.start("up", config, "--yes", "--json", tmp_path=tmp_path, name="twice")
    wait_for_hold(rsim)
    proc.send_signal(signal.SIGINT)
    wait_for_text(proc, "interrupted")
    proc.send_signal(signal.SIGINT)
    assert finish(proc, timeout=30) == 130
    assert "exiting at once" in stderr_of(proc)
    release_all(rsim)
    up_again_converges(cli, rsim, config)


def test_ctrl_c_of_down_stops_starting_terminations_and_says_what_is_left(rsim, cli, tmp_path):
    config = write_config(rsim, tmp_path, max_concurrency=1)
    assert cli.run("up", config, "--yes").code == 0
    rsim.inject_fault("Destroy_Task:2:hold")
    proc = cli.start("down", config, "--yes", "--json", tmp_path=tmp_path, name="down")
    wait_for_hold(rsim)
    proc.send_signal(signal.SIGINT)
    wait_for_text(proc, "interrupted")
    release_all(rsim)
    assert finish(proc) == 130, stderr_of(proc)
    report = json.loads(stdout_of(proc))
    census = Census(rsim)
    assert report["interrupted"] is True
    assert len(report["terminated"]) == 2 and len(report["left"]) == 2, report
    assert sorted(report["left"]) == sorted(n["id"] for n in census.nodes)
    again = cli.run("down", config, "--yes", "--json")
    assert again.code == 0, again
    assert Census(rsim).nodes == []


def test_two_ups_at_once_make_one_cluster(rsim, cli, tmp_path):
    config = write_config(rsim, tmp_path)
    rsim.inject_fault("InstantClone_Task:1:hold")
    first = cli.start("up", config, "--yes", "--json", tmp_path=tmp_path, name="first")
    wait_for_hold(rsim)  # the first holds the lease and is creating
    second = cli.start("up", config, "--yes", "--json", tmp_path=tmp_path, name="second")
    wait_for_text(second, "waiting for `vsray up`")
    release_all(rsim)
    assert finish(first) == 0, stderr_of(first)
    assert finish(second) == 0, stderr_of(second)
    Census(rsim).assert_exactly()
    assert json.loads(stdout_of(second))["created"] == []


def test_up_and_rays_launcher_at_once_make_one_head(rsim, cli, tmp_path):
    config = write_config(rsim, tmp_path)
    rsim.inject_fault("InstantClone_Task:1:hold")
    launcher = start_python_provider(cli, rsim, tmp_path)
    wait_for_hold(rsim)
    up = cli.start("up", config, "--yes", "--json", tmp_path=tmp_path, name="up")
    wait_for_text(up, "waiting for `create_node`")
    release_all(rsim)
    assert finish(launcher) == 0, stderr_of(launcher)
    assert finish(up) == 0, stderr_of(up)
    census = Census(rsim)
    census.assert_exactly()
    [head] = [n for n in census.nodes if n["kind"] == "head"]
    assert json.loads(stdout_of(launcher)) == [head["id"]]


@pytest.mark.parametrize("fault", ["InstantClone_Task:2:lost", "SetField:5:lost",
                                   "AddCustomFieldDef:2:lost", "AddCustomFieldDef:1:http503"])
def test_answers_lost_after_vcenter_acted_are_reconciled(rsim, cli, tmp_path, fault):
    config = write_config(rsim, tmp_path)
    rsim.inject_fault(fault)
    up = cli.run("up", config, "--yes", "--json", timeout=240)
    assert up.code == 0, up.err
    [rule] = rsim.control("GET", "faults")
    assert rule["fired"] == 1, rule
    Census(rsim).assert_exactly()


def test_a_lost_destroy_answer_is_reconciled_by_existence(rsim, cli, tmp_path):
    config = write_config(rsim, tmp_path)
    assert cli.run("up", config, "--yes").code == 0
    rsim.inject_fault("Destroy_Task:2:lost")
    down = cli.run("down", config, "--yes", "--json")
    assert down.code == 0, down
    assert len(json.loads(down.out)["terminated"]) == 1 + WORKERS
    assert Census(rsim).nodes == []


def test_a_failure_before_any_clone_never_claims_nodes_were_made_or_cleaned(rsim, cli, tmp_path):
    config = write_config(rsim, tmp_path)
    # The lease's attribute exists (an earlier run defined it); the nodes' cannot be defined.
    from pyVmomi import vim
    rsim.connect().RetrieveContent().customFieldsManager.AddCustomFieldDef(
        name="vsray-lease", moType=vim.Folder)
    rsim.inject_fault("AddCustomFieldDef:*:http503")
    up = cli.run("up", config, "--yes", "--json", timeout=240)
    assert up.code == 1, up
    assert "cleaned up" not in up.err
    assert "none of 1 node(s) created" in up.err and "none of 3 node(s) created" in up.err, up
    assert "4 of 4 node(s) were not created" in up.err
    assert Census(rsim).nodes == []


def test_two_frozen_vm_prepares_at_once_deploy_each_name_once(start_sim, cli, tmp_path):
    from support_library import upload_frozen_image
    sim = start_sim("--hosts", "3", "--vms", "1")
    upload_frozen_image(sim)
    config = write_config(sim, tmp_path, frozen_vm={
        "name": "frozen", "library_item": "images/frozen-image",
        "resource_pool": "Resources", "datastore": "LocalDS_0"})
    sim.inject_fault("POST /api/vcenter/ovf/library-item:1:hold")
    first = cli.start("frozen-vm", "prepare", config, "--json", tmp_path=tmp_path, name="p1")
    wait_for_hold(sim)
    second = cli.start("frozen-vm", "prepare", config, "--json", tmp_path=tmp_path, name="p2")
    wait_for_text(second, "waiting for `vsray frozen-vm prepare`")
    release_all(sim)
    assert finish(first) == 0, stderr_of(first)
    assert finish(second) == 0, stderr_of(second)
    from simharness import all_vms
    names = sorted(vm.name for vm in all_vms(sim.connect()) if vm.name.startswith("frozen-"))
    assert names == ["frozen-DC0_C0_H0", "frozen-DC0_C0_H1", "frozen-DC0_C0_H2"]
    assert json.loads(stdout_of(first))["frozen_vms"] == json.loads(stdout_of(second))["frozen_vms"]


def test_a_hung_call_is_reported_while_waited_for_then_retried(rsim, cli, tmp_path):
    config = write_config(rsim, tmp_path, timeouts={"call_s": 17})
    rsim.inject_fault("RetrievePropertiesEx:1:hang")
    nodes = cli.run("nodes", config, "--json", timeout=120)
    assert nodes.code == 0, nodes
    assert re.search(f"still waiting for vCenter {re.escape(rsim.server)} to answer "
                     r"RetrievePropertiesEx: 1[5-9] s so far \(timeouts.call_s: 17 s\)", nodes.err), nodes


def test_a_server_that_never_answers_fails_naming_it_and_the_limit(rsim, cli, tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])  # and never answer
            except OSError:
                pass
    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    try:
        config = write_config(rsim, tmp_path, timeouts={"connect_s": 2},
                              credentials={"server": f"127.0.0.1:{port}", "user": "user",
                                           "password": "pass"})
        result = cli.run("nodes", config, timeout=120)
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()
    assert result.code == 1, result
    assert f"cannot connect to vCenter 127.0.0.1:{port}: no answer within 2 s (timeouts.connect_s)" \
        in result.err, result
    assert accepted


def serve_https(sim, reply):
    """A local HTTPS server with the simulator's certificate that answers every request with
    `reply(handler)`; returns (port, stop)."""
    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            reply(self)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert_dir = sim.ready["cert_dir"]
    context.load_cert_chain(f"{cert_dir}/cert.pem", f"{cert_dir}/key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop():
        server.shutdown()
        server.server_close()
    return server.server_address[1], stop


def oversized(handler):
    size = 100 * 1024 * 1024
    handler.send_response(200)
    handler.send_header("Content-Type", "text/xml")
    handler.send_header("Content-Length", str(size))
    handler.end_headers()
    chunk = b"<x>" + b"a" * (1024 * 1024 - 3)
    try:
        for _ in range(100):
            handler.wfile.write(chunk)
    except OSError:
        pass  # the client gave up, as it should


def oversized_chunked(handler):
    """300 MB without a length: the client only learns it is too large as it arrives."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/xml")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    chunk = b"a" * (1024 * 1024)
    try:
        for _ in range(300):
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        handler.wfile.write(b"0\r\n\r\n")
    except OSError:
        pass


def truncated(handler):
    handler.send_response(200)
    handler.send_header("Content-Type", "text/xml")
    handler.send_header("Content-Length", "5000")
    handler.end_headers()
    handler.wfile.write(b"<?xml version=\"1.0\"?><soapenv:Envelope")
    handler.close_connection = True


def cut_xml(handler):
    body = b"<?xml version=\"1.0\"?><soapenv:Envelope xmlns:soapenv=\"x\"><soapenv:Body><Retr"
    handler.send_response(200)
    handler.send_header("Content-Type", "text/xml")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@pytest.mark.parametrize("reply,message", [
    (oversized, "is larger than the limit of 64 MiB"),
    (oversized_chunked, "is larger than the limit of 64 MiB"),
    (truncated, "cannot reach https://127.0.0.1"),
    (cut_xml, "not a vSphere SDK endpoint"),
])
def test_oversized_and_truncated_replies_fail_clearly_with_bounded_memory(rsim, cli, tmp_path, reply,
                                                                          message):
    import os
    port, stop = serve_https(rsim, reply)
    try:
        config = write_config(rsim, tmp_path, credentials={
            "server": f"127.0.0.1:{port}", "user": "user", "password": "pass"})
        proc = cli.start("nodes", config, tmp_path=tmp_path, name="nodes")
        _, status, usage = os.wait4(proc.pid, 0)  # this vsray's own peak memory
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        stop()
    err = stderr_of(proc)
    assert proc.returncode == 1, err
    assert message in err, err
    assert len([line for line in err.splitlines() if line.startswith("vsray:")]) == 1, err
    # What was offered never was in memory: a reply announced as too large is refused before
    # its body, one without a length when it reaches the 64 MiB limit (the buffer's last
    # growth holds at most twice that for a moment). ru_maxrss is in KiB.
    bound = 96 if reply is not oversized_chunked else 2 * 64 + 40
    assert usage.ru_maxrss < bound * 1024, usage.ru_maxrss
