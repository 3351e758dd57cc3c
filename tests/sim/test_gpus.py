"""GPUs in vsray-sim, through pyvmomi: host PCI devices, QueryConfigTarget, and
fixed, dynamic (vSphere 7.0) and vGPU passthrough devices bound at power-on."""

import vsphere7_types  # noqa: F401  (before pyvmomi builds its lazy types)

from pyVmomi import vim, vmodl

from conftest import find_vm, wait_task

A100 = "GA100 [A100 PCIe 40GB]"
T4 = "TU104GL [Tesla T4]"


def hosts_by_name(si):
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.HostSystem], True)
    try:
        return {h.name: h for h in view.view}
    finally:
        view.Destroy()


def cluster(si):
    return si.RetrieveContent().rootFolder.childEntity[0].hostFolder.childEntity[0]


def gpus(host):
    return [d for d in host.hardware.pciDevice if d.classId == 0x0302]


def powered_off(si, *names):
    vms = [find_vm(si, n) for n in names]
    for vm in vms:
        assert wait_task(vm.PowerOffVM_Task()).state == "success"
    return vms


def add_device(vm, backing):
    device = vim.vm.device.VirtualPCIPassthrough(key=-100, backing=backing)
    change = vim.vm.device.VirtualDeviceSpec(operation="add", device=device)
    return wait_task(vm.ReconfigVM_Task(vim.vm.ConfigSpec(deviceChange=[change])))


def passthrough(vm):
    return [d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualPCIPassthrough)]


def fixed_backing(target):
    """A fixed DirectPath backing for a QueryConfigTarget pciPassthrough entry,
    written as common client code does (deviceId in hex)."""
    dev = target.pciDevice
    return vim.vm.device.VirtualPCIPassthrough.DeviceBackingInfo(
        id=dev.id, deviceId=format(dev.deviceId % 2**16, "x"), systemId=target.systemId,
        vendorId=dev.vendorId, deviceName=dev.deviceName)


def dynamic_backing(vendor, device, label=None):
    allowed = vim.vm.device.VirtualPCIPassthrough.AllowedDevice(vendorId=vendor, deviceId=device)
    return vim.vm.device.VirtualPCIPassthrough.DynamicBackingInfo(allowedDevice=[allowed], customLabel=label,
                                                                   deviceName="")


def test_hosts_report_their_gpus_and_config_target_lists_them(start_sim):
    sim = start_sim("--hosts", "2", "--vms", "0", "--gpus-per-host", "2",
                    "--gpu", f"DC0_C0_H1:10de:1eb8:{T4}:vgpu=grid_t4-4c,grid_t4-8c:mem=16",
                    "--gpu", f"DC0_C0_H1:10de:20b5:GA100 [A100 PCIe 80GB]:label=big")
    si = sim.connect()
    hosts = hosts_by_name(si)
    h0, h1 = hosts["DC0_C0_H0"], hosts["DC0_C0_H1"]
    assert [(d.id, d.vendorId, d.deviceId, d.vendorName, d.deviceName) for d in gpus(h0)] == [
        ("0000:3b:00.0", 0x10de, 0x20f1, "NVIDIA Corporation", A100),
        ("0000:3c:00.0", 0x10de, 0x20f1, "NVIDIA Corporation", A100)]
    assert [d.deviceName for d in gpus(h1)] == [A100, A100, T4, "GA100 [A100 PCIe 80GB]"]
    # Passthrough devices are enabled for passthrough; the vGPU one is not.
    info = {i.id: (i.passthruCapable, i.passthruEnabled) for i in h1.config.pciPassthruInfo}
    assert info == {"0000:3b:00.0": (True, True), "0000:3c:00.0": (True, True),
                    "0000:3d:00.0": (True, False), "0000:3e:00.0": (True, True)}
    assert sorted(h1.config.sharedPassthruGpuTypes) == ["grid_t4-4c", "grid_t4-8c"]
    assert not h0.config.sharedPassthruGpuTypes
    [override] = h1.config.assignableHardwareConfig.attributeOverride
    assert (override.instanceId, override.name, override.value) == ("0000:3e:00.0", "customLabel", "big")

    browser = cluster(si).environmentBrowser
    union = browser.QueryConfigTarget()
    assert len(union.pciPassthrough) == 5
    system = {t.systemId for t in union.pciPassthrough if t.pciDevice.id == "0000:3b:00.0"}
    assert len(system) == 2  # each host has a system id of its own
    dynamic = {(d.vendorId, d.deviceId, d.customLabel): d for d in union.dynamicPassthrough}
    assert set(dynamic) == {(0x10de, 0x20f1, None), (0x10de, 0x20b5, "big")}
    assert dynamic[(0x10de, 0x20f1, None)].configurationTag == ["clusterWideConfig"]
    assert not dynamic[(0x10de, 0x20b5, "big")].configurationTag
    assert dynamic[(0x10de, 0x20f1, None)].deviceName == A100
    assert sorted(t.vgpu for t in union.sharedGpuPassthroughTypes) == ["grid_t4-4c", "grid_t4-8c"]

    only_h0 = browser.QueryConfigTarget(host=h0)
    assert [t.pciDevice.id for t in only_h0.pciPassthrough] == ["0000:3b:00.0", "0000:3c:00.0"]
    assert not only_h0.sharedGpuPassthroughTypes
    assert {t.systemId for t in only_h0.pciPassthrough} == {t.systemId for t in browser.QueryConfigTarget(host=h0).pciPassthrough}


