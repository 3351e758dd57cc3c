"""Tests of vsray-sim, the simulated vCenter, through pyvmomi and plain HTTPS."""

import ipaddress
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest
from pyVim.task import WaitForTask
from pyVmomi import vim, vmodl

from simharness import PASSWORD, USER, Sim, find_vm, launch, nics, wait_for, wait_task



def clone_spec(name, **kwargs):
    return vim.vm.InstantCloneSpec(name=name, location=vim.vm.RelocateSpec(), **kwargs)


def ipv4s(vm):
    return [a for n in (vm.guest.net or []) for a in (n.ipAddress or []) if ":" not in a]


# --- start-up, ready line, TLS, login ----------------------------------------

def test_ready_line_describes_the_server_and_inventory(start_sim):
    sim = start_sim("--datacenters", "1", "--clusters", "2", "--hosts", "2", "--vms", "4",
                    "--datastores", "2", "--password", "s3cret-pw", "--frozen-vm", "frozen-a")
    r = sim.ready
    assert r["url"] == f"https://127.0.0.1:{r['port']}/sdk"
    assert r["rest_url"] == f"https://127.0.0.1:{r['port']}/rest"
    assert r["api_url"] == f"https://127.0.0.1:{r['port']}/api"
    assert r["control_url"] == f"https://127.0.0.1:{r['port']}/vsray"
    assert r["pid"] == sim.proc.pid
    assert r["username"] == USER
    assert os.path.isabs(r["ca_file"])
    with open(r["ca_file"]) as f:
        assert f.read().startswith("-----BEGIN CERTIFICATE-----")
    inv = r["inventory"]
    assert (inv["datacenters"], inv["clusters"], inv["hosts"], inv["datastores"]) == (1, 2, 4, 2)
    assert inv["vms"] == 4 + 1  # the model's VMs and the frozen one
    assert inv["resource_pools"] == 2  # each cluster's root pool
    [frozen] = inv["frozen_vms"]
    assert frozen["name"] == "frozen-a" and frozen["id"].startswith("vm-") and frozen["host"]
    # The password appears nowhere: neither in the ready line nor in the log.
    assert "s3cret-pw" not in repr(r)
    assert "s3cret-pw" not in sim.stderr()


def test_vms_flag_is_a_total(start_sim):
    sim = start_sim("--clusters", "1", "--hosts", "2", "--vms", "7")
    assert sim.ready["inventory"]["vms"] == 7


def test_login_over_https_with_the_ca(start_sim):
    sim = start_sim("--vms", "1")
    si = sim.connect()
    content = si.RetrieveContent()
    assert content.about.apiVersion == "6.7"
    assert content.sessionManager.currentSession.userName == USER
    with pytest.raises(vim.fault.InvalidLogin):
        sim.connect(pwd="wrong")
    with pytest.raises(vim.fault.InvalidLogin):
        sim.connect(user="someone-else")


def test_tls_is_refused_without_the_right_ca(start_sim, tmp_path):
    sim = start_sim("--vms", "0")
    # The system CAs (what SSL_CERT_FILE points to) do not vouch for the simulator.
    system = ssl.create_default_context()
    with pytest.raises(ssl.SSLCertVerificationError):
        with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as raw:
            system.wrap_socket(raw, server_hostname="127.0.0.1")
    # Nor does another simulator's CA.
    other = start_sim("--vms", "0")
    ctx = sim.ssl_context(cafile=other.ca_file)
    with pytest.raises(ssl.SSLCertVerificationError):
        with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as raw:
            ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    # Its own CA does, for 127.0.0.1 and localhost.
    for name in ("127.0.0.1", "localhost"):
        with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as raw:
            with sim.ssl_context().wrap_socket(raw, server_hostname=name) as tls:
                assert tls.version() in ("TLSv1.2", "TLSv1.3")


@pytest.mark.skipif(not shutil.which("curl"), reason="needs curl")
def test_curl_openssl3_accepts_the_certificate(start_sim):
    sim = start_sim("--vms", "0")
    out = subprocess.run(["curl", "-sS", "--fail", "--noproxy", "*", "--cacert", sim.ca_file,
                          sim.base + "/sdk/vimServiceVersions.xml"],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    assert "<version>6.7</version>" in out.stdout


def test_plain_http(start_sim):
    sim = start_sim("--http", "--vms", "0")
    assert sim.ready["url"].startswith("http://127.0.0.1:")
    assert sim.ready["ca_file"] == ""
    status, _ = sim.http("GET", "/vsray/stats")
    assert status == 200


def test_port_zero_picks_a_free_port_and_an_explicit_port_is_used(start_sim):
    a = start_sim("--vms", "0", "--listen", "127.0.0.1:0")
    b = start_sim("--vms", "0")
    assert a.port > 0 and b.port > 0 and a.port != b.port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    c = start_sim("--vms", "0", "--listen", f"127.0.0.1:{free}")
    assert c.port == free
    assert c.http("GET", "/vsray/stats")[0] == 200


@pytest.mark.parametrize("addr", ["0.0.0.0:0", "192.0.2.1:0", "[::]:0", "example.com:0"])
def test_non_loopback_listen_addresses_are_refused(tmp_path, addr):
    proc, ready, stderr = launch(["--listen", addr], tmp_path)
    assert ready is None
    assert proc.returncode == 2
    assert "loopback" in stderr.read_text()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_exits_zero_and_removes_temporary_files(tmp_path, sig):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(tmp))
    proc, ready, _ = launch(["--vms", "2", "--frozen-vm", "f"], tmp_path, env=env)
    sim = Sim(proc, ready, "")
    cert_dir = ready["cert_dir"]
    assert os.path.isfile(ready["ca_file"]) and cert_dir.startswith(str(tmp))
    assert any(tmp.iterdir())  # certificates and datastore directories
    assert sim.stop(sig) == 0
    assert not os.path.exists(cert_dir)
    assert list(tmp.iterdir()) == []


