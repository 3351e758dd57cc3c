// This file is compiled into govmomi's simulator package by vsray-sim's build
// (go build -overlay). It answers WaitForUpdatesEx and WaitForUpdates as soon
// as a change is there, as vCenter does: the simulator's own implementation
// looks for changes on a 250 ms ticker, so every wait a client does loses up
// to 250 ms. The simulator's implementation still answers a call without a
// version (the whole current state); this file only replaces how the later
// calls wait and how the changes are gathered. It uses the package's own
// helpers (apply, PropertyFilter.apply) to select and collect properties.

package simulator

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// ServeWaitForUpdates serves one WaitForUpdatesEx or WaitForUpdates SOAP call
// whose envelope is body, with the same session handling as ServeSDK. A call
// with a version answers as soon as a change touches one of the collector's
// filters; else when maxWaitSeconds runs out (no result), when
// CancelWaitForUpdates is called (RequestCanceled), or, with no result, when
// the client goes away or stop is closed.
func (s *Service) ServeWaitForUpdates(w http.ResponseWriter, r *http.Request, body []byte, stop <-chan struct{}) {
	ctx := &Context{req: r, res: w, svc: s, Map: s.sdk[vim25.Path], Context: context.Background()}
	ctx.Map.WithLock(s.sm, ctx.mapSession)

	var res soap.HasFault
	method, err := UnmarshalBody(ctx.Map.typeFunc, body)
	if err != nil {
		res = serverFault(err.Error())
	} else {
		ctx.Header = method.Header
		wait, cancel := context.WithCancel(r.Context()) // ends when the client goes away
		defer cancel()
		go func() {
			select {
			case <-stop:
				cancel()
			case <-wait.Done():
			}
		}()
		res = waitForUpdates(ctx, method, wait.Done())
	}
	writeSOAPResponse(w, ctx.Map.Namespace, res)
}

func waitForUpdates(ctx *Context, method *Method, gone <-chan struct{}) soap.HasFault {
	if ctx.Session == nil {
		return &serverFaultBody{Reason: Fault("", &types.NotAuthenticated{
			NoPermission: types.NoPermission{Object: method.This, PrivilegeId: "System.View"},
		})}
	}
	pc, ok := ctx.Session.Get(method.This).(*PropertyCollector)
	if !ok {
		return &serverFaultBody{Reason: Fault("managed object not found: "+method.This.String(),
			&types.ManagedObjectNotFound{Obj: method.This})}
	}

	switch req := method.Body.(type) {
	case *types.WaitForUpdatesEx:
		body := &methods.WaitForUpdatesExBody{}
		set, fault := pc.waitChanges(ctx, req.Version, req.Options, gone)
		if fault != nil {
			body.Fault_ = fault
		} else {
			body.Res = &types.WaitForUpdatesExResponse{Returnval: set}
		}
		return body
	case *types.WaitForUpdates:
		// The older call has no options: it waits until there is something.
		body := &methods.WaitForUpdatesBody{}
		set, fault := pc.waitChanges(ctx, req.Version, nil, gone)
		switch {
		case fault != nil:
			body.Fault_ = fault
		case set == nil: // the client went away or the simulator stops
			body.Res = &types.WaitForUpdatesResponse{Returnval: types.UpdateSet{Version: req.Version}}
		default:
			body.Res = &types.WaitForUpdatesResponse{Returnval: *set}
		}
		return body
	}
	return serverFault(fmt.Sprintf("%s is not a wait for updates", method.Name))
}

// InventoryChanges orders the gathering of changes after the calls that make
// them. vsray-sim's front holds it for reading while the simulator handles a
// call that may change the inventory; a waiting call holds it for writing
// while it gathers changes. So a change is reported once the call that made
// it is over, never half made: the simulator registers a new VM first (which
// wakes the waiting calls) and fills it in afterwards, partly without
// reporting it. Changes made outside calls (timers) are made whole at once.
var InventoryChanges sync.RWMutex

// waitingCalls counts the calls with a version being answered now.
var waitingCalls int64

// WaitingForUpdates is how many WaitForUpdatesEx or WaitForUpdates calls with
// a version are waiting for a change (or looking for one) now.
func WaitingForUpdates() int64 { return atomic.LoadInt64(&waitingCalls) }

