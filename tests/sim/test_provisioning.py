"""vCenter's per-host limit of concurrent provisioning operations, in vsray-sim.

Beyond --host-provisioning-limit, a clone's task reads queued until a slot of its host
frees, then running for its --task-duration, then its result. The checks are on
orders and states (observed through a property collector and the server's counters),
never on wall-clock bounds.
"""

import threading

import pytest
from pyVim.task import WaitForTask
from pyVmomi import vim, vmodl

from conftest import find_vm, wait_for, wait_task

PC = vmodl.query.PropertyCollector


def clone_spec(name):
    return vim.vm.InstantCloneSpec(name=name, location=vim.vm.RelocateSpec())


def start_clones(sim, names):
    """Starts one instant clone of "frozen" per name, all at once, each from a session
    of its own; returns their tasks (in the order of names)."""
    tasks = [None] * len(names)
    sessions = [sim.connect() for _ in names]
    barrier = threading.Barrier(len(names))

    def clone(i):
        frozen = find_vm(sessions[i], "frozen")
        barrier.wait()
        tasks[i] = frozen.InstantClone_Task(clone_spec(names[i]))

    threads = [threading.Thread(target=clone, args=(i,)) for i in range(len(names))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert all(tasks)
    return tasks


def watch_states(si, tasks):
    """Follows info.state of tasks through a property collector until all end;
    returns the sequence of (task id, state) changes seen."""
    pc = si.content.propertyCollector.CreatePropertyCollector()
    pc.CreateFilter(PC.FilterSpec(objectSet=[PC.ObjectSpec(obj=vim.Task(t._moId, si._stub)) for t in tasks],
                                  propSet=[PC.PropertySpec(type=vim.Task, pathSet=["info.state"])]),
                    partialUpdates=True)
    events, state, version = [], {}, ""
    while len(state) < len(tasks) or any(s not in ("success", "error") for s in state.values()):
        update = pc.WaitForUpdatesEx(version, PC.WaitOptions(maxWaitSeconds=10))
        assert update is not None, f"tasks stuck: {state}"
        version = update.version
        for fs in update.filterSet:
            for obj in fs.objectSet:
                for change in obj.changeSet:
                    state[obj.obj._moId] = change.val
                    events.append((obj.obj._moId, change.val))
    pc.Destroy()
    return events


def test_clones_beyond_the_host_limit_queue_and_run_in_waves(start_sim):
    sim = start_sim("--hosts", "2", "--vms", "0", "--frozen-vm", "frozen@DC0_C0_H0",
                    "--host-provisioning-limit", "2", "--task-duration", "InstantClone_Task=300ms")
    si = sim.connect()
    tasks = start_clones(sim, [f"wave-{i}" for i in range(6)])
    first = sorted(t.info.state for t in tasks)
    # Two are admitted (running, or done already on a slow machine), four wait.
    assert first.count("queued") == 4, first

    events = watch_states(si, tasks)
    running, most = set(), 0
    for task, state in events:
        if state == "running":
            running.add(task)
        else:
            running.discard(task)
        most = max(most, len(running))
    assert most <= 2, events

    infos = [wait_task(t) for t in tasks]
    assert [i.state for i in infos] == ["success"] * 6, [i.error for i in infos]
    assert all(i.name.info.wsdlName == "InstantClone_Task" and i.startTime and i.completeTime for i in infos)
    # Three waves: at each task's start, at most one other task runs.
    for a in infos:
        others = [b for b in infos if b.key != a.key and b.startTime <= a.startTime < b.completeTime]
        assert len(others) <= 1, (a.key, [b.key for b in others])
    clones = [find_vm(si, f"wave-{i}") for i in range(6)]
    assert all(c and c.runtime.host.name == "DC0_C0_H0" and c.runtime.powerState == "poweredOn" for c in clones)
    host = sim.stats()["provisioning"]["hosts"]["DC0_C0_H0"]
    assert host == {"running": 0, "queued": 0, "max_running": 2, "max_queued": 4, "started": 6}
    assert sim.stats()["provisioning"]["limit"] == 2


def test_a_queued_clone_does_its_work_when_its_turn_comes(start_sim):
    sim = start_sim("--vms", "1", "--frozen-vm", "frozen@DC0_C0_H0", "--host-provisioning-limit", "1")
    si = sim.connect()
    sim.control("POST", "task-durations", {"method": "InstantClone_Task", "duration": "1h"})
    frozen = find_vm(si, "frozen")
    first = frozen.InstantClone_Task(clone_spec("first"))
    second = frozen.InstantClone_Task(clone_spec("second"))
    assert first.info.state == "running" and second.info.state == "queued"
    assert find_vm(si, "first") is not None and find_vm(si, "second") is None
    # Other methods are not provisioning operations: never queued.
    vm = find_vm(si, "DC0_C0_RP0_VM0")
    WaitForTask(vm.PowerOffVM_Task())
    # A CloneVM_Task from the same host queues too.
    clone = frozen.CloneVM_Task(folder=frozen.parent, name="full", spec=vim.vm.CloneSpec(location=vim.vm.RelocateSpec()))
    assert clone.info.state == "queued"
    # Raising the limit at run time starts the queued ones.
    sim.control("POST", "task-durations", {"method": "InstantClone_Task", "duration": "0s"})
    sim.control("POST", "provisioning-limit", {"limit": 0})
    assert wait_task(second).state == "success"
    assert wait_task(clone).state == "success"
    assert find_vm(si, "second").runtime.powerState == "poweredOn"
    assert first.info.state == "running"  # still within its hour
    status, reply = sim.http("POST", "/vsray/provisioning-limit", {"limit": -1})
    assert status == 400 and "limit" in reply["error"]
    # Without a session nothing is queued, even on a full host: NotAuthenticated.
    sim.control("POST", "provisioning-limit", {"limit": 1})
    sim.control("POST", "sessions/expire")
    with pytest.raises(vim.fault.NotAuthenticated):
        frozen.InstantClone_Task(clone_spec("no-session"))
    assert sim.stats()["provisioning"]["hosts"]["DC0_C0_H0"]["queued"] == 0
