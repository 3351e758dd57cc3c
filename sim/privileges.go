package main

import (
	"encoding/json"
	"reflect"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// The privilege table: what each SOAP method and REST route vsray uses needs,
// on which entity. Users other than the administrator are checked against it
// before the call is served (authz_soap.go, authz_rest.go); a missing
// privilege is answered with NoPermission naming the privilege and the
// entity, as vCenter does.
//
// Sources, cited per entry:
//   [API]  vSphere Web Services API reference, "Required privileges" of the
//          method (the same text as pyvmomi's docs/vim/*.rst and the vSphere
//          Management SDK).
//   [IC]   InstantClone_Task: "The privilege required for Instant Clone
//          operation are: VirtualMachine.Provisioning.Clone,
//          VirtualMachine.Interact.PowerOn, VirtualMachine.Inventory.
//          CreateFromExisting, Datastore.AllocateSpace, Resource.
//          AssignVMToPool". The entity of each is not documented; vsray-sim
//          checks them on the source VM, the destination folder (PowerOn,
//          CreateFromExisting: the clone inherits from it), the datastore and
//          the pool.
//   [CL]   CloneVM_Task: the source VM's privilege depends on source and
//          destination (VM or template), Customize if customizing,
//          Resource.AssignVMToPool on the pool, Datastore.AllocateSpace on the
//          datastores; the folder needs VirtualMachine.Inventory.
//          CreateFromExisting, as the vSphere Automation API states for
//          VM.clone (the SOAP page is silent on the folder).
//   [RC]   ReconfigVM_Task: "dynamic", the list of the method's description
//          (one privilege per kind of change; see configSpecPrivileges).
//   [VAPI] vSphere Automation API pages ("To invoke this operation, you
//          need ..." / "requires ..."). Tags, categories and content libraries
//          are not inventory entities: their permissions come from global
//          permissions, which vsray-sim models as permissions on the root
//          folder.
//   [ASSUME] The documentation is silent; the assumption is stated.
//
// Methods documented as System.Anonymous or System.View on service objects
// (sessions, property collector, views, search index, environment browser,
// privilege queries) need no check: every user holding any role has them.
// RetrievePropertiesEx and the like answer only objects the user may read
// (System.Read), as vCenter does. Any other method is refused for restricted
// users with NotSupported ("no privilege rule"), so that a new call shows up
// in tests instead of silently passing.

// requirement is one privilege needed on one entity.
type requirement struct {
	entity    types.ManagedObjectReference
	privilege string
}

// soapCallInfo is a decoded SOAP request.
type soapCallInfo struct {
	method string
	this   types.ManagedObjectReference
	req    interface{} // *types.<Method>
}

// soapRule computes the requirements of a call. A nil rule needs nothing.
type soapRule func(c *soapCallInfo) []requirement

// openMethods need no privilege check (System.Anonymous / System.View [API]).
var openMethods = []string{
	"RetrieveServiceContent", "Login", "Logout", "CurrentTime", "SessionIsActive",
	"CreatePropertyCollector", "DestroyPropertyCollector", "CreateFilter", "DestroyPropertyFilter",
	"WaitForUpdates", "WaitForUpdatesEx", "CheckForUpdates", "CancelWaitForUpdates",
	"RetrieveProperties", "RetrievePropertiesEx", "ContinueRetrievePropertiesEx", "CancelRetrievePropertiesEx", "Fetch",
	"CreateContainerView", "CreateListView", "CreateListViewFromView", "CreateInventoryView", "DestroyView",
	"FindByInventoryPath", "FindChild", "FindByUuid", "FindAllByUuid", "FindByIp", "FindAllByIp",
	"FindByDnsName", "FindAllByDnsName", "FindByDatastorePath",
	"HasPrivilegeOnEntity", "HasPrivilegeOnEntities", "HasUserPrivilegeOnEntities", "FetchUserPrivilegeOnEntities",
	"RetrieveAllPermissions", "RetrieveRolePermissions", "RetrieveUserGroups",
	"QueryConfigTarget", "QueryConfigOption", "QueryConfigOptionEx", "QueryConfigOptionDescriptor", "QueryTargetCapabilities",
}

// soapPrivileges is the table of SOAP methods that need privileges.
var soapPrivileges = map[string]soapRule{
	// [API] VirtualMachine power operations.
	"PowerOnVM_Task":  onThis("VirtualMachine.Interact.PowerOn"),
	"PowerOffVM_Task": onThis("VirtualMachine.Interact.PowerOff"),
	"ShutdownGuest":   onThis("VirtualMachine.Interact.PowerOff"),
	"RebootGuest":     onThis("VirtualMachine.Interact.Reset"),
	"ResetVM_Task":    onThis("VirtualMachine.Interact.Reset"),
	"SuspendVM_Task":  onThis("VirtualMachine.Interact.Suspend"),
	"StandbyGuest":    onThis("VirtualMachine.Interact.Suspend"),
	// [API] Snapshots.
	"CreateSnapshot_Task":          onThis("VirtualMachine.State.CreateSnapshot"),
	"RemoveAllSnapshots_Task":      onThis("VirtualMachine.State.RemoveSnapshot"),
	"RevertToCurrentSnapshot_Task": onThis("VirtualMachine.State.RevertToSnapshot"),
	// [API] VirtualMachine.MarkAsTemplate.
	"MarkAsTemplate": onThis("VirtualMachine.Provisioning.MarkAsTemplate"),
	// [RC]
	"ReconfigVM_Task": reconfigRule,
	// [CL] [IC]
	"CloneVM_Task":      cloneRule,
	"InstantClone_Task": instantCloneRule,
	// [API] Folder.CreateFolder: Folder.Create; Folder.CreateVM_Task:
	// VirtualMachine.Inventory.Create on the folder, Resource.AssignVMToPool
	// on the pool, plus the device privileges of the spec (as ReconfigVM).
	"CreateFolder":  onThis("Folder.Create"),
	"CreateVM_Task": createVMRule,
	// [API] ManagedEntity.Destroy_Task: the type's delete privilege, "held on
	// the parent of the destroyed entity as well as the entity itself".
	"Destroy_Task": destroyRule,
	// [API] ManagedEntity.Rename_Task: VirtualMachine.Config.Rename for VMs,
	// Folder.Rename for folders.
	"Rename_Task": renameRule,
	// [API] CustomFieldsManager: Global.ManageCustomFields (a service object:
	// checked on the root folder), SetField: Global.SetCustomField on the
	// entity; ExtensibleManagedObject.setCustomValue: Global.SetCustomField.
	"AddCustomFieldDef":    onRoot("Global.ManageCustomFields"),
	"RemoveCustomFieldDef": onRoot("Global.ManageCustomFields"),
	"RenameCustomFieldDef": onRoot("Global.ManageCustomFields"),
	"SetField":             setFieldRule,
	"setCustomValue":       onThis("Global.SetCustomField"),
	// [API] AuthorizationManager: roles need Authorization.ModifyRoles (on the
	// root folder), permissions Authorization.ModifyPermissions on the entity.
	// RetrieveEntityPermissions has no documented privilege [ASSUME]:
	// System.Read on the entity.
	"AddAuthorizationRole":      onRoot("Authorization.ModifyRoles"),
	"UpdateAuthorizationRole":   onRoot("Authorization.ModifyRoles"),
	"RemoveAuthorizationRole":   onRoot("Authorization.ModifyRoles"),
	"MergePermissions":          onRoot("Authorization.ReassignRolePermissions"),
	"SetEntityPermissions":      permissionEntityRule("Authorization.ModifyPermissions"),
	"ResetEntityPermissions":    permissionEntityRule("Authorization.ModifyPermissions"),
	"RemoveEntityPermission":    permissionEntityRule("Authorization.ModifyPermissions"),
	"RetrieveEntityPermissions": permissionEntityRule("System.Read"),
}

func onThis(privilege string) soapRule {
	return func(c *soapCallInfo) []requirement {
		return []requirement{{c.this, privilege}}
	}
}

func onRoot(privilege string) soapRule {
	return func(*soapCallInfo) []requirement {
		return []requirement{{rootFolder(), privilege}}
	}
}

func permissionEntityRule(privilege string) soapRule {
	return func(c *soapCallInfo) []requirement {
		var entity types.ManagedObjectReference
		switch req := c.req.(type) {
		case *types.SetEntityPermissions:
			entity = req.Entity
		case *types.ResetEntityPermissions:
			entity = req.Entity
		case *types.RemoveEntityPermission:
			entity = req.Entity
		case *types.RetrieveEntityPermissions:
			entity = req.Entity
		}
		return []requirement{{entity, privilege}}
	}
}

func setFieldRule(c *soapCallInfo) []requirement {
	req, ok := c.req.(*types.SetField)
	if !ok {
		return nil
	}
	return []requirement{{req.Entity, "Global.SetCustomField"}}
}

func destroyRule(c *soapCallInfo) []requirement {
	privilege := map[string]string{
		"VirtualMachine": "VirtualMachine.Inventory.Delete",
		"Folder":         "Folder.Delete",
		"ResourcePool":   "Resource.DeletePool",
		"Datacenter":     "Datacenter.Delete",
	}[c.this.Type]
	if privilege == "" {
		privilege = "System.Read" // [ASSUME] other entities are not destroyed by vsray
	}
	need := []requirement{{c.this, privilege}}
	if parent := entityParent(c.this); parent != nil {
		need = append(need, requirement{*parent, privilege})
	}
	return need
}

func renameRule(c *soapCallInfo) []requirement {
	if c.this.Type == "VirtualMachine" {
		return []requirement{{c.this, "VirtualMachine.Config.Rename"}}
	}
	return []requirement{{c.this, "Folder.Rename"}}
}

func reconfigRule(c *soapCallInfo) []requirement {
	req, ok := c.req.(*types.ReconfigVM_Task)
	if !ok {
		return nil
	}
	var need []requirement
	for _, p := range configSpecPrivileges(&req.Spec, vmDevices(c.this)) {
		need = append(need, requirement{c.this, p})
	}
	return append(need, configSpecResources(&req.Spec)...)
}

func createVMRule(c *soapCallInfo) []requirement {
	req, ok := c.req.(*types.CreateVM_Task)
	if !ok {
		return nil
	}
	need := []requirement{
		{c.this, "VirtualMachine.Inventory.Create"},
		{req.Pool, "Resource.AssignVMToPool"},
	}
	for _, p := range configSpecPrivileges(&req.Config, nil) {
		if p != "VirtualMachine.Config.Rename" {
			need = append(need, requirement{c.this, p})
		}
	}
	return append(need, configSpecResources(&req.Config)...)
}

func cloneRule(c *soapCallInfo) []requirement {
	req, ok := c.req.(*types.CloneVM_Task)
	if !ok {
		return nil
	}
	src := vmPlacement(c.this)
	source := "VirtualMachine.Provisioning.Clone"
	switch {
	case src.template && req.Spec.Template:
		source = "VirtualMachine.Provisioning.CloneTemplate"
	case src.template:
		source = "VirtualMachine.Provisioning.DeployTemplate"
	case req.Spec.Template:
		source = "VirtualMachine.Provisioning.CreateTemplateFromVM"
	}
	need := []requirement{
		{c.this, source},
		{req.Folder, "VirtualMachine.Inventory.CreateFromExisting"},
	}
	if req.Spec.Customization != nil {
		need = append(need, requirement{c.this, "VirtualMachine.Provisioning.Customize"})
	}
	loc := req.Spec.Location
	if pool := firstRef(loc.Pool, src.pool); pool != nil && !req.Spec.Template {
		need = append(need, requirement{*pool, "Resource.AssignVMToPool"})
	}
	if ds := firstRef(loc.Datastore, src.datastore); ds != nil {
		need = append(need, requirement{*ds, "Datastore.AllocateSpace"})
	}
	return need
}

func instantCloneRule(c *soapCallInfo) []requirement {
	req, ok := c.req.(*types.InstantClone_Task)
	if !ok {
		return nil
	}
	src := vmPlacement(c.this)
	loc := req.Spec.Location
	need := []requirement{{c.this, "VirtualMachine.Provisioning.Clone"}}
	if folder := firstRef(loc.Folder, src.folder); folder != nil {
		need = append(need,
			requirement{*folder, "VirtualMachine.Inventory.CreateFromExisting"},
			requirement{*folder, "VirtualMachine.Interact.PowerOn"})
	}
	if pool := firstRef(loc.Pool, src.pool); pool != nil {
		need = append(need, requirement{*pool, "Resource.AssignVMToPool"})
	}
	if ds := firstRef(loc.Datastore, src.datastore); ds != nil {
		need = append(need, requirement{*ds, "Datastore.AllocateSpace"})
	}
	return need
}

func firstRef(refs ...*types.ManagedObjectReference) *types.ManagedObjectReference {
	for _, r := range refs {
		if r != nil {
			return r
		}
	}
	return nil
}

// placement is where a VM is, for the defaults of clone specs.
type placement struct {
	folder, pool, datastore *types.ManagedObjectReference
	template                bool
}

func vmPlacement(ref types.ManagedObjectReference) placement {
	var p placement
	vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine)
	if !ok {
		return p
	}
	simulator.Map.WithLock(vm, func() {
		p.folder = copyRef(vm.Parent)
		p.pool = copyRef(vm.ResourcePool)
		if len(vm.Datastore) > 0 {
			p.datastore = copyRef(&vm.Datastore[0])
		}
		p.template = vm.Config != nil && vm.Config.Template
	})
	return p
}