// waitChanges is the body of both calls. A nil set without a fault means
// nothing changed in time.
//
// Versions are the collector's: every set of changes it answers is numbered,
// and kept (the last historyKept), so that a call with an older version gets
// every change since, as on vCenter, where a non-truncated version may be
// passed again. Several threads of one client often wait on one collector at
// once (pyVim's WaitForTask waits on the session's collector, each thread
// with its own filter and version): a change one of them was answered is not
// lost to the others.
func (pc *PropertyCollector) waitChanges(ctx *Context, version string, opts *types.WaitOptions, gone <-chan struct{}) (*types.UpdateSet, *soap.Fault) {
	if version == "" {
		// The whole current state: the simulator's own answer, which also
		// registers the collector for object changes; a notifier takes over
		// that registration (so it must come after).
		InventoryChanges.Lock()
		res := pc.WaitForUpdatesEx(ctx, &types.WaitForUpdatesEx{This: pc.Self, Options: opts})
		n := notifierFor(ctx, pc)
		n.markCollected(pc.Filter)
		current := n.version()
		InventoryChanges.Unlock()
		if fault := res.Fault(); fault != nil {
			return nil, fault
		}
		set := res.(*methods.WaitForUpdatesExBody).Res.Returnval
		if set != nil {
			set.Version = current
		}
		return set, nil
	}
	known, err := strconv.ParseInt(version, 10, 64)
	if err != nil {
		return nil, Fault("version "+version+" was not returned by this collector", new(types.InvalidCollectorVersion))
	}
	n := notifierFor(ctx, pc)

	atomic.AddInt64(&waitingCalls, 1)
	defer atomic.AddInt64(&waitingCalls, -1)
	canceled, cancel := context.WithCancel(context.Background())
	defer cancel()
	pc.mu.Lock()
	pc.cancel = cancel // CancelWaitForUpdates calls it
	pc.mu.Unlock()

	once := false
	var timeout <-chan time.Time
	if opts != nil && opts.MaxWaitSeconds != nil {
		if max := *opts.MaxWaitSeconds; max == 0 {
			once = true
		} else if max > 0 {
			timer := time.NewTimer(time.Duration(max) * time.Second)
			defer timer.Stop()
			timeout = timer.C
		}
	}

	for {
		changed := n.nextChange() // taken before looking: no change is missed
		InventoryChanges.Lock()
		set, fault := pc.changesSince(ctx, n, known)
		InventoryChanges.Unlock()
		if fault != nil {
			return nil, Fault("", fault)
		}
		if set != nil {
			return set, nil
		}
		if once {
			return nil, nil
		}
		select {
		case <-changed:
		case <-timeout:
			return nil, nil
		case <-canceled.Done():
			return nil, Fault("", new(types.RequestCanceled))
		case <-gone:
			return nil, nil
		}
	}
}

// historyKept is how many answered sets a collector keeps for calls with an
// older version; a call older than all of them gets those it has.
const historyKept = 4096

// answered is a set of changes a collector answered, with its version.
type answered struct {
	version int64
	sets    []types.PropertyFilterUpdate
}

// changesSince gathers the collector's new changes (numbering and keeping
// them) and returns every change after version known, for the filters that
// still exist; nil if there is none. Under InventoryChanges.
func (pc *PropertyCollector) changesSince(ctx *Context, n *changeNotifier, known int64) (*types.UpdateSet, types.BaseMethodFault) {
	fresh := &types.UpdateSet{}
	if fault := pc.gatherChanges(ctx, n, fresh); fault != nil {
		return nil, fault
	}
	if len(fresh.FilterSet) != 0 {
		n.seq++
		n.history = append(n.history, answered{version: n.seq, sets: fresh.FilterSet})
		if len(n.history) > historyKept {
			n.history = n.history[len(n.history)-historyKept:]
		}
		n.wake() // other calls of the collector, with older versions, have news
	}
	if known >= n.seq {
		return nil, nil
	}
	live := map[types.ManagedObjectReference]bool{}
	for _, f := range pc.Filter {
		live[f] = true
	}
	set := &types.UpdateSet{Version: n.version()}
	for _, a := range n.history {
		if a.version <= known {
			continue
		}
		for _, fu := range a.sets {
			if live[fu.Filter] {
				addFilterUpdates(set, fu.Filter, fu.ObjectSet)
			}
		}
	}
	if len(set.FilterSet) == 0 {
		return nil, nil // only changes of filters destroyed since
	}
	return set, nil
}

