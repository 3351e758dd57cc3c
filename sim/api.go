package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// apiGateway serves the vSphere 7.0U2+ /api routes vsray uses (session,
// tagging, content library and OVF deploy; see api_content.go) by translating them to the simulator's /rest handlers: /api bodies
// and results have no {"value": ...} wrapper, create specs are not wrapped in
// create_spec, ids are plain path segments and actions use ?action=.
//
// It also implements the bulk tagging actions the simulator lacks or gets
// wrong on /rest as well, with single attach/detach calls.
type apiGateway struct {
	front *front
}

// apiRoute is one /api route: METHOD /api<path>[?action=ACTION], where path
// may hold one {id} segment.
type apiRoute struct {
	method string
	path   string
	action string
	serve  func(a *apiGateway, w http.ResponseWriter, r *http.Request, id string)
}

func (r *apiRoute) key() string {
	key := r.method + " /api" + r.path
	if r.action != "" {
		key += "?action=" + r.action
	}
	return key
}

const (
	tagging     = "/rest/com/vmware/cis/tagging"
	association = tagging + "/tag-association"
)

// apiRoutes are all /api routes, tried in order.
var apiRoutes = append(append([]*apiRoute{}, sessionAndTaggingRoutes...), contentRoutes...)

var sessionAndTaggingRoutes = []*apiRoute{
	{method: http.MethodPost, path: "/session", serve: (*apiGateway).login},
	{method: http.MethodGet, path: "/session", serve: passValue(http.MethodPost, restSessionPath, "get", false)},
	{method: http.MethodDelete, path: "/session", serve: (*apiGateway).logout},

	{method: http.MethodGet, path: "/cis/tagging/category", serve: passValue(http.MethodGet, tagging+"/category", "", false)},
	{method: http.MethodPost, path: "/cis/tagging/category", serve: create(tagging + "/category")},
	{method: http.MethodGet, path: "/cis/tagging/category/{id}", serve: passValue(http.MethodGet, tagging+"/category/id:{id}", "", false)},
	{method: http.MethodPatch, path: "/cis/tagging/category/{id}", serve: update(tagging + "/category/id:{id}")},
	{method: http.MethodDelete, path: "/cis/tagging/category/{id}", serve: passValue(http.MethodDelete, tagging+"/category/id:{id}", "", false)},

	{method: http.MethodGet, path: "/cis/tagging/tag", serve: passValue(http.MethodGet, tagging+"/tag", "", false)},
	{method: http.MethodPost, path: "/cis/tagging/tag", serve: create(tagging + "/tag")},
	{method: http.MethodPost, path: "/cis/tagging/tag", action: "list-tags-for-category", serve: (*apiGateway).tagsForCategory},
	{method: http.MethodGet, path: "/cis/tagging/tag/{id}", serve: passValue(http.MethodGet, tagging+"/tag/id:{id}", "", false)},
	{method: http.MethodPatch, path: "/cis/tagging/tag/{id}", serve: update(tagging + "/tag/id:{id}")},
	{method: http.MethodDelete, path: "/cis/tagging/tag/{id}", serve: passValue(http.MethodDelete, tagging+"/tag/id:{id}", "", false)},

	{method: http.MethodPost, path: "/cis/tagging/tag-association/{id}", action: "attach", serve: passValue(http.MethodPost, association+"/id:{id}", "attach", true)},
	{method: http.MethodPost, path: "/cis/tagging/tag-association/{id}", action: "detach", serve: passValue(http.MethodPost, association+"/id:{id}", "detach", true)},
	{method: http.MethodPost, path: "/cis/tagging/tag-association/{id}", action: "list-attached-objects", serve: passValue(http.MethodPost, association+"/id:{id}", "list-attached-objects", true)},
	{method: http.MethodPost, path: "/cis/tagging/tag-association/{id}", action: "attach-tag-to-multiple-objects", serve: bulkOverObjects("attach")},
	{method: http.MethodPost, path: "/cis/tagging/tag-association/{id}", action: "detach-tag-from-multiple-objects", serve: bulkOverObjects("detach")},
	{method: http.MethodPost, path: "/cis/tagging/tag-association", action: "list-attached-tags", serve: passValue(http.MethodPost, association, "list-attached-tags", true)},
	{method: http.MethodPost, path: "/cis/tagging/tag-association", action: "list-attached-tags-on-objects", serve: passValue(http.MethodPost, association, "list-attached-tags-on-objects", true)},
	{method: http.MethodPost, path: "/cis/tagging/tag-association", action: "list-attached-objects-on-tags", serve: passValue(http.MethodPost, association, "list-attached-objects-on-tags", true)},
	{method: http.MethodPost, path: "/cis/tagging/tag-association", action: "attach-multiple-tags-to-object", serve: bulkOverTags("attach")},
	{method: http.MethodPost, path: "/cis/tagging/tag-association", action: "detach-multiple-tags-from-object", serve: bulkOverTags("detach")},
}

