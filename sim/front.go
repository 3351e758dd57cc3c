package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// maxRequestBody bounds what vsray-sim reads of a request.
const maxRequestBody = 64 << 20

// front is the HTTP handler in front of the simulator's own mux. It counts
// calls, adds latency, injects faults, holds calls, keeps tasks running and
// queued, answers long polls at once, checks REST credentials, serves /api by
// translation to /rest and serves the control endpoint under /vsray/.
type front struct {
	inner   http.Handler
	control http.Handler
	api     *apiGateway

	creds         credentials
	stats         *callStats
	faults        *faultSet
	tasks         *taskDurations
	sessions      *restSessions
	access        *access     // users, privileges (authz_*.go)
	gpus          *gpuManager // GPUs (gpu*.go)
	latency       time.Duration
	methodLatency map[string]time.Duration

	service      *simulator.Service // answers WaitForUpdates(Ex) itself (waitupdates.go)
	holds        *holdTable         // calls held by hold and hold-answer faults (holds.go)
	provisioning *provisioner       // per-host limit of provisioning tasks (provisioning.go)
	stopping     chan struct{}      // closed when the simulator stops: long waits end
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case strings.HasPrefix(path, controlPrefix):
		if r.Method == http.MethodPost && path != controlPrefix+"holds/release" {
			simulator.InventoryChanges.RLock() // adding hosts and VMs, see waitupdates.go
			defer simulator.InventoryChanges.RUnlock()
		}
		f.control.ServeHTTP(w, r)
	case r.Method == http.MethodPost && (path == "/sdk" || path == "/sdk/vimService"):
		f.serveSOAP(w, r)
	case path == "/rest" || strings.HasPrefix(path, "/rest/"):
		f.serveREST(w, r, restRoute(r), f.serveRESTRoute)
	case path == "/api" || strings.HasPrefix(path, "/api/"):
		route, id := f.api.match(r)
		key := r.Method + " " + path
		if route != nil {
			key = route.key()
		}
		f.serveREST(w, r, key, func(w http.ResponseWriter, r *http.Request) {
			if route == nil {
				writeAPIError(w, http.StatusNotFound, "NOT_FOUND", "no such /api route in vsray-sim: "+r.Method+" "+r.URL.Path)
				return
			}
			route.serve(f.api, w, r, id)
		})
	default:
		f.stats.countOther(r.Method + " " + path)
		f.inner.ServeHTTP(w, r)
	}
}

func (f *front) serveSOAP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
	_ = r.Body.Close()
	if err != nil {
		http.Error(w, "reading request: "+err.Error(), http.StatusBadRequest)
		return
	}
	call := parseSOAPCall(body)
	f.stats.countSOAP(call.method)
	f.sleep(f.latencyFor(call.method, false))

	action := f.faults.matchSOAP(call.method)
	if action != nil && !action.staged() {
		f.injectSOAP(w, r, call, action)
		return
	}
	f.serveStaged(w, r, call.method, action, func(w http.ResponseWriter, r *http.Request) {
		f.handleSOAP(w, r, call, body)
	})
}

// handleSOAP does a SOAP call and answers it.
func (f *front) handleSOAP(w http.ResponseWriter, r *http.Request, call soapCall, body []byte) {
	if sessionRequired[call.method] && !hasSOAPSession(r) {
		writeSOAPFault(w, "The session is not authenticated.", notAuthenticated(call.this))
		return
	}

	r.Body = io.NopCloser(bytes.NewReader(body))
	if isWaitForUpdates(call.method) {
		// A restricted user's updates are filtered (authz_visibility.go),
		// through f.access.wait, which serves them like this.
		if f.access != nil && f.access.serveSOAP(w, r, call, body) {
			return
		}
		f.service.ServeWaitForUpdates(w, r, body, f.stopping)
		return
	}
	if !readOnlyMethods[call.method] {
		simulator.InventoryChanges.RLock() // see waitupdates.go
		defer simulator.InventoryChanges.RUnlock()
	}
	if f.access != nil && f.access.serveSOAP(w, r, call, body) {
		return
	}
	if f.gpus != nil && f.gpus.serveSOAP(f, w, r, call, body) {
		return
	}
	if changesCustomFields(call.method) {
		f.serveCustomFieldCall(w, r, call, body)
		return
	}
	if !strings.HasSuffix(call.method, "_Task") {
		f.inner.ServeHTTP(w, r)
		return
	}
	f.serveTask(w, r, call, body)
}