def test_cert_dir_is_kept(tmp_path, start_sim):
    certs = tmp_path / "certs"
    sim = start_sim("--vms", "0", "--cert-dir", str(certs))
    assert sim.ready["ca_file"] == str(certs / "ca.pem")
    assert oct((certs / "key.pem").stat().st_mode & 0o777) == "0o600"
    assert sim.stop() == 0
    assert (certs / "ca.pem").exists()


# --- frozen VMs and instant clones --------------------------------------------

def test_instant_clone_of_a_frozen_vm(start_sim):
    sim = start_sim("--hosts", "3", "--vms", "0", "--frozen-vm", "frozen@DC0_C0_H2",
                    "--guest-ip-delay", "1500ms")
    si = sim.connect()
    frozen = find_vm(si, "frozen")
    assert frozen.runtime.instantCloneFrozen is True
    assert frozen.runtime.powerState == "poweredOn"
    assert frozen.runtime.host.name == "DC0_C0_H2"
    assert [n.connectable.connected for n in nics(frozen)] == [False]

    dc = si.RetrieveContent().rootFolder.childEntity[0]
    folder = dc.vmFolder.CreateFolder("ray-test")
    spec = clone_spec(
        "worker-1",
        config=[vim.option.OptionValue(key="guestinfo.vsray.cluster", value="test"),
                vim.option.OptionValue(key="guestinfo.vsray.node-type", value="worker")],
        biosUuid="4211d1f0-0000-4000-8000-00000000c10e")
    spec.location.folder = folder
    task = frozen.InstantClone_Task(spec)
    info = wait_task(task)
    assert info.state == "success", info.error
    clone = info.result
    assert isinstance(clone, vim.VirtualMachine)
    assert clone.name == "worker-1"
    assert clone.runtime.host == frozen.runtime.host
    assert clone.parent == folder
    assert clone.resourcePool == frozen.resourcePool
    assert clone.datastore == frozen.datastore
    assert clone.runtime.powerState == "poweredOn"
    assert not clone.runtime.instantCloneFrozen
    assert clone.config.uuid == "4211d1f0-0000-4000-8000-00000000c10e"
    extra = {o.key: o.value for o in clone.config.extraConfig}
    assert extra["guestinfo.vsray.cluster"] == "test"
    assert extra["guestinfo.vsray.node-type"] == "worker"
    # NICs keep the source's connection state, with a MAC of their own.
    [nic] = nics(clone)
    assert nic.connectable.connected is False
    assert nic.macAddress and nic.macAddress != nics(frozen)[0].macAddress
    # The guest reports an address after the delay, from 127.0.0.0/8.
    assert not ipv4s(clone)
    addrs = wait_for(lambda: ipv4s(clone), timeout=5)
    assert addrs, "no guest IP"
    ip = ipaddress.ip_address(addrs[0])
    assert ip in ipaddress.ip_network("127.0.0.0/8") and str(ip) != "127.0.0.1"
    assert clone.guest.ipAddress == addrs[0]
    assert addrs[0] not in ipv4s(frozen)
    # A second clone of the same name in the same folder is refused.
    info = wait_task(frozen.InstantClone_Task(spec))
    assert info.state == "error" and isinstance(info.error, vim.fault.DuplicateName)
    # Clones can be cloned too (the method exists on VMs created at run time).
    info = wait_task(clone.InstantClone_Task(clone_spec("worker-2")))
    assert info.state == "success", info.error
    assert info.result.runtime.host == frozen.runtime.host


def test_instant_clone_of_a_powered_off_vm_fails(start_sim):
    sim = start_sim("--vms", "1")
    si = sim.connect()
    vm = find_vm(si, "DC0_C0_RP0_VM0")
    WaitForTask(vm.PowerOffVM_Task())
    info = wait_task(vm.InstantClone_Task(clone_spec("nope")))
    assert info.state == "error"
    assert isinstance(info.error, vim.fault.InvalidPowerState)
    assert info.error.existingState == "poweredOff"
    assert find_vm(si, "nope") is None


def test_instant_clone_refuses_a_host_in_maintenance(start_sim):
    sim = start_sim("--vms", "0", "--frozen-per-host", "fz", "--hosts", "2")
    assert [f["name"] for f in sim.ready["inventory"]["frozen_vms"]] == ["fz-DC0_C0_H0", "fz-DC0_C0_H1"]
    si = sim.connect()
    sim.control("POST", "hosts/maintenance", {"host": "DC0_C0_H1", "enabled": True})
    host1 = find_vm(si, "fz-DC0_C0_H1")
    assert host1.runtime.host.runtime.inMaintenanceMode is True
    info = wait_task(host1.InstantClone_Task(clone_spec("c1")))
    assert info.state == "error" and isinstance(info.error, vim.fault.InvalidHostState)
    info = wait_task(find_vm(si, "fz-DC0_C0_H0").InstantClone_Task(clone_spec("c0")))
    assert info.state == "success"


