package main

import (
	"bytes"
	"fmt"
	"net/http"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// serveSOAP handles the SOAP calls GPUs concern: device changes that add PCI
// passthrough devices (ReconfigVM_Task, CloneVM_Task), power-ons of VMs
// with such devices, and QueryConfigTarget. It reports whether it answered.
func (m *gpuManager) serveSOAP(f *front, w http.ResponseWriter, r *http.Request, call soapCall, body []byte) bool {
	switch call.method {
	case "PowerOnVM_Task":
		return m.servePowerOn(f, w, r, call)
	case "ReconfigVM_Task", "CloneVM_Task":
		if !bytes.Contains(body, []byte("VirtualPCIPassthrough")) {
			return false
		}
	case "QueryConfigTarget":
	default:
		return false
	}
	info, ok := decodeSOAPRequest(call, body)
	if !ok {
		return false
	}
	switch req := info.req.(type) {
	case *types.ReconfigVM_Task:
		vm := vmState(info.this)
		if fault, msg := m.checkDeviceChanges(req.Spec.DeviceChange, vm.host, vm.poweredOn); fault != nil {
			f.answerFailedTask(w, call, fault, msg)
			return true
		}
	case *types.CloneVM_Task:
		host := vmState(info.this).host
		if req.Spec.Location.Host != nil {
			host = req.Spec.Location.Host
		}
		if req.Spec.Config != nil {
			if fault, msg := m.checkDeviceChanges(req.Spec.Config.DeviceChange, host, false); fault != nil {
				f.answerFailedTask(w, call, fault, msg)
				return true
			}
		}
	case *types.QueryConfigTarget:
		m.serveConfigTarget(f, w, r, info.this, req)
		return true
	}
	return false
}

// vmInfo is what the GPU checks need to know of a VM.
type vmInfo struct {
	exists    bool
	poweredOn bool
	host      *types.ManagedObjectReference
	devices   []*types.VirtualPCIPassthrough
}

func vmState(ref types.ManagedObjectReference) vmInfo {
	vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine)
	if !ok {
		return vmInfo{}
	}
	var s vmInfo
	simulator.Map.WithLock(vm, func() {
		s.exists = true
		s.poweredOn = vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOff
		s.host = copyRef(vm.Runtime.Host)
		if vm.Config != nil {
			s.devices = passthroughDevices(vm.Config.Hardware.Device)
		}
	})
	return s
}

// checkDeviceChanges validates the PCI passthrough devices of a device
// change list like vCenter: they cannot be added, removed or edited while the
// VM runs (DeviceHotPlugNotSupported), and their backing must name what the
// host (fixed) or its cluster (dynamic, vGPU) has (InvalidDeviceBacking).
func (m *gpuManager) checkDeviceChanges(changes []types.BaseVirtualDeviceConfigSpec, host *types.ManagedObjectReference, running bool) (types.BaseMethodFault, string) {
	for i, change := range changes {
		spec := change.GetVirtualDeviceConfigSpec()
		if spec == nil {
			continue
		}
		device, ok := spec.Device.(*types.VirtualPCIPassthrough)
		if !ok {
			continue
		}
		invalid := types.InvalidDeviceSpec{InvalidVmConfig: types.InvalidVmConfig{Property: "virtualDeviceSpec.device"}, DeviceIndex: int32(i)}
		if running {
			return &types.DeviceHotPlugNotSupported{InvalidDeviceSpec: invalid},
				fmt.Sprintf("The device at index %d cannot be hot-added or hot-removed: PCI passthrough devices need the VM powered off.", i)
		}
		if spec.Operation == types.VirtualDeviceConfigSpecOperationRemove || host == nil {
			continue
		}
		if reason := m.backingProblem(device.Backing, *host); reason != "" {
			return &types.InvalidDeviceBacking{InvalidDeviceSpec: invalid}, fmt.Sprintf("Device %d: %s", i, reason)
		}
	}
	return nil, ""
}

