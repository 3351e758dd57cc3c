package main

import (
	"fmt"
	"math/rand"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/vmware/govmomi/vim25/types"
)

// A fault spec is METHOD:WHEN:KIND.
//
//	METHOD  a SOAP method name (InstantClone_Task) or a REST route prefix,
//	        with or without its HTTP method ("POST /rest/com/vmware/cis/tagging",
//	        "/api/session"); METHOD may itself contain ':'
//	WHEN    N (only the Nth matching call, 1-based), N+ (the Nth and every later
//	        one), * (every call) or p=F (each call with probability F, seeded)
//	KIND    a vim fault type name (SOAP only) answered as a SOAP fault,
//	        task:FAULT (SOAP *_Task methods: a task that ends in that fault),
//	        httpNNN (that HTTP status, e.g. http503), drop (close the
//	        connection without an answer), or one of the kinds of holds.go:
//	        lost (do the call, then close the connection without an answer),
//	        hang (never answer, do nothing), hold (wait for a release, then do
//	        the call) or hold-answer (do the call, wait for a release, then
//	        answer)
//
// Calls are counted per rule, from the moment the rule is added.
type faultSpec struct {
	text   string
	target string
	rest   bool

	when whenKind
	n    int
	p    float64

	action faultAction
}

type whenKind int

const (
	whenNth whenKind = iota
	whenFrom
	whenProb
)

// faultAction is what an injected fault does to a call.
type faultAction struct {
	kind   actionKind
	fault  string // vim fault type name, for actionSOAP and actionTask
	status int    // for actionHTTP
}

type actionKind int

const (
	actionSOAP actionKind = iota
	actionTask
	actionHTTP
	actionDrop
	actionLost
	actionHang
	actionHold
	actionHoldAnswer
)

// stagedActions are the kinds that do not answer in place of the call
// (holds.go); the others answer with a fault before the call is handled.
var stagedActions = map[string]actionKind{
	"lost":        actionLost,
	"hang":        actionHang,
	"hold":        actionHold,
	"hold-answer": actionHoldAnswer,
}

var baseMethodFault = reflect.TypeOf((*types.BaseMethodFault)(nil)).Elem()

func parseFaultSpec(text string) (*faultSpec, error) {
	bad := func(format string, args ...interface{}) error {
		return fmt.Errorf("fault %q: %s", text, fmt.Sprintf(format, args...))
	}

	parts := strings.Split(text, ":")
	if len(parts) < 3 {
		return nil, bad("want METHOD:WHEN:KIND")
	}
	var kind string
	if n := len(parts); n >= 4 && parts[n-2] == "task" {
		kind, parts = "task:"+parts[n-1], parts[:n-2]
	} else {
		kind, parts = parts[n-1], parts[:n-1]
	}
	when := parts[len(parts)-1]
	target := strings.TrimSpace(strings.Join(parts[:len(parts)-1], ":"))
	if target == "" {
		return nil, bad("empty METHOD")
	}

	s := &faultSpec{text: text, target: target, rest: strings.Contains(target, "/")}

	switch {
	case when == "*":
		s.when, s.n = whenFrom, 1
	case strings.HasPrefix(when, "p="):
		p, err := strconv.ParseFloat(when[2:], 64)
		if err != nil || p < 0 || p > 1 {
			return nil, bad("p= wants a fraction between 0 and 1")
		}
		s.when, s.p = whenProb, p
	default:
		s.when = whenNth
		if strings.HasSuffix(when, "+") {
			s.when, when = whenFrom, strings.TrimSuffix(when, "+")
		}
		n, err := strconv.Atoi(when)
		if err != nil || n < 1 {
			return nil, bad("WHEN must be N, N+, * or p=F with N >= 1")
		}
		s.n = n
	}

	switch staged, isStaged := stagedActions[kind]; {
	case isStaged:
		s.action.kind = staged
	case kind == "drop":
		s.action.kind = actionDrop
	case strings.HasPrefix(kind, "http"):
		code, err := strconv.Atoi(kind[len("http"):])
		if err != nil || code < 400 || code > 599 {
			return nil, bad("httpNNN wants an HTTP error status (400-599)")
		}
		s.action = faultAction{kind: actionHTTP, status: code}
	case strings.HasPrefix(kind, "task:"):
		if s.rest || !strings.HasSuffix(target, "_Task") {
			return nil, bad("task: faults apply to SOAP *_Task methods only")
		}
		name := strings.TrimPrefix(kind, "task:")
		if !isFaultType(name) {
			return nil, bad("%q is not a vim fault type", name)
		}
		s.action = faultAction{kind: actionTask, fault: name}
	default:
		if s.rest {
			return nil, bad("REST routes take httpNNN, drop, lost, hang, hold or hold-answer")
		}
		if !isFaultType(kind) {
			return nil, bad("%q is not a vim fault type (nor httpNNN, drop, lost, hang, hold, hold-answer or task:FAULT)", kind)
		}
		s.action = faultAction{kind: actionSOAP, fault: kind}
	}
	return s, nil
}