def test_frozen_vm_created_at_run_time(start_sim):
    sim = start_sim("--vms", "0", "--hosts", "2")
    created = sim.control("POST", "frozen-vms", {"name": "late", "host": "DC0_C0_H1"})
    assert created["host"] == "DC0_C0_H1" and created["id"].startswith("vm-")
    si = sim.connect()
    vm = find_vm(si, "late")
    assert vm._moId == created["id"]
    assert vm.runtime.instantCloneFrozen is True
    status, reply = sim.http("POST", "/vsray/frozen-vms", {"name": "late", "host": "DC0_C0_H1"})
    assert status == 400 and "already exists" in reply["error"]
    status, _ = sim.http("POST", "/vsray/frozen-vms", {"name": "x", "host": "no-such-host"})
    assert status == 400


# --- guest networking ---------------------------------------------------------

def test_guest_ips_are_unique_and_clear_on_power_off(start_sim):
    sim = start_sim("--vms", "3", "--clusters", "1")
    si = sim.connect()
    vms = [find_vm(si, f"DC0_C0_RP0_VM{i}") for i in range(3)]
    ips = [vm.guest.ipAddress for vm in vms]
    assert all(ips) and len(set(ips)) == 3
    assert all(ipaddress.ip_address(ip) in ipaddress.ip_network("127.0.0.0/8") for ip in ips)
    assert vms[0].guest.toolsRunningStatus == "guestToolsRunning"
    WaitForTask(vms[0].PowerOffVM_Task())
    assert not vms[0].guest.ipAddress and not ipv4s(vms[0])
    assert vms[0].guest.toolsRunningStatus == "guestToolsNotRunning"
    WaitForTask(vms[0].PowerOnVM_Task())
    assert vms[0].guest.ipAddress == ips[0]  # the NIC keeps its address


def test_ipv6_first_ordering(start_sim):
    sim = start_sim("--vms", "1", "--guest-ipv6-first")
    vm = find_vm(sim.connect(), "DC0_C0_RP0_VM0")
    [net] = vm.guest.net
    addrs = list(net.ipAddress)
    assert [str(a.ipAddress) for a in net.ipConfig.ipAddress] == addrs
    assert len(addrs) == 4
    assert ipaddress.ip_address(addrs[0]) in ipaddress.ip_network("fd00::/8")
    assert ipaddress.ip_address(addrs[1]).is_link_local and ":" in addrs[1]
    assert ipaddress.ip_address(addrs[2]) in ipaddress.ip_network("169.254.0.0/16")
    assert ipaddress.ip_address(addrs[3]) in ipaddress.ip_network("127.0.0.0/8")
    assert vm.guest.ipAddress == addrs[0]  # what naive clients would take


def test_guest_ip_needs_nic_connected(start_sim):
    sim = start_sim("--vms", "0", "--frozen-vm", "frozen", "--guest-ip-needs-nic-connected",
                    "--guest-ip-delay", "200ms")
    si = sim.connect()
    info = wait_task(find_vm(si, "frozen").InstantClone_Task(clone_spec("c")))
    clone = info.result
    time.sleep(0.6)
    assert not clone.guest.ipAddress and not ipv4s(clone)
    [nic] = nics(clone)
    nic.connectable.connected = True
    change = vim.vm.device.VirtualDeviceSpec(operation="edit", device=nic)
    WaitForTask(clone.ReconfigVM_Task(vim.vm.ConfigSpec(deviceChange=[change])))
    assert nics(clone)[0].connectable.connected is True
    addrs = wait_for(lambda: ipv4s(clone), timeout=5)
    assert addrs and clone.guest.net[0].connected is True


# --- tasks that take time -----------------------------------------------------

def test_task_duration_keeps_tasks_running(start_sim):
    sim = start_sim("--vms", "1", "--task-duration", "PowerOffVM_Task=1500ms")
    si = sim.connect()
    vm = find_vm(si, "DC0_C0_RP0_VM0")
    began = time.monotonic()
    task = vm.PowerOffVM_Task()
    assert task.info.state == "running"
    assert task.info.result is None and task.info.error is None
    WaitForTask(task)  # waits through the property collector
    assert time.monotonic() - began >= 1.3
    assert task.info.state == "success"
    # Other methods are not slowed down.
    began = time.monotonic()
    WaitForTask(vm.PowerOnVM_Task())
    assert time.monotonic() - began < 1.0


# --- faults -------------------------------------------------------------------

def test_soap_fault_on_the_nth_call(start_sim):
    sim = start_sim("--vms", "0", "--fault", "CurrentTime:2:InvalidState",
                    "--fault", "CurrentTime:4+:NotAuthenticated")
    si = sim.connect()
    si.CurrentTime()
    with pytest.raises(vim.fault.InvalidState):
        si.CurrentTime()
    si.CurrentTime()
    for _ in range(2):
        with pytest.raises(vim.fault.NotAuthenticated):
            si.CurrentTime()
    faults = sim.control("GET", "faults")
    assert [(f["calls"], f["fired"]) for f in faults] == [(5, 1), (5, 2)]
    assert sim.control("DELETE", "faults") == {"removed": 2}
    si.CurrentTime()


def test_task_fault_set_at_run_time(start_sim):
    sim = start_sim("--vms", "0", "--frozen-vm", "frozen")
    si = sim.connect()
    frozen = find_vm(si, "frozen")
    sim.control("POST", "faults", {"spec": "InstantClone_Task:2:task:HostCommunication"})
    assert wait_task(frozen.InstantClone_Task(clone_spec("ok-1"))).state == "success"
    info = wait_task(frozen.InstantClone_Task(clone_spec("failed")))
    assert info.state == "error" and isinstance(info.error, vmodl.fault.HostCommunication)
    assert find_vm(si, "failed") is None  # nothing was cloned
    assert wait_task(frozen.InstantClone_Task(clone_spec("ok-3"))).state == "success"