// backingProblem says what is wrong with a passthrough backing for a VM on
// host ("" when nothing is).
func (m *gpuManager) backingProblem(backing types.BaseVirtualDeviceBackingInfo, host types.ManagedObjectReference) string {
	switch b := backing.(type) {
	case *types.VirtualPCIPassthroughDeviceBackingInfo:
		id := normalizePCIID(b.Id)
		for _, d := range m.hostDevices(host) {
			if d.pci.Id == id && d.passthrough() {
				return ""
			}
		}
		return fmt.Sprintf("host %s has no PCI passthrough device %s", hostName(host), b.Id)
	case *types.VirtualPCIPassthroughDynamicBackingInfo:
		if len(b.AllowedDevice) == 0 {
			return "a dynamic DirectPath device needs allowedDevice"
		}
		for _, h := range computeResourceHosts(host) {
			for _, d := range m.hostDevices(h) {
				if d.passthrough() && dynamicMatches(b, d) {
					return ""
				}
			}
		}
		return fmt.Sprintf("no host of %s's cluster has a PCI passthrough device matching %s", hostName(host), allowedText(b))
	case *types.VirtualPCIPassthroughVmiopBackingInfo:
		for _, h := range computeResourceHosts(host) {
			for _, d := range m.hostDevices(h) {
				if offers(d, b.Vgpu) {
					return ""
				}
			}
		}
		return fmt.Sprintf("no host of %s's cluster offers vGPU profile %q", hostName(host), b.Vgpu)
	}
	return ""
}

// servePowerOn powers on a VM with PCI passthrough devices: its devices are
// chosen and bound first, and if they cannot be, the power-on task fails
// and nothing is done. VMs without such devices, or already on, go the usual
// way.
func (m *gpuManager) servePowerOn(f *front, w http.ResponseWriter, r *http.Request, call soapCall) bool {
	vm := vmState(call.this)
	if !vm.exists || vm.poweredOn || vm.host == nil || len(vm.devices) == 0 {
		return false
	}
	m.mu.Lock()
	if m.bound[call.this] == nil {
		b, fault := m.plan(call.this, *vm.host, vm.devices)
		if fault != nil {
			m.mu.Unlock()
			f.answerFailedTask(w, call, fault, faultMessage(fault))
			return true
		}
		m.commit(call.this, b)
	}
	m.mu.Unlock()
	f.serveTask(w, r, call, nil)
	if !vmState(call.this).poweredOn {
		// The power-on failed: nothing stays bound.
		m.mu.Lock()
		host, held := m.release(call.this)
		m.mu.Unlock()
		if held {
			m.publishHost(host)
		}
	}
	return true
}

// faultMessage is the text of the faults plan returns.
func faultMessage(fault types.BaseMethodFault) string {
	if g, ok := fault.(*types.GenericVmConfigFault); ok {
		return g.Reason
	}
	if msgs := fault.GetMethodFault().FaultMessage; len(msgs) > 0 {
		return msgs[0].Message
	}
	return faultName(fault)
}

// serveConfigTarget answers QueryConfigTarget with the simulator's target
// plus the GPUs of the host (or, without host, of every host of the
// environment browser's compute resource): pciPassthrough (fixed),
// dynamicPassthrough and sharedGpuPassthroughTypes (vGPU profiles).
func (m *gpuManager) serveConfigTarget(f *front, w http.ResponseWriter, r *http.Request, browser types.ManagedObjectReference, req *types.QueryConfigTarget) {
	hosts := environmentBrowserHosts(browser)
	if req.Host != nil {
		hosts = []types.ManagedObjectReference{*req.Host}
	}
	res := &methods.QueryConfigTargetBody{}
	forwardAndRewrite(f.inner, w, r, res, func() {
		if res.Res.Returnval == nil {
			res.Res.Returnval = &types.ConfigTarget{}
		}
		m.addTargets(res.Res.Returnval, hosts, req.Host == nil)
	})
}