// gatherChanges moves the object changes recorded for the collector since
// the last call into set, per filter: objects that came into the filter's
// reach (with the filter's properties, read now), changes of the filtered
// properties of objects the filter already reported, and objects that were
// removed. Objects are collected once per batch, and only when the batch may
// bring new ones: a new object, a change of a property some filter
// traverses (a folder's childEntity, a view's view), or a new filter.
func (pc *PropertyCollector) gatherChanges(ctx *Context, n *changeNotifier, set *types.UpdateSet) types.BaseMethodFault {
	pc.mu.Lock()
	pending := pc.updates
	pc.updates = nil
	pc.mu.Unlock()
	if len(pending) == 0 && n.collected(pc.Filter) {
		return nil
	}

	if !n.collected(pc.Filter) || reachChanges(ctx, pc.Filter, pending) {
		if fault := pc.apply(ctx, set); fault != nil {
			return fault
		}
		n.markCollected(pc.Filter)
	}
	// Objects that just came in are reported whole: their later changes in
	// this batch are already in what was read.
	entered := map[types.ManagedObjectReference]map[types.ManagedObjectReference]bool{}
	for _, fu := range set.FilterSet {
		for _, o := range fu.ObjectSet {
			if entered[fu.Filter] == nil {
				entered[fu.Filter] = map[types.ManagedObjectReference]bool{}
			}
			entered[fu.Filter][o.Obj] = true
		}
	}

	for _, ref := range pc.Filter {
		filter, ok := ctx.Session.Get(ref).(*PropertyFilter)
		if !ok {
			continue
		}
		var objects []types.ObjectUpdate
		for _, u := range pending {
			_, known := filter.refs[u.Obj]
			switch {
			case !known || entered[ref][u.Obj]:
			case u.Kind == types.ObjectUpdateKindModify:
				if u = filter.apply(ctx, u); len(u.ChangeSet) != 0 {
					objects = append(objects, u)
				}
			case u.Kind == types.ObjectUpdateKindLeave:
				delete(filter.refs, u.Obj)
				objects = append(objects, u)
			}
		}
		addFilterUpdates(set, ref, objects)
	}
	return nil
}

// reachChanges says whether a batch of changes may bring objects into the
// reach of filters: a new object, or a change of a property a filter
// traverses.
func reachChanges(ctx *Context, filters []types.ManagedObjectReference, pending []types.ObjectUpdate) bool {
	paths := map[string]bool{}
	for _, ref := range filters {
		if filter, ok := ctx.Session.Get(ref).(*PropertyFilter); ok {
			for _, o := range filter.Spec.ObjectSet {
				traversedPaths(o.SelectSet, paths)
			}
		}
	}
	for _, u := range pending {
		switch u.Kind {
		case types.ObjectUpdateKindEnter:
			return true
		case types.ObjectUpdateKindModify:
			for _, c := range u.ChangeSet {
				for p := range paths {
					if c.Name == p || strings.HasPrefix(c.Name, p+".") || strings.HasPrefix(p, c.Name+".") {
						return true
					}
				}
			}
		}
	}
	return false
}

// traversedPaths adds the properties that the traversal specs of set (and
// of their own select sets) follow.
func traversedPaths(set []types.BaseSelectionSpec, paths map[string]bool) {
	for _, s := range set {
		if ts, ok := s.(*types.TraversalSpec); ok {
			paths[ts.Path] = true
			traversedPaths(ts.SelectSet, paths)
		}
	}
}

// addFilterUpdates appends objects to the filter's entry of set, making one.
func addFilterUpdates(set *types.UpdateSet, filter types.ManagedObjectReference, objects []types.ObjectUpdate) {
	if len(objects) == 0 {
		return
	}
	for i := range set.FilterSet {
		if set.FilterSet[i].Filter == filter {
			set.FilterSet[i].ObjectSet = append(set.FilterSet[i].ObjectSet, objects...)
			return
		}
	}
	set.FilterSet = append(set.FilterSet, types.PropertyFilterUpdate{Filter: filter, ObjectSet: objects})
}