def test_bad_fault_specs_are_refused(start_sim, tmp_path):
    proc, ready, stderr = launch(["--fault", "CurrentTime:0:InvalidState"], tmp_path)
    assert ready is None and proc.returncode == 2
    sim = start_sim("--vms", "0")
    for spec in ["CurrentTime:1:NoSuchFault", "CurrentTime:1:task:InvalidState",
                 "POST /rest/x:1:InvalidState", "CurrentTime:p=2:drop", "nonsense"]:
        status, reply = sim.http("POST", "/vsray/faults", {"spec": spec})
        assert status == 400, spec


def test_http503_and_drop(start_sim):
    sim = start_sim("--vms", "0")
    si = sim.connect()
    sim.control("POST", "faults", {"spec": "CurrentTime:1:http503"})
    with pytest.raises(Exception) as err:
        si.CurrentTime()
    assert "503" in str(err.value)
    si.CurrentTime()

    sim.control("POST", "faults", {"spec": "POST /api/session:1:drop"})
    with pytest.raises((ConnectionError, OSError)):
        sim.http("POST", "/api/session", auth=(USER, PASSWORD))
    status, token = sim.http("POST", "/api/session", auth=(USER, PASSWORD))
    assert status == 201 and token


def test_fractional_faults_are_repeatable_with_a_seed(start_sim):
    def pattern(seed):
        sim = start_sim("--vms", "0", "--seed", seed, "--fault", "CurrentTime:p=0.5:InvalidState")
        si = sim.connect()
        outcome = []
        for _ in range(30):
            try:
                si.CurrentTime()
                outcome.append(0)
            except vim.fault.InvalidState:
                outcome.append(1)
        return outcome

    first, again, other = pattern("7"), pattern("7"), pattern("8")
    assert first == again
    assert 3 < sum(first) < 27
    assert first != other


def test_latency(start_sim):
    sim = start_sim("--vms", "0", "--method-latency", "CurrentTime=300ms")
    si = sim.connect()
    began = time.monotonic()
    si.CurrentTime()
    assert time.monotonic() - began >= 0.3


# --- sessions -----------------------------------------------------------------

def test_session_expiry_gives_not_authenticated(start_sim):
    sim = start_sim("--vms", "1")
    si = sim.connect()
    vm = find_vm(si, "DC0_C0_RP0_VM0")
    status, token = sim.http("POST", "/api/session", auth=(USER, PASSWORD))
    assert status == 201
    assert sim.control("POST", "sessions/expire") == {"soap": 1, "rest": 1}
    with pytest.raises(vim.fault.NotAuthenticated):
        si.CurrentTime()
    with pytest.raises(vim.fault.NotAuthenticated):
        vm.name  # RetrievePropertiesEx, which the stock simulator lets through
    status, _ = sim.http("GET", "/api/cis/tagging/tag", headers={"vmware-api-session-id": token})
    assert status == 401
    # Logging in again works.
    si = sim.connect()
    assert find_vm(si, "DC0_C0_RP0_VM0").name == "DC0_C0_RP0_VM0"


def test_sessions_expire_after_a_delay(start_sim):
    sim = start_sim("--vms", "0", "--expire-sessions-after", "2s")
    started = time.monotonic()
    si = sim.connect()
    si.CurrentTime()
    assert time.monotonic() - started < 2, "too slow to test"
    time.sleep(max(0.0, 2.3 - (time.monotonic() - started)))
    with pytest.raises(vim.fault.NotAuthenticated):
        si.CurrentTime()


def test_idle_sessions_time_out(start_sim):
    sim = start_sim("--vms", "0", "--session-idle-timeout", "500ms")
    busy = sim.connect()
    idle = sim.connect()
    for _ in range(6):  # busy stays active
        busy.CurrentTime()
        time.sleep(0.25)
    busy.CurrentTime()
    with pytest.raises(vim.fault.NotAuthenticated):
        idle.CurrentTime()


# --- counters -----------------------------------------------------------------

def test_stats_count_soap_and_rest_calls(start_sim):
    sim = start_sim("--vms", "0")
    si = sim.connect()
    sim.control("POST", "stats/reset")
    for _ in range(3):
        si.CurrentTime()
    sim.http("POST", "/api/session", auth=(USER, PASSWORD))
    sim.http("POST", "/rest/com/vmware/cis/session", auth=(USER, PASSWORD))
    sim.http("GET", "/rest/com/vmware/cis/tagging/tag/id:urn:x:y")
    stats = sim.stats()
    assert stats["soap"] == {"CurrentTime": 3}
    assert stats["rest"] == {
        "POST /api/session": 1,
        "POST /rest/com/vmware/cis/session": 1,
        "GET /rest/com/vmware/cis/tagging/tag/id:{id}": 1,
    }
    assert stats["total"] == 6  # control calls are not counted
    sim.control("POST", "stats/reset")
    assert sim.stats()["total"] == 0


# --- REST: /rest and /api -----------------------------------------------------

def test_rest_refuses_wrong_credentials(start_sim):
    sim = start_sim("--vms", "0")
    assert sim.http("POST", "/rest/com/vmware/cis/session", auth=(USER, "wrong"))[0] == 401
    assert sim.http("POST", "/rest/com/vmware/cis/session")[0] == 401
    assert sim.http("POST", "/api/session", auth=("x", PASSWORD))[0] == 401
    status, reply = sim.http("POST", "/rest/com/vmware/cis/session", auth=(USER, PASSWORD))
    assert status == 200 and reply["value"]


