package main

import (
	"fmt"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// passthroughDevices are a VM's PCI passthrough devices.
func passthroughDevices(devices []types.BaseVirtualDevice) []*types.VirtualPCIPassthrough {
	var out []*types.VirtualPCIPassthrough
	for _, d := range devices {
		if p, ok := d.(*types.VirtualPCIPassthrough); ok {
			out = append(out, p)
		}
	}
	return out
}

// plan chooses the devices a VM about to power on on host gets, or the fault
// its power-on ends with (m.mu held). Fixed devices are taken first, then
// dynamic ones, then vGPUs.
func (m *gpuManager) plan(vm, host types.ManagedObjectReference, devices []*types.VirtualPCIPassthrough) (*vmBinding, types.BaseMethodFault) {
	b := &vmBinding{host: host, fixed: map[int32]*gpuDevice{}, dynamic: map[int32]*gpuDevice{}, vgpu: map[int32]vgpuSlot{}}
	taken := map[*gpuDevice]bool{}
	for _, d := range devices {
		if backing, ok := d.Backing.(*types.VirtualPCIPassthroughDeviceBackingInfo); ok {
			dev, fault := m.fixedDevice(vm, host, backing, taken)
			if fault != nil {
				return nil, fault
			}
			taken[dev] = true
			b.fixed[d.Key] = dev
		}
	}
	for _, d := range devices {
		if backing, ok := d.Backing.(*types.VirtualPCIPassthroughDynamicBackingInfo); ok {
			dev := m.freeDynamicDevice(vm, host, backing, taken)
			if dev == nil {
				return nil, &types.InsufficientResourcesFault{VimFault: types.VimFault{MethodFault: types.MethodFault{
					FaultMessage: []types.LocalizableMessage{{Key: "vsray-sim.gpu.noDevice",
						Message: fmt.Sprintf("No free PCI passthrough device on host %s matches %s", hostName(host), allowedText(backing))}}}}}
			}
			taken[dev] = true
			b.dynamic[d.Key] = dev
		}
	}
	extra := map[*gpuDevice][]string{}
	for _, d := range devices {
		if backing, ok := d.Backing.(*types.VirtualPCIPassthroughVmiopBackingInfo); ok {
			dev := m.vgpuDevice(host, backing.Vgpu, extra)
			if dev == nil {
				return nil, &types.InsufficientGraphicsResourcesFault{InsufficientResourcesFault: types.InsufficientResourcesFault{
					VimFault: types.VimFault{MethodFault: types.MethodFault{FaultMessage: []types.LocalizableMessage{{
						Key: "vsray-sim.gpu.noVgpu", Message: fmt.Sprintf("No graphics device on host %s has room for vGPU profile %s", hostName(host), backing.Vgpu)}}}}}}
			}
			extra[dev] = append(extra[dev], backing.Vgpu)
			b.vgpu[d.Key] = vgpuSlot{dev: dev, profile: backing.Vgpu}
		}
	}
	return b, nil
}

// fixedDevice finds the device a fixed backing names and checks that it is
// the one named and free, as ESX does at power-on.
func (m *gpuManager) fixedDevice(vm, host types.ManagedObjectReference, backing *types.VirtualPCIPassthroughDeviceBackingInfo, taken map[*gpuDevice]bool) (*gpuDevice, types.BaseMethodFault) {
	id := normalizePCIID(backing.Id)
	for _, d := range m.devices[host] {
		if d.pci.Id != id || !d.passthrough() {
			continue
		}
		if backing.SystemId != d.systemID || backing.VendorId != d.pci.VendorId || !deviceIDMatches(backing.DeviceId, d.pci.DeviceId) {
			return nil, powerOnFault(fmt.Sprintf("The systemId does not match the current system or the deviceId, "+
				"and the vendorId does not match the device currently at %s.", shortPCIID(id)))
		}
		if taken[d] || (d.owner != nil && *d.owner != vm) {
			return nil, powerOnFault(fmt.Sprintf("Module 'DevicePowerOn' power on failed. Device %s is already in use.", id))
		}
		return d, nil
	}
	return nil, powerOnFault(fmt.Sprintf("Module 'DevicePowerOn' power on failed. Device %s is not a passthrough device.", id))
}

// powerOnFault is how ESX reports a device that cannot power on.
func powerOnFault(reason string) types.BaseMethodFault {
	return &types.GenericVmConfigFault{Reason: reason}
}

// deviceIDMatches compares a backing's deviceId (a string: the documentation
// says HostPciDevice.deviceId "converted as is", i.e. decimal; much client
// code writes it in hex) with the device's id. Both forms are accepted.
func deviceIDMatches(text string, id int16) bool {
	text = strings.ToLower(strings.TrimSpace(text))
	if text == fmt.Sprint(id) || text == fmt.Sprint(uint16(id)) {
		return true
	}
	v, err := parseHex16(text)
	return err == nil && v == uint16(id)
}

func shortPCIID(id string) string {
	var domain, bus, slot, fn int
	if _, err := fmt.Sscanf(id, "%x:%x:%x.%x", &domain, &bus, &slot, &fn); err != nil {
		return id
	}
	return fmt.Sprintf("%x:%x.%x", bus, slot, fn)
}

func (m *gpuManager) freeDynamicDevice(vm, host types.ManagedObjectReference, backing *types.VirtualPCIPassthroughDynamicBackingInfo, taken map[*gpuDevice]bool) *gpuDevice {
	for _, d := range m.devices[host] {
		if !d.passthrough() || taken[d] || (d.owner != nil && *d.owner != vm) || !dynamicMatches(backing, d) {
			continue
		}
		return d
	}
	return nil
}

// dynamicMatches reports whether a device fits a dynamic backing: its
// vendor and device ids are allowed, and its custom label is the backing's
// if the backing has one.
func dynamicMatches(backing *types.VirtualPCIPassthroughDynamicBackingInfo, d *gpuDevice) bool {
	if backing.CustomLabel != "" && backing.CustomLabel != d.label {
		return false
	}
	for _, a := range backing.AllowedDevice {
		if idMatches(a.VendorId, d.pci.VendorId) && idMatches(a.DeviceId, d.pci.DeviceId) {
			return true
		}
	}
	return false
}

// idMatches compares an int32 PCI id with a device's int16 one, signed or not.
func idMatches(want int32, have int16) bool {
	return want == int32(have) || want == int32(uint16(have))
}

func allowedText(b *types.VirtualPCIPassthroughDynamicBackingInfo) string {
	var parts []string
	for _, a := range b.AllowedDevice {
		parts = append(parts, fmt.Sprintf("%04x:%04x", uint16(a.VendorId), uint16(a.DeviceId)))
	}
	text := strings.Join(parts, ", ")
	if b.CustomLabel != "" {
		text += " labelled " + b.CustomLabel
	}
	return text
}

// vgpuDevice finds a vGPU device of host with room for one more vGPU of
// profile: the profile is offered, the device hosts no other profile, and
// its frame buffer holds one more. extra are the vGPUs already planned.
func (m *gpuManager) vgpuDevice(host types.ManagedObjectReference, profile string, extra map[*gpuDevice][]string) *gpuDevice {
	size, ok := profileSizeGB(profile)
	if !ok {
		return nil
	}
	for _, d := range m.devices[host] {
		if d.passthrough() || !offers(d, profile) {
			continue
		}
		used := append([]string(nil), extra[d]...)
		for _, list := range d.vgpus {
			used = append(used, list...)
		}
		if len(used) > 0 && used[0] != profile {
			continue
		}
		if (len(used)+1)*size <= d.memGB {
			return d
		}
	}
	return nil
}

func offers(d *gpuDevice, profile string) bool {
	for _, p := range d.profiles {
		if p == profile {
			return true
		}
	}
	return false
}

// commit records a binding (m.mu held).
func (m *gpuManager) commit(vm types.ManagedObjectReference, b *vmBinding) {
	owner := vm
	for _, d := range b.fixed {
		d.owner = &owner
	}
	for _, d := range b.dynamic {
		d.owner = &owner
	}
	for _, slot := range b.vgpu {
		slot.dev.vgpus[vm] = append(slot.dev.vgpus[vm], slot.profile)
	}
	m.bound[vm] = b
}

// release forgets what vm holds (m.mu held) and returns its host.
func (m *gpuManager) release(vm types.ManagedObjectReference) (types.ManagedObjectReference, bool) {
	b := m.bound[vm]
	if b == nil {
		return types.ManagedObjectReference{}, false
	}
	for _, d := range b.fixed {
		d.owner = nil
	}
	for _, d := range b.dynamic {
		d.owner = nil
	}
	for _, slot := range b.vgpu {
		delete(slot.dev.vgpus, vm)
	}
	delete(m.bound, vm)
	delete(m.applied, vm)
	return b.host, true
}

func hostName(ref types.ManagedObjectReference) string {
	if e, ok := simulator.Map.Get(ref).(mo.Entity); ok {
		return e.Entity().Name
	}
	return ref.Value
}
