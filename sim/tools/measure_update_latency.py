#!/usr/bin/python3
"""Measures how soon vsray-sim's WaitForUpdatesEx delivers a change to a waiting client.

usage: measure_update_latency.py PATH/TO/vsray-sim [TRIALS]   (default 50)

Two figures, each over TRIALS rounds, printed as a distribution (milliseconds):
  set-field   a client waits on a VM's customValue; another session calls SetField;
              time from sending SetField to the waiting call returning with the change.
  task-wait   a client starts PowerOffVM_Task / PowerOnVM_Task (held running 100 ms by
              --task-duration) and waits on the task's info.state through a property
              collector; time from the call's answer to seeing the end, minus the 100 ms.
Uses Debian's pyvmomi (/usr/bin/python3), over HTTPS verified against the ready line's CA.
"""
import json
import random
import ssl
import statistics
import subprocess
import sys
import threading
import time

from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim, vmodl

TASK_MS = 100


def start(binary):
    proc = subprocess.Popen([binary, "--vms", "1", "--task-duration", f"PowerOffVM_Task={TASK_MS}ms",
                             "--task-duration", f"PowerOnVM_Task={TASK_MS}ms"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return proc, json.loads(proc.stdout.readline())


def connect(ready):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=ready["ca_file"])
    return SmartConnect(host="127.0.0.1", port=ready["port"], user="user", pwd="pass", sslContext=ctx)


def first_vm(si):
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    try:
        return view.view[0]
    finally:
        view.Destroy()


def watch(si, obj, path):
    """A new collector with one filter on obj.path; returns (collector, version)."""
    pc = si.content.propertyCollector.CreatePropertyCollector()
    spec = vmodl.query.PropertyCollector.FilterSpec(
        objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=obj)],
        propSet=[vmodl.query.PropertyCollector.PropertySpec(type=type(obj), pathSet=[path])])
    pc.CreateFilter(spec, partialUpdates=True)
    first = pc.WaitForUpdatesEx("", vmodl.query.PropertyCollector.WaitOptions(maxWaitSeconds=0))
    return pc, first.version


def wait(pc, version, seconds=10):
    return pc.WaitForUpdatesEx(version, vmodl.query.PropertyCollector.WaitOptions(maxWaitSeconds=seconds))


def measure_set_field(waiter, changer, trials):
    vm = first_vm(waiter)
    fields = changer.content.customFieldsManager
    key = fields.AddCustomFieldDef(name="latency", moType=vim.VirtualMachine).key
    target = vim.VirtualMachine(vm._moId, changer._stub)
    pc, version = watch(waiter, vm, "customValue")
    out = []
    for i in range(trials):
        result = {}

        def wait_once():
            result["set"] = wait(pc, version)
            result["at"] = time.monotonic()

        t = threading.Thread(target=wait_once)
        t.start()
        time.sleep(random.uniform(0.05, 0.3))  # let the wait start; spread over the old 250 ms tick
        began = time.monotonic()
        fields.SetField(entity=target, key=key, value=f"v{i}")
        t.join()
        assert result["set"] is not None, "no update"
        version = result["set"].version
        out.append((result["at"] - began) * 1000)
    return out


def measure_task_wait(si, trials):
    vm = first_vm(si)
    out = []
    for i in range(trials):
        task = vm.PowerOffVM_Task() if i % 2 == 0 else vm.PowerOnVM_Task()
        began = time.monotonic()
        pc, version = watch(si, task, "info.state")
        state = task.info.state
        while state not in ("success", "error"):
            update = wait(pc, version)
            version = update.version
            for fs in update.filterSet:
                for obj in fs.objectSet:
                    for change in obj.changeSet:
                        state = change.val
        out.append((time.monotonic() - began) * 1000 - TASK_MS)
        pc.Destroy()
    return out


def show(name, ms):
    ms = sorted(ms)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    print(f"{name:>10} n={len(ms):<4} min {ms[0]:7.1f}  p50 {statistics.median(ms):7.1f}  p90 {q[89]:7.1f}"
          f"  p99 {q[98]:7.1f}  max {ms[-1]:7.1f}  mean {statistics.mean(ms):7.1f} ms"
          f"  (<50 ms: {sum(1 for m in ms if m < 50)}/{len(ms)})")


def main():
    binary = sys.argv[1]
    trials = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    proc, ready = start(binary)
    try:
        waiter, changer = connect(ready), connect(ready)
        show("set-field", measure_set_field(waiter, changer, trials))
        show("task-wait", measure_task_wait(waiter, trials))
        Disconnect(waiter)
        Disconnect(changer)
    finally:
        proc.terminate()
        proc.wait(30)


if __name__ == "__main__":
    main()
