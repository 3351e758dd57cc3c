package main

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// The simulator's CloneVM_Task puts every clone on its source's host and
// gives it flat disks of its own, whatever the relocate spec says. vCenter
// places the clone on spec.location.host when given (a host of the pool's
// compute resource), and a clone with diskMoveType createNewChildDiskBacking
// (a linked clone) gets delta disks whose backing's parent is the source's
// disk. cloneFixer does both once the simulator has made the clone.

// cloneFixer finishes the clone of a CloneVM_Task call: nil when the call is
// not one, else a func to run with the task the call returned (before the
// task's result is hidden by holdRunning). It reads the source's disk files
// now, before the simulator's clone renames them (sim/README.md, quirks).
func cloneFixer(method *simulator.Method) func(task types.ManagedObjectReference) {
	if method == nil {
		return nil
	}
	req, ok := method.Body.(*types.CloneVM_Task)
	if !ok {
		return nil
	}
	source, ok := simulator.Map.Get(method.This).(*simulator.VirtualMachine)
	if !ok {
		return nil
	}
	files := map[int32]string{} // disk key -> file
	simulator.Map.WithLock(source, func() {
		if source.Config == nil {
			return
		}
		for _, d := range source.Config.Hardware.Device {
			if disk, ok := d.(*types.VirtualDisk); ok {
				if b, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok {
					files[disk.Key] = b.FileName
				}
			}
		}
	})
	return func(task types.ManagedObjectReference) {
		clone, ok := clonedVM(task)
		if !ok {
			return
		}
		if host := req.Spec.Location.Host; host != nil {
			moveToHost(clone, *host)
		}
		linked := req.Spec.Location.DiskMoveType == string(types.VirtualMachineRelocateDiskMoveOptionsCreateNewChildDiskBacking)
		// First: the clone's own disks keep its file names.
		ownDisks(clone, files, linked && req.Spec.Snapshot != nil)
		restoreSourceDisks(source, files)
	}
}

// clonedVM is the VM a successful clone task made.
func clonedVM(task types.ManagedObjectReference) (*simulator.VirtualMachine, bool) {
	t, ok := simulator.Map.Get(task).(*simulator.Task)
	if !ok {
		return nil, false
	}
	var result types.AnyType
	simulator.Map.WithLock(t, func() {
		if t.Info.State == types.TaskInfoStateSuccess {
			result = t.Info.Result
		}
	})
	ref, ok := result.(types.ManagedObjectReference)
	if !ok {
		return nil, false
	}
	vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine)
	return vm, ok
}

// moveToHost puts vm on host (a HostSystem), as vCenter's placement does:
// runtime.host, summary.runtime.host and both hosts' vm lists.
func moveToHost(vm *simulator.VirtualMachine, ref types.ManagedObjectReference) {
	dest, ok := simulator.Map.Get(ref).(*simulator.HostSystem)
	if !ok {
		return
	}
	var from *types.ManagedObjectReference
	simulator.Map.WithLock(vm, func() { from = copyRef(vm.Runtime.Host) })
	if from != nil && *from == ref {
		return
	}
	if from != nil {
		if old, ok := simulator.Map.Get(*from).(*simulator.HostSystem); ok {
			simulator.Map.WithLock(old, func() {
				vms := append([]types.ManagedObjectReference(nil), old.Vm...)
				simulator.RemoveReference(&vms, vm.Self)
				simulator.Map.Update(old, []types.PropertyChange{{Name: "vm", Val: vms}})
			})
		}
	}
	simulator.Map.WithLock(dest, func() {
		vms := append([]types.ManagedObjectReference(nil), dest.Vm...)
		if simulator.FindReference(vms, vm.Self) == nil {
			vms = append(vms, vm.Self)
		}
		simulator.Map.Update(dest, []types.PropertyChange{{Name: "vm", Val: vms}})
	})
	simulator.Map.WithLock(vm, func() {
		simulator.Map.Update(vm, []types.PropertyChange{
			{Name: "runtime.host", Val: ref},
			{Name: "summary.runtime.host", Val: ref},
		})
	})
}

// restoreSourceDisks gives the source's disks back their own files (the
// simulator's clone shares the disk objects and renames them).
func restoreSourceDisks(source *simulator.VirtualMachine, files map[int32]string) {
	simulator.Map.WithLock(source, func() {
		if source.Config == nil {
			return
		}
		for _, d := range source.Config.Hardware.Device {
			if disk, ok := d.(*types.VirtualDisk); ok {
				if b, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok {
					if file, known := files[disk.Key]; known {
						b.FileName = file
					}
				}
			}
		}
	})
}

// ownDisks gives each disk of the clone a backing of its own (not shared
// with the source); when linked, a delta disk whose parent is the source's
// disk file.
func ownDisks(clone *simulator.VirtualMachine, files map[int32]string, linked bool) {
	simulator.Map.WithLock(clone, func() {
		devices := append([]types.BaseVirtualDevice(nil), clone.Config.Hardware.Device...)
		for i, d := range devices {
			disk, ok := d.(*types.VirtualDisk)
			if !ok {
				continue
			}
			b, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
			file, known := files[disk.Key]
			if !ok || !known {
				continue
			}
			own := *disk
			backing := *b
			backing.Parent = nil
			if linked {
				backing.Parent = &types.VirtualDiskFlatVer2BackingInfo{
					VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: file},
					DiskMode:                     b.DiskMode,
				}
			}
			own.Backing = &backing
			devices[i] = &own
		}
		simulator.Map.Update(clone, []types.PropertyChange{{Name: "config.hardware.device", Val: devices}})
	})
}