func entityParent(ref types.ManagedObjectReference) *types.ManagedObjectReference {
	obj := simulator.Map.Get(ref)
	entity, ok := obj.(mo.Entity)
	if !ok {
		return nil
	}
	var parent *types.ManagedObjectReference
	simulator.Map.WithLock(obj, func() { parent = copyRef(entity.Entity().Parent) })
	return parent
}

// vmDevices is a copy of a VM's device list.
func vmDevices(ref types.ManagedObjectReference) []types.BaseVirtualDevice {
	vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine)
	if !ok {
		return nil
	}
	var devices []types.BaseVirtualDevice
	simulator.Map.WithLock(vm, func() {
		if vm.Config != nil {
			devices = append(devices, vm.Config.Hardware.Device...)
		}
	})
	return devices
}

// tablePrivileges are the privilege ids the tables name, so that roles may
// hold them.
func tablePrivileges() []string {
	return []string{
		"VirtualMachine.Interact.PowerOn", "VirtualMachine.Interact.PowerOff", "VirtualMachine.Interact.Reset",
		"VirtualMachine.Interact.Suspend", "VirtualMachine.Interact.DeviceConnection",
		"VirtualMachine.Interact.SetCDMedia", "VirtualMachine.Interact.SetFloppyMedia",
		"VirtualMachine.State.CreateSnapshot", "VirtualMachine.State.RemoveSnapshot", "VirtualMachine.State.RevertToSnapshot",
		"VirtualMachine.Provisioning.Clone", "VirtualMachine.Provisioning.CloneTemplate",
		"VirtualMachine.Provisioning.DeployTemplate", "VirtualMachine.Provisioning.CreateTemplateFromVM",
		"VirtualMachine.Provisioning.Customize", "VirtualMachine.Provisioning.MarkAsTemplate",
		"VirtualMachine.Inventory.Create", "VirtualMachine.Inventory.CreateFromExisting", "VirtualMachine.Inventory.Delete",
		"VirtualMachine.Config.Rename", "VirtualMachine.Config.Annotation", "VirtualMachine.Config.AddExistingDisk",
		"VirtualMachine.Config.AddNewDisk", "VirtualMachine.Config.RemoveDisk", "VirtualMachine.Config.CPUCount",
		"VirtualMachine.Config.Memory", "VirtualMachine.Config.RawDevice", "VirtualMachine.Config.AddRemoveDevice",
		"VirtualMachine.Config.EditDevice", "VirtualMachine.Config.Settings", "VirtualMachine.Config.Resource",
		"VirtualMachine.Config.AdvancedConfig", "VirtualMachine.Config.SwapPlacement", "VirtualMachine.Config.HostUSBDevice",
		"VirtualMachine.Config.DiskExtend", "VirtualMachine.Config.ChangeTracking",
		"Folder.Create", "Folder.Delete", "Folder.Rename", "Resource.AssignVMToPool", "Resource.DeletePool",
		"Datacenter.Delete", "Datastore.AllocateSpace", "Network.Assign", "VApp.Import",
		"Global.ManageCustomFields", "Global.SetCustomField",
		"Authorization.ModifyRoles", "Authorization.ModifyPermissions", "Authorization.ReassignRolePermissions",
		"InventoryService.Tagging.CreateCategory", "InventoryService.Tagging.EditCategory",
		"InventoryService.Tagging.DeleteCategory", "InventoryService.Tagging.CreateTag",
		"InventoryService.Tagging.EditTag", "InventoryService.Tagging.DeleteTag", "InventoryService.Tagging.AttachTag",
		"ContentLibrary.CreateLocalLibrary", "ContentLibrary.DeleteLocalLibrary", "ContentLibrary.AddLibraryItem",
		"ContentLibrary.DeleteLibraryItem", "ContentLibrary.UpdateSession",
		"System.Anonymous", "System.View", "System.Read",
	}
}

