package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// checkREST checks a REST call (/rest or /api) of a restricted user against
// the privilege table. It answers 403 (vAPI's Unauthorized error) when a
// privilege is missing, or an "unsupported" error for a route the table
// lacks, and reports whether it answered. key is the call's route: restRoute
// for /rest, the matched apiRoute's key for /api.
func (a *access) checkREST(w http.ResponseWriter, r *http.Request, key string) bool {
	user, ok := a.restUser(r)
	if !ok || a.users.isAdmin(user) {
		return false // no session: the handlers answer 401
	}
	api := strings.HasPrefix(r.URL.Path, "/api")
	if api && a.apiKnown != nil && !a.apiKnown(r) {
		return false // the gateway answers 404
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return false
	}
	call := &restCallInfo{route: canonicalRESTRoute(key), body: body}
	missing, known := a.refuseREST(user, call)
	switch {
	case !known:
		writeRESTError(w, api, http.StatusInternalServerError, "unsupported",
			"vsray-sim has no privilege rule for "+call.route+" (see sim/privileges.go)")
	case missing != nil:
		writeRESTError(w, api, http.StatusForbidden, "unauthorized",
			fmt.Sprintf("Permission to perform this operation was denied: %s on %s:%s",
				missing.privilege, missing.entity.Type, missing.entity.Value))
	default:
		return false
	}
	return true
}

// restUser is the user of the vAPI session the request presents.
func (a *access) restUser(r *http.Request) (string, bool) {
	token := r.Header.Get(sessionHeader)
	if token == "" {
		if c, err := r.Cookie(sessionHeader); err == nil {
			token = c.Value
		}
	}
	if token == "" {
		return "", false
	}
	return a.sessions.user(token)
}

// canonicalRESTRoute names a /rest or /api route the same way: METHOD, the
// path below /rest/com/vmware or /api with ids as {id}, and ?action=.
func canonicalRESTRoute(key string) string {
	key = strings.Replace(key, " /rest/com/vmware/", " /", 1)
	key = strings.Replace(key, " /api/", " /", 1)
	key = strings.ReplaceAll(key, "id:{id}", "{id}")
	return strings.Replace(key, "?~action=", "?action=", 1)
}

// writeRESTError answers with a vAPI error, /api or /rest style.
func writeRESTError(w http.ResponseWriter, api bool, status int, kind, message string) {
	if api {
		writeAPIError(w, status, strings.ToUpper(kind), message)
		return
	}
	type msg struct {
		ID             string   `json:"id"`
		DefaultMessage string   `json:"default_message"`
		Args           []string `json:"args"`
	}
	writeJSON(w, status, map[string]interface{}{
		"type":  "com.vmware.vapi.std.errors." + kind,
		"value": map[string]interface{}{"messages": []msg{{ID: "vsray-sim", DefaultMessage: message, Args: []string{}}}},
	})
}
