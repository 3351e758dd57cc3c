// This file is compiled into govmomi's simulator package by vsray-sim's build
// (go build -overlay). It adds VirtualMachine.InstantClone_Task, which the
// simulator of govmomi 0.24.2 lacks. It only uses the package's own helpers.

package simulator

import (
	"reflect"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator/esx"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// InstantCloneTask implements VirtualMachine.InstantClone_Task the way vCenter
// behaves: the source must be powered on; the clone runs on the source's host,
// lands in spec.location's folder, pool and datastore (defaulting to the
// source's), gets spec.config in its extraConfig and spec.biosUuid as
// config.uuid, keeps the source's NIC connection state and is powered on.
// Every failure is reported through the task, like vCenter does.
func (vm *VirtualMachine) InstantCloneTask(ctx *Context, req *types.InstantClone_Task) soap.HasFault {
	task := CreateTask(vm, "instantCloneTask", func(*Task) (types.AnyType, types.BaseMethodFault) {
		return vm.instantClone(ctx, &req.Spec)
	})

	return &methods.InstantClone_TaskBody{
		Res: &types.InstantClone_TaskResponse{Returnval: task.Run()},
	}
}

// instantClonePlacement is where a clone goes, once validated.
type instantClonePlacement struct {
	host      *HostSystem
	folder    *Folder
	pool      types.ManagedObjectReference
	datastore *Datastore
}

func (vm *VirtualMachine) instantClone(ctx *Context, spec *types.VirtualMachineInstantCloneSpec) (types.AnyType, types.BaseMethodFault) {
	if vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
		return nil, &types.InvalidPowerState{
			RequestedState: types.VirtualMachinePowerStatePoweredOn,
			ExistingState:  vm.Runtime.PowerState,
		}
	}
	if spec.Name == "" {
		return nil, &types.InvalidArgument{InvalidProperty: "spec.name"}
	}

	place, fault := vm.instantClonePlacement(ctx, spec)
	if fault != nil {
		return nil, fault
	}

	devices, fault := vm.instantCloneDevices(place.host, spec.Location.DeviceChange)
	if fault != nil {
		return nil, fault
	}

	config := types.VirtualMachineConfigSpec{
		Name:              spec.Name,
		GuestId:           vm.Config.GuestId,
		NumCPUs:           vm.Config.Hardware.NumCPU,
		NumCoresPerSocket: vm.Config.Hardware.NumCoresPerSocket,
		MemoryMB:          int64(vm.Config.Hardware.MemoryMB),
		Files:             &types.VirtualMachineFileInfo{VmPathName: "[" + place.datastore.Name + "]"},
		ExtraConfig:       vm.instantCloneExtraConfig(spec.Config),
		DeviceChange:      devices,
	}

	res := place.folder.CreateVMTask(ctx, &types.CreateVM_Task{
		This:   place.folder.Self,
		Config: config,
		Pool:   place.pool,
		Host:   &place.host.Self,
	})
	create := Map.Get(res.(*methods.CreateVM_TaskBody).Res.Returnval).(*Task)
	if create.Info.Error != nil {
		return nil, create.Info.Error.Fault
	}
	ref := create.Info.Result.(types.ManagedObjectReference)
	clone := Map.Get(ref).(*VirtualMachine)

	Map.WithLock(clone, func() {
		changes := []types.PropertyChange{
			{Name: "runtime.instantCloneFrozen", Val: false},
		}
		if spec.BiosUuid != "" {
			changes = append(changes,
				types.PropertyChange{Name: "config.uuid", Val: spec.BiosUuid},
				types.PropertyChange{Name: "summary.config.uuid", Val: spec.BiosUuid},
			)
		}
		Map.Update(clone, changes)

		body := clone.PowerOnVMTask(ctx, &types.PowerOnVM_Task{This: ref})
		power := Map.Get(body.(*methods.PowerOnVM_TaskBody).Res.Returnval).(*Task)
		if power.Info.Error != nil {
			fault = power.Info.Error.Fault
		}
	})
	if fault != nil {
		return nil, fault
	}

	return ref, nil
}