// configSpecPrivileges are the privileges a ConfigSpec needs on its VM, from
// the list of ReconfigVM_Task's description [RC]. current is the VM's device
// list (nil when creating), against which edits are compared. Fields outside
// the list need nothing here.
func configSpecPrivileges(spec *types.VirtualMachineConfigSpec, current []types.BaseVirtualDevice) []string {
	set := privSet{}
	add := func(cond bool, p string) {
		if cond {
			set[p] = true
		}
	}
	add(spec.Name != "", "VirtualMachine.Config.Rename")
	add(spec.Annotation != "", "VirtualMachine.Config.Annotation")
	add(spec.NumCPUs != 0 || spec.NumCoresPerSocket != 0, "VirtualMachine.Config.CPUCount")
	add(spec.MemoryMB != 0, "VirtualMachine.Config.Memory")
	add(len(spec.ExtraConfig) != 0, "VirtualMachine.Config.AdvancedConfig")
	add(spec.CpuAllocation != nil || spec.MemoryAllocation != nil || spec.CpuAffinity != nil ||
		spec.MemoryAffinity != nil || spec.LatencySensitivity != nil, "VirtualMachine.Config.Resource")
	add(spec.Tools != nil || spec.Flags != nil || spec.BootOptions != nil || spec.PowerOpInfo != nil ||
		spec.CpuHotAddEnabled != nil || spec.MemoryHotAddEnabled != nil, "VirtualMachine.Config.Settings")
	add(spec.SwapPlacement != "", "VirtualMachine.Config.SwapPlacement")
	add(spec.ChangeTrackingEnabled != nil, "VirtualMachine.Config.ChangeTracking")
	for _, change := range spec.DeviceChange {
		for _, p := range deviceChangePrivileges(change.GetVirtualDeviceConfigSpec(), current) {
			set[p] = true
		}
	}
	return set.sorted()
}

