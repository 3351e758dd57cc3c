package main

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

func TestAccessSpecs(t *testing.T) {
	p, err := parsePermissionSpec("bob:vsray:/DC0/vm/ray:propagate")
	if err != nil || p != (permissionSpec{user: "bob", role: "vsray", path: "/DC0/vm/ray", propagate: true}) {
		t.Errorf("permission = %+v, %v", p, err)
	}
	if p, err := parsePermissionSpec("bob:ReadOnly:/"); err != nil || p.propagate || p.path != "/" {
		t.Errorf("root permission = %+v, %v", p, err)
	}
	for _, bad := range []string{"bob:ReadOnly", "bob::/DC0", "bob:ReadOnly:DC0"} {
		if _, err := parsePermissionSpec(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	r, err := parseRoleSpec("ops:System.Read, VirtualMachine.Interact.PowerOn")
	if err != nil || r.name != "ops" || !reflect.DeepEqual(r.privileges, []string{"System.Read", "VirtualMachine.Interact.PowerOn"}) {
		t.Errorf("role = %+v, %v", r, err)
	}
	if name, pw, err := splitUserSpec("bob:a:b"); err != nil || name != "bob" || pw != "a:b" {
		t.Errorf("user = %q %q %v", name, pw, err)
	}
	for _, bad := range []string{"bob", "bob:", ":pw", "b ob:pw"} {
		if _, _, err := splitUserSpec(bad); err == nil {
			t.Errorf("--user %q accepted", bad)
		}
	}
	if _, _, err := splitUserSpec("s3cret"); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error shows what may be a password: %v", err)
	}
}

func TestCanonicalRESTRoute(t *testing.T) {
	cases := map[string]string{
		"POST /rest/com/vmware/cis/tagging/tag-association/id:{id}?~action=attach": "POST /cis/tagging/tag-association/{id}?action=attach",
		"POST /api/cis/tagging/tag-association/{id}?action=attach":                 "POST /cis/tagging/tag-association/{id}?action=attach",
		"POST /rest/com/vmware/vcenter/ovf/library-item/id:{id}?~action=deploy":    "POST /vcenter/ovf/library-item/{id}?action=deploy",
		"GET /api/content/library/item/{id}":                                       "GET /content/library/item/{id}",
		"POST /rest/com/vmware/cis/session":                                        "POST /cis/session",
	}
	for in, want := range cases {
		if got := canonicalRESTRoute(in); got != want {
			t.Errorf("%s -> %s, want %s", in, got, want)
		}
		if _, ok := restPrivileges[want]; !ok && want != "POST /cis/session" {
			t.Errorf("%s is not in the table", want)
		}
	}
}

func TestDeviceChangePrivileges(t *testing.T) {
	nic := &types.VirtualVmxnet3{VirtualVmxnet: types.VirtualVmxnet{VirtualEthernetCard: types.VirtualEthernetCard{
		VirtualDevice: types.VirtualDevice{Key: 4000, Connectable: &types.VirtualDeviceConnectInfo{Connected: false},
			Backing: &types.VirtualEthernetCardNetworkBackingInfo{VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: "VM Network"}}},
	}}}
	connected := *nic
	connected.Connectable = &types.VirtualDeviceConnectInfo{Connected: true}
	current := []types.BaseVirtualDevice{nic}
	edit := func(d types.BaseVirtualDevice) *types.VirtualMachineConfigSpec {
		return &types.VirtualMachineConfigSpec{DeviceChange: []types.BaseVirtualDeviceConfigSpec{
			&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: d}}}
	}
	if got := configSpecPrivileges(edit(&connected), current); !reflect.DeepEqual(got, []string{"VirtualMachine.Interact.DeviceConnection"}) {
		t.Errorf("connecting a NIC needs %v", got)
	}
	moved := connected
	moved.Backing = &types.VirtualEthernetCardNetworkBackingInfo{VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: "other"}}
	if got := configSpecPrivileges(edit(&moved), current); !reflect.DeepEqual(got, []string{"VirtualMachine.Config.EditDevice", "VirtualMachine.Interact.DeviceConnection"}) {
		t.Errorf("moving a NIC needs %v", got)
	}
	spec := &types.VirtualMachineConfigSpec{
		NumCPUs: 4, MemoryMB: 8192, ExtraConfig: []types.BaseOptionValue{&types.OptionValue{Key: "a", Value: "b"}},
		DeviceChange: []types.BaseVirtualDeviceConfigSpec{
			&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, Device: &types.VirtualPCIPassthrough{}},
			&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, FileOperation: types.VirtualDeviceConfigSpecFileOperationCreate, Device: &types.VirtualDisk{}},
		},
	}
	want := []string{"VirtualMachine.Config.AddNewDisk", "VirtualMachine.Config.AddRemoveDevice", "VirtualMachine.Config.AdvancedConfig",
		"VirtualMachine.Config.CPUCount", "VirtualMachine.Config.Memory"}
	if got := configSpecPrivileges(spec, current); !reflect.DeepEqual(got, want) {
		t.Errorf("spec needs %v, want %v", got, want)
	}
}