// instantClonePlacement validates spec.location against the source VM.
func (vm *VirtualMachine) instantClonePlacement(ctx *Context, spec *types.VirtualMachineInstantCloneSpec) (*instantClonePlacement, types.BaseMethodFault) {
	loc := spec.Location
	place := new(instantClonePlacement)

	host, ok := Map.Get(*vm.Runtime.Host).(*HostSystem)
	if !ok {
		return nil, &types.ManagedObjectNotFound{Obj: *vm.Runtime.Host}
	}
	if host.Runtime.InMaintenanceMode {
		return nil, &types.InvalidHostState{Host: &host.Self}
	}
	if loc.Host != nil && *loc.Host != host.Self {
		// An instant clone always runs on its source's host.
		return nil, &types.InvalidArgument{InvalidProperty: "spec.location.host"}
	}
	place.host = host

	folderRef := vm.Parent
	if loc.Folder != nil {
		folderRef = loc.Folder
	}
	if folderRef == nil {
		return nil, &types.InvalidArgument{InvalidProperty: "spec.location.folder"}
	}
	folder, ok := Map.Get(*folderRef).(*Folder)
	if !ok {
		return nil, &types.ManagedObjectNotFound{Obj: *folderRef}
	}
	if !folderHasChildType(&folder.Folder, "VirtualMachine") {
		return nil, &types.InvalidArgument{InvalidProperty: "spec.location.folder"}
	}
	var duplicate *types.ManagedObjectReference
	ctx.WithLock(folder, func() {
		for i, child := range folder.ChildEntity {
			if e, ok := Map.Get(child).(mo.Entity); ok && e.Entity().Name == spec.Name {
				duplicate = &folder.ChildEntity[i]
				return
			}
		}
	})
	if duplicate != nil {
		return nil, &types.DuplicateName{Name: spec.Name, Object: *duplicate}
	}
	place.folder = folder

	poolRef := vm.ResourcePool
	if loc.Pool != nil {
		poolRef = loc.Pool
	}
	if poolRef == nil {
		return nil, &types.InvalidArgument{InvalidProperty: "spec.location.pool"}
	}
	pool, ok := Map.Get(*poolRef).(mo.Entity)
	if !ok {
		return nil, &types.ManagedObjectNotFound{Obj: *poolRef}
	}
	if _, isPool := asResourcePoolMO(pool); !isPool {
		if _, isVApp := pool.(*VirtualApp); !isVApp {
			return nil, &types.InvalidArgument{InvalidProperty: "spec.location.pool"}
		}
	}
	if !computeResourceHasHost(Map.getEntityComputeResource(pool), host.Self) {
		// The pool must belong to the cluster (or standalone host) of the source's host.
		return nil, &types.InvalidArgument{InvalidProperty: "spec.location.pool"}
	}
	place.pool = *poolRef

	var dsRef types.ManagedObjectReference
	switch {
	case loc.Datastore != nil:
		dsRef = *loc.Datastore
	case len(vm.Datastore) != 0:
		dsRef = vm.Datastore[0]
	default:
		return nil, &types.InvalidArgument{InvalidProperty: "spec.location.datastore"}
	}
	ds, ok := Map.Get(dsRef).(*Datastore)
	if !ok {
		return nil, &types.ManagedObjectNotFound{Obj: dsRef}
	}
	if FindReference(host.Datastore, dsRef) == nil {
		return nil, &types.InvalidDatastore{Datastore: &dsRef, Name: ds.Name}
	}
	place.datastore = ds

	return place, nil
}

func computeResourceHasHost(cr mo.Entity, host types.ManagedObjectReference) bool {
	var hosts []types.ManagedObjectReference
	switch cr := cr.(type) {
	case *mo.ComputeResource:
		hosts = cr.Host
	case *ClusterComputeResource:
		hosts = cr.Host
	}
	return FindReference(hosts, host) != nil
}

// instantCloneExtraConfig is the source's extraConfig overridden by the spec's
// config, without the key CreateVM adds by itself.
func (vm *VirtualMachine) instantCloneExtraConfig(config []types.BaseOptionValue) []types.BaseOptionValue {
	override := make(map[string]bool, len(config))
	for _, o := range config {
		override[o.GetOptionValue().Key] = true
	}

	var merged []types.BaseOptionValue
	for _, o := range vm.Config.ExtraConfig {
		opt := o.GetOptionValue()
		// vsray.frozen_image (see vsray-sim's freezer.go): a clone resumes the
		// frozen guest instead of booting it, so it does not freeze again.
		if opt.Key == "govcsim" || opt.Key == "vsray.frozen_image" || override[opt.Key] {
			continue
		}
		merged = append(merged, &types.OptionValue{Key: opt.Key, Value: opt.Value})
	}
	for _, o := range config {
		opt := o.GetOptionValue()
		merged = append(merged, &types.OptionValue{Key: opt.Key, Value: opt.Value})
	}
	return merged
}

// instantCloneDevices copies the source's devices for the clone (CreateVM adds
// the default ones itself) and applies spec.location.deviceChange, which may
// only edit a NIC or a serial/parallel port, as on vCenter.
func (vm *VirtualMachine) instantCloneDevices(host *HostSystem, edits []types.BaseVirtualDeviceConfigSpec) ([]types.BaseVirtualDeviceConfigSpec, types.BaseMethodFault) {
	defaults := object.VirtualDeviceList(esx.VirtualDevice)

	var specs []types.BaseVirtualDeviceConfigSpec
	byKey := make(map[int32]*types.VirtualDeviceConfigSpec)

	for _, device := range vm.Config.Hardware.Device {
		if defaults.FindByKey(device.GetVirtualDevice().Key) != nil {
			continue
		}
		copied := copyDeep(device).(types.BaseVirtualDevice)
		spec := &types.VirtualDeviceConfigSpec{
			Operation: types.VirtualDeviceConfigSpecOperationAdd,
			Device:    copied,
		}

		switch d := copied.(type) {
		case *types.VirtualDisk:
			// The clone gets its own (child) disk in its own directory.
			spec.FileOperation = types.VirtualDeviceConfigSpecFileOperationCreate
			if b, ok := d.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok {
				b.FileName = ""
				b.Parent = nil
				b.Datastore = nil
			}
		case types.BaseVirtualEthernetCard:
			// A new MAC is generated for the clone; the connection state is kept.
			card := d.GetVirtualEthernetCard()
			card.MacAddress = ""
			card.AddressType = string(types.VirtualEthernetCardMacTypeGenerated)
		}

		specs = append(specs, spec)
		byKey[copied.GetVirtualDevice().Key] = spec
	}

	for i, edit := range edits {
		change := edit.GetVirtualDeviceConfigSpec()
		invalid := &types.InvalidDeviceSpec{
			InvalidVmConfig: types.InvalidVmConfig{Property: "spec.location.deviceChange"},
			DeviceIndex:     int32(i),
		}
		if change.Operation != types.VirtualDeviceConfigSpecOperationEdit || change.Device == nil {
			return nil, invalid
		}
		target, ok := byKey[change.Device.GetVirtualDevice().Key]
		if !ok {
			return nil, invalid
		}
		if fault := applyInstantCloneEdit(host, target.Device, change.Device); fault != nil {
			return nil, fault
		}
	}

	return specs, nil
}