// deviceChangePrivileges are the privileges of one device change [RC]:
// AddNewDisk / AddExistingDisk / RemoveDisk for disks (RawDevice for raw
// mappings), HostUSBDevice for host USB devices, AddRemoveDevice for any
// other device added or removed (PCI passthrough devices included);
// DeviceConnection for a change of the connection state, SetCDMedia /
// SetFloppyMedia for new media, DiskExtend for a larger disk and EditDevice
// for any other edit.
func deviceChangePrivileges(change *types.VirtualDeviceConfigSpec, current []types.BaseVirtualDevice) []string {
	if change == nil || change.Device == nil {
		return nil
	}
	device := change.Device
	disk, isDisk := device.(*types.VirtualDisk)
	raw := isDisk && isRawDisk(disk)
	switch change.Operation {
	case types.VirtualDeviceConfigSpecOperationAdd:
		switch {
		case raw:
			return []string{"VirtualMachine.Config.RawDevice"}
		case isDisk && change.FileOperation == types.VirtualDeviceConfigSpecFileOperationCreate:
			return []string{"VirtualMachine.Config.AddNewDisk"}
		case isDisk:
			return []string{"VirtualMachine.Config.AddExistingDisk"}
		case isHostUSB(device):
			return []string{"VirtualMachine.Config.HostUSBDevice"}
		}
		return []string{"VirtualMachine.Config.AddRemoveDevice"}
	case types.VirtualDeviceConfigSpecOperationRemove:
		switch {
		case raw:
			return []string{"VirtualMachine.Config.RawDevice"}
		case isDisk:
			return []string{"VirtualMachine.Config.RemoveDisk"}
		case isHostUSB(device):
			return []string{"VirtualMachine.Config.HostUSBDevice"}
		}
		return []string{"VirtualMachine.Config.AddRemoveDevice"}
	case types.VirtualDeviceConfigSpecOperationEdit:
		return deviceEditPrivileges(device, findDevice(current, device.GetVirtualDevice().Key))
	}
	return nil
}