// accessFixture is a simulator with users bob and carol, a role "vmpower"
// (power on/off) and the administrator's client.
func accessFixture(t *testing.T, args ...string) (*simulation, *vim25.Client, *object.AuthorizationManager) {
	args = append([]string{"--hosts", "1", "--vms", "2", "--user", "bob:bob-pw", "--user", "carol:carol-pw",
		"--role", "vmpower:VirtualMachine.Interact.PowerOn,VirtualMachine.Interact.PowerOff"}, args...)
	s := startSim(t, args...)
	admin := connect(t, s, "user", "pass")
	return s, admin, object.NewAuthorizationManager(admin)
}

func roleID(t *testing.T, am *object.AuthorizationManager, name string) int32 {
	list, err := am.RoleList(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if r := list.ByName(name); r != nil {
		return r.RoleId
	}
	t.Fatalf("no role %s", name)
	return 0
}

func TestPrivilegeEnforcement(t *testing.T) {
	s, admin, am := accessFixture(t)
	vmPath := "/DC0/vm/DC0_C0_RP0_VM0"
	vmRef := findVM(t, admin, vmPath).Reference()
	bob := connect(t, s, "bob", "bob-pw")
	bobVM := object.NewVirtualMachine(bob, vmRef)

	// No permission at all: NoPermission naming the privilege and the VM.
	_, err := bobVM.PowerOff(testCtx(t))
	f := soapFault(t, err)
	if faultKind(f) != "NoPermission" || faultField(f, "PrivilegeId") != "VirtualMachine.Interact.PowerOff" ||
		faultField(f, "Object") != vmRef {
		t.Fatalf("power-off without permission: %s %v %v", faultKind(f), faultField(f, "PrivilegeId"), faultField(f, "Object"))
	}
	if n := visibleVMs(t, bob); n != 0 {
		t.Errorf("bob sees %d VMs without any permission", n)
	}

	// The role, on the datacenter, propagating: bob may power the VM off.
	dc := findByPath(t, "/DC0")
	vmpower := roleID(t, am, "vmpower")
	if err := am.SetEntityPermissions(testCtx(t), dc, []types.Permission{{Principal: "bob", RoleId: vmpower, Propagate: true}}); err != nil {
		t.Fatal(err)
	}
	tk, err := bobVM.PowerOff(testCtx(t))
	if f := taskFault(t, tk, err); f != nil {
		t.Fatalf("power-off with the role: %s", faultKind(f))
	}
	if n := visibleVMs(t, bob); n != 2 {
		t.Errorf("bob sees %d VMs with the role on the datacenter", n)
	}
	// ... but not destroy it: the role lacks VirtualMachine.Inventory.Delete.
	_, err = bobVM.Destroy(testCtx(t))
	if f := soapFault(t, err); faultField(f, "PrivilegeId") != "VirtualMachine.Inventory.Delete" {
		t.Errorf("destroy: %s %v", faultKind(f), faultField(f, "PrivilegeId"))
	}
	// The answers of the privilege queries agree with enforcement.
	checkPrivilegeQueries(t, admin, bob, am, vmRef, map[string]bool{
		"VirtualMachine.Interact.PowerOff": true, "VirtualMachine.Interact.PowerOn": true,
		"VirtualMachine.Inventory.Delete": false, "System.Read": true,
	})

	// NoAccess on the VM itself overrides what the datacenter gives.
	if err := am.SetEntityPermissions(testCtx(t), vmRef, []types.Permission{{Principal: "bob", RoleId: -5}}); err != nil {
		t.Fatal(err)
	}
	_, err = bobVM.PowerOn(testCtx(t))
	if f := soapFault(t, err); faultKind(f) != "NoPermission" {
		t.Errorf("power-on under NoAccess: %s", faultKind(f))
	}
	if n := visibleVMs(t, bob); n != 1 {
		t.Errorf("bob sees %d VMs, one of them under NoAccess", n)
	}

	// The administrator is never refused, and unmodelled methods only refuse
	// restricted users.
	tk, err = object.NewVirtualMachine(admin, vmRef).PowerOn(testCtx(t))
	if f := taskFault(t, tk, err); f != nil {
		t.Errorf("admin power-on: %s", faultKind(f))
	}
	_, err = methods.UpgradeVM_Task(testCtx(t), bob, &types.UpgradeVM_Task{This: vmRef})
	if f := soapFault(t, err); faultKind(f) != "NotSupported" {
		t.Errorf("an unmodelled method: %s", faultKind(f))
	}
}

func TestPermissionPropagation(t *testing.T) {
	s, admin, am := accessFixture(t, "--permission", "carol:vmpower:/DC0")
	vmRef := findVM(t, admin, "/DC0/vm/DC0_C0_RP0_VM0").Reference()
	carol := connect(t, s, "carol", "carol-pw")
	dc := findByPath(t, "/DC0")

	// Without propagation the datacenter's permission stops at it (and its
	// root folders, part of it).
	checkPrivilegeQueries(t, admin, carol, am, vmRef, map[string]bool{"VirtualMachine.Interact.PowerOff": false})
	checkPrivilegeQueries(t, admin, carol, am, dc, map[string]bool{"VirtualMachine.Interact.PowerOff": true})
	_, err := object.NewVirtualMachine(carol, vmRef).PowerOff(testCtx(t))
	if f := soapFault(t, err); faultKind(f) != "NoPermission" {
		t.Fatalf("power-off: %s", faultKind(f))
	}

	// A VM also inherits through its resource pool: the role on the cluster,
	// propagating, reaches it through the cluster's root pool.
	cluster := findByPath(t, "/DC0/host/DC0_C0")
	if err := am.SetEntityPermissions(testCtx(t), cluster, []types.Permission{{Principal: "carol", RoleId: roleID(t, am, "vmpower"), Propagate: true}}); err != nil {
		t.Fatal(err)
	}
	tk, err := object.NewVirtualMachine(carol, vmRef).PowerOff(testCtx(t))
	if f := taskFault(t, tk, err); f != nil {
		t.Fatalf("power-off through the pool: %s", faultKind(f))
	}
	perms, err := am.RetrieveEntityPermissions(testCtx(t), vmRef, true)
	if err != nil {
		t.Fatal(err)
	}
	var reaching []string
	for _, p := range perms {
		reaching = append(reaching, p.Principal+"@"+p.Entity.Type)
	}
	sort.Strings(reaching)
	// The administrator's on the root folder and carol's on the cluster; not
	// carol's on the datacenter, which does not propagate.
	if want := []string{"carol@ClusterComputeResource", "user@Folder"}; !reflect.DeepEqual(reaching, want) {
		t.Errorf("permissions reaching the VM: %v, want %v", reaching, want)
	}
	if err := am.RemoveEntityPermission(testCtx(t), cluster, "carol", false); err != nil {
		t.Fatal(err)
	}
	checkPrivilegeQueries(t, admin, carol, am, vmRef, map[string]bool{"VirtualMachine.Interact.PowerOn": false})
	// The root folders of a datacenter cannot hold their own permissions.
	err = am.SetEntityPermissions(testCtx(t), findByPath(t, "/DC0/vm"), []types.Permission{{Principal: "carol", RoleId: -2}})
	if f := soapFault(t, err); faultKind(f) != "InvalidArgument" {
		t.Errorf("permission on a datacenter's vm folder: %s", faultKind(f))
	}
}

func TestRoles(t *testing.T) {
	s, admin, am := accessFixture(t)
	id, err := am.AddRole(testCtx(t), "vsray", []string{"VirtualMachine.Provisioning.Clone", "InventoryService.Tagging.AttachTag"})
	if err != nil || id < firstCustomRoleID {
		t.Fatalf("AddRole = %d, %v", id, err)
	}
	list, _ := am.RoleList(testCtx(t))
	role := list.ById(id)
	if role == nil || !reflect.DeepEqual(role.Privilege, []string{"InventoryService.Tagging.AttachTag", "System.Anonymous",
		"System.Read", "System.View", "VirtualMachine.Provisioning.Clone"}) {
		t.Errorf("role = %+v", role)
	}
	if _, err := am.AddRole(testCtx(t), "vsray", nil); faultKind(soapFault(t, err)) != "AlreadyExists" {
		t.Errorf("duplicate role: %v", err)
	}
	if _, err := am.AddRole(testCtx(t), "other", []string{"No.Such.Privilege"}); faultKind(soapFault(t, err)) != "InvalidArgument" {
		t.Errorf("unknown privilege: %v", err)
	}
	// A restricted user cannot make roles.
	bob := connect(t, s, "bob", "bob-pw")
	_, err = object.NewAuthorizationManager(bob).AddRole(testCtx(t), "mine", nil)
	if f := soapFault(t, err); faultField(f, "PrivilegeId") != "Authorization.ModifyRoles" {
		t.Errorf("bob adding a role: %s %v", faultKind(f), faultField(f, "PrivilegeId"))
	}
	if err := am.RemoveRole(testCtx(t), id, true); err != nil {
		t.Errorf("removing an unused role: %v", err)
	}
	_ = admin
}

// checkPrivilegeQueries checks that HasPrivilegeOnEntities (the user's own
// session), HasUserPrivilegeOnEntities and FetchUserPrivilegeOnEntities
// (asked by the administrator) all give want.
func checkPrivilegeQueries(t *testing.T, admin, user *vim25.Client, am *object.AuthorizationManager, entity types.ManagedObjectReference, want map[string]bool) {
	t.Helper()
	ctx := testCtx(t)
	var ids []string
	for id := range want {
		ids = append(ids, id)
	}
	userSession, err := session.NewManager(user).UserSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	own, err := methods.HasPrivilegeOnEntities(ctx, user, &types.HasPrivilegeOnEntities{
		This: *user.ServiceContent.AuthorizationManager, Entity: []types.ManagedObjectReference{entity},
		SessionId: userSession.Key, PrivId: ids})
	if err != nil {
		t.Fatal(err)
	}
	byAdmin, err := am.HasUserPrivilegeOnEntities(ctx, []types.ManagedObjectReference{entity}, userSession.UserName, ids)
	if err != nil {
		t.Fatal(err)
	}
	fetched, err := am.FetchUserPrivilegeOnEntities(ctx, []types.ManagedObjectReference{entity}, userSession.UserName)
	if err != nil {
		t.Fatal(err)
	}
	held := map[string]bool{}
	for _, p := range fetched[0].Privileges {
		held[p] = true
	}
	for i, id := range ids {
		if got := own.Returnval[0].PrivAvailability[i].IsGranted; got != want[id] {
			t.Errorf("HasPrivilegeOnEntities %s on %s = %v", id, entity.Value, got)
		}
		if got := byAdmin[0].PrivAvailability[i].IsGranted; got != want[id] {
			t.Errorf("HasUserPrivilegeOnEntities %s on %s = %v", id, entity.Value, got)
		}
		if held[id] != want[id] {
			t.Errorf("FetchUserPrivilegeOnEntities %s on %s = %v", id, entity.Value, held[id])
		}
	}
}

// visibleVMs counts the VMs a client's property collector reports.
func visibleVMs(t *testing.T, c *vim25.Client) int {
	ctx := testCtx(t)
	v, err := view.NewManager(c).CreateContainerView(ctx, c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = v.Destroy(ctx) }()
	var vms []mo.VirtualMachine
	if err := v.Retrieve(ctx, []string{"VirtualMachine"}, []string{"name"}, &vms); err != nil {
		t.Fatal(err)
	}
	return len(vms)
}

func findByPath(t *testing.T, path string) types.ManagedObjectReference {
	ref, ok := findByInventoryPath(path)
	if !ok {
		t.Fatalf("nothing at %s", path)
	}
	return ref
}
