package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// The /api content library and OVF deploy routes, translated to the
// simulator's /rest handlers like the tagging ones (see api.go). /api takes
// the create and find specs unwrapped (/rest wants {"create_spec": ...} and
// {"spec": ...}), answers creates with 201 and the new id, actions without a
// result with 204, and lists as plain JSON arrays.

const (
	restLibrary       = "/rest/com/vmware/content/library"
	restLocalLibrary  = "/rest/com/vmware/content/local-library"
	restLibraryItem   = restLibrary + "/item"
	restUpdateSession = restLibraryItem + "/update-session"
	restSessionFile   = restLibraryItem + "/updatesession/file"
	restOVFItem       = "/rest/com/vmware/vcenter/ovf/library-item"
)

// contentRoutes come after the tagging routes. Within them, a fixed path must
// come before a {id} pattern it would match (/content/library/item before
// /content/library/{id}).
var contentRoutes = []*apiRoute{
	{method: http.MethodGet, path: "/content/library", serve: passList(http.MethodGet, restLibrary, "", "")},
	{method: http.MethodPost, path: "/content/library", action: "find", serve: passList(http.MethodPost, restLibrary, "find", "spec")},

	{method: http.MethodGet, path: "/content/library/item", serve: passList(http.MethodGet, restLibraryItem, "", "", "library_id")},
	{method: http.MethodPost, path: "/content/library/item", serve: create(restLibraryItem)},
	{method: http.MethodPost, path: "/content/library/item", action: "find", serve: passList(http.MethodPost, restLibraryItem, "find", "spec")},

	{method: http.MethodGet, path: "/content/library/item/update-session", serve: passList(http.MethodGet, restUpdateSession, "", "")},
	{method: http.MethodPost, path: "/content/library/item/update-session", serve: create(restUpdateSession)},
	{method: http.MethodGet, path: "/content/library/item/update-session/{id}", serve: passModel(restUpdateSession + "/id:{id}")},
	{method: http.MethodDelete, path: "/content/library/item/update-session/{id}", serve: passValue(http.MethodDelete, restUpdateSession+"/id:{id}", "", false)},
	{method: http.MethodPost, path: "/content/library/item/update-session/{id}", action: "complete", serve: passValue(http.MethodPost, restUpdateSession+"/id:{id}", "complete", false)},
	{method: http.MethodPost, path: "/content/library/item/update-session/{id}", action: "cancel", serve: passValue(http.MethodPost, restUpdateSession+"/id:{id}", "cancel", false)},
	{method: http.MethodPost, path: "/content/library/item/update-session/{id}", action: "fail", serve: passValue(http.MethodPost, restUpdateSession+"/id:{id}", "fail", false)},
	{method: http.MethodPost, path: "/content/library/item/update-session/{id}", action: "keep-alive", serve: passValue(http.MethodPost, restUpdateSession+"/id:{id}", "keep-alive", false)},
	{method: http.MethodGet, path: "/content/library/item/updatesession/file", serve: passList(http.MethodGet, restSessionFile, "", "", "update_session_id")},
	{method: http.MethodPost, path: "/content/library/item/updatesession/file/{id}", action: "add", serve: (*apiGateway).addFile},

	{method: http.MethodGet, path: "/content/library/item/{id}", serve: passModel(restLibraryItem + "/id:{id}")},
	{method: http.MethodDelete, path: "/content/library/item/{id}", serve: passValue(http.MethodDelete, restLibraryItem+"/id:{id}", "", false)},
	{method: http.MethodGet, path: "/content/library/{id}", serve: passModel(restLibrary + "/id:{id}")},

	{method: http.MethodPost, path: "/content/local-library", serve: (*apiGateway).createLocalLibrary},
	{method: http.MethodGet, path: "/content/local-library/{id}", serve: passModel(restLocalLibrary + "/id:{id}")},
	{method: http.MethodDelete, path: "/content/local-library/{id}", serve: passValue(http.MethodDelete, restLocalLibrary+"/id:{id}", "", false)},

	{method: http.MethodPost, path: "/vcenter/ovf/library-item/{id}", action: "deploy", serve: (*apiGateway).deploy},
}