func deviceEditPrivileges(device, old types.BaseVirtualDevice) []string {
	if old == nil {
		return []string{"VirtualMachine.Config.EditDevice"}
	}
	d, o := device.GetVirtualDevice(), old.GetVirtualDevice()
	var out []string
	connection := d.Connectable != nil && !sameConnection(d.Connectable, o.Connectable)
	if connection {
		out = append(out, "VirtualMachine.Interact.DeviceConnection")
	}
	backing := d.Backing != nil && !reflect.DeepEqual(d.Backing, o.Backing)
	switch device.(type) {
	case *types.VirtualCdrom:
		if backing {
			return append(out, "VirtualMachine.Interact.SetCDMedia")
		}
	case *types.VirtualFloppy:
		if backing {
			return append(out, "VirtualMachine.Interact.SetFloppyMedia")
		}
	case *types.VirtualDisk:
		if nd, od := device.(*types.VirtualDisk), old.(*types.VirtualDisk); nd.CapacityInKB > od.CapacityInKB {
			out = append(out, "VirtualMachine.Config.DiskExtend")
		}
	}
	// A change of the connection state alone is a DeviceConnection, not a
	// settings change.
	if backing || !connection {
		out = append(out, "VirtualMachine.Config.EditDevice")
	}
	return out
}