// applyInstantCloneEdit merges an edited NIC or serial/parallel port into the
// clone's copy of that device.
func applyInstantCloneEdit(host *HostSystem, dst, src types.BaseVirtualDevice) types.BaseMethodFault {
	to, from := dst.GetVirtualDevice(), src.GetVirtualDevice()

	switch dst.(type) {
	case types.BaseVirtualEthernetCard:
		edited, ok := src.(types.BaseVirtualEthernetCard)
		if !ok {
			return &types.InvalidArgument{InvalidProperty: "spec.location.deviceChange.device"}
		}
		if b, ok := from.Backing.(*types.VirtualEthernetCardNetworkBackingInfo); ok {
			if !hostHasNetwork(host, b.DeviceName) {
				return &types.InvalidArgument{InvalidProperty: "spec.location.deviceChange.device.backing.deviceName"}
			}
		}
		if mac := edited.GetVirtualEthernetCard().MacAddress; mac != "" {
			card := dst.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard()
			card.MacAddress = mac
			card.AddressType = string(types.VirtualEthernetCardMacTypeManual)
		}
	case *types.VirtualSerialPort, *types.VirtualParallelPort:
		if from.Backing != nil {
			if _, ok := from.Backing.(types.BaseVirtualDeviceFileBackingInfo); !ok {
				return &types.InvalidArgument{InvalidProperty: "spec.location.deviceChange.device.backing"}
			}
		}
	default:
		return &types.NotSupported{}
	}

	if from.Backing != nil {
		to.Backing = copyDeep(from.Backing).(types.BaseVirtualDeviceBackingInfo)
	}
	if from.Connectable != nil {
		to.Connectable = copyDeep(from.Connectable).(*types.VirtualDeviceConnectInfo)
	}
	return nil
}

func hostHasNetwork(host *HostSystem, name string) bool {
	for _, ref := range host.Network {
		if e, ok := Map.Get(ref).(mo.Entity); ok && e.Entity().Name == name {
			return true
		}
	}
	return false
}

// copyDeep returns a copy of v that shares no pointer, slice, map or interface
// value with v, so that the clone's devices never alias the source's.
func copyDeep(v interface{}) interface{} {
	if v == nil {
		return nil
	}
	src := reflect.ValueOf(v)
	dst := reflect.New(src.Type()).Elem()
	copyDeepValue(dst, src)
	return dst.Interface()
}

func copyDeepValue(dst, src reflect.Value) {
	switch src.Kind() {
	case reflect.Ptr:
		if src.IsNil() {
			return
		}
		p := reflect.New(src.Type().Elem())
		copyDeepValue(p.Elem(), src.Elem())
		dst.Set(p)
	case reflect.Interface:
		if src.IsNil() {
			return
		}
		inner := reflect.New(src.Elem().Type()).Elem()
		copyDeepValue(inner, src.Elem())
		dst.Set(inner)
	case reflect.Slice:
		if src.IsNil() {
			return
		}
		s := reflect.MakeSlice(src.Type(), src.Len(), src.Len())
		for i := 0; i < src.Len(); i++ {
			copyDeepValue(s.Index(i), src.Index(i))
		}
		dst.Set(s)
	case reflect.Map:
		if src.IsNil() {
			return
		}
		m := reflect.MakeMapWithSize(src.Type(), src.Len())
		iter := src.MapRange()
		for iter.Next() {
			val := reflect.New(iter.Value().Type()).Elem()
			copyDeepValue(val, iter.Value())
			m.SetMapIndex(iter.Key(), val)
		}
		dst.Set(m)
	case reflect.Struct:
		// Set copies unexported fields too (time.Time for example); exported
		// reference fields are then replaced by copies.
		dst.Set(src)
		for i := 0; i < src.NumField(); i++ {
			if dst.Field(i).CanSet() {
				copyDeepValue(dst.Field(i), src.Field(i))
			}
		}
	default:
		dst.Set(src)
	}
}
