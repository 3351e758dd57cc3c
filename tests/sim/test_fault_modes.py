"""Fault kinds for reliability tests: lost, hang, hold and hold-answer.

lost: the call is done, the answer never comes. hang: nothing is done, no answer ever.
hold: the call waits before it is done until released through /vsray/holds/release.
hold-answer: the call is done, its answer waits until released. Tests never sleep:
they wait until the held call is listed, act, then release.
"""

import http.client
import signal
import socket
import subprocess
import sys
import threading

import pytest
from pyVmomi import vim

from conftest import PASSWORD, USER, find_vm, wait_for, wait_task

CONNECTION_LOST = (http.client.HTTPException, ConnectionError, OSError)


def clone_spec(name):
    return vim.vm.InstantCloneSpec(name=name, location=vim.vm.RelocateSpec())


def field_value(vm, key):
    return next((v.value for v in vm.customValue if v.key == key), None)


def method_name(info):
    """The vim method of a task (pyvmomi reads info.name as the method itself)."""
    return getattr(getattr(info.name, "info", None), "wsdlName", None)


def holds(sim):
    return sim.control("GET", "holds")


def test_lost_instant_clone_creates_the_vm(start_sim):
    sim = start_sim("--vms", "0", "--frozen-vm", "frozen", "--fault", "InstantClone_Task:1:lost")
    si = sim.connect()
    with pytest.raises(CONNECTION_LOST):
        find_vm(si, "frozen").InstantClone_Task(clone_spec("lost-clone"))
    clone = find_vm(sim.connect(), "lost-clone")
    assert clone is not None and clone.runtime.powerState == "poweredOn"
    assert sim.control("GET", "faults")[0]["fired"] == 1


def test_lost_set_field_and_task_are_done(start_sim):
    sim = start_sim("--vms", "1", "--fault", "SetField:1:lost", "--fault", "PowerOffVM_Task:1:lost",
                    "--task-duration", "PowerOffVM_Task=200ms")
    si = sim.connect()
    vm = find_vm(si, "DC0_C0_RP0_VM0")
    fields = si.content.customFieldsManager
    key = fields.AddCustomFieldDef(name="lost", moType=vim.VirtualMachine).key
    with pytest.raises(CONNECTION_LOST):
        fields.SetField(entity=vm, key=key, value="set")
    assert field_value(vm, key) == "set"
    with pytest.raises(CONNECTION_LOST):
        vm.PowerOffVM_Task()
    # The task was started and runs to its end.
    assert wait_for(lambda: vm.runtime.powerState == "poweredOff", timeout=10)
    [task] = [t for t in si.content.taskManager.recentTask
              if t.info.entity == vm and method_name(t.info) == "PowerOffVM_Task"]
    assert wait_task(task).state == "success"


def test_lost_rest_call_is_done(start_sim):
    sim = start_sim("--vms", "0")
    status, token = sim.http("POST", "/api/session", auth=(USER, PASSWORD))
    assert status == 201
    session = {"vmware-api-session-id": token}
    sim.control("POST", "faults", {"spec": "POST /api/cis/tagging/category:1:lost"})
    with pytest.raises(CONNECTION_LOST):
        sim.http("POST", "/api/cis/tagging/category", {
            "name": "ray", "cardinality": "MULTIPLE", "associable_types": []}, headers=session)
    status, ids = sim.http("GET", "/api/cis/tagging/category", headers=session)
    assert status == 200 and len(ids) == 1


def test_hang_never_answers_and_does_nothing(start_sim):
    sim = start_sim("--vms", "1", "--fault", "SetField:1:hang")
    si = sim.connect()
    vm = find_vm(si, "DC0_C0_RP0_VM0")
    fields = si.content.customFieldsManager
    key = fields.AddCustomFieldDef(name="hung", moType=vim.VirtualMachine).key
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(1.0)  # the client gives up after a second
    try:
        impatient = sim.connect()
        with pytest.raises(socket.timeout):
            impatient.content.customFieldsManager.SetField(entity=vim.VirtualMachine(vm._moId, impatient._stub),
                                                           key=key, value="never")
    finally:
        socket.setdefaulttimeout(previous)
    assert field_value(vm, key) is None
    assert holds(sim) == []
    fields.SetField(entity=vm, key=key, value="later")  # only the 1st call hangs
    assert field_value(vm, key) == "later"