// passList forwards to a /rest route that answers a list, and answers the list
// ([] for none: the simulator leaves the value out). A POST body is passed
// on, wrapped as {wrap: body} if wrap is set; the named query parameters of
// the /api request are passed on too.
func passList(method, template, action, wrap string, params ...string) func(*apiGateway, http.ResponseWriter, *http.Request, string) {
	return func(a *apiGateway, w http.ResponseWriter, r *http.Request, id string) {
		var body []byte
		if method == http.MethodPost {
			var ok bool
			if body, ok = readJSONBody(w, r); !ok {
				return
			}
			if wrap != "" {
				body, _ = json.Marshal(map[string]json.RawMessage{wrap: body})
			}
		}
		query := url.Values{}
		if action != "" {
			query.Set("~action", action)
		}
		for _, name := range params {
			if v := r.URL.Query().Get(name); v != "" {
				query.Set(name, v)
			}
		}
		status, reply := a.front.restCall(r.Header, method, restPath(template, id), query.Encode(), body)
		value, ok := restValue(w, status, reply)
		if !ok {
			return
		}
		if len(value) == 0 || string(value) == "null" {
			value = json.RawMessage("[]")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(value)
	}
}

// passModel answers the GET of one resource with its model, less the
// simulator's own bookkeeping: the /rest answer holds the Go fields of its
// internal records (such as "Item", "File", "Template"), which vAPI models,
// all snake_case, never have.
func passModel(template string) func(*apiGateway, http.ResponseWriter, *http.Request, string) {
	return func(a *apiGateway, w http.ResponseWriter, r *http.Request, id string) {
		status, reply := a.front.restCall(r.Header, http.MethodGet, restPath(template, id), "", nil)
		value, ok := restValue(w, status, reply)
		if !ok {
			return
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(value, &fields); err != nil {
			writeAPIError(w, http.StatusInternalServerError, "ERROR", "bad /rest reply: "+err.Error())
			return
		}
		for name := range fields {
			if name != "" && strings.ToUpper(name[:1]) == name[:1] {
				delete(fields, name)
			}
		}
		writeJSON(w, http.StatusOK, fields)
	}
}

// createLocalLibrary is POST /api/content/local-library. The simulator
// places a library in the directory of its first storage backing and crashes
// without one, so a spec without a datastore backing is refused up front.
func (a *apiGateway) createLocalLibrary(w http.ResponseWriter, r *http.Request, id string) {
	body, ok := readJSONBody(w, r)
	if !ok {
		return
	}
	var spec struct {
		StorageBackings []struct {
			DatastoreID string `json:"datastore_id"`
		} `json:"storage_backings"`
	}
	if err := json.Unmarshal(body, &spec); err != nil || len(spec.StorageBackings) == 0 ||
		spec.StorageBackings[0].DatastoreID == "" {
		writeAPIError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "storage_backings must name a datastore")
		return
	}
	create(restLocalLibrary)(a, w, withBody(r, body), id)
}

// addFile is POST /api/content/library/item/updatesession/file/{id}?action=add.
// Its body is the file's AddSpec; {"file_spec": AddSpec} (the /rest shape)
// is accepted as well.
func (a *apiGateway) addFile(w http.ResponseWriter, r *http.Request, id string) {
	body, ok := readJSONBody(w, r)
	if !ok {
		return
	}
	var wrapped struct {
		FileSpec json.RawMessage `json:"file_spec"`
	}
	if json.Unmarshal(body, &wrapped) == nil && len(wrapped.FileSpec) != 0 {
		body = wrapped.FileSpec
	}
	body, _ = json.Marshal(map[string]json.RawMessage{"file_spec": body})
	passValue(http.MethodPost, restSessionFile+"/id:{id}", "add", true)(a, w, withBody(r, body), id)
}

// deploy is POST /api/vcenter/ovf/library-item/{id}?action=deploy: the body
// ({"target": ..., "deployment_spec": ...}) is the same as on /rest. The
// answer always has "succeeded" (the simulator leaves it out when false).
func (a *apiGateway) deploy(w http.ResponseWriter, r *http.Request, id string) {
	body, ok := readJSONBody(w, r)
	if !ok {
		return
	}
	status, reply := a.front.restCall(r.Header, http.MethodPost, restPath(restOVFItem+"/id:{id}", id), restQuery("deploy"), body)
	value, ok := restValue(w, status, reply)
	if !ok {
		return
	}
	var result map[string]json.RawMessage
	if err := json.Unmarshal(value, &result); err != nil || result == nil {
		writeAPIError(w, http.StatusInternalServerError, "ERROR", "bad /rest deploy reply")
		return
	}
	if _, ok := result["succeeded"]; !ok {
		result["succeeded"] = json.RawMessage("false")
	}
	writeJSON(w, http.StatusOK, result)
}

// withBody returns a copy of r whose body is body.
func withBody(r *http.Request, body []byte) *http.Request {
	c := r.Clone(r.Context())
	c.Body = io.NopCloser(bytes.NewReader(body))
	c.ContentLength = int64(len(body))
	return c
}