def test_fixed_device_conflicts_at_power_on(start_sim):
    sim = start_sim("--hosts", "1", "--vms", "3", "--gpus-per-host", "1")
    si = sim.connect()
    a, b, c = powered_off(si, "DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1", "DC0_C0_RP0_VM2")
    [target] = cluster(si).environmentBrowser.QueryConfigTarget().pciPassthrough
    for vm in (a, b):
        assert add_device(vm, fixed_backing(target)).state == "success"
    [device] = passthrough(a)
    assert device.backing.id == "0000:3b:00.0" and device.backing.systemId == target.systemId

    assert wait_task(a.PowerOnVM_Task()).state == "success"
    info = wait_task(b.PowerOnVM_Task())
    assert info.state == "error" and isinstance(info.error, vim.fault.GenericVmConfigFault)
    assert "0000:3b:00.0 is already in use" in info.error.reason
    assert b.runtime.powerState == "poweredOff"
    [graphics] = a.runtime.host.config.graphicsInfo  # the holder, in config.graphicsInfo
    assert (graphics.pciId, graphics.graphicsType) == ("0000:3b:00.0", "direct")
    assert [vm._moId for vm in graphics.vm] == [a._moId]
    assert wait_task(a.PowerOffVM_Task()).state == "success"
    assert not a.runtime.host.config.graphicsInfo[0].vm
    assert wait_task(b.PowerOnVM_Task()).state == "success"

    # Passthrough devices need the VM off; the device must exist on the host.
    info = add_device(b, fixed_backing(target))
    assert info.state == "error" and isinstance(info.error, vim.fault.DeviceHotPlugNotSupported)
    missing = fixed_backing(target)
    missing.id = "0000:af:00.0"
    info = add_device(c, missing)
    assert info.state == "error" and isinstance(info.error, vim.fault.InvalidDeviceBacking)
    # A backing that names the device but not this host's system fails at power-on.
    foreign = fixed_backing(target)
    foreign.systemId = "00000000-0000-0000-0000-000000000000"
    assert add_device(c, foreign).state == "success"
    info = wait_task(c.PowerOnVM_Task())
    assert info.state == "error" and isinstance(info.error, vim.fault.GenericVmConfigFault)
    assert "systemId does not match" in info.error.reason