func sameConnection(a, b *types.VirtualDeviceConnectInfo) bool {
	return b != nil && a.Connected == b.Connected && a.StartConnected == b.StartConnected &&
		a.AllowGuestControl == b.AllowGuestControl
}

func findDevice(devices []types.BaseVirtualDevice, key int32) types.BaseVirtualDevice {
	for _, d := range devices {
		if d.GetVirtualDevice().Key == key {
			return d
		}
	}
	return nil
}

func isRawDisk(disk *types.VirtualDisk) bool {
	_, ok := disk.Backing.(*types.VirtualDiskRawDiskMappingVer1BackingInfo)
	return ok
}

func isHostUSB(device types.BaseVirtualDevice) bool {
	if usb, ok := device.(*types.VirtualUSB); ok {
		_, host := usb.Backing.(*types.VirtualUSBUSBBackingInfo)
		return host
	}
	return false
}

// configSpecResources are the privileges a ConfigSpec needs on other
// entities [RC]: Network.Assign on the networks NICs connect to,
// Datastore.AllocateSpace where new disks are created.
func configSpecResources(spec *types.VirtualMachineConfigSpec) []requirement {
	var need []requirement
	for _, change := range spec.DeviceChange {
		c := change.GetVirtualDeviceConfigSpec()
		if c == nil || c.Device == nil || c.Operation == types.VirtualDeviceConfigSpecOperationRemove {
			continue
		}
		if nic, ok := c.Device.(types.BaseVirtualEthernetCard); ok {
			if b, ok := nic.GetVirtualEthernetCard().Backing.(*types.VirtualEthernetCardNetworkBackingInfo); ok {
				if net := networkByBacking(b); net != nil {
					need = append(need, requirement{*net, "Network.Assign"})
				}
			}
		}
		if disk, ok := c.Device.(*types.VirtualDisk); ok && c.FileOperation == types.VirtualDeviceConfigSpecFileOperationCreate {
			if b, ok := disk.Backing.(types.BaseVirtualDeviceFileBackingInfo); ok {
				if ds := datastoreOfBacking(b.GetVirtualDeviceFileBackingInfo()); ds != nil {
					need = append(need, requirement{*ds, "Datastore.AllocateSpace"})
				}
			}
		}
	}
	return need
}

func networkByBacking(b *types.VirtualEthernetCardNetworkBackingInfo) *types.ManagedObjectReference {
	if b.Network != nil {
		return b.Network
	}
	for _, e := range simulator.Map.All("Network") {
		if e.Entity().Name == b.DeviceName {
			ref := e.Reference()
			return &ref
		}
	}
	return nil
}

