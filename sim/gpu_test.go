package main

import (
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

func TestParseGPUSpec(t *testing.T) {
	s, err := parseGPUSpec("DC0_C0_H*:10de:0x1EB8:TU104GL [Tesla T4]:x3:vgpu=grid_t4-4c,grid_t4-16c:label=ray:dynamic")
	if err != nil {
		t.Fatal(err)
	}
	if s.hosts != "DC0_C0_H*" || s.vendorID != 0x10de || s.deviceID != 0x1eb8 || s.name != "TU104GL [Tesla T4]" ||
		s.count != 3 || len(s.profiles) != 2 || s.memGB != 16 || s.label != "ray" || s.vendorName != "NVIDIA Corporation" {
		t.Errorf("spec = %+v", s)
	}
	if !s.matchesHost("DC0_C0_H2") || s.matchesHost("DC0_C1_H0") {
		t.Error("host pattern")
	}
	for _, bad := range []string{
		"*:10de:20f1", "*:zz:20f1:A", "*:10de:20f1:", "*:10de:20f1:A:x0", "*:10de:20f1:A:bogus",
		"*:10de:20f1:A:vgpu=nosize", "*:10de:20f1:A:vgpu=grid-8c:mem=4", "[:10de:20f1:A",
	} {
		if _, err := parseGPUSpec(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for profile, want := range map[string]int{"grid_a100-4c": 4, "grid_a100-3-20c": 20, "grid_t4-16q": 16} {
		if got, ok := profileSizeGB(profile); !ok || got != want {
			t.Errorf("size of %s = %d", profile, got)
		}
	}
	if !deviceIDMatches("20f1", 0x20f1) || !deviceIDMatches("8433", 0x20f1) || deviceIDMatches("1234", 0x20f1) {
		t.Error("deviceId forms")
	}
	if !deviceIDMatches("-32768", -32768) || !deviceIDMatches("8000", -32768) {
		t.Error("deviceId of a device id above 0x7fff")
	}
}

// gpuVMs powers off the model's VMs (they run) and returns them.
func gpuVMs(t *testing.T, c *vim25.Client, names ...string) []*object.VirtualMachine {
	var vms []*object.VirtualMachine
	for _, n := range names {
		vm := findVM(t, c, n)
		tk, err := vm.PowerOff(testCtx(t))
		if f := taskFault(t, tk, err); f != nil {
			t.Fatalf("power off %s: %s", n, faultKind(f))
		}
		vms = append(vms, vm)
	}
	return vms
}

func addPassthrough(t *testing.T, vm *object.VirtualMachine, backing types.BaseVirtualDeviceBackingInfo) types.BaseMethodFault {
	spec := types.VirtualMachineConfigSpec{DeviceChange: []types.BaseVirtualDeviceConfigSpec{
		&types.VirtualDeviceConfigSpec{
			Operation: types.VirtualDeviceConfigSpecOperationAdd,
			Device:    &types.VirtualPCIPassthrough{VirtualDevice: types.VirtualDevice{Key: -100, Backing: backing}},
		},
	}}
	tk, err := vm.Reconfigure(testCtx(t), spec)
	return taskFault(t, tk, err)
}

func powerOn(t *testing.T, vm *object.VirtualMachine) types.BaseMethodFault {
	tk, err := vm.PowerOn(testCtx(t))
	return taskFault(t, tk, err)
}

func powerOff(t *testing.T, vm *object.VirtualMachine) {
	tk, err := vm.PowerOff(testCtx(t))
	if f := taskFault(t, tk, err); f != nil {
		t.Fatalf("power off: %s", faultKind(f))
	}
}

func hostConfig(t *testing.T, c *vim25.Client, host types.ManagedObjectReference) mo.HostSystem {
	var h mo.HostSystem
	if err := property.DefaultCollector(c).RetrieveOne(testCtx(t), host, []string{"name", "config", "hardware.pciDevice"}, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

func vmPassthrough(t *testing.T, c *vim25.Client, vm *object.VirtualMachine) []*types.VirtualPCIPassthrough {
	var m mo.VirtualMachine
	if err := property.DefaultCollector(c).RetrieveOne(testCtx(t), vm.Reference(), []string{"config.hardware.device"}, &m); err != nil {
		t.Fatal(err)
	}
	return passthroughDevices(m.Config.Hardware.Device)
}

func TestGPUFixedPassthrough(t *testing.T) {
	s := startSim(t, "--hosts", "1", "--vms", "2", "--gpu", "*:10de:20f1:GA100 [A100 PCIe 40GB]:x1")
	c := connect(t, s, "user", "pass")
	vms := gpuVMs(t, c, "/DC0/vm/DC0_C0_RP0_VM0", "/DC0/vm/DC0_C0_RP0_VM1")
	host := *vmState(vms[0].Reference()).host
	h := hostConfig(t, c, host)
	var gpu types.HostPciDevice
	for _, d := range h.Hardware.PciDevice {
		if d.Id == "0000:3b:00.0" {
			gpu = d
		}
	}
	if gpu.VendorId != 0x10de || gpu.DeviceId != 0x20f1 || gpu.ClassId != 0x0302 {
		t.Fatalf("pciDevice = %+v", gpu)
	}
	if info := h.Config.PciPassthruInfo; len(info) != 1 || !info[0].GetHostPciPassthruInfo().PassthruEnabled {
		t.Fatalf("pciPassthruInfo = %+v", info)
	}
	backing := &types.VirtualPCIPassthroughDeviceBackingInfo{Id: gpu.Id, DeviceId: "20f1", SystemId: hostSystemID(host), VendorId: gpu.VendorId}
	for _, vm := range vms {
		if f := addPassthrough(t, vm, backing); f != nil {
			t.Fatalf("reconfigure: %s", faultKind(f))
		}
	}
	if f := powerOn(t, vms[0]); f != nil {
		t.Fatalf("first power-on: %s", faultKind(f))
	}
	f := powerOn(t, vms[1])
	if faultKind(f) != "GenericVmConfigFault" {
		t.Fatalf("second power-on: %v", faultKind(f))
	}
	if st := vmState(vms[1].Reference()); st.poweredOn {
		t.Fatal("the refused VM runs")
	}
	powerOff(t, vms[0])
	if f := powerOn(t, vms[1]); f != nil {
		t.Fatalf("power-on after the holder stopped: %s", faultKind(f))
	}

	// Hot-add is refused, and so is a device the host lacks.
	if f := addPassthrough(t, vms[1], backing); faultKind(f) != "DeviceHotPlugNotSupported" {
		t.Errorf("hot-add: %s", faultKind(f))
	}
	bad := *backing
	bad.Id = "0000:5e:00.0"
	if f := addPassthrough(t, vms[0], &bad); faultKind(f) != "InvalidDeviceBacking" {
		t.Errorf("unknown device: %s", faultKind(f))
	}
	// A backing naming another system fails at power-on, as ESX does.
	wrong := *backing
	wrong.SystemId = "not-this-host"
	powerOff(t, vms[1])
	tk, err := vms[0].Reconfigure(testCtx(t), types.VirtualMachineConfigSpec{DeviceChange: []types.BaseVirtualDeviceConfigSpec{
		&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationEdit,
			Device: &types.VirtualPCIPassthrough{VirtualDevice: types.VirtualDevice{Key: vmPassthrough(t, c, vms[0])[0].Key, Backing: &wrong,
				DeviceInfo: &types.Description{Label: "PCI device 0", Summary: "edited"}}}},
	}})
	if f := taskFault(t, tk, err); f != nil {
		t.Fatalf("edit: %s", faultKind(f))
	}
	if f := powerOn(t, vms[0]); faultKind(f) != "GenericVmConfigFault" {
		t.Errorf("mismatched system id: %s", faultKind(f))
	}
}

func TestGPUDynamicAndVGPU(t *testing.T) {
	s := startSim(t, "--hosts", "1", "--vms", "4",
		"--gpu", "*:10de:20f1:GA100 [A100 PCIe 40GB]:x2:label=ray",
		"--gpu", "*:10de:1eb8:TU104GL [Tesla T4]:vgpu=grid_t4-4c,grid_t4-8c:mem=8")
	c := connect(t, s, "user", "pass")
	vms := gpuVMs(t, c, "/DC0/vm/DC0_C0_RP0_VM0", "/DC0/vm/DC0_C0_RP0_VM1", "/DC0/vm/DC0_C0_RP0_VM2", "/DC0/vm/DC0_C0_RP0_VM3")
	dynamic := &types.VirtualPCIPassthroughDynamicBackingInfo{
		AllowedDevice: []types.VirtualPCIPassthroughAllowedDevice{{VendorId: 0x10de, DeviceId: 0x20f1}},
		CustomLabel:   "ray",
	}
	for _, vm := range vms[:3] {
		if f := addPassthrough(t, vm, dynamic); f != nil {
			t.Fatalf("reconfigure: %s", faultKind(f))
		}
	}
	for _, vm := range vms[:2] {
		if f := powerOn(t, vm); f != nil {
			t.Fatalf("power-on: %s", faultKind(f))
		}
	}
	if f := powerOn(t, vms[2]); faultKind(f) != "InsufficientResourcesFault" {
		t.Fatalf("third dynamic power-on: %s", faultKind(f))
	}
	host := *vmState(vms[0].Reference()).host
	assigned := vmPassthrough(t, c, vms[0])[0].Backing.(*types.VirtualPCIPassthroughDynamicBackingInfo).AssignedId
	bindings := hostConfig(t, c, host).Config.AssignableHardwareBinding
	if assigned == "" || len(bindings) != 2 {
		t.Fatalf("assignedId %q, bindings %+v", assigned, bindings)
	}
	powerOff(t, vms[0])
	if id := vmPassthrough(t, c, vms[0])[0].Backing.(*types.VirtualPCIPassthroughDynamicBackingInfo).AssignedId; id != "" {
		t.Errorf("assignedId after power-off: %q", id)
	}
	if f := powerOn(t, vms[2]); f != nil {
		t.Fatalf("power-on after a release: %s", faultKind(f))
	}
	powerOff(t, vms[2])
	tk, err := vms[2].Destroy(testCtx(t))
	if f := taskFault(t, tk, err); f != nil {
		t.Fatalf("destroy: %s", faultKind(f))
	}
	if n := len(hostConfig(t, c, host).Config.AssignableHardwareBinding); n != 1 {
		t.Errorf("bindings after destroy: %d", n)
	}

	// vGPU: an 8 GB T4 holds two grid_t4-4c, not a third, and not a mix.
	vgpu := func(p string) *types.VirtualPCIPassthroughVmiopBackingInfo {
		return &types.VirtualPCIPassthroughVmiopBackingInfo{Vgpu: p}
	}
	if f := addPassthrough(t, vms[3], vgpu("grid_t4-2q")); faultKind(f) != "InvalidDeviceBacking" {
		t.Errorf("unknown profile: %s", faultKind(f))
	}
	if f := addPassthrough(t, vms[3], vgpu("grid_t4-4c")); f != nil {
		t.Fatal(faultKind(f))
	}
	if f := addPassthrough(t, vms[3], vgpu("grid_t4-4c")); f != nil {
		t.Fatal(faultKind(f))
	}
	if f := powerOn(t, vms[3]); f != nil {
		t.Fatalf("two vGPUs: %s", faultKind(f))
	}
	powerOff(t, vms[1])
	if f := addPassthrough(t, vms[1], vgpu("grid_t4-4c")); f != nil {
		t.Fatal(faultKind(f))
	}
	if f := powerOn(t, vms[1]); faultKind(f) != "InsufficientGraphicsResourcesFault" {
		t.Errorf("a third vGPU: %s", faultKind(f))
	}
}

func TestQueryConfigTargetGPUs(t *testing.T) {
	s := startSim(t, "--hosts", "2", "--vms", "0",
		"--gpu", "*:10de:20f1:GA100 [A100 PCIe 40GB]:x2",
		"--gpu", "DC0_C0_H1:10de:1eb8:TU104GL [Tesla T4]:vgpu=grid_t4-4c")
	c := connect(t, s, "user", "pass")
	var cluster mo.ClusterComputeResource
	clusters := simulatorRefs("ClusterComputeResource")
	if err := property.DefaultCollector(c).RetrieveOne(testCtx(t), clusters[0], []string{"environmentBrowser", "host"}, &cluster); err != nil {
		t.Fatal(err)
	}
	eb := *cluster.EnvironmentBrowser
	req := &types.QueryConfigTarget{This: eb}
	res, err := queryConfigTarget(t, c, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.PciPassthrough) != 4 || len(res.DynamicPassthrough) != 1 || len(res.SharedGpuPassthroughTypes) != 1 {
		t.Fatalf("union: %d fixed, %d dynamic, %d vGPU", len(res.PciPassthrough), len(res.DynamicPassthrough), len(res.SharedGpuPassthroughTypes))
	}
	d := res.DynamicPassthrough[0]
	if d.VendorId != 0x10de || d.DeviceId != 0x20f1 || len(d.ConfigurationTag) != 1 || d.ConfigurationTag[0] != "clusterWideConfig" {
		t.Errorf("dynamic = %+v", d)
	}
	if v := res.SharedGpuPassthroughTypes[0]; v.Vgpu != "grid_t4-4c" || len(v.ConfigurationTag) != 0 {
		t.Errorf("vGPU = %+v (only one host offers it)", v)
	}
	for _, h := range cluster.Host {
		host := h
		res, err := queryConfigTarget(t, c, &types.QueryConfigTarget{This: eb, Host: &host})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.PciPassthrough) != 2 {
			t.Errorf("host %s: %d fixed targets", h.Value, len(res.PciPassthrough))
		}
		for _, p := range res.PciPassthrough {
			if info := p.(*types.VirtualMachinePciPassthroughInfo); info.SystemId != hostSystemID(h) {
				t.Errorf("systemId %s on %s", info.SystemId, h.Value)
			}
		}
	}
}