func environmentBrowserHosts(browser types.ManagedObjectReference) []types.ManagedObjectReference {
	for _, kind := range []string{"ClusterComputeResource", "ComputeResource"} {
		for _, e := range simulator.Map.All(kind) {
			var eb *types.ManagedObjectReference
			var hosts []types.ManagedObjectReference
			simulator.Map.WithLock(e, func() {
				switch cr := e.(type) {
				case *simulator.ClusterComputeResource:
					eb, hosts = cr.EnvironmentBrowser, append(hosts, cr.Host...)
				case *mo.ComputeResource:
					eb, hosts = cr.EnvironmentBrowser, append(hosts, cr.Host...)
				}
			})
			if eb != nil && *eb == browser {
				return hosts
			}
		}
	}
	return nil
}

// clusterWideConfig tags a target that every host of the compute resource
// offers (VirtualMachineTargetInfoConfigurationTag).
const clusterWideConfig = "clusterWideConfig"

// addTargets adds the GPUs of hosts to a ConfigTarget. With union (no host
// given), entries that all hosts offer are tagged clusterWideConfig.
func (m *gpuManager) addTargets(t *types.ConfigTarget, hosts []types.ManagedObjectReference, union bool) {
	type dynamicKey struct {
		vendor, device int16
		label          string
	}
	dynamicHosts := map[dynamicKey]map[types.ManagedObjectReference]bool{}
	dynamicInfo := map[dynamicKey]types.VirtualMachineDynamicPassthroughInfo{}
	var dynamicOrder []dynamicKey
	profileHosts := map[string]map[types.ManagedObjectReference]bool{}
	var profileOrder []string
	for _, h := range hosts {
		for _, d := range m.hostDevices(h) {
			if !d.passthrough() {
				for _, p := range d.profiles {
					if profileHosts[p] == nil {
						profileHosts[p] = map[types.ManagedObjectReference]bool{}
						profileOrder = append(profileOrder, p)
					}
					profileHosts[p][h] = true
				}
				continue
			}
			t.PciPassthrough = append(t.PciPassthrough, &types.VirtualMachinePciPassthroughInfo{
				VirtualMachineTargetInfo: types.VirtualMachineTargetInfo{Name: d.pci.Id},
				PciDevice:                d.pci,
				SystemId:                 d.systemID,
			})
			key := dynamicKey{d.pci.VendorId, d.pci.DeviceId, d.label}
			if dynamicHosts[key] == nil {
				dynamicHosts[key] = map[types.ManagedObjectReference]bool{}
				dynamicOrder = append(dynamicOrder, key)
				dynamicInfo[key] = types.VirtualMachineDynamicPassthroughInfo{
					VirtualMachineTargetInfo: types.VirtualMachineTargetInfo{Name: d.pci.DeviceName},
					VendorName:               d.pci.VendorName, DeviceName: d.pci.DeviceName, CustomLabel: d.label,
					VendorId: int32(uint16(d.pci.VendorId)), DeviceId: int32(uint16(d.pci.DeviceId)),
				}
			}
			dynamicHosts[key][h] = true
		}
	}
	tags := func(on map[types.ManagedObjectReference]bool) []string {
		if union && len(on) == len(hosts) {
			return []string{clusterWideConfig}
		}
		return nil
	}
	for _, key := range dynamicOrder {
		info := dynamicInfo[key]
		info.ConfigurationTag = tags(dynamicHosts[key])
		t.DynamicPassthrough = append(t.DynamicPassthrough, info)
	}
	for _, p := range profileOrder {
		t.SharedGpuPassthroughTypes = append(t.SharedGpuPassthroughTypes, types.VirtualMachinePciSharedGpuPassthroughInfo{
			VirtualMachineTargetInfo: types.VirtualMachineTargetInfo{Name: p, ConfigurationTag: tags(profileHosts[p])},
			Vgpu:                     p,
		})
	}
}