func datastoreOfBacking(b *types.VirtualDeviceFileBackingInfo) *types.ManagedObjectReference {
	if b.Datastore != nil {
		return b.Datastore
	}
	var p object.DatastorePath
	if !p.FromString(b.FileName) {
		return nil
	}
	for _, e := range simulator.Map.All("Datastore") {
		if e.Entity().Name == p.Datastore {
			ref := e.Reference()
			return &ref
		}
	}
	return nil
}

// restCallInfo is a REST call, on /rest or /api, named by its canonical
// route: METHOD, the path below /rest/com/vmware or /api with ids as {id},
// and ?action=A (see canonicalRESTRoute).
type restCallInfo struct {
	route string
	body  []byte
}

type restRule func(c *restCallInfo) []requirement

// openRoutes need no privilege: sessions.
var openRoutes = []string{
	"POST /cis/session", "POST /cis/session?action=get", "GET /cis/session", "DELETE /cis/session",
	"POST /session", "GET /session", "DELETE /session",
}

// restPrivileges is the table of REST routes [VAPI]. Reading (list, get,
// find) needs System.Read; tags and categories need the tagging privileges,
// libraries the content-library ones (all on the root folder, see [VAPI]).
var restPrivileges = map[string]restRule{
	"GET /cis/tagging/category":                                                      onRootREST("System.Read"),
	"GET /cis/tagging/category/{id}":                                                 onRootREST("System.Read"),
	"POST /cis/tagging/category":                                                     onRootREST("InventoryService.Tagging.CreateCategory"),
	"PATCH /cis/tagging/category/{id}":                                               onRootREST("InventoryService.Tagging.EditCategory"),
	"DELETE /cis/tagging/category/{id}":                                              onRootREST("InventoryService.Tagging.DeleteCategory"),
	"GET /cis/tagging/tag":                                                           onRootREST("System.Read"),
	"GET /cis/tagging/tag/{id}":                                                      onRootREST("System.Read"),
	"POST /cis/tagging/tag?action=list-tags-for-category":                            onRootREST("System.Read"),
	"POST /cis/tagging/tag/{id}?action=list-tags-for-category":                       onRootREST("System.Read"),
	"POST /cis/tagging/tag":                                                          onRootREST("InventoryService.Tagging.CreateTag"),
	"PATCH /cis/tagging/tag/{id}":                                                    onRootREST("InventoryService.Tagging.EditTag"),
	"DELETE /cis/tagging/tag/{id}":                                                   onRootREST("InventoryService.Tagging.DeleteTag"),
	"POST /cis/tagging/tag-association/{id}?action=attach":                           attachRule,
	"POST /cis/tagging/tag-association/{id}?action=detach":                           attachRule,
	"POST /cis/tagging/tag-association/{id}?action=attach-tag-to-multiple-objects":   attachRule,
	"POST /cis/tagging/tag-association/{id}?action=detach-tag-from-multiple-objects": attachRule,
	"POST /cis/tagging/tag-association?action=attach-multiple-tags-to-object":        attachRule,
	"POST /cis/tagging/tag-association?action=detach-multiple-tags-from-object":      attachRule,
	"POST /cis/tagging/tag-association/{id}?action=list-attached-objects":            onRootREST("System.Read"),
	"POST /cis/tagging/tag-association?action=list-attached-tags":                    readObjectsRule,
	"POST /cis/tagging/tag-association?action=list-attached-tags-on-objects":         readObjectsRule,
	"POST /cis/tagging/tag-association?action=list-attached-objects-on-tags":         onRootREST("System.Read"),

	"GET /content/library":                                             onRootREST("System.Read"),
	"POST /content/library?action=find":                                onRootREST("System.Read"),
	"GET /content/library/{id}":                                        onRootREST("System.Read"),
	"POST /content/local-library":                                      onRootREST("ContentLibrary.CreateLocalLibrary"),
	"GET /content/local-library/{id}":                                  onRootREST("System.Read"),
	"DELETE /content/local-library/{id}":                               onRootREST("ContentLibrary.DeleteLocalLibrary"),
	"GET /content/library/item":                                        onRootREST("System.Read"),
	"POST /content/library/item?action=find":                           onRootREST("System.Read"),
	"GET /content/library/item/{id}":                                   onRootREST("System.Read"),
	"POST /content/library/item":                                       onRootREST("ContentLibrary.AddLibraryItem"),
	"DELETE /content/library/item/{id}":                                onRootREST("ContentLibrary.DeleteLibraryItem"),
	"GET /content/library/item/update-session":                         onRootREST("ContentLibrary.UpdateSession"),
	"POST /content/library/item/update-session":                        onRootREST("ContentLibrary.UpdateSession"),
	"GET /content/library/item/update-session/{id}":                    onRootREST("ContentLibrary.UpdateSession"),
	"DELETE /content/library/item/update-session/{id}":                 onRootREST("ContentLibrary.UpdateSession"),
	"POST /content/library/item/update-session/{id}?action=complete":   onRootREST("ContentLibrary.UpdateSession"),
	"POST /content/library/item/update-session/{id}?action=cancel":     onRootREST("ContentLibrary.UpdateSession"),
	"POST /content/library/item/update-session/{id}?action=fail":       onRootREST("ContentLibrary.UpdateSession"),
	"POST /content/library/item/update-session/{id}?action=keep-alive": onRootREST("ContentLibrary.UpdateSession"),
	"GET /content/library/item/updatesession/file":                     onRootREST("ContentLibrary.UpdateSession"),
	"POST /content/library/item/updatesession/file/{id}?action=add":    onRootREST("ContentLibrary.UpdateSession"),
	// Vcenter Ovf LibraryItem deploy: System.Read on the item, VApp.Import on
	// the target resource pool and folder.
	"POST /vcenter/ovf/library-item/{id}?action=deploy": deployRule,
}

