package main

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"time"
)

// The fault kinds that leave the client without an answer, or without one
// for a while, for reliability tests:
//
//	lost         the call is done (the VM created, the field set, the task
//	             started and run to its end), then the connection is closed
//	             without an answer: the client cannot know the outcome.
//	hang         the call is never answered and nothing is done; the
//	             connection stays open until the client closes it or the
//	             simulator stops.
//	hold         the call waits, before anything is done, until released
//	             through the control endpoint; then it is done and answered.
//	hold-answer  the call is done, then its answer waits until released.
//
// Held calls are listed by GET /vsray/holds. A release returns once the
// released calls are done with (handled and answered, or dropped), so a test
// never needs to sleep: hold the 2nd SetField, wait until it is listed, kill
// the client, release, then look at what vCenter holds.

// staged reports whether an action lets the call through one of the kinds
// above (the others answer in its place).
func (a *faultAction) staged() bool {
	switch a.kind {
	case actionLost, actionHang, actionHold, actionHoldAnswer:
		return true
	}
	return false
}

// serveStaged serves a call through action (nil: normally).
func (f *front) serveStaged(w http.ResponseWriter, r *http.Request, method string, action *faultAction, serve http.HandlerFunc) {
	if action == nil {
		serve(w, r)
		return
	}
	switch action.kind {
	case actionLost:
		serve(httptest.NewRecorder(), r)
		dropConnection(w)
	case actionHang:
		select {
		case <-r.Context().Done():
		case <-f.stopping:
		}
		dropConnection(w)
	case actionHold:
		h := f.holds.add(method, holdBefore)
		defer h.done()
		if !f.holds.wait(r, h, f.stopping) {
			dropConnection(w)
			return
		}
		serve(w, r)
	case actionHoldAnswer:
		rec := httptest.NewRecorder()
		serve(rec, r)
		h := f.holds.add(method, holdAnswer)
		defer h.done()
		if !f.holds.wait(r, h, f.stopping) {
			dropConnection(w)
			return
		}
		copyRecorded(w, rec)
	default:
		serve(w, r)
	}
}

// dropConnection closes the client's connection without an answer.
func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// holdStage says whether a call is held before it is handled or after.
type holdStage string

const (
	holdBefore holdStage = "before"
	holdAnswer holdStage = "answer"
)

// heldCall is one call waiting for a release.
type heldCall struct {
	id         int
	method     string
	stage      holdStage
	since      time.Time
	clientGone bool

	release  chan bool     // receives one decision: true = go on, false = drop
	finished chan struct{} // closed once the call is done with
}

func (h *heldCall) done() { close(h.finished) }

// holdTable holds the held calls. Safe for concurrent use.
type holdTable struct {
	mu     sync.Mutex
	nextID int
	calls  map[int]*heldCall
}

func newHoldTable() *holdTable { return &holdTable{calls: map[int]*heldCall{}} }

func (t *holdTable) add(method string, stage holdStage) *heldCall {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.nextID++
	h := &heldCall{
		id: t.nextID, method: method, stage: stage, since: time.Now(),
		release: make(chan bool, 1), finished: make(chan struct{}),
	}
	t.calls[h.id] = h
	return h
}

// wait blocks until h is released (true: go on) or dropped, or the
// simulator stops (false). A client that goes away is noted; its call stays
// held: a server that has received a call does it even if the client is gone.
func (t *holdTable) wait(r *http.Request, h *heldCall, stopping <-chan struct{}) bool {
	gone := r.Context().Done()
	for {
		select {
		case goOn := <-h.release:
			return goOn
		case <-stopping:
			t.forget(h)
			return false
		case <-gone:
			gone = nil
			t.mu.Lock()
			h.clientGone = true
			t.mu.Unlock()
		}
	}
}

func (t *holdTable) forget(h *heldCall) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.calls, h.id)
}

// heldStatus is a held call as GET /vsray/holds shows it.
type heldStatus struct {
	ID         int       `json:"id"`
	Method     string    `json:"method"`
	Stage      holdStage `json:"stage"`
	Since      time.Time `json:"since"`
	ClientGone bool      `json:"client_gone"`
}

func (t *holdTable) list() []heldStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]heldStatus, 0, len(t.calls))
	for _, h := range t.calls {
		out = append(out, heldStatus{ID: h.id, Method: h.method, Stage: h.stage, Since: h.since, ClientGone: h.clientGone})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

var errNotHeld = errors.New("no such held call")

// release lets the call id (0: every held call) go on, or drops it, and
// returns once they are done with, or when stopping closes. It returns how
// many calls it released.
func (t *holdTable) release(id int, goOn bool, stopping <-chan struct{}) (int, error) {
	t.mu.Lock()
	var calls []*heldCall
	for _, h := range t.calls {
		if id == 0 || h.id == id {
			calls = append(calls, h)
			delete(t.calls, h.id)
		}
	}
	t.mu.Unlock()
	if id != 0 && len(calls) == 0 {
		return 0, errNotHeld
	}
	for _, h := range calls {
		h.release <- goOn
	}
	for _, h := range calls {
		select {
		case <-h.finished:
		case <-stopping:
		}
	}
	return len(calls), nil
}
