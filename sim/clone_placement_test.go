package main

import (
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// cloneState is what a test checks of a VM: its host and its disks' backings.
func cloneState(t *testing.T, c *vim25.Client, vm *object.VirtualMachine) (types.ManagedObjectReference, []*types.VirtualDiskFlatVer2BackingInfo) {
	t.Helper()
	var m mo.VirtualMachine
	if err := vm.Properties(testCtx(t), vm.Reference(), []string{"runtime.host", "config.hardware.device"}, &m); err != nil {
		t.Fatal(err)
	}
	var disks []*types.VirtualDiskFlatVer2BackingInfo
	for _, d := range m.Config.Hardware.Device {
		if disk, ok := d.(*types.VirtualDisk); ok {
			disks = append(disks, disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo))
		}
	}
	return *m.Runtime.Host, disks
}

func cloneVM(t *testing.T, c *vim25.Client, vm *object.VirtualMachine, name string, spec types.VirtualMachineCloneSpec) *object.VirtualMachine {
	t.Helper()
	ctx := testCtx(t)
	var m mo.VirtualMachine
	if err := vm.Properties(ctx, vm.Reference(), []string{"parent"}, &m); err != nil {
		t.Fatal(err)
	}
	task, err := vm.Clone(ctx, object.NewFolder(c, *m.Parent), name, spec)
	if err != nil {
		t.Fatal(err)
	}
	info, err := task.WaitForResult(ctx, nil)
	if err != nil {
		t.Fatalf("clone %s: %v", name, err)
	}
	return object.NewVirtualMachine(c, info.Result.(types.ManagedObjectReference))
}

// clusterHostBesides is a host of cluster DC0_C0 other than host.
func clusterHostBesides(t *testing.T, host types.ManagedObjectReference) types.ManagedObjectReference {
	t.Helper()
	for _, ref := range simulatorRefs("HostSystem") {
		h, ok := simulator.Map.Get(ref).(*simulator.HostSystem)
		if !ok || ref == host {
			continue
		}
		var inCluster bool
		simulator.Map.WithLock(h, func() { inCluster = h.Parent != nil && h.Parent.Type == "ClusterComputeResource" })
		if inCluster {
			return ref
		}
	}
	t.Fatal("no second host in the cluster")
	return types.ManagedObjectReference{}
}

func TestCloneGoesToLocationHostAndLinkedClonesChainTheirDisks(t *testing.T) {
	s := startSim(t, "--hosts", "2", "--vms", "1")
	c := connect(t, s, "user", "pass")
	source := findVM(t, c, "/DC0/vm/DC0_C0_RP0_VM0")
	sourceHost, sourceDisks := cloneState(t, c, source)
	if len(sourceDisks) == 0 {
		t.Fatal("the model VM has no disk")
	}
	sourceFile := sourceDisks[0].FileName
	other := clusterHostBesides(t, sourceHost)
	ctx := testCtx(t)
	task, err := source.CreateSnapshot(ctx, "base", "", false, false)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := task.WaitForResult(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	snapshot := snap.Result.(types.ManagedObjectReference)

	linked := cloneVM(t, c, source, "linked", types.VirtualMachineCloneSpec{
		Location: types.VirtualMachineRelocateSpec{
			Host:         &other,
			DiskMoveType: string(types.VirtualMachineRelocateDiskMoveOptionsCreateNewChildDiskBacking),
		},
		Snapshot: &snapshot,
	})
	host, disks := cloneState(t, c, linked)
	if host != other {
		t.Fatalf("linked clone on %v, want %v", host, other)
	}
	if len(disks) != len(sourceDisks) || disks[0].Parent == nil || disks[0].Parent.FileName != sourceFile {
		t.Fatalf("linked clone's disk = %+v, want a child of %q", disks[0], sourceFile)
	}
	if disks[0].FileName == sourceFile {
		t.Fatalf("linked clone's delta disk is the source's file %q", sourceFile)
	}
	var onHost mo.HostSystem
	if err := object.NewHostSystem(c, other).Properties(ctx, other, []string{"vm"}, &onHost); err != nil {
		t.Fatal(err)
	}
	if !containsRef(onHost.Vm, linked.Reference()) {
		t.Fatalf("host %v's vm list %v lacks the clone", other, onHost.Vm)
	}

	full := cloneVM(t, c, source, "full", types.VirtualMachineCloneSpec{})
	host, disks = cloneState(t, c, full)
	if host != sourceHost || disks[0].Parent != nil || disks[0].FileName == sourceFile {
		t.Fatalf("full clone on %v with disk %+v", host, disks[0])
	}
	if _, after := cloneState(t, c, source); after[0].FileName != sourceFile || after[0].Parent != nil {
		t.Fatalf("source's disk became %+v", after[0])
	}
}

func containsRef(refs []types.ManagedObjectReference, ref types.ManagedObjectReference) bool {
	for _, r := range refs {
		if r == ref {
			return true
		}
	}
	return false
}
