package main

import (
	"net/http"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// serveAuthorization answers AuthorizationManager's methods from the model,
// for every user: govmomi's simulator grants everything, stores permissions
// it never uses, replaces instead of merging in SetEntityPermissions and
// answers AddAuthorizationRole without the new role's id. It reports whether
// it answered.
func (a *access) serveAuthorization(w http.ResponseWriter, info *soapCallInfo) bool {
	if info.this.Type != "AuthorizationManager" {
		return false
	}
	var result soap.HasFault
	var fault types.BaseMethodFault
	switch req := info.req.(type) {
	case *types.AddAuthorizationRole:
		var id int32
		id, fault = addRole(req.Name, req.PrivIds)
		result = &methods.AddAuthorizationRoleBody{Res: &types.AddAuthorizationRoleResponse{Returnval: id}}
	case *types.UpdateAuthorizationRole:
		fault = updateRole(req.RoleId, req.NewName, req.PrivIds)
		result = &methods.UpdateAuthorizationRoleBody{Res: &types.UpdateAuthorizationRoleResponse{}}
	case *types.RemoveAuthorizationRole:
		fault = a.removeRole(req.RoleId, req.FailIfUsed)
		result = &methods.RemoveAuthorizationRoleBody{Res: &types.RemoveAuthorizationRoleResponse{}}
	case *types.SetEntityPermissions:
		fault = a.authz.setPermissions(req.Entity, req.Permission, false)
		result = &methods.SetEntityPermissionsBody{Res: &types.SetEntityPermissionsResponse{}}
	case *types.ResetEntityPermissions:
		fault = a.authz.setPermissions(req.Entity, req.Permission, true)
		result = &methods.ResetEntityPermissionsBody{Res: &types.ResetEntityPermissionsResponse{}}
	case *types.RemoveEntityPermission:
		fault = a.authz.removePermission(req.Entity, req.User, req.IsGroup)
		result = &methods.RemoveEntityPermissionBody{Res: &types.RemoveEntityPermissionResponse{}}
	default:
		result, fault = a.answerQuery(info)
	}
	if result == nil && fault == nil {
		return false
	}
	if fault != nil {
		writeSOAPFault(w, faultName(fault), fault)
		return true
	}
	writeSOAPResult(w, result)
	return true
}

// answerQuery answers the read-only methods: permissions and privileges.
func (a *access) answerQuery(info *soapCallInfo) (soap.HasFault, types.BaseMethodFault) {
	switch req := info.req.(type) {
	case *types.RetrieveEntityPermissions:
		if simulator.Map.Get(req.Entity) == nil {
			return nil, &types.ManagedObjectNotFound{Obj: req.Entity}
		}
		return &methods.RetrieveEntityPermissionsBody{Res: &types.RetrieveEntityPermissionsResponse{
			Returnval: a.authz.entityPermissions(req.Entity, req.Inherited)}}, nil
	case *types.RetrieveAllPermissions:
		return &methods.RetrieveAllPermissionsBody{Res: &types.RetrieveAllPermissionsResponse{
			Returnval: a.authz.allPermissions(nil)}}, nil
	case *types.RetrieveRolePermissions:
		if _, ok := findRole(roles(), req.RoleId); !ok {
			return nil, &types.NotFound{}
		}
		return &methods.RetrieveRolePermissionsBody{Res: &types.RetrieveRolePermissionsResponse{
			Returnval: a.authz.allPermissions(&req.RoleId)}}, nil
	case *types.HasPrivilegeOnEntity:
		user, ok := simulator.SessionUser(req.SessionId)
		if !ok {
			return nil, &types.InvalidArgument{InvalidProperty: "sessionId"}
		}
		granted := a.availability(user, []types.ManagedObjectReference{req.Entity}, req.PrivId)[0]
		res := &types.HasPrivilegeOnEntityResponse{}
		for _, p := range granted.PrivAvailability {
			res.Returnval = append(res.Returnval, p.IsGranted)
		}
		return &methods.HasPrivilegeOnEntityBody{Res: res}, nil
	case *types.HasPrivilegeOnEntities:
		user, ok := simulator.SessionUser(req.SessionId)
		if !ok {
			return nil, &types.InvalidArgument{InvalidProperty: "sessionId"}
		}
		return &methods.HasPrivilegeOnEntitiesBody{Res: &types.HasPrivilegeOnEntitiesResponse{
			Returnval: a.availability(user, req.Entity, req.PrivId)}}, nil
	case *types.HasUserPrivilegeOnEntities:
		user, ok := a.users.canonical(req.UserName)
		if !ok {
			return nil, &types.UserNotFound{Principal: req.UserName, Unresolved: true}
		}
		return &methods.HasUserPrivilegeOnEntitiesBody{Res: &types.HasUserPrivilegeOnEntitiesResponse{
			Returnval: a.availability(user, req.Entities, req.PrivId)}}, nil
	case *types.FetchUserPrivilegeOnEntities:
		user, ok := a.users.canonical(req.UserName)
		if !ok {
			return nil, &types.UserNotFound{Principal: req.UserName, Unresolved: true}
		}
		ev := a.authz.evaluator(user)
		res := &types.FetchUserPrivilegeOnEntitiesResponse{}
		for _, e := range req.Entities {
			res.Returnval = append(res.Returnval, types.UserPrivilegeResult{Entity: e, Privileges: ev.privileges(e).sorted()})
		}
		return &methods.FetchUserPrivilegeOnEntitiesBody{Res: res}, nil
	}
	return nil, nil
}

// availability answers "does user hold these privileges on these entities",
// from the same model that enforcement uses.
func (a *access) availability(user string, entities []types.ManagedObjectReference, privIDs []string) []types.EntityPrivilege {
	ev := a.authz.evaluator(user)
	out := make([]types.EntityPrivilege, 0, len(entities))
	for _, e := range entities {
		granted := ev.privileges(e)
		ep := types.EntityPrivilege{Entity: e}
		for _, id := range privIDs {
			ep.PrivAvailability = append(ep.PrivAvailability, types.PrivilegeAvailability{PrivId: id, IsGranted: granted[id]})
		}
		out = append(out, ep)
	}
	return out
}

// firstCustomRoleID is the id of the first role added: vCenter numbers
// user-defined roles apart from its system (negative) and sample roles.
const firstCustomRoleID = 1000

// addRole is AuthorizationManager.AddAuthorizationRole: a new role with the
// given privileges plus System.Anonymous, System.View and System.Read.
func addRole(name string, privIDs []string) (int32, types.BaseMethodFault) {
	if strings.TrimSpace(name) == "" {
		return 0, &types.InvalidName{Name: name}
	}
	privs, fault := rolePrivilegeList(privIDs)
	if fault != nil {
		return 0, fault
	}
	am := authorizationManager()
	var id int32
	simulator.Map.WithLock(am, func() {
		id = firstCustomRoleID
		for _, r := range am.RoleList {
			if r.Name == name {
				fault = &types.AlreadyExists{Name: name}
				return
			}
			if r.RoleId >= id {
				id = r.RoleId + 1
			}
		}
		am.RoleList = append(am.RoleList, types.AuthorizationRole{
			RoleId:    id,
			Name:      name,
			Info:      &types.Description{Label: name, Summary: name},
			Privilege: privs,
		})
	})
	return id, fault
}

// updateRole is AuthorizationManager.UpdateAuthorizationRole.
func updateRole(id int32, newName string, privIDs []string) types.BaseMethodFault {
	if strings.TrimSpace(newName) == "" {
		return &types.InvalidName{Name: newName}
	}
	var privs []string
	if len(privIDs) != 0 {
		var fault types.BaseMethodFault
		if privs, fault = rolePrivilegeList(privIDs); fault != nil {
			return fault
		}
	}
	am := authorizationManager()
	var fault types.BaseMethodFault = &types.NotFound{}
	simulator.Map.WithLock(am, func() {
		for _, r := range am.RoleList {
			if r.Name == newName && r.RoleId != id {
				fault = &types.AlreadyExists{Name: newName}
				return
			}
		}
		for i := range am.RoleList {
			r := &am.RoleList[i]
			if r.RoleId != id {
				continue
			}
			if r.System {
				fault = &types.InvalidArgument{InvalidProperty: "roleId"}
				return
			}
			r.Name = newName
			r.Info = &types.Description{Label: newName, Summary: newName}
			if privs != nil {
				r.Privilege = privs
			}
			fault = nil
		}
	})
	return fault
}

// removeRole is AuthorizationManager.RemoveAuthorizationRole; the
// permissions that use the role go with it.
func (a *access) removeRole(id int32, failIfUsed bool) types.BaseMethodFault {
	role, ok := findRole(roles(), id)
	if !ok {
		return &types.NotFound{}
	}
	if role.System {
		return &types.InvalidArgument{InvalidProperty: "roleId"}
	}
	if failIfUsed && a.authz.dropRolePermissions(id, true) > 0 {
		return &types.RemoveFailed{}
	}
	a.authz.dropRolePermissions(id, false)
	am := authorizationManager()
	simulator.Map.WithLock(am, func() {
		for i, r := range am.RoleList {
			if r.RoleId == id {
				am.RoleList = append(am.RoleList[:i:i], am.RoleList[i+1:]...)
				return
			}
		}
	})
	return nil
}

// rolePrivilegeList validates privilege ids and adds the system ones.
func rolePrivilegeList(privIDs []string) ([]string, types.BaseMethodFault) {
	set := privSet{}
	for _, p := range privIDs {
		if !knownPrivilege(p) {
			return nil, &types.InvalidArgument{InvalidProperty: "privIds"}
		}
		set[p] = true
	}
	for _, p := range systemPrivileges {
		set[p] = true
	}
	return set.sorted(), nil
}