// changeNotifier is registered with the registry for one collector instance:
// it records every object change for the collector, as the collector itself
// does when registered, then wakes the collector's waiting call. It has a
// registry key of its own: the root PropertyCollector has one instance per
// session, all with the same reference, and the simulator's own registration
// of one replaces another's. It unregisters itself when its collector is
// destroyed or its session has ended.
type changeNotifier struct {
	pc      *PropertyCollector
	self    types.ManagedObjectReference
	session string

	// Closed (and replaced) at each change: wakes every waiting call.
	mu      sync.Mutex
	changed chan struct{}

	// The last version answered and the sets answered (under
	// InventoryChanges).
	seq     int64
	history []answered

	// The filters whose objects have been collected once (under
	// InventoryChanges).
	filters map[types.ManagedObjectReference]bool
}

// collected says whether every filter's objects have been collected once.
func (n *changeNotifier) collected(filters []types.ManagedObjectReference) bool {
	for _, f := range filters {
		if !n.filters[f] {
			return false
		}
	}
	return true
}

func (n *changeNotifier) markCollected(filters []types.ManagedObjectReference) {
	for _, f := range filters {
		n.filters[f] = true
	}
}

var (
	notifiers      sync.Map // *PropertyCollector -> *changeNotifier
	notifierNumber int64
)

// notifierFor returns the collector's notifier, registering one (and
// removing the simulator's own registration of the collector) if needed.
func notifierFor(ctx *Context, pc *PropertyCollector) *changeNotifier {
	ctx.Map.m.Lock()
	if h, ok := ctx.Map.handlers[pc.Self].(*PropertyCollector); ok && h == pc {
		delete(ctx.Map.handlers, pc.Self)
	}
	ctx.Map.m.Unlock()

	if n, ok := notifiers.Load(pc); ok {
		return n.(*changeNotifier)
	}
	n := &changeNotifier{
		pc:      pc,
		self:    types.ManagedObjectReference{Type: "VsrayChangeNotifier", Value: fmt.Sprintf("notifier-%d", atomic.AddInt64(&notifierNumber, 1))},
		session: ctx.Session.Key,
		changed: make(chan struct{}),
		filters: map[types.ManagedObjectReference]bool{},
	}
	if actual, loaded := notifiers.LoadOrStore(pc, n); loaded {
		return actual.(*changeNotifier)
	}
	ctx.Map.AddHandler(n)
	return n
}

func (n *changeNotifier) Reference() types.ManagedObjectReference { return n.self }

func (n *changeNotifier) PutObject(o mo.Reference) {
	if n.active() {
		n.pc.PutObject(o)
		n.wake()
	}
}

func (n *changeNotifier) UpdateObject(o mo.Reference, changes []types.PropertyChange) {
	if n.active() {
		n.pc.UpdateObject(o, changes)
		n.wake()
	}
}

func (n *changeNotifier) RemoveObject(ref types.ManagedObjectReference) {
	if ref == n.pc.Self {
		n.unregister() // DestroyPropertyCollector
		return
	}
	if n.active() {
		n.pc.RemoveObject(ref)
		n.wake()
	}
}

func (n *changeNotifier) wake() {
	n.mu.Lock()
	close(n.changed)
	n.changed = make(chan struct{})
	n.mu.Unlock()
}

// nextChange is closed at the next change.
func (n *changeNotifier) nextChange() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.changed
}

// version is the last version answered, as a client passes it back.
func (n *changeNotifier) version() string { return strconv.FormatInt(n.seq, 10) }

// active reports whether the collector's session still exists, and
// unregisters the notifier when it does not.
func (n *changeNotifier) active() bool {
	if _, ok := Map.SessionManager().getSession(n.session); ok {
		return true
	}
	n.unregister()
	return false
}

func (n *changeNotifier) unregister() {
	Map.RemoveHandler(n)
	notifiers.Delete(n.pc)
}
