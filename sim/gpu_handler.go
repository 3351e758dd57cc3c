package main

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// Reference, PutObject, UpdateObject and RemoveObject make the manager a
// registry handler: every power change of a VM, whoever makes it (a client,
// an instant clone, a reset), binds or releases its devices.
func (m *gpuManager) Reference() types.ManagedObjectReference { return m.self }

func (m *gpuManager) PutObject(mo.Reference) {}

// UpdateObject runs inside Registry.Update with the VM locked by whoever
// changed it.
func (m *gpuManager) UpdateObject(obj mo.Reference, changes []types.PropertyChange) {
	vm, ok := obj.(*mo.VirtualMachine)
	if !ok {
		return
	}
	for _, c := range changes {
		if c.Name == "runtime.powerState" {
			m.powerChanged(vm)
			return
		}
	}
}

// RemoveObject releases what a destroyed VM held (it is off already, unless
// removed some other way).
func (m *gpuManager) RemoveObject(ref types.ManagedObjectReference) {
	if ref.Type != "VirtualMachine" {
		return
	}
	m.mu.Lock()
	host, held := m.release(ref)
	m.mu.Unlock()
	if held {
		m.publishHost(host)
	}
}

// powerChanged binds the devices of a VM that powered on (if the power-on
// did not come through the front, which binds before) and releases those of
// a VM that powered off, then publishes both the VM's assigned ids and the
// host's bindings.
func (m *gpuManager) powerChanged(vm *mo.VirtualMachine) {
	if vm.Config == nil {
		return
	}
	devices := passthroughDevices(vm.Config.Hardware.Device)
	on := vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn
	m.mu.Lock()
	var host types.ManagedObjectReference
	changed := false
	switch {
	case on && len(devices) > 0 && vm.Runtime.Host != nil:
		host = *vm.Runtime.Host
		if m.bound[vm.Self] == nil {
			b, fault := m.plan(vm.Self, host, devices)
			if fault != nil {
				// Only a power-on outside the front (an instant clone of a
				// VM with GPUs) gets here without its devices.
				logger.Printf("%s powered on without its PCI devices: %s", vm.Name, faultName(fault))
				m.mu.Unlock()
				return
			}
			m.commit(vm.Self, b)
		}
		changed = !m.applied[vm.Self]
		m.applied[vm.Self] = true
	case !on:
		host, changed = m.release(vm.Self)
	}
	assigned := m.assignedIDs(vm.Self)
	m.mu.Unlock()
	if !changed {
		return
	}
	setAssignedIDs(vm, assigned)
	m.publishHost(host)
}

// assignedIDs are the device ids a VM's dynamic devices got, by key (m.mu
// held).
func (m *gpuManager) assignedIDs(vm types.ManagedObjectReference) map[int32]string {
	ids := map[int32]string{}
	if b := m.bound[vm]; b != nil {
		for key, d := range b.dynamic {
			ids[key] = d.pci.Id
		}
	}
	return ids
}

// setAssignedIDs sets (or, for a VM that is off, clears) the assignedId of
// its dynamic passthrough devices: "the id of the device assigned when the
// VM is powered on; unset when the VM is powered off". vm is locked.
func setAssignedIDs(vm *mo.VirtualMachine, ids map[int32]string) {
	devices := make([]types.BaseVirtualDevice, 0, len(vm.Config.Hardware.Device))
	changed := false
	for _, d := range vm.Config.Hardware.Device {
		p, ok := d.(*types.VirtualPCIPassthrough)
		if !ok {
			devices = append(devices, d)
			continue
		}
		backing, ok := p.Backing.(*types.VirtualPCIPassthroughDynamicBackingInfo)
		if !ok || backing.AssignedId == ids[p.Key] {
			devices = append(devices, d)
			continue
		}
		nb := *backing
		nb.AssignedId = ids[p.Key]
		np := *p
		np.Backing = &nb
		devices = append(devices, &np)
		changed = true
	}
	if changed {
		simulator.Map.Update(vm, []types.PropertyChange{{Name: "config.hardware.device", Val: devices}})
	}
}
