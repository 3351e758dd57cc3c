package main

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/simulator/esx"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// authz is vsray-sim's model of vCenter's permissions: roles (kept in the
// AuthorizationManager's roleList, so clients see them) and permissions on
// managed entities (kept here). It answers what a user may do on an entity,
// following the vSphere documentation of AuthorizationManager and vSphere
// Security ("Hierarchical inheritance of permissions", "Multiple permission
// settings"):
//
//   - a permission defined on the entity itself applies to it, propagating
//     or not, and overrides everything inherited;
//   - otherwise the entity inherits from its parents: the nearest ancestor
//     holding a propagating permission for the user decides (a
//     non-propagating permission only applies to the entity it is on, and
//     the children of that entity look further up);
//   - a virtual machine inherits from both its folder and its resource pool
//     at once: the privileges of both paths add up;
//   - the children of a complex entity (a datacenter's root folders, a
//     compute resource's root pool, a standalone host) inherit the parent's
//     permission whether or not it propagates, and cannot hold their own;
//   - user-defined roles always include System.Anonymous, System.View and
//     System.Read; NoAccess grants nothing and so overrides inherited rights.
//
// Group permissions are stored and listed but grant nothing: vsray-sim has no
// groups. The administrator (--username) always holds every privilege.
type authz struct {
	users *userStore

	mu    sync.Mutex
	perms map[types.ManagedObjectReference][]types.Permission
}

// privSet is a set of privilege ids.
type privSet map[string]bool

// systemPrivileges are in every user-defined role.
var systemPrivileges = []string{"System.Anonymous", "System.View", "System.Read"}

// Roles that cannot be granted (AuthorizationManager.SetEntityPermissions).
const (
	roleView      int32 = -3
	roleAnonymous int32 = -4
	roleAdmin     int32 = -1
)

func newAuthz(users *userStore) *authz {
	return &authz{users: users, perms: map[types.ManagedObjectReference][]types.Permission{}}
}

// attach completes govmomi's roles for vCenter: the Administrator role holds
// every privilege vsray-sim knows, including the vCenter-only ones (content
// library, tagging) that govmomi's ESX role list lacks; and it gives the
// administrator a propagating Admin permission on the root folder.
func (a *authz) attach() {
	am := authorizationManager()
	simulator.Map.WithLock(am, func() {
		for i := range am.RoleList {
			if am.RoleList[i].RoleId == roleAdmin {
				am.RoleList[i].Privilege = privilegeUniverse()
			}
		}
	})
	root := rootFolder()
	a.perms[root] = []types.Permission{{
		Entity: &root, Principal: a.users.admin, RoleId: roleAdmin, Propagate: true,
	}}
}

func authorizationManager() *simulator.AuthorizationManager {
	ref := *simulator.Map.Get(serviceInstanceRef()).(*simulator.ServiceInstance).Content.AuthorizationManager
	return simulator.Map.Get(ref).(*simulator.AuthorizationManager)
}

func serviceInstanceRef() types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "ServiceInstance", Value: "ServiceInstance"}
}

func rootFolder() types.ManagedObjectReference {
	return simulator.Map.Get(serviceInstanceRef()).(*simulator.ServiceInstance).Content.RootFolder
}

// privilegeUniverse is every privilege id: those of govmomi's roles and those
// the privilege table (privileges.go) names.
func privilegeUniverse() []string {
	universeOnce.Do(func() {
		universe = privSet{}
		for _, role := range authorizationManagerRolesTemplate() {
			for _, p := range role.Privilege {
				universe[p] = true
			}
		}
		for _, p := range tablePrivileges() {
			universe[p] = true
		}
	})
	return universe.sorted()
}

var (
	universeOnce sync.Once
	universe     privSet
)