def test_hold_blocks_until_released(start_sim):
    sim = start_sim("--vms", "1", "--fault", "SetField:2:hold")
    si = sim.connect()
    vm = find_vm(si, "DC0_C0_RP0_VM0")
    fields = si.content.customFieldsManager
    key = fields.AddCustomFieldDef(name="held", moType=vim.VirtualMachine).key
    fields.SetField(entity=vm, key=key, value="first")
    outcome = []
    thread = threading.Thread(target=lambda: outcome.append(fields.SetField(entity=vm, key=key, value="second")))
    thread.start()
    [held] = wait_for(lambda: holds(sim), timeout=10)
    assert held["method"] == "SetField" and held["stage"] == "before" and held["client_gone"] is False
    assert held["since"] and held["id"] >= 1
    other = sim.connect()
    assert field_value(find_vm(other, "DC0_C0_RP0_VM0"), key) == "first"
    assert sim.control("POST", "holds/release", {"id": held["id"]}) == {"released": 1}
    thread.join(10)
    assert outcome == [None]
    assert field_value(vm, key) == "second"
    assert holds(sim) == []
    status, reply = sim.http("POST", "/vsray/holds/release", {"id": 99})
    assert status == 404 and "99" in reply["error"]


CLIENT = """
import ssl, sys
from pyVim.connect import SmartConnect
from pyVmomi import vim
port, ca, key = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(cafile=ca)
si = SmartConnect(host="127.0.0.1", port=port, user="user", pwd="pass", sslContext=ctx)
vm = si.content.searchIndex.FindByInventoryPath("DC0/vm/DC0_C0_RP0_VM0")
for value in ("one", "two"):
    si.content.customFieldsManager.SetField(entity=vm, key=key, value=value)
"""


@pytest.mark.parametrize("drop", [False, True])
def test_a_client_killed_while_held(start_sim, drop):
    """Stop a client at the 2nd SetField, kill it, then release (or drop) the call."""
    sim = start_sim("--vms", "1", "--fault", "SetField:2:hold")
    si = sim.connect()
    vm = find_vm(si, "DC0_C0_RP0_VM0")
    key = si.content.customFieldsManager.AddCustomFieldDef(name="killed", moType=vim.VirtualMachine).key
    client = subprocess.Popen([sys.executable, "-c", CLIENT, str(sim.port), sim.ca_file, str(key)])
    try:
        [held] = wait_for(lambda: holds(sim), timeout=20)
        assert field_value(vm, key) == "one"
        client.send_signal(signal.SIGKILL)
        client.wait(10)
        assert wait_for(lambda: holds(sim)[0]["client_gone"], timeout=10)
        reply = sim.control("POST", "holds/release", {"id": held["id"], "drop": drop})
        assert reply == {"released": 1}
        # A released call is done even though its client is gone; a dropped one is not.
        assert field_value(vm, key) == ("one" if drop else "two")
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()


def test_hold_answer_does_the_call_first(start_sim):
    sim = start_sim("--vms", "0", "--frozen-vm", "frozen", "--fault", "InstantClone_Task:1:hold-answer")
    si = sim.connect()
    frozen = find_vm(si, "frozen")
    tasks = []
    thread = threading.Thread(target=lambda: tasks.append(frozen.InstantClone_Task(clone_spec("held"))))
    thread.start()
    [held] = wait_for(lambda: holds(sim), timeout=10)
    assert held["stage"] == "answer" and held["method"] == "InstantClone_Task"
    assert find_vm(sim.connect(), "held") is not None  # vCenter has acted
    assert not tasks
    assert sim.control("POST", "holds/release", {}) == {"released": 1}
    thread.join(10)
    assert wait_task(tasks[0]).state == "success"


def test_sigterm_with_a_held_call_exits_promptly(start_sim):
    sim = start_sim("--vms", "0", "--fault", "CurrentTime:1:hold", "--fault", "/api/session:1:hang")
    si = sim.connect()
    outcome = []

    def call(f):
        try:
            outcome.append(f())
        except Exception as err:
            outcome.append(err)

    threads = [threading.Thread(target=call, args=(si.CurrentTime,), daemon=True),
               threading.Thread(target=call, args=(lambda: sim.http("POST", "/api/session", auth=(USER, PASSWORD)),),
                                daemon=True)]
    for t in threads:
        t.start()
    assert wait_for(lambda: holds(sim), timeout=10)
    assert wait_for(lambda: sim.stats()["rest"].get("POST /api/session"), timeout=10)
    assert sim.stop(timeout=10) == 0  # killed (not 0) if it does not exit within 10 s
    for t in threads:
        t.join(10)
    assert len(outcome) == 2 and all(isinstance(o, CONNECTION_LOST) for o in outcome), outcome