def test_api_session_and_bulk_tagging(start_sim):
    sim = start_sim("--vms", "2")
    status, token = sim.http("POST", "/api/session", auth=(USER, PASSWORD))
    assert status == 201 and isinstance(token, str)
    h = {"vmware-api-session-id": token}

    def call(method, path, body=None, expect=200):
        status, reply = sim.http(method, "/api" + path, body, headers=h)
        assert status == expect, (method, path, status, reply)
        return reply

    assert call("GET", "/session")["user"] == USER
    cat = call("POST", "/cis/tagging/category", {"name": "ray", "description": "", "cardinality": "MULTIPLE",
                                                 "associable_types": ["VirtualMachine"]}, expect=201)
    tags = [call("POST", "/cis/tagging/tag", {"name": n, "description": "", "category_id": cat}, expect=201)
            for n in ("a", "b", "c")]
    assert sorted(call("POST", "/cis/tagging/tag?action=list-tags-for-category", {"category_id": cat})) == sorted(tags)
    assert call("GET", f"/cis/tagging/tag/{tags[0]}")["name"] == "a"
    status, reply = sim.http("POST", "/api/cis/tagging/tag", {"name": "a", "description": "", "category_id": cat}, headers=h)
    assert status == 400 and reply["error_type"] == "ALREADY_EXISTS"

    vm = {"type": "VirtualMachine", "id": "vm-1"}
    result = call("POST", "/cis/tagging/tag-association?action=attach-multiple-tags-to-object",
                  {"object_id": vm, "tag_ids": tags[:2]})
    assert result == {"success": True, "error_messages": []}
    call("POST", f"/cis/tagging/tag-association/{tags[2]}?action=attach", {"object_id": vm}, expect=204)
    [attached] = call("POST", "/cis/tagging/tag-association?action=list-attached-tags-on-objects", {"object_ids": [vm]})
    assert attached["object_id"] == vm and sorted(attached["tag_ids"]) == sorted(tags)

    result = call("POST", "/cis/tagging/tag-association?action=detach-multiple-tags-from-object",
                  {"object_id": vm, "tag_ids": [tags[0], "urn:vmomi:InventoryServiceTag:missing:GLOBAL"]})
    assert result["success"] is False and len(result["error_messages"]) == 1
    on_tags = call("POST", "/cis/tagging/tag-association?action=list-attached-objects-on-tags", {"tag_ids": tags})
    objects = {t["tag_id"]: t["object_ids"] for t in on_tags}
    assert objects == {tags[0]: [], tags[1]: [vm], tags[2]: [vm]}  # the detached object is gone
    assert call("POST", "/cis/tagging/tag-association?action=list-attached-tags", {"object_id": vm}) != []

    call("DELETE", f"/cis/tagging/tag/{tags[2]}", expect=204)
    assert sim.http("GET", f"/api/cis/tagging/tag/{tags[2]}", headers=h)[0] == 404
    call("DELETE", "/session", expect=204)
    assert sim.http("GET", "/api/cis/tagging/tag", headers=h)[0] == 401


def test_rest_detach_multiple_really_detaches(start_sim):
    sim = start_sim("--vms", "0")
    _, reply = sim.http("POST", "/rest/com/vmware/cis/session", auth=(USER, PASSWORD))
    h = {"vmware-api-session-id": reply["value"]}
    base = "/rest/com/vmware/cis/tagging"
    _, cat = sim.http("POST", base + "/category", {"create_spec": {"name": "c", "description": "", "cardinality": "MULTIPLE", "associable_types": []}}, headers=h)
    _, tag = sim.http("POST", base + "/tag", {"create_spec": {"name": "t", "description": "", "category_id": cat["value"]}}, headers=h)
    vm = {"type": "VirtualMachine", "id": "vm-1"}
    body = {"object_id": vm, "tag_ids": [tag["value"]]}
    assert sim.http("POST", base + "/tag-association?~action=attach-multiple-tags-to-object", body, headers=h)[0] == 200
    status, reply = sim.http("POST", base + "/tag-association?~action=detach-multiple-tags-from-object", body, headers=h)
    assert status == 200 and reply["value"]["success"] is True
    _, reply = sim.http("POST", base + "/tag-association?~action=list-attached-objects-on-tags",
                        {"tag_ids": [tag["value"]]}, headers=h)
    assert not reply["value"][0].get("object_ids")


# --- custom attributes (CustomFieldsManager) ------------------------------------

def custom_values(values):
    return [(v.key, v.value) for v in values or []]


def wait_for_updates(pc, version, timeout=5):
    """One WaitForUpdatesEx call; returns (new version, [(obj, kind, {name: val})])."""
    options = vmodl.query.PropertyCollector.WaitOptions(maxWaitSeconds=timeout)
    result = pc.WaitForUpdatesEx(version, options)
    if result is None:
        return version, []
    changes = [(o.obj, o.kind, {c.name: c.val for c in o.changeSet or []})
               for f in result.filterSet for o in f.objectSet]
    return result.version, changes


def field_defs(cfm, *names):
    return [cfm.AddCustomFieldDef(name=n, moType=vim.VirtualMachine) for n in names]