// match finds the route of an /api request and its {id}.
func (a *apiGateway) match(r *http.Request) (*apiRoute, string) {
	rest := strings.TrimPrefix(r.URL.Path, "/api")
	action := r.URL.Query().Get("action")
	for _, route := range apiRoutes {
		if route.method != r.Method || route.action != action {
			continue
		}
		if id, ok := matchPath(route.path, rest); ok {
			return route, id
		}
	}
	return nil, ""
}

func matchPath(pattern, path string) (string, bool) {
	path = strings.TrimSuffix(path, "/")
	if !strings.Contains(pattern, "{id}") {
		return "", pattern == path
	}
	prefix := strings.TrimSuffix(pattern, "{id}")
	if !strings.HasPrefix(path, prefix) {
		return "", false
	}
	id := path[len(prefix):]
	if id == "" || strings.Contains(id, "/") {
		return "", false
	}
	return id, true
}

// restPath fills {id} of a /rest path template (an unescaped path).
func restPath(template, id string) string {
	return strings.Replace(template, "{id}", id, 1)
}

func restQuery(action string) string {
	if action == "" {
		return ""
	}
	return "~action=" + url.QueryEscape(action)
}

func (a *apiGateway) login(w http.ResponseWriter, r *http.Request, _ string) {
	user, ok := a.front.creds.basicUser(r)
	if !ok {
		writeAPIError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "wrong user name or password")
		return
	}
	status, body := a.front.restCall(r.Header, http.MethodPost, restSessionPath, "", nil)
	value, ok := restValue(w, status, body)
	if !ok {
		return
	}
	var token string
	if err := json.Unmarshal(value, &token); err != nil || token == "" {
		writeAPIError(w, http.StatusInternalServerError, "ERROR", "no session token")
		return
	}
	a.front.sessions.add(token, user)
	writeJSON(w, http.StatusCreated, token)
}

func (a *apiGateway) logout(w http.ResponseWriter, r *http.Request, _ string) {
	status, body := a.front.restCall(r.Header, http.MethodDelete, restSessionPath, "", nil)
	if _, ok := restValue(w, status, body); ok {
		a.front.sessions.remove(r.Header.Get(sessionHeader))
		w.WriteHeader(http.StatusNoContent)
	}
}