func isFaultType(name string) bool {
	t, ok := types.TypeFunc()(name)
	return ok && t.Kind() == reflect.Struct && reflect.PtrTo(t).Implements(baseMethodFault)
}

// newFault makes the named vim fault, filling the fields clients commonly
// read: the object (this) and, for power state faults, plausible states.
func newFault(name string, this types.ManagedObjectReference) types.BaseMethodFault {
	t, _ := types.TypeFunc()(name)
	v := reflect.New(t)
	for _, field := range []string{"Obj", "Object"} {
		if f := v.Elem().FieldByName(field); f.IsValid() && f.Type() == reflect.TypeOf(this) {
			f.Set(reflect.ValueOf(this))
		}
	}
	switch f := v.Interface().(type) {
	case *types.InvalidPowerState:
		f.RequestedState = types.VirtualMachinePowerStatePoweredOn
		f.ExistingState = types.VirtualMachinePowerStatePoweredOff
	case *types.NotAuthenticated:
		f.PrivilegeId = "System.View"
	case *types.NoPermission:
		f.PrivilegeId = "System.View"
	case *types.DuplicateName:
		f.Name = "vsray-sim"
	case *types.InvalidArgument:
		f.InvalidProperty = "vsray-sim"
	}
	return v.Interface().(types.BaseMethodFault)
}

// faultRule is a parsed spec plus its call counter.
type faultRule struct {
	*faultSpec
	id    int
	calls int
	fired int
	rng   *rand.Rand
}

// faultSet holds the active rules. Safe for concurrent use.
type faultSet struct {
	mu     sync.Mutex
	seed   int64
	nextID int
	rules  []*faultRule
}

func newFaultSet(seed int64) *faultSet { return &faultSet{seed: seed} }

func (s *faultSet) add(spec *faultSpec) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	s.rules = append(s.rules, &faultRule{
		faultSpec: spec,
		id:        s.nextID,
		rng:       rand.New(rand.NewSource(s.seed + int64(s.nextID))),
	})
	return s.nextID
}

func (s *faultSet) clear() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.rules)
	s.rules = nil
	return n
}

// faultStatus is a rule as the control endpoint shows it.
type faultStatus struct {
	ID    int    `json:"id"`
	Spec  string `json:"spec"`
	Calls int    `json:"calls"`
	Fired int    `json:"fired"`
}

func (s *faultSet) list() []faultStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]faultStatus, 0, len(s.rules))
	for _, r := range s.rules {
		out = append(out, faultStatus{ID: r.id, Spec: r.text, Calls: r.calls, Fired: r.fired})
	}
	return out
}

// matchSOAP counts a call of a SOAP method against every rule for it and
// returns the action of the first rule that fires, if any.
func (s *faultSet) matchSOAP(method string) *faultAction {
	return s.match(func(r *faultRule) bool { return !r.rest && r.target == method })
}

// matchREST does the same for a REST call. key is the normalized route
// ("POST /rest/com/vmware/cis/tagging/tag-association/id:{id}?~action=attach"),
// raw the request as sent ("POST /rest/...?~action=attach").
func (s *faultSet) matchREST(key, raw string) *faultAction {
	return s.match(func(r *faultRule) bool {
		if !r.rest {
			return false
		}
		if strings.HasPrefix(r.target, "/") {
			return hasPathPrefix(key, r.target) || hasPathPrefix(raw, r.target)
		}
		return strings.HasPrefix(key, r.target) || strings.HasPrefix(raw, r.target)
	})
}

// hasPathPrefix matches a method-less route prefix against "METHOD /path".
func hasPathPrefix(request, prefix string) bool {
	if i := strings.IndexByte(request, ' '); i >= 0 {
		request = request[i+1:]
	}
	return strings.HasPrefix(request, prefix)
}

func (s *faultSet) match(applies func(*faultRule) bool) *faultAction {
	s.mu.Lock()
	defer s.mu.Unlock()
	var hit *faultAction
	for _, r := range s.rules {
		if !applies(r) {
			continue
		}
		r.calls++
		var fire bool
		switch r.when {
		case whenNth:
			fire = r.calls == r.n
		case whenFrom:
			fire = r.calls >= r.n
		case whenProb:
			fire = r.rng.Float64() < r.p
		}
		if fire && hit == nil {
			r.fired++
			action := r.action
			hit = &action
		}
	}
	return hit
}