def watch_custom_value(content, vm):
    """A property collector with a filter on vm's customValue, past its first update."""
    pc = content.propertyCollector.CreatePropertyCollector()
    spec = vmodl.query.PropertyCollector.FilterSpec(
        objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=vm)],
        propSet=[vmodl.query.PropertyCollector.PropertySpec(type=vim.VirtualMachine, pathSet=["customValue"])])
    pc.CreateFilter(spec, partialUpdates=False)
    version, changes = wait_for_updates(pc, "")
    assert [(obj, kind) for obj, kind, _ in changes] == [(vm, "enter")]
    return pc, version


def test_set_field_is_reported_to_property_collector_filters(start_sim):
    sim = start_sim("--vms", "1")
    si = sim.connect()
    content = si.RetrieveContent()
    vm = find_vm(si, "DC0_C0_RP0_VM0")
    cfm = content.customFieldsManager
    status, kind = field_defs(cfm, "ray-node-status", "ray-node-type")
    pc, version = watch_custom_value(content, vm)

    cfm.SetField(entity=vm, key=status.key, value="uninitialized")
    version, changes = wait_for_updates(pc, version)
    [(obj, change, props)] = changes
    assert (obj, change) == (vm, "modify")
    assert custom_values(props["customValue"]) == [(status.key, "uninitialized")]

    cfm.SetField(entity=vm, key=status.key, value="up-to-date")
    vm.setCustomValue(key="ray-node-type", value="head")  # the same, through the entity
    expected = [(status.key, "up-to-date"), (kind.key, "head")]
    latest, deadline = None, time.monotonic() + 5
    while latest != expected and time.monotonic() < deadline:
        version, changes = wait_for_updates(pc, version, timeout=1)
        for _, _, props in changes:
            latest = custom_values(props["customValue"])
    assert latest == expected

    # Removing a field definition removes its values, and that is reported too.
    cfm.RemoveCustomFieldDef(key=kind.key)
    version, changes = wait_for_updates(pc, version)
    assert [custom_values(p["customValue"]) for _, _, p in changes][-1] == [(status.key, "up-to-date")]
    pc.Destroy()


def test_set_field_keeps_one_value_per_key(start_sim):
    sim = start_sim("--vms", "1")
    si = sim.connect()
    vm = find_vm(si, "DC0_C0_RP0_VM0")
    cfm = si.RetrieveContent().customFieldsManager
    status, kind, name = field_defs(cfm, "ray-node-status", "ray-node-type", "ray-node-name")

    cfm.SetField(entity=vm, key=status.key, value="uninitialized")
    cfm.SetField(entity=vm, key=kind.key, value="worker")
    cfm.SetField(entity=vm, key=status.key, value="up-to-date")  # govmomi's simulator appends
    vm.setCustomValue(key="ray-node-type", value="head")
    expected = [(status.key, "up-to-date"), (kind.key, "head")]
    assert custom_values(vm.customValue) == expected
    assert custom_values(vm.value) == expected

    cfm.SetField(entity=vm, key=name.key, value="n1")
    cfm.RemoveCustomFieldDef(key=kind.key)
    expected = [(status.key, "up-to-date"), (name.key, "n1")]
    assert custom_values(vm.customValue) == expected
    assert custom_values(vm.value) == expected

    # A missing entity is a fault, not a dropped connection.
    gone = vim.VirtualMachine("vm-does-not-exist", si._stub)
    with pytest.raises(vmodl.fault.ManagedObjectNotFound):
        cfm.SetField(entity=gone, key=status.key, value="x")
    assert custom_values(vm.customValue) == expected


# --- /api content library and OVF deploy ----------------------------------------

MINIMAL_OVF = """<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
    xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
    xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData">
  <References/>
  <VirtualSystem ovf:id="tiny">
    <Info>A tiny VM</Info>
    <Name>tiny</Name>
    <VirtualHardwareSection>
      <Info>Virtual hardware</Info>
      <System><vssd:InstanceID>0</vssd:InstanceID><vssd:VirtualSystemType>vmx-13</vssd:VirtualSystemType></System>
      <Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>1</rasd:VirtualQuantity></Item>
      <Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:InstanceID>2</rasd:InstanceID>
        <rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>64</rasd:VirtualQuantity></Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
"""