// passValue forwards the request (body unchanged) to a /rest route and
// answers with its unwrapped value, or 204 when noContent and no value.
func passValue(method, template, action string, hasBody bool) func(*apiGateway, http.ResponseWriter, *http.Request, string) {
	return func(a *apiGateway, w http.ResponseWriter, r *http.Request, id string) {
		var body []byte
		if hasBody {
			var ok bool
			if body, ok = readJSONBody(w, r); !ok {
				return
			}
		}
		status, reply := a.front.restCall(r.Header, method, restPath(template, id), restQuery(action), body)
		value, ok := restValue(w, status, reply)
		if !ok {
			return
		}
		if len(value) == 0 || string(value) == "null" {
			if r.Method == http.MethodGet || strings.HasPrefix(action, "list-") {
				writeJSON(w, http.StatusOK, []string{})
				return
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if strings.HasPrefix(action, "list-attached-") {
			value = emptyListsForNull(value)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(value)
	}
}

// emptyListsForNull turns the null lists in a list of objects (such as
// [{"tag_id": ..., "object_ids": null}]) into empty lists, as vCenter sends.
func emptyListsForNull(value json.RawMessage) json.RawMessage {
	var items []map[string]json.RawMessage
	if json.Unmarshal(value, &items) != nil {
		return value
	}
	for _, item := range items {
		for k, v := range item {
			if string(v) == "null" {
				item[k] = json.RawMessage("[]")
			}
		}
	}
	out, err := json.Marshal(items)
	if err != nil {
		return value
	}
	return out
}

// create wraps the /api create spec into /rest's {"create_spec": ...}.
func create(template string) func(*apiGateway, http.ResponseWriter, *http.Request, string) {
	return func(a *apiGateway, w http.ResponseWriter, r *http.Request, _ string) {
		body, ok := readJSONBody(w, r)
		if !ok {
			return
		}
		wrapped, _ := json.Marshal(map[string]json.RawMessage{"create_spec": body})
		status, reply := a.front.restCall(r.Header, http.MethodPost, template, "", wrapped)
		if value, ok := restValue(w, status, reply); ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write(value)
		}
	}
}

// update wraps the /api update spec into /rest's {"update_spec": ...}.
func update(template string) func(*apiGateway, http.ResponseWriter, *http.Request, string) {
	return func(a *apiGateway, w http.ResponseWriter, r *http.Request, id string) {
		body, ok := readJSONBody(w, r)
		if !ok {
			return
		}
		wrapped, _ := json.Marshal(map[string]json.RawMessage{"update_spec": body})
		status, reply := a.front.restCall(r.Header, http.MethodPatch, restPath(template, id), "", wrapped)
		if _, ok := restValue(w, status, reply); ok {
			w.WriteHeader(http.StatusNoContent)
		}
	}
}

func (a *apiGateway) tagsForCategory(w http.ResponseWriter, r *http.Request, _ string) {
	body, ok := readJSONBody(w, r)
	if !ok {
		return
	}
	var spec struct {
		CategoryID string `json:"category_id"`
	}
	if err := json.Unmarshal(body, &spec); err != nil || spec.CategoryID == "" {
		writeAPIError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "category_id is required")
		return
	}
	passValue(http.MethodPost, tagging+"/tag/id:{id}", "list-tags-for-category", false)(a, w, r, spec.CategoryID)
}

// dynamicID is a vAPI object id.
type dynamicID struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// batchResult is vAPI's TagAssociation.BatchResult.
type batchResult struct {
	Success       bool           `json:"success"`
	ErrorMessages []batchMessage `json:"error_messages"`
}

type batchMessage struct {
	ID             string   `json:"id"`
	DefaultMessage string   `json:"default_message"`
	Args           []string `json:"args"`
}

type tagObject struct {
	tag    string
	object dynamicID
}

// runBatch attaches or detaches each pair with the simulator's single-pair
// actions. It reports false (and has answered) if the session is not valid.
func (a *apiGateway) runBatch(w http.ResponseWriter, r *http.Request, op string, pairs []tagObject) (batchResult, bool) {
	res := batchResult{Success: true, ErrorMessages: []batchMessage{}}
	for _, p := range pairs {
		body, _ := json.Marshal(map[string]dynamicID{"object_id": p.object})
		status, _ := a.front.restCall(r.Header, http.MethodPost, restPath(association+"/id:{id}", p.tag), restQuery(op), body)
		switch status {
		case http.StatusOK:
		case http.StatusUnauthorized:
			writeAPIError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "the session is not authenticated")
			return res, false
		default:
			res.Success = false
			res.ErrorMessages = append(res.ErrorMessages, batchMessage{
				ID:             "cis.tagging.objectNotFound.error",
				DefaultMessage: fmt.Sprintf("Tagging object %s not found", p.tag),
				Args:           []string{p.tag},
			})
		}
	}
	return res, true
}

// bulkOverTags is attach-multiple-tags-to-object / detach-multiple-tags-from-object.
func bulkOverTags(op string) func(*apiGateway, http.ResponseWriter, *http.Request, string) {
	return func(a *apiGateway, w http.ResponseWriter, r *http.Request, _ string) {
		a.bulk(w, r, op, "", false)
	}
}

// bulkOverObjects is attach-tag-to-multiple-objects / detach-tag-from-multiple-objects.
func bulkOverObjects(op string) func(*apiGateway, http.ResponseWriter, *http.Request, string) {
	return func(a *apiGateway, w http.ResponseWriter, r *http.Request, tag string) {
		a.bulk(w, r, op, tag, false)
	}
}