def test_dynamic_devices_bind_at_power_on_and_release(start_sim):
    sim = start_sim("--hosts", "1", "--vms", "3", "--gpus-per-host", "2")
    si = sim.connect()
    vms = powered_off(si, "DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1", "DC0_C0_RP0_VM2")
    host = hosts_by_name(si)["DC0_C0_H0"]
    for vm in vms:
        assert add_device(vm, dynamic_backing(0x10de, 0x20f1)).state == "success"
        assert passthrough(vm)[0].backing.assignedId is None

    for vm in vms[:2]:
        assert wait_task(vm.PowerOnVM_Task()).state == "success"
    assigned = [passthrough(vm)[0].backing.assignedId for vm in vms[:2]]
    assert sorted(assigned) == ["0000:3b:00.0", "0000:3c:00.0"]
    bindings = {b.instanceId: b.vm for b in host.config.assignableHardwareBinding}
    assert bindings == {assigned[0]: vms[0], assigned[1]: vms[1]}

    info = wait_task(vms[2].PowerOnVM_Task())
    assert info.state == "error" and isinstance(info.error, vim.fault.InsufficientResourcesFault)
    assert vms[2].runtime.powerState == "poweredOff"

    assert wait_task(vms[0].PowerOffVM_Task()).state == "success"
    assert passthrough(vms[0])[0].backing.assignedId is None
    assert [b.vm for b in host.config.assignableHardwareBinding] == [vms[1]]
    assert wait_task(vms[2].PowerOnVM_Task()).state == "success"
    assert passthrough(vms[2])[0].backing.assignedId == assigned[0]

    # Destroying a VM (powered off first, as vSphere requires) frees its device.
    assert wait_task(vms[2].PowerOffVM_Task()).state == "success"
    assert wait_task(vms[2].Destroy_Task()).state == "success"
    assert [b.vm for b in host.config.assignableHardwareBinding] == [vms[1]]
    assert wait_task(vms[0].PowerOnVM_Task()).state == "success"

    # A label narrows the choice; a dynamic device nothing in the cluster matches is refused.
    vm = powered_off(si, "DC0_C0_RP0_VM1")[0]
    info = add_device(vm, dynamic_backing(0x10de, 0x20f1, label="other"))
    assert info.state == "error" and isinstance(info.error, vim.fault.InvalidDeviceBacking)
    info = add_device(vm, dynamic_backing(0x1002, 0x740f))
    assert info.state == "error" and isinstance(info.error, vim.fault.InvalidDeviceBacking)


def test_bindings_reach_property_collector_filters(start_sim):
    sim = start_sim("--hosts", "1", "--vms", "1", "--gpus-per-host", "1")
    si = sim.connect()
    [vm] = powered_off(si, "DC0_C0_RP0_VM0")
    host = hosts_by_name(si)["DC0_C0_H0"]
    assert add_device(vm, dynamic_backing(0x10de, 0x20f1)).state == "success"
    pc = si.RetrieveContent().propertyCollector.CreatePropertyCollector()
    try:
        spec = vmodl.query.PropertyCollector.FilterSpec(
            objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=host)],
            propSet=[vmodl.query.PropertyCollector.PropertySpec(type=vim.HostSystem, pathSet=["config.assignableHardwareBinding"])])
        pc.CreateFilter(spec, partialUpdates=False)
        options = vmodl.query.PropertyCollector.WaitOptions(maxWaitSeconds=5)
        first = pc.WaitForUpdatesEx("", options)
        assert wait_task(vm.PowerOnVM_Task()).state == "success"
        update = pc.WaitForUpdatesEx(first.version, options)
        assert update is not None, "no update after the power-on"
        [change] = update.filterSet[0].objectSet[0].changeSet
        assert [b.vm for b in change.val] == [vm]
    finally:
        pc.Destroy()


