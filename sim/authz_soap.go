package main

import (
	"net/http"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// access is the SOAP and REST side of the permission model: logging in the
// users of --user, checking the privilege table before a restricted user's
// call is served, hiding from restricted users the objects they cannot read,
// and answering AuthorizationManager's methods from the model (authz.go).
type access struct {
	users    *userStore
	authz    *authz
	sessions *restSessions
	service  *simulator.Service
	inner    http.Handler
	wait     http.Handler             // serves WaitForUpdates(Ex) (the front's event-driven wait)
	apiKnown func(*http.Request) bool // whether an /api request names a route
}

// serveSOAP handles what the access model concerns of a SOAP call and
// reports whether it answered.
func (a *access) serveSOAP(w http.ResponseWriter, r *http.Request, call soapCall, body []byte) bool {
	if call.method == "Login" {
		return a.login(w, r, body)
	}
	user, ok := soapSessionUser(r)
	if !ok {
		return false // the simulator answers NotAuthenticated where needed
	}
	restricted := !a.users.isAdmin(user)
	if !restricted && call.this.Type != "AuthorizationManager" {
		return false
	}
	info, ok := decodeSOAPRequest(call, body)
	if !ok {
		return false // the simulator answers the malformed request
	}
	if restricted && a.refuse(w, user, info) {
		return true
	}
	if a.serveAuthorization(w, info) {
		return true
	}
	if restricted {
		return a.filterVisible(w, r, user, info)
	}
	return false
}

func soapSessionUser(r *http.Request) (string, bool) {
	c, err := r.Cookie(soap.SessionCookieName)
	if err != nil {
		return "", false
	}
	return simulator.SessionUser(c.Value)
}

// login logs in the users of --user; the administrator's Login (and every
// failure) goes to the simulator.
func (a *access) login(w http.ResponseWriter, r *http.Request, body []byte) bool {
	info, ok := decodeSOAPRequest(soapCall{method: "Login"}, body)
	if !ok {
		return false
	}
	req, ok := info.req.(*types.Login)
	if !ok || a.users.isAdmin(req.UserName) || !a.users.check(req.UserName, req.Password) {
		return false
	}
	session, ok := a.service.LoginUser(w, r, req.UserName, req.Locale)
	if !ok {
		writeSOAPFault(w, "Login failure", &types.InvalidLogin{})
		return true
	}
	writeSOAPResult(w, &methods.LoginBody{Res: &types.LoginResponse{Returnval: session}})
	return true
}

// refuse checks a restricted user's call against the privilege table and
// answers NoPermission (or NotSupported for a method the table lacks).
func (a *access) refuse(w http.ResponseWriter, user string, info *soapCallInfo) bool {
	for _, m := range openMethods {
		if m == info.method {
			return false
		}
	}
	rule, ok := soapPrivileges[info.method]
	if !ok {
		writeSOAPFault(w, "vsray-sim has no privilege rule for "+info.method+" (see sim/privileges.go)",
			&types.NotSupported{})
		return true
	}
	ev := a.authz.evaluator(user)
	for _, need := range rule(info) {
		if simulator.Map.Get(need.entity) == nil {
			continue // the simulator answers ManagedObjectNotFound
		}
		if !ev.has(need.entity, need.privilege) {
			writeSOAPFault(w, "Permission to perform this operation was denied.",
				&types.NoPermission{Object: need.entity, PrivilegeId: need.privilege})
			return true
		}
	}
	return false
}

// refuseREST checks a restricted user's REST call; it returns the missing
// requirement, if any, and whether the route is in the table.
func (a *access) refuseREST(user string, c *restCallInfo) (*requirement, bool) {
	for _, route := range openRoutes {
		if route == c.route {
			return nil, true
		}
	}
	rule, ok := restPrivileges[c.route]
	if !ok {
		return nil, false
	}
	ev := a.authz.evaluator(user)
	for _, need := range rule(c) {
		if simulator.Map.Get(need.entity) == nil {
			continue
		}
		if !ev.has(need.entity, need.privilege) {
			need := need
			return &need, true
		}
	}
	return nil, true
}