// bulk runs a bulk tagging action. With tag == "" the body names one object
// and many tags, else many objects for that tag. wrapped answers /rest style.
func (a *apiGateway) bulk(w http.ResponseWriter, r *http.Request, op, tag string, wrapped bool) {
	body, ok := readJSONBody(w, r)
	if !ok {
		return
	}
	var spec struct {
		ObjectID  *dynamicID  `json:"object_id"`
		TagIDs    []string    `json:"tag_ids"`
		ObjectIDs []dynamicID `json:"object_ids"`
	}
	if err := json.Unmarshal(body, &spec); err != nil {
		writeAPIError(w, http.StatusBadRequest, "INVALID_ARGUMENT", err.Error())
		return
	}
	var pairs []tagObject
	if tag == "" {
		if spec.ObjectID == nil {
			writeAPIError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "object_id is required")
			return
		}
		for _, t := range spec.TagIDs {
			pairs = append(pairs, tagObject{tag: t, object: *spec.ObjectID})
		}
	} else {
		for _, o := range spec.ObjectIDs {
			pairs = append(pairs, tagObject{tag: tag, object: o})
		}
	}
	res, ok := a.runBatch(w, r, op, pairs)
	if !ok {
		return
	}
	if wrapped {
		writeJSON(w, http.StatusOK, map[string]batchResult{"value": res})
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// serveRESTBulk serves the /rest bulk tagging actions the simulator lacks
// (detach-tag-from-multiple-objects) or gets wrong (after its
// detach-multiple-tags-from-object the object is still listed on the tag; its
// attach-tag-to-multiple-objects returns no batch result). It reports
// whether it answered.
func (a *apiGateway) serveRESTBulk(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	action := r.URL.Query().Get("~action")
	switch {
	case r.URL.Path == association && action == "detach-multiple-tags-from-object":
		a.bulk(w, r, "detach", "", true)
	case strings.HasPrefix(r.URL.Path, association+"/id:") &&
		(action == "attach-tag-to-multiple-objects" || action == "detach-tag-from-multiple-objects"):
		tag := strings.TrimPrefix(r.URL.Path, association+"/id:")
		a.bulk(w, r, strings.SplitN(action, "-", 2)[0], tag, true)
	default:
		return false
	}
	return true
}

// restValue unwraps a /rest reply. On error it answers w in /api style and
// reports false.
func restValue(w http.ResponseWriter, status int, body []byte) (json.RawMessage, bool) {
	if status == http.StatusOK {
		var reply struct {
			Value json.RawMessage `json:"value"`
		}
		if len(body) != 0 {
			if err := json.Unmarshal(body, &reply); err != nil {
				writeAPIError(w, http.StatusInternalServerError, "ERROR", "bad /rest reply: "+err.Error())
				return nil, false
			}
		}
		return reply.Value, true
	}

	kind, message := "", strings.TrimSpace(string(body))
	var fault struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(body, &fault) == nil && fault.Type != "" {
		kind = strings.ToUpper(fault.Type[strings.LastIndex(fault.Type, ".")+1:])
		message = fault.Type
	}
	if kind == "" {
		switch status {
		case http.StatusUnauthorized:
			kind = "UNAUTHENTICATED"
		case http.StatusNotFound:
			kind = "NOT_FOUND"
		case http.StatusBadRequest:
			kind = "INVALID_ARGUMENT"
		case http.StatusForbidden:
			kind = "UNAUTHORIZED"
		default:
			kind = "ERROR"
		}
	}
	writeAPIError(w, status, kind, message)
	return nil, false
}

func readJSONBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "INVALID_ARGUMENT", err.Error())
		return nil, false
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	if !json.Valid(body) {
		writeAPIError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "the body is not JSON")
		return nil, false
	}
	return body, true
}

// writeAPIError answers with a vAPI /api error.
func writeAPIError(w http.ResponseWriter, status int, kind, message string) {
	type msg struct {
		ID             string   `json:"id"`
		DefaultMessage string   `json:"default_message"`
		Args           []string `json:"args"`
	}
	body := struct {
		ErrorType string `json:"error_type"`
		Messages  []msg  `json:"messages"`
	}{ErrorType: kind, Messages: []msg{}}
	if message != "" {
		body.Messages = append(body.Messages, msg{ID: "vsray-sim", DefaultMessage: message, Args: []string{}})
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