def test_vgpu_profiles_share_a_gpu_by_frame_buffer(start_sim):
    sim = start_sim("--hosts", "1", "--vms", "4",
                    "--gpu", f"*:10de:1eb8:{T4}:vgpu=grid_t4-4c,grid_t4-8c:mem=8")
    si = sim.connect()
    vms = powered_off(si, *[f"DC0_C0_RP0_VM{i}" for i in range(4)])
    vgpu = lambda p: vim.vm.device.VirtualPCIPassthrough.VmiopBackingInfo(vgpu=p)  # noqa: E731

    info = add_device(vms[0], vgpu("grid_t4-16q"))
    assert info.state == "error" and isinstance(info.error, vim.fault.InvalidDeviceBacking)
    for vm in vms[:3]:
        assert add_device(vm, vgpu("grid_t4-4c")).state == "success"
    assert add_device(vms[3], vgpu("grid_t4-8c")).state == "success"

    # 8 GB hold two 4 GB vGPUs, not a third.
    assert wait_task(vms[0].PowerOnVM_Task()).state == "success"
    assert wait_task(vms[1].PowerOnVM_Task()).state == "success"
    info = wait_task(vms[2].PowerOnVM_Task())
    assert info.state == "error" and isinstance(info.error, vim.fault.InsufficientGraphicsResourcesFault)
    # A GPU runs one profile at a time: no 8c while a 4c runs.
    assert wait_task(vms[1].PowerOffVM_Task()).state == "success"
    info = wait_task(vms[3].PowerOnVM_Task())
    assert info.state == "error" and isinstance(info.error, vim.fault.InsufficientGraphicsResourcesFault)
    assert wait_task(vms[0].PowerOffVM_Task()).state == "success"
    assert wait_task(vms[3].PowerOnVM_Task()).state == "success"
    # config.graphicsInfo: the GPU in vGPU mode, its frame buffer and who runs on it.
    [graphics] = vms[3].runtime.host.config.graphicsInfo
    assert (graphics.pciId, graphics.graphicsType, graphics.memorySizeInKB) == (
        "0000:3b:00.0", "sharedDirect", 8 * 1024 * 1024)
    assert [vm._moId for vm in graphics.vm] == [vms[3]._moId]
    [status] = sim.control("GET", "gpus")
    assert status["mode"] == "vgpu" and status["vgpus"] == {vms[3]._moId: "grid_t4-8c"}


def test_gpus_added_and_removed_at_run_time(start_sim):
    sim = start_sim("--hosts", "2", "--vms", "1")
    si = sim.connect()
    vm = find_vm(si, "DC0_C0_RP0_VM0")
    name = vm.runtime.host.name
    reply = sim.control("POST", "gpus", {"spec": f"{name}:10de:20f1:{A100}:x2:label=ray"})
    assert reply["added"] == [{"host": name, "id": "0000:3b:00.0"}, {"host": name, "id": "0000:3c:00.0"}]
    assert [d.id for d in gpus(hosts_by_name(si)[name])] == ["0000:3b:00.0", "0000:3c:00.0"]
    other = ({"DC0_C0_H0", "DC0_C0_H1"} - {name}).pop()
    assert not gpus(hosts_by_name(si)[other])
    assert sim.http("POST", "/vsray/gpus", {"spec": "nohost:10de:20f1:x"})[0] == 400
    assert sim.http("POST", "/vsray/gpus", {"spec": "*:10de"})[0] == 400

    # A device in use stays; a free one goes.
    assert wait_task(vm.PowerOffVM_Task()).state == "success"
    assert add_device(vm, dynamic_backing(0x10de, 0x20f1, label="ray")).state == "success"
    assert wait_task(vm.PowerOnVM_Task()).state == "success"
    used = passthrough(vm)[0].backing.assignedId
    status, reply = sim.http("POST", "/vsray/gpus/remove", {"host": name, "id": used})
    assert status == 409, reply
    free = ({"0000:3b:00.0", "0000:3c:00.0"} - {used}).pop()
    assert sim.http("POST", "/vsray/gpus/remove", {"host": name, "id": free})[0] == 204
    assert sim.http("POST", "/vsray/gpus/remove", {"host": name, "id": free})[0] == 404
    assert [d.id for d in gpus(hosts_by_name(si)[name])] == [used]
    assert [(g["id"], g["used_by"], g["binding"]) for g in sim.control("GET", "gpus")] == [(used, vm._moId, "dynamic")]