def test_api_content_library_upload_and_ovf_deploy(start_sim):
    sim = start_sim("--vms", "1")
    si = sim.connect()
    content = si.RetrieveContent()
    [dc] = content.rootFolder.childEntity
    datastore = dc.datastore[0]._moId
    pool = find_vm(si, "DC0_C0_RP0_VM0").resourcePool._moId
    _, token = sim.http("POST", "/api/session", auth=(USER, PASSWORD))
    h = {"vmware-api-session-id": token}

    def call(method, path, body=None, expect=200, raw=None, headers=None):
        status, reply = sim.http(method, "/api" + path, body, headers=headers or h, raw=raw)
        assert status == expect, (method, path, status, reply)
        return reply

    # Libraries: create, find, list, get (no {"value": ...}, no create_spec).
    assert call("POST", "/content/library?action=find", {"name": "images"}) == []
    lib = call("POST", "/content/local-library", {"name": "images", "type": "LOCAL", "storage_backings": [
        {"type": "DATASTORE", "datastore_id": datastore}]}, expect=201)
    assert isinstance(lib, str)
    assert call("POST", "/content/library?action=find", {"name": "images"}) == [lib]
    assert call("GET", "/content/library") == [lib]
    info = call("GET", f"/content/library/{lib}")
    assert (info["id"], info["name"], info["type"]) == (lib, "images", "LOCAL")
    assert not [k for k in info if k[0].isupper()]  # none of the simulator's own fields
    reply = call("POST", "/content/local-library", {"name": "x", "type": "LOCAL"}, expect=400)
    assert reply["error_type"] == "INVALID_ARGUMENT"

    # Items: create, find, list, get.
    item = call("POST", "/content/library/item", {"library_id": lib, "name": "tiny", "type": "ovf"}, expect=201)
    assert call("POST", "/content/library/item?action=find", {"library_id": lib, "name": "tiny"}) == [item]
    assert call("POST", "/content/library/item?action=find", {"library_id": lib, "name": "absent"}) == []
    assert call("GET", f"/content/library/item?library_id={lib}") == [item]
    got = call("GET", f"/content/library/item/{item}")
    assert (got["id"], got["library_id"], got["name"], got["type"]) == (item, lib, "tiny", "ovf")
    assert call("GET", "/content/library/item/absent-item", expect=404)["error_type"] == "NOT_FOUND"
    reply = call("POST", "/content/library/item", {"library_id": lib, "name": "tiny", "type": "ovf"}, expect=400)
    assert reply["error_type"] == "ALREADY_EXISTS"

    # Deploying before the OVF is there fails in the result, not with an HTTP error.
    target = {"resource_pool_id": pool}
    spec = {"name": "from-ovf", "accept_all_EULA": True, "default_datastore_id": datastore}
    result = call("POST", f"/vcenter/ovf/library-item/{item}?action=deploy",
                  {"target": target, "deployment_spec": spec})
    assert result["succeeded"] is False and result["error"]

    # Upload the OVF through an update session.
    session = call("POST", "/content/library/item/update-session", {"library_item_id": item}, expect=201)
    assert call("GET", f"/content/library/item/update-session/{session}")["state"] == "ACTIVE"
    added = call("POST", f"/content/library/item/updatesession/file/{session}?action=add",
                 {"name": "tiny.ovf", "source_type": "PUSH"})
    uri = added["upload_endpoint"]["uri"]
    assert uri.startswith(sim.base + "/")
    status, _ = sim.http("PUT", uri[len(sim.base):], raw=MINIMAL_OVF.encode(),
                         headers={"vmware-api-session-id": session, "Content-Type": "application/octet-stream"})
    assert status == 200
    # The /rest shape of the body ({"file_spec": ...}) is accepted too.
    call("POST", f"/content/library/item/updatesession/file/{session}?action=add",
         {"file_spec": {"name": "notes.txt", "source_type": "PUSH"}})
    files = call("GET", f"/content/library/item/updatesession/file?update_session_id={session}")
    assert sorted(f["name"] for f in files) == ["notes.txt", "tiny.ovf"]
    call("POST", f"/content/library/item/update-session/{session}?action=complete", expect=204)

    result = call("POST", f"/vcenter/ovf/library-item/{item}?action=deploy",
                  {"target": target, "deployment_spec": spec})
    assert result["succeeded"] is True, result
    assert result["resource_id"]["type"] == "VirtualMachine"
    vm = find_vm(si, "from-ovf")
    assert vm is not None and vm._moId == result["resource_id"]["id"]
    assert call("POST", "/vcenter/ovf/library-item/absent-item?action=deploy",
                {"target": target, "deployment_spec": spec}, expect=404)["error_type"] == "NOT_FOUND"

    stats = sim.stats()["rest"]
    assert stats["POST /api/content/library/item?action=find"] == 2
    assert stats["POST /api/vcenter/ovf/library-item/{id}?action=deploy"] == 3


# --- frozen-VM images, datastore mounts, hosts added at run time -----------------

FROZEN_OVF = MINIMAL_OVF.replace(
    'xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"',
    'xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:vmw="http://www.vmware.com/schema/ovf"').replace(
    "    </VirtualHardwareSection>",
    '      <vmw:ExtraConfig ovf:required="false" vmw:key="vsray.frozen_image" vmw:value="TRUE"/>\n'
    "    </VirtualHardwareSection>")


def upload_and_deploy(sim, si, descriptor, vm_name, host=None):
    """Uploads an OVF into a new library item over /api and deploys it; returns the VM."""
    content = si.RetrieveContent()
    [dc] = content.rootFolder.childEntity
    datastore = dc.datastore[0]._moId
    pool = dc.hostFolder.childEntity[0].resourcePool._moId
    _, token = sim.http("POST", "/api/session", auth=(USER, PASSWORD))
    h = {"vmware-api-session-id": token}

    def call(method, path, body=None, expect=200):
        status, reply = sim.http(method, "/api" + path, body, headers=h)
        assert status == expect, (method, path, status, reply)
        return reply

    lib = call("POST", "/content/local-library", {"name": "lib-" + vm_name, "type": "LOCAL", "storage_backings": [
        {"type": "DATASTORE", "datastore_id": datastore}]}, expect=201)
    item = call("POST", "/content/library/item", {"library_id": lib, "name": "img", "type": "ovf"}, expect=201)
    session = call("POST", "/content/library/item/update-session", {"library_item_id": item}, expect=201)
    added = call("POST", f"/content/library/item/updatesession/file/{session}?action=add",
                 {"name": "img.ovf", "source_type": "PUSH"})
    status, _ = sim.http("PUT", added["upload_endpoint"]["uri"][len(sim.base):], raw=descriptor.encode(),
                         headers={"vmware-api-session-id": session, "Content-Type": "application/octet-stream"})
    assert status == 200
    call("POST", f"/content/library/item/update-session/{session}?action=complete", expect=204)
    target = {"resource_pool_id": pool}
    if host:
        target["host_id"] = host._moId
    result = call("POST", f"/vcenter/ovf/library-item/{item}?action=deploy",
                  {"target": target, "deployment_spec": {"name": vm_name, "accept_all_EULA": True,
                                                         "default_datastore_id": datastore}})
    assert result["succeeded"] is True, result
    return find_vm(si, vm_name)