// serveTask serves a *_Task method: admitted under the per-host provisioning
// limit (or queued), its answer buffered to find its task and, before the
// client can see it, name it like vCenter does and hold it running if asked.
func (f *front) serveTask(w http.ResponseWriter, r *http.Request, call soapCall, body []byte) {
	release, queued := f.provisioning.admit(f, w, r, call, body)
	if queued {
		return
	}
	var fixClone func(types.ManagedObjectReference)
	if call.method == "CloneVM_Task" {
		method, _ := provisioningCall(body)
		fixClone = cloneFixer(method)
	}
	rec := httptest.NewRecorder()
	f.inner.ServeHTTP(rec, r)
	task, ok := taskFromResponse(rec.Body.Bytes())
	if rec.Code == http.StatusOK && ok {
		if fixClone != nil {
			fixClone(task)
		}
		nameTask(task, call.method)
		holdRunning(task, f.tasks.get(call.method), release)
	} else if release != nil {
		release()
	}
	copyRecorded(w, rec)
}

// serveCustomFieldCall serves SetField, setCustomValue and
// RemoveCustomFieldDef, then, before answering, leaves the entities concerned
// with one value per key and reports their customValue and value, as vCenter
// does (see customfields.go).
func (f *front) serveCustomFieldCall(w http.ResponseWriter, r *http.Request, call soapCall, body []byte) {
	if !hasSOAPSession(r) {
		f.inner.ServeHTTP(w, r) // the simulator answers NotAuthenticated
		return
	}
	c, ok := parseCustomFieldCall(call, body)
	if !ok {
		writeSOAPFault(w, "A required argument of "+call.method+" is missing or not valid.", &types.InvalidRequest{})
		return
	}
	if call.method == "SetField" && simulator.Map.Get(c.entity) == nil {
		// The simulator would crash on it and drop the connection.
		writeSOAPFault(w, "The object has already been deleted or has not been completely created.",
			&types.ManagedObjectNotFound{Obj: c.entity})
		return
	}
	if call.method == "RemoveCustomFieldDef" {
		c.holders = customValueHolders(c.key)
	}
	rec := httptest.NewRecorder()
	f.inner.ServeHTTP(rec, r)
	if rec.Code == http.StatusOK {
		c.settle(call.method)
	}
	copyRecorded(w, rec)
}

func (f *front) injectSOAP(w http.ResponseWriter, r *http.Request, call soapCall, action *faultAction) {
	switch action.kind {
	case actionSOAP:
		writeSOAPFault(w, "vsray-sim injected fault: "+action.fault, newFault(action.fault, call.this))
	case actionTask:
		f.answerFailedTask(w, call, newFault(action.fault, call.this), "")
	default:
		injectHTTP(w, action)
	}
}

// answerFailedTask answers a *_Task method with a task that ends in fault
// (with message as its localized message, if given); nothing is done.
func (f *front) answerFailedTask(w http.ResponseWriter, call soapCall, fault types.BaseMethodFault, message string) {
	name := strings.TrimSuffix(call.method, "_Task") + "Task"
	task := simulator.CreateTask(call.this, lowerFirst(name), func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		return nil, fault
	})
	ref := task.Run()
	if message != "" {
		simulator.Map.WithLock(task, func() {
			simulator.Map.Update(task, []types.PropertyChange{{Name: "info.error",
				Val: types.LocalizedMethodFault{Fault: fault, LocalizedMessage: message}}})
		})
	}
	nameTask(ref, call.method)
	holdRunning(ref, f.tasks.get(call.method), nil)
	writeTaskResponse(w, call.method, ref)
}

