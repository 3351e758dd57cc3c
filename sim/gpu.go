package main

import (
	"crypto/sha1"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// gpuManager models the GPUs of the hosts and their use by VMs, as vSphere 7
// reports them (see README "GPUs"):
//
//   - each GPU is a PCI device of its host (hardware.pciDevice);
//   - a passthrough GPU (DirectPath I/O) is passthrough-capable and enabled
//     (config.pciPassthruInfo); a running VM holds it whole, either fixed
//     (VirtualPCIPassthroughDeviceBackingInfo names it) or dynamic
//     (VirtualPCIPassthroughDynamicBackingInfo: any free device whose vendor
//     and device ids are allowed, bound at power-on: the VM's backing gets
//     assignedId, the host's config.assignableHardwareBinding lists it);
//   - a vGPU GPU (shared direct) offers profiles (config.
//     sharedPassthruGpuTypes); running VMs share it, all with the same
//     profile, as many as its frame buffer holds (VirtualPCIPassthroughVmiop
//     BackingInfo names the profile);
//   - power-off and destroy release what a VM held.
type gpuManager struct {
	self types.ManagedObjectReference

	mu      sync.Mutex
	devices map[types.ManagedObjectReference][]*gpuDevice // by host
	bound   map[types.ManagedObjectReference]*vmBinding   // by VM
	applied map[types.ManagedObjectReference]bool         // assignedIds published
}

// gpuDevice is one physical GPU.
type gpuDevice struct {
	host     types.ManagedObjectReference
	hostName string
	systemID string
	pci      types.HostPciDevice
	label    string
	profiles []string // vGPU mode when not empty
	memGB    int

	owner *types.ManagedObjectReference             // the VM holding it (passthrough)
	vgpus map[types.ManagedObjectReference][]string // profiles in use, by VM (vGPU)
}

func (d *gpuDevice) passthrough() bool { return len(d.profiles) == 0 }

// vmBinding is what a running VM holds, by virtual device key.
type vmBinding struct {
	host    types.ManagedObjectReference
	fixed   map[int32]*gpuDevice
	dynamic map[int32]*gpuDevice
	vgpu    map[int32]vgpuSlot
}

// vgpuSlot is one vGPU of a VM: the physical GPU and the profile.
type vgpuSlot struct {
	dev     *gpuDevice
	profile string
}

func newGPUManager() *gpuManager {
	return &gpuManager{
		self:    types.ManagedObjectReference{Type: "VsraySimGPUs", Value: "gpus"},
		devices: map[types.ManagedObjectReference][]*gpuDevice{},
		bound:   map[types.ManagedObjectReference]*vmBinding{},
		applied: map[types.ManagedObjectReference]bool{},
	}
}

// attach registers the manager with the registry (power changes, destroys).
func (m *gpuManager) attach() {
	simulator.Map.AddHandler(m)
}

// addedGPU describes a device added by a spec.
type addedGPU struct {
	Host string `json:"host"`
	ID   string `json:"id"`
}

// add gives the hosts the spec selects its devices.
func (m *gpuManager) add(spec gpuSpec) ([]addedGPU, error) {
	var added []addedGPU
	matched := false
	for _, h := range sortedHosts() {
		if !spec.matchesHost(h.Name) {
			continue
		}
		matched = true
		ids, err := m.addToHost(h, spec)
		if err != nil {
			return added, err
		}
		for _, id := range ids {
			added = append(added, addedGPU{Host: h.Name, ID: id})
		}
	}
	if !matched {
		return nil, fmt.Errorf("no host matches %q", spec.hosts)
	}
	return added, nil
}

func sortedHosts() []*simulator.HostSystem {
	var hosts []*simulator.HostSystem
	for _, e := range simulator.Map.All("HostSystem") {
		hosts = append(hosts, e.(*simulator.HostSystem))
	}
	sort.Slice(hosts, func(i, j int) bool { return hosts[i].Name < hosts[j].Name })
	return hosts
}

// firstGPUBus is the PCI bus of a host's first GPU; the next ones follow.
const firstGPUBus = 0x3b

func (m *gpuManager) addToHost(h *simulator.HostSystem, spec gpuSpec) ([]string, error) {
	m.mu.Lock()
	var ids []string
	for i := 0; i < spec.count; i++ {
		bus := firstGPUBus + len(m.devices[h.Self])
		if bus > 0xff {
			m.mu.Unlock()
			return ids, fmt.Errorf("host %s: no PCI bus left for another GPU", h.Name)
		}
		d := &gpuDevice{
			host: h.Self, hostName: h.Name, systemID: hostSystemID(h.Self),
			label: spec.label, profiles: append([]string(nil), spec.profiles...), memGB: spec.memGB,
			vgpus: map[types.ManagedObjectReference][]string{},
			pci: types.HostPciDevice{
				Id: fmt.Sprintf("0000:%02x:00.0", bus), ClassId: int16(spec.classID), Bus: byte(bus),
				VendorId: int16(spec.vendorID), SubVendorId: int16(spec.vendorID), VendorName: spec.vendorName,
				DeviceId: int16(spec.deviceID), DeviceName: spec.name,
				ParentBridge: fmt.Sprintf("0000:%02x:00.0", bus-1),
			},
		}
		m.devices[h.Self] = append(m.devices[h.Self], d)
		ids = append(ids, d.pci.Id)
	}
	m.mu.Unlock()
	m.publishHost(h.Self)
	return ids, nil
}

// remove takes a device out of its host; a device in use stays.
func (m *gpuManager) remove(hostName, id string) error {
	host, ok := hostByName(hostName)
	if !ok {
		return fmt.Errorf("no host named %q", hostName)
	}
	m.mu.Lock()
	list := m.devices[host]
	found := false
	for i, d := range list {
		if d.pci.Id != normalizePCIID(id) {
			continue
		}
		if d.owner != nil || len(d.vgpus) > 0 {
			m.mu.Unlock()
			return errGPUInUse
		}
		m.devices[host] = append(list[:i:i], list[i+1:]...)
		found = true
		break
	}
	m.mu.Unlock()
	if !found {
		return fmt.Errorf("host %s has no GPU %s", hostName, id)
	}
	m.publishHost(host)
	return nil
}

var errGPUInUse = fmt.Errorf("the GPU is in use by a powered-on VM")

func hostByName(name string) (types.ManagedObjectReference, bool) {
	for _, h := range sortedHosts() {
		if h.Name == name {
			return h.Self, true
		}
	}
	return types.ManagedObjectReference{}, false
}

// normalizePCIID accepts "3b:00.0" for "0000:3b:00.0".
func normalizePCIID(id string) string {
	id = strings.ToLower(strings.TrimSpace(id))
	if strings.Count(id, ":") == 1 {
		return "0000:" + id
	}
	return id
}

// hostSystemID is the system id a host reports for its PCI devices
// (VirtualMachinePciPassthroughInfo.systemId): stable, unique, UUID-shaped.
func hostSystemID(host types.ManagedObjectReference) string {
	sum := sha1.Sum([]byte("vsray-sim system " + host.Value))
	return fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
}

// publishHost updates a host's hardware and config properties from its
// devices, through the registry (property collectors see the change).
func (m *gpuManager) publishHost(ref types.ManagedObjectReference) {
	host, ok := simulator.Map.Get(ref).(*simulator.HostSystem)
	if !ok {
		return
	}
	m.mu.Lock()
	devices := append([]*gpuDevice(nil), m.devices[ref]...)
	var bindings []types.HostAssignableHardwareBinding
	for _, d := range devices {
		if d.owner != nil && m.isDynamic(*d.owner, d) {
			bindings = append(bindings, types.HostAssignableHardwareBinding{InstanceId: d.pci.Id, Vm: *d.owner})
		}
	}
	graphics := graphicsInfo(devices)
	m.mu.Unlock()

	simulator.Map.WithLock(host, func() {
		var pci []types.HostPciDevice
		for _, p := range host.Hardware.PciDevice {
			if !isGPUBus(p.Id) {
				pci = append(pci, p)
			}
		}
		var info []types.BaseHostPciPassthruInfo
		profiles := map[string]bool{}
		var config *types.HostAssignableHardwareConfig // vSphere 7.0 only: left out when empty
		for _, d := range devices {
			pci = append(pci, d.pci)
			info = append(info, &types.HostPciPassthruInfo{
				Id: d.pci.Id, DependentDevice: d.pci.Id, PassthruCapable: true,
				PassthruEnabled: d.passthrough(), PassthruActive: d.passthrough(),
			})
			for _, p := range d.profiles {
				profiles[p] = true
			}
			if d.label != "" {
				if config == nil {
					config = &types.HostAssignableHardwareConfig{}
				}
				config.AttributeOverride = append(config.AttributeOverride, types.HostAssignableHardwareConfigAttributeOverride{
					InstanceId: d.pci.Id, Name: "customLabel", Value: d.label,
				})
			}
		}
		// The registry cannot assign a nil pointer: set it, and let the
		// update below report the host changed.
		host.Config.AssignableHardwareConfig = config
		simulator.Map.Update(host, []types.PropertyChange{
			{Name: "hardware.pciDevice", Val: pci},
			{Name: "config.pciPassthruInfo", Val: info},
			{Name: "config.sharedPassthruGpuTypes", Val: privSet(profiles).sorted()},
			{Name: "config.assignableHardwareBinding", Val: bindings},
			{Name: "config.graphicsInfo", Val: graphics},
		})
	})
}

// graphicsInfo is a host's config.graphicsInfo: each GPU, "direct"
// (passthrough) or "sharedDirect" (vGPU), its frame buffer and the running
// VMs using it (m.mu held).
func graphicsInfo(devices []*gpuDevice) []types.HostGraphicsInfo {
	var out []types.HostGraphicsInfo
	for _, d := range devices {
		info := types.HostGraphicsInfo{
			DeviceName: d.pci.DeviceName, VendorName: d.pci.VendorName, PciId: d.pci.Id,
			GraphicsType: "direct", MemorySizeInKB: int64(d.memGB) * 1024 * 1024,
		}
		if d.owner != nil {
			info.Vm = append(info.Vm, *d.owner)
		}
		if !d.passthrough() {
			info.GraphicsType = "sharedDirect"
			var vms []types.ManagedObjectReference
			for vm := range d.vgpus {
				vms = append(vms, vm)
			}
			sort.Slice(vms, func(i, j int) bool { return vms[i].Value < vms[j].Value })
			info.Vm = append(info.Vm, vms...)
		}
		out = append(out, info)
	}
	return out
}

// isGPUBus tells GPU ids (buses from 0x3b) from the model's own devices
// (bus 0x00 to 0x0b).
func isGPUBus(id string) bool {
	var domain, bus, slot, fn int
	if _, err := fmt.Sscanf(id, "%x:%x:%x.%x", &domain, &bus, &slot, &fn); err != nil {
		return false
	}
	return bus >= firstGPUBus
}

// isDynamic reports whether vm holds d through a dynamic backing (m.mu held).
func (m *gpuManager) isDynamic(vm types.ManagedObjectReference, d *gpuDevice) bool {
	if b := m.bound[vm]; b != nil {
		for _, x := range b.dynamic {
			if x == d {
				return true
			}
		}
	}
	return false
}

// gpuStatus is one device as GET /vsray/gpus lists it.
type gpuStatus struct {
	Host     string            `json:"host"`
	ID       string            `json:"id"`
	VendorID string            `json:"vendor_id"`
	DeviceID string            `json:"device_id"`
	Name     string            `json:"name"`
	Mode     string            `json:"mode"`
	Label    string            `json:"label,omitempty"`
	Profiles []string          `json:"profiles,omitempty"`
	MemGB    int               `json:"mem_gb,omitempty"`
	UsedBy   string            `json:"used_by,omitempty"`
	Binding  string            `json:"binding,omitempty"`
	VGPUs    map[string]string `json:"vgpus,omitempty"`
}

func (m *gpuManager) list() []gpuStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []gpuStatus{}
	for _, h := range sortedHosts() {
		for _, d := range m.devices[h.Self] {
			s := gpuStatus{
				Host: d.hostName, ID: d.pci.Id, Name: d.pci.DeviceName, Label: d.label,
				VendorID: fmt.Sprintf("%04x", uint16(d.pci.VendorId)), DeviceID: fmt.Sprintf("%04x", uint16(d.pci.DeviceId)),
				Mode: "passthrough", Profiles: d.profiles, MemGB: d.memGB,
			}
			if !d.passthrough() {
				s.Mode = "vgpu"
				s.VGPUs = map[string]string{}
				for vm, profiles := range d.vgpus {
					s.VGPUs[vm.Value] = strings.Join(profiles, ",")
				}
			}
			if d.owner != nil {
				s.UsedBy, s.Binding = d.owner.Value, "fixed"
				if m.isDynamic(*d.owner, d) {
					s.Binding = "dynamic"
				}
			}
			out = append(out, s)
		}
	}
	return out
}

// hostDevices is a snapshot of a host's devices (m.mu held by the caller or
// not needed: the slice is copied).
func (m *gpuManager) hostDevices(host types.ManagedObjectReference) []*gpuDevice {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*gpuDevice(nil), m.devices[host]...)
}

// computeResourceHosts are the hosts of the compute resource of a host.
func computeResourceHosts(host types.ManagedObjectReference) []types.ManagedObjectReference {
	h, ok := simulator.Map.Get(host).(*simulator.HostSystem)
	if !ok {
		return nil
	}
	var parent *types.ManagedObjectReference
	simulator.Map.WithLock(h, func() { parent = copyRef(h.Parent) })
	if parent == nil {
		return []types.ManagedObjectReference{host}
	}
	var hosts []types.ManagedObjectReference
	switch cr := simulator.Map.Get(*parent).(type) {
	case *simulator.ClusterComputeResource:
		simulator.Map.WithLock(cr, func() { hosts = append(hosts, cr.Host...) })
	case *mo.ComputeResource:
		simulator.Map.WithLock(cr, func() { hosts = append(hosts, cr.Host...) })
	}
	if len(hosts) == 0 {
		hosts = []types.ManagedObjectReference{host}
	}
	return hosts
}