def extra_config(vm, key):
    return [o.value for o in vm.config.extraConfig if o.key == key]


def test_frozen_image_from_an_ovf_freezes_after_power_on(start_sim):
    sim = start_sim("--vms", "1", "--freeze-delay", "300ms")
    si = sim.connect()
    host = si.RetrieveContent().rootFolder.childEntity[0].hostFolder.childEntity[0].host[1]
    vm = upload_and_deploy(sim, si, FROZEN_OVF, "golden", host=host)
    assert vm.runtime.host == host  # the deploy's host_id is honoured
    assert extra_config(vm, "vsray.frozen_image") == ["TRUE"]  # the OVF's vmw:ExtraConfig
    assert vm.runtime.powerState == "poweredOff" and not vm.runtime.instantCloneFrozen
    wait_task(vm.PowerOnVM_Task())
    assert not vm.runtime.instantCloneFrozen  # not before the delay: the guest is booting
    assert wait_for(lambda: vm.runtime.instantCloneFrozen, timeout=5)

    # Its instant clones resume the frozen guest: they don't carry the marker nor freeze.
    from pyVmomi import vim
    spec = vim.vm.InstantCloneSpec(name="child", location=vim.vm.RelocateSpec())
    info = wait_task(vm.InstantClone_Task(spec=spec))
    assert info.state == "success", info.error
    child = info.result
    assert extra_config(child, "vsray.frozen_image") == []
    time.sleep(0.6)  # past the freeze delay: nothing may happen
    assert not child.runtime.instantCloneFrozen

    # Power-off unfreezes; power-on freezes again.
    wait_task(vm.PowerOffVM_Task())
    assert wait_for(lambda: not vm.runtime.instantCloneFrozen, timeout=5)
    wait_task(vm.PowerOnVM_Task())
    assert wait_for(lambda: vm.runtime.instantCloneFrozen, timeout=5)


def test_ovf_without_the_marker_does_not_freeze(start_sim):
    sim = start_sim("--vms", "1")
    si = sim.connect()
    vm = upload_and_deploy(sim, si, MINIMAL_OVF, "plain")
    wait_task(vm.PowerOnVM_Task())
    time.sleep(0.3)
    assert not vm.runtime.instantCloneFrozen


def test_datastores_list_every_host_and_hosts_can_be_added(start_sim):
    sim = start_sim("--vms", "1", "--hosts", "2")
    si = sim.connect()
    [dc] = si.RetrieveContent().rootFolder.childEntity
    [ds] = dc.datastore
    [cluster] = dc.hostFolder.childEntity
    assert sorted(m.key.name for m in ds.host) == ["DC0_C0_H0", "DC0_C0_H1"]

    added = sim.control("POST", "hosts/add", {"cluster": "DC0_C0"})
    assert added["name"] == "DC0_C0_H2" and added["cluster"] == "DC0_C0"
    named = sim.control("POST", "hosts/add", {"cluster": "DC0_C0", "name": "extra"})
    assert named["name"] == "extra"
    assert sorted(h.name for h in cluster.host) == ["DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2", "extra"]
    new = [h for h in cluster.host if h.name == "DC0_C0_H2"][0]
    assert new.runtime.connectionState == "connected" and not new.runtime.inMaintenanceMode
    assert [d.name for d in new.datastore] == [ds.name]
    assert sorted(m.key.name for m in ds.host) == ["DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2", "extra"]
    status, reply = sim.http("POST", "/vsray/hosts/add", {"cluster": "DC0_C0", "name": "extra"})
    assert status == 400 and "already exists" in reply["error"]
    status, reply = sim.http("POST", "/vsray/hosts/add", {"cluster": "nope"})
    assert status == 400

    # A frozen VM on the new host, instant-cloned there.
    frozen = sim.control("POST", "frozen-vms", {"name": "frozen-new", "host": "DC0_C0_H2"})
    assert frozen["host"] == "DC0_C0_H2"
    vm = find_vm(si, "frozen-new")
    from pyVmomi import vim
    info = wait_task(vm.InstantClone_Task(spec=vim.vm.InstantCloneSpec(name="c", location=vim.vm.RelocateSpec())))
    assert info.state == "success", info.error
    assert info.result.runtime.host.name == "DC0_C0_H2"


def test_host_connection_state_is_settable(start_sim):
    sim = start_sim("--vms", "1", "--hosts", "2")
    si = sim.connect()
    [cluster] = si.RetrieveContent().rootFolder.childEntity[0].hostFolder.childEntity
    host = [h for h in cluster.host if h.name == "DC0_C0_H1"][0]
    sim.control("POST", "hosts/connection", {"host": "DC0_C0_H1", "state": "disconnected"})
    assert host.runtime.connectionState == "disconnected"
    assert host.summary.runtime.connectionState == "disconnected"
    sim.control("POST", "hosts/connection", {"host": "DC0_C0_H1", "state": "connected"})
    assert host.runtime.connectionState == "connected"
    status, _ = sim.http("POST", "/vsray/hosts/connection", {"host": "DC0_C0_H1", "state": "gone"})
    assert status == 400
    status, _ = sim.http("POST", "/vsray/hosts/connection", {"host": "nope", "state": "connected"})
    assert status == 400