func (f *front) serveREST(w http.ResponseWriter, r *http.Request, key string, serve http.HandlerFunc) {
	f.stats.countREST(key)
	f.sleep(f.latencyFor(key, true))
	action := f.faults.matchREST(key, r.Method+" "+r.URL.RequestURI())
	if action != nil && !action.staged() {
		injectHTTP(w, action)
		return
	}
	f.serveStaged(w, r, key, action, func(w http.ResponseWriter, r *http.Request) {
		if f.access != nil && f.access.checkREST(w, r, key) {
			return
		}
		serve(w, r)
	})
}

// serveRESTRoute serves /rest: the simulator's handlers, except for session
// creation (credentials are checked and the token remembered) and the bulk
// tagging actions the simulator lacks or gets wrong.
func (f *front) serveRESTRoute(w http.ResponseWriter, r *http.Request) {
	if isRESTLogin(r) {
		user, ok := f.creds.basicUser(r)
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		rec := httptest.NewRecorder()
		f.inner.ServeHTTP(rec, r)
		if rec.Code == http.StatusOK {
			var reply struct {
				Value string `json:"value"`
			}
			if json.Unmarshal(rec.Body.Bytes(), &reply) == nil && reply.Value != "" {
				f.sessions.add(reply.Value, user)
			}
		}
		copyRecorded(w, rec)
		return
	}
	if r.Method == http.MethodDelete && r.URL.Path == restSessionPath {
		f.sessions.remove(r.Header.Get(sessionHeader))
	}
	if f.api.serveRESTBulk(w, r) {
		return
	}
	f.inner.ServeHTTP(w, r)
}

const restSessionPath = "/rest/com/vmware/cis/session"

func isRESTLogin(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Path == restSessionPath && r.URL.Query().Get("~action") == ""
}

// restRoute is the stats key of a /rest call: its method and path with ids
// replaced by {id}, plus its ~action.
func restRoute(r *http.Request) string {
	segments := strings.Split(r.URL.Path, "/")
	for i, s := range segments {
		if strings.HasPrefix(s, "id:") {
			segments[i] = "id:{id}"
		}
	}
	key := r.Method + " " + strings.Join(segments, "/")
	if action := r.URL.Query().Get("~action"); action != "" {
		key += "?~action=" + action
	}
	return key
}

// restCall runs a request against the simulator's own handlers, bypassing
// stats, latency and faults, and returns the status and body.
func (f *front) restCall(h http.Header, method, path, query string, body []byte) (int, []byte) {
	u := url.URL{Scheme: "http", Host: "vsray-sim", Path: path, RawQuery: query}
	req, err := http.NewRequest(method, u.String(), bytes.NewReader(body))
	if err != nil {
		return http.StatusInternalServerError, []byte(err.Error())
	}
	for _, name := range []string{sessionHeader, "Authorization", "Cookie", "Vmware-Use-Header-Authn"} {
		if v := h.Get(name); v != "" {
			req.Header.Set(name, v)
		}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	f.inner.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// latencyFor is --latency plus the --method-latency of a SOAP method (exact
// name) or of the longest REST route prefix matching key.
func (f *front) latencyFor(key string, rest bool) time.Duration {
	d := f.latency
	if !rest {
		return d + f.methodLatency[key]
	}
	best := -1
	var extra time.Duration
	for prefix, md := range f.methodLatency {
		if !strings.Contains(prefix, "/") || len(prefix) <= best {
			continue
		}
		if strings.HasPrefix(key, prefix) || (strings.HasPrefix(prefix, "/") && hasPathPrefix(key, prefix)) {
			best, extra = len(prefix), md
		}
	}
	return d + extra
}

func (f *front) sleep(d time.Duration) {
	if d > 0 {
		time.Sleep(d)
	}
}

// injectHTTP answers with an HTTP error status or drops the connection.
func injectHTTP(w http.ResponseWriter, action *faultAction) {
	switch action.kind {
	case actionDrop:
		dropConnection(w)
	case actionHTTP:
		http.Error(w, fmt.Sprintf("vsray-sim injected HTTP %d", action.status), action.status)
	default:
		logger.Printf("fault action %d cannot apply to this call", action.kind)
		http.Error(w, "vsray-sim: bad fault action", http.StatusInternalServerError)
	}
}

func copyRecorded(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for name, values := range rec.Header() {
		w.Header()[name] = values
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