func onRootREST(privilege string) restRule {
	return func(*restCallInfo) []requirement {
		return []requirement{{rootFolder(), privilege}}
	}
}

// attachRule: "you need the read privilege on the object and the attach tag
// privilege on each tag" (tag-association attach, detach and their bulk
// forms) [VAPI].
func attachRule(c *restCallInfo) []requirement {
	need := []requirement{{rootFolder(), "InventoryService.Tagging.AttachTag"}}
	for _, obj := range bodyObjects(c.body) {
		need = append(need, requirement{obj, "System.Read"})
	}
	return need
}

// readObjectsRule: listing the tags of objects needs System.Read on them.
func readObjectsRule(c *restCallInfo) []requirement {
	need := []requirement{{rootFolder(), "System.Read"}}
	for _, obj := range bodyObjects(c.body) {
		need = append(need, requirement{obj, "System.Read"})
	}
	return need
}

func deployRule(c *restCallInfo) []requirement {
	need := []requirement{{rootFolder(), "System.Read"}}
	var body struct {
		Target struct {
			ResourcePoolID string `json:"resource_pool_id"`
			FolderID       string `json:"folder_id"`
			HostID         string `json:"host_id"`
		} `json:"target"`
	}
	_ = json.Unmarshal(c.body, &body)
	if id := body.Target.ResourcePoolID; id != "" {
		need = append(need, requirement{types.ManagedObjectReference{Type: "ResourcePool", Value: id}, "VApp.Import"})
	}
	if id := body.Target.FolderID; id != "" {
		need = append(need, requirement{types.ManagedObjectReference{Type: "Folder", Value: id}, "VApp.Import"})
	}
	if id := body.Target.HostID; id != "" {
		need = append(need, requirement{types.ManagedObjectReference{Type: "HostSystem", Value: id}, "System.Read"})
	}
	return need
}

// bodyObjects are the vSphere objects a tagging request names (object_id,
// object_ids; DynamicIDs of type VirtualMachine, Folder, ...).
func bodyObjects(body []byte) []types.ManagedObjectReference {
	var spec struct {
		ObjectID  *dynamicID  `json:"object_id"`
		ObjectIDs []dynamicID `json:"object_ids"`
	}
	_ = json.Unmarshal(body, &spec)
	var out []types.ManagedObjectReference
	if spec.ObjectID != nil {
		out = append(out, types.ManagedObjectReference{Type: spec.ObjectID.Type, Value: spec.ObjectID.ID})
	}
	for _, o := range spec.ObjectIDs {
		out = append(out, types.ManagedObjectReference{Type: o.Type, Value: o.ID})
	}
	return out
}