func (s privSet) sorted() []string {
	out := make([]string, 0, len(s))
	for p := range s {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// roles is a copy of the current role list.
func roles() []types.AuthorizationRole {
	am := authorizationManager()
	var out []types.AuthorizationRole
	simulator.Map.WithLock(am, func() {
		out = append(out, am.RoleList...)
	})
	return out
}

func findRole(list []types.AuthorizationRole, id int32) (types.AuthorizationRole, bool) {
	for _, r := range list {
		if r.RoleId == id {
			return r, true
		}
	}
	return types.AuthorizationRole{}, false
}

// knownPrivilege reports whether id is a privilege vsray-sim knows.
func knownPrivilege(id string) bool {
	privilegeUniverse()
	return universe[id]
}

// evaluator answers privilege questions for one user, caching what it
// computed (a RetrievePropertiesEx answer asks about many objects).
type evaluator struct {
	a     *authz
	user  string
	admin bool
	roles []types.AuthorizationRole
	perms map[types.ManagedObjectReference][]types.Permission
	flows map[types.ManagedObjectReference]privSet
}

func (a *authz) evaluator(user string) *evaluator {
	ev := &evaluator{
		a:     a,
		user:  user,
		admin: a.users.isAdmin(user),
		roles: roles(),
		flows: map[types.ManagedObjectReference]privSet{},
	}
	a.mu.Lock()
	ev.perms = make(map[types.ManagedObjectReference][]types.Permission, len(a.perms))
	for k, v := range a.perms {
		ev.perms[k] = append([]types.Permission(nil), v...)
	}
	a.mu.Unlock()
	return ev
}

// privileges are the user's effective privileges on entity.
func (ev *evaluator) privileges(entity types.ManagedObjectReference) privSet {
	if ev.admin {
		privilegeUniverse()
		return universe
	}
	if p, ok := ev.permissionOn(entity); ok {
		return ev.rolePrivileges(p.RoleId)
	}
	return ev.inheritedBy(entity)
}

// has reports whether the user holds privilege on entity.
func (ev *evaluator) has(entity types.ManagedObjectReference, privilege string) bool {
	return ev.admin || ev.privileges(entity)[privilege]
}

// permissionOn is the user's own permission defined on entity, if any.
func (ev *evaluator) permissionOn(entity types.ManagedObjectReference) (types.Permission, bool) {
	for _, p := range ev.perms[entity] {
		if !p.Group && strings.EqualFold(p.Principal, ev.user) {
			return p, true
		}
	}
	return types.Permission{}, false
}

func (ev *evaluator) rolePrivileges(id int32) privSet {
	set := privSet{}
	if role, ok := findRole(ev.roles, id); ok {
		for _, p := range role.Privilege {
			set[p] = true
		}
	}
	return set
}

// inheritedBy is what entity inherits from its parents (both of them for a
// virtual machine).
func (ev *evaluator) inheritedBy(entity types.ManagedObjectReference) privSet {
	set := privSet{}
	for _, link := range inventoryParents(entity) {
		for p := range ev.received(link) {
			set[p] = true
		}
	}
	return set
}

// received is what a child gets from its parent link.parent: the parent's
// own permission when the child is part of the same complex entity (whether
// or not it propagates), else what flows down from the parent.
func (ev *evaluator) received(link parentLink) privSet {
	if link.forced {
		if p, ok := ev.permissionOn(link.parent); ok {
			return ev.rolePrivileges(p.RoleId)
		}
	}
	return ev.flow(link.parent)
}

// flow is what propagates from entity to its children: its own permission
// if that propagates, else (no permission, or one that stays on the entity)
// what propagates to it from its parents.
func (ev *evaluator) flow(entity types.ManagedObjectReference) privSet {
	if set, ok := ev.flows[entity]; ok {
		return set
	}
	ev.flows[entity] = privSet{} // guards against cycles
	var set privSet
	if p, ok := ev.permissionOn(entity); ok && p.Propagate {
		set = ev.rolePrivileges(p.RoleId)
	} else {
		set = privSet{}
		for _, link := range inventoryParents(entity) {
			for p := range ev.flow(link.parent) {
				set[p] = true
			}
		}
	}
	ev.flows[entity] = set
	return set
}

// parentLink is one inventory parent of an entity. forced marks the child of
// a complex entity, which inherits its parent's permission even when that
// does not propagate.
type parentLink struct {
	parent types.ManagedObjectReference
	forced bool
}

// inventoryParents are the parents an entity inherits permissions from: its
// inventory parent and, for a virtual machine, its resource pool.
func inventoryParents(ref types.ManagedObjectReference) []parentLink {
	obj := simulator.Map.Get(ref)
	entity, ok := obj.(mo.Entity)
	if !ok {
		return nil
	}
	var parent, pool *types.ManagedObjectReference
	simulator.Map.WithLock(obj, func() {
		parent = copyRef(entity.Entity().Parent)
		if vm, isVM := obj.(*simulator.VirtualMachine); isVM {
			pool = copyRef(vm.ResourcePool)
		}
	})
	var links []parentLink
	if parent != nil {
		links = append(links, parentLink{parent: *parent, forced: complexChild(*parent, ref)})
	}
	if pool != nil {
		links = append(links, parentLink{parent: *pool})
	}
	return links
}

func copyRef(r *types.ManagedObjectReference) *types.ManagedObjectReference {
	if r == nil {
		return nil
	}
	c := *r
	return &c
}

// complexChild reports whether child is part of the complex entity parent: a
// datacenter's root folders, a compute resource's root resource pool, the
// host of a standalone compute resource.
func complexChild(parent, child types.ManagedObjectReference) bool {
	switch parent.Type {
	case "Datacenter":
		return child.Type == "Folder"
	case "ClusterComputeResource":
		return child.Type == "ResourcePool"
	case "ComputeResource":
		return child.Type == "ResourcePool" || child.Type == "HostSystem"
	}
	return false
}

// isComplexChild reports whether entity cannot hold permissions of its own.
func isComplexChild(entity types.ManagedObjectReference) bool {
	for _, link := range inventoryParents(entity) {
		if link.forced {
			return true
		}
	}
	return false
}

// setPermissions defines or updates the permissions on entity, one per
// principal (SetEntityPermissions). With replace, the entity's other
// permissions go (ResetEntityPermissions).
func (a *authz) setPermissions(entity types.ManagedObjectReference, perms []types.Permission, replace bool) types.BaseMethodFault {
	if fault := a.checkPermissionTarget(entity); fault != nil {
		return fault
	}
	list := roles()
	for _, p := range perms {
		if _, ok := findRole(list, p.RoleId); !ok {
			return &types.NotFound{}
		}
		if p.RoleId == roleView || p.RoleId == roleAnonymous {
			return &types.InvalidArgument{InvalidProperty: "permission.roleId"}
		}
		if !p.Group && !a.users.exists(p.Principal) {
			return &types.UserNotFound{Principal: p.Principal, Unresolved: true}
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	current := a.perms[entity]
	if replace {
		current = nil
	}
	for _, p := range perms {
		p.Entity = &entity
		if !p.Group {
			p.Principal, _ = a.users.canonical(p.Principal)
		}
		current = upsertPermission(current, p)
	}
	a.perms[entity] = current
	return nil
}

func upsertPermission(list []types.Permission, p types.Permission) []types.Permission {
	for i := range list {
		if list[i].Group == p.Group && strings.EqualFold(list[i].Principal, p.Principal) {
			list[i] = p
			return list
		}
	}
	return append(list, p)
}

// removePermission removes the permission of principal on entity
// (RemoveEntityPermission).
func (a *authz) removePermission(entity types.ManagedObjectReference, principal string, group bool) types.BaseMethodFault {
	if fault := a.checkPermissionTarget(entity); fault != nil {
		return fault
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	list := a.perms[entity]
	for i := range list {
		if list[i].Group == group && strings.EqualFold(list[i].Principal, principal) {
			a.perms[entity] = append(list[:i:i], list[i+1:]...)
			return nil
		}
	}
	return &types.NotFound{}
}

// checkPermissionTarget refuses entities that do not exist or cannot hold
// permissions of their own, as vCenter does.
func (a *authz) checkPermissionTarget(entity types.ManagedObjectReference) types.BaseMethodFault {
	if _, ok := simulator.Map.Get(entity).(mo.Entity); !ok {
		return &types.ManagedObjectNotFound{Obj: entity}
	}
	if isComplexChild(entity) {
		return &types.InvalidArgument{InvalidProperty: "entity"}
	}
	return nil
}

// entityPermissions are the permissions defined on entity and, with
// inherited, those of its ancestors that reach it (RetrieveEntityPermissions).
func (a *authz) entityPermissions(entity types.ManagedObjectReference, inherited bool) []types.Permission {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := append([]types.Permission(nil), a.perms[entity]...)
	if !inherited {
		return out
	}
	seen := map[types.ManagedObjectReference]bool{entity: true}
	var walk func(ref types.ManagedObjectReference, direct bool)
	walk = func(ref types.ManagedObjectReference, direct bool) {
		for _, link := range inventoryParents(ref) {
			for _, p := range a.perms[link.parent] {
				// A permission reaches the entity if it propagates, or if it is
				// on the complex entity the entity is part of.
				if p.Propagate || (direct && link.forced) {
					out = append(out, p)
				}
			}
			if !seen[link.parent] {
				seen[link.parent] = true
				walk(link.parent, false)
			}
		}
	}
	walk(entity, true)
	return out
}

// allPermissions are every permission, optionally only those of one role.
func (a *authz) allPermissions(role *int32) []types.Permission {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []types.Permission
	for _, list := range a.perms {
		for _, p := range list {
			if role == nil || p.RoleId == *role {
				out = append(out, p)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Entity.Value != out[j].Entity.Value {
			return out[i].Entity.Value < out[j].Entity.Value
		}
		return out[i].Principal < out[j].Principal
	})
	return out
}

// dropRolePermissions removes every permission that uses the role (when the
// role itself is removed) and reports how many there were.
func (a *authz) dropRolePermissions(role int32, dryRun bool) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for entity, list := range a.perms {
		kept := list[:0:0]
		for _, p := range list {
			if p.RoleId == role {
				n++
				continue
			}
			kept = append(kept, p)
		}
		if !dryRun {
			a.perms[entity] = kept
		}
	}
	return n
}

// grant is --permission and POST /vsray/permissions: USER on the entity at
// an inventory path gets the named role.
func (a *authz) grant(user, roleName, path string, propagate bool) error {
	list := roles()
	roleID, found := int32(0), false
	for _, r := range list {
		if r.Name == roleName {
			roleID, found = r.RoleId, true
		}
	}
	if !found {
		return fmt.Errorf("no role named %q", roleName)
	}
	if !a.users.exists(user) {
		return fmt.Errorf("no user named %q (--user, POST /vsray/users)", user)
	}
	entity, ok := findByInventoryPath(path)
	if !ok {
		return fmt.Errorf("no inventory object at %q", path)
	}
	if isComplexChild(entity) {
		return fmt.Errorf("%s is part of its parent (a datacenter's root folders, a cluster's root pool) and takes the parent's permissions, as on vCenter: give the permission on the parent", path)
	}
	fault := a.setPermissions(entity, []types.Permission{{Principal: user, RoleId: roleID, Propagate: propagate}}, false)
	if fault != nil {
		return fmt.Errorf("permission for %s on %s: %s", user, path, faultName(fault))
	}
	return nil
}

func faultName(f types.BaseMethodFault) string {
	return strings.TrimPrefix(fmt.Sprintf("%T", f), "*types.")
}

// findByInventoryPath resolves an inventory path such as /DC0/vm/ray ("/"
// is the root folder), as SearchIndex.FindByInventoryPath does.
func findByInventoryPath(path string) (types.ManagedObjectReference, bool) {
	if strings.Trim(path, "/") == "" {
		return rootFolder(), true
	}
	si := simulator.Map.SearchIndex()
	var body *methods.FindByInventoryPathBody
	simulator.Map.WithLock(si, func() {
		body = si.FindByInventoryPath(&types.FindByInventoryPath{This: si.Self, InventoryPath: path}).(*methods.FindByInventoryPathBody)
	})
	if body.Res == nil || body.Res.Returnval == nil {
		return types.ManagedObjectReference{}, false
	}
	return *body.Res.Returnval, true
}

// authorizationManagerRolesTemplate is govmomi's role list, the source of the
// privilege ids it knows.
func authorizationManagerRolesTemplate() []types.AuthorizationRole {
	return esx.RoleList
}
