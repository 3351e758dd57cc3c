package main

import (
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// provisioningMethods are the SOAP methods that count against a host's limit
// of concurrent provisioning operations. vCenter's host limits apply to
// "migrations with vMotion, Storage vMotion, and other provisioning
// operations such as cloning, deployment, and cold migration", each costing
// 1 of a host's 8: clones (instant, full or linked) and migrations. Creating
// an empty VM, reconfiguring it and power operations are not provisioning
// operations and are never queued.
var provisioningMethods = map[string]bool{
	"InstantClone_Task": true,
	"CloneVM_Task":      true,
	"RelocateVM_Task":   true,
	"MigrateVM_Task":    true,
}

// defaultHostProvisioningLimit is vCenter's: 8 concurrent provisioning
// operations per host.
const defaultHostProvisioningLimit = 8

// provisioner admits provisioning calls, at most limit at a time per host
// (0: no limit); the others wait in a queue, oldest first, their tasks
// reading queued. A call that may start runs at once; its task then reads
// running for its --task-duration and the call holds its hosts' slots until
// the task ends. A queued call is answered at once with a queued task; its
// work is done when its slots free (the clone appears then), then its task
// reads running for its duration, then ends with the call's outcome. A client
// waiting on tasks thus sees vCenter's throughput: limit tasks per host per
// duration. Safe for concurrent use.
type provisioner struct {
	mu    sync.Mutex
	limit int
	queue []*provisioningOp
	hosts map[types.ManagedObjectReference]*hostProvisioning
}

// hostProvisioning is what GET /vsray/stats reports of a host.
type hostProvisioning struct {
	Running    int `json:"running"`
	Queued     int `json:"queued"`
	MaxRunning int `json:"max_running"`
	MaxQueued  int `json:"max_queued"`
	Started    int `json:"started"`
}

// provisioningOp is one admitted call.
type provisioningOp struct {
	hosts   []types.ManagedObjectReference
	started chan struct{} // closed once the op holds a slot on each host
}

func newProvisioner(limit int) *provisioner {
	return &provisioner{limit: limit, hosts: map[types.ManagedObjectReference]*hostProvisioning{}}
}

// enter queues an op on hosts and starts it if it can start now.
func (p *provisioner) enter(hosts []types.ManagedObjectReference) *provisioningOp {
	p.mu.Lock()
	defer p.mu.Unlock()
	op := &provisioningOp{hosts: hosts, started: make(chan struct{})}
	p.queue = append(p.queue, op)
	for _, h := range hosts {
		p.host(h).Queued++
	}
	p.dispatch()
	for _, h := range hosts {
		if st := p.hosts[h]; st.Queued > st.MaxQueued {
			st.MaxQueued = st.Queued
		}
	}
	return op
}

// leave frees an op's slots and starts the queued ops that can start.
func (p *provisioner) leave(op *provisioningOp) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, h := range op.hosts {
		p.hosts[h].Running--
	}
	p.dispatch()
}

func (p *provisioner) setLimit(limit int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.limit = limit
	p.dispatch()
}

func (p *provisioner) host(ref types.ManagedObjectReference) *hostProvisioning {
	st := p.hosts[ref]
	if st == nil {
		st = &hostProvisioning{}
		p.hosts[ref] = st
	}
	return st
}

// dispatch starts queued ops, oldest first, whose hosts all have a free
// slot. An op never overtakes an older one that waits for one of its hosts.
// The caller holds p.mu.
func (p *provisioner) dispatch() {
	blocked := map[types.ManagedObjectReference]bool{}
	waiting := p.queue[:0]
	for _, op := range p.queue {
		if !p.fits(op, blocked) {
			for _, h := range op.hosts {
				blocked[h] = true
			}
			waiting = append(waiting, op)
			continue
		}
		for _, h := range op.hosts {
			st := p.hosts[h]
			st.Queued--
			st.Running++
			st.Started++
			if st.Running > st.MaxRunning {
				st.MaxRunning = st.Running
			}
		}
		close(op.started)
	}
	for i := len(waiting); i < len(p.queue); i++ {
		p.queue[i] = nil
	}
	p.queue = waiting
}

func (p *provisioner) fits(op *provisioningOp, blocked map[types.ManagedObjectReference]bool) bool {
	for _, h := range op.hosts {
		if blocked[h] || (p.limit > 0 && p.hosts[h].Running >= p.limit) {
			return false
		}
	}
	return true
}

// provisioningReport is the "provisioning" member of GET /vsray/stats.
type provisioningReport struct {
	Limit int                          `json:"limit"`
	Hosts map[string]*hostProvisioning `json:"hosts"`
}

func (p *provisioner) report() provisioningReport {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := provisioningReport{Limit: p.limit, Hosts: map[string]*hostProvisioning{}}
	for ref, st := range p.hosts {
		copied := *st
		out.Hosts[entityName(ref)] = &copied
	}
	return out
}

// resetCounts starts the maxima and the started counts afresh.
func (p *provisioner) resetCounts() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, st := range p.hosts {
		st.MaxRunning, st.MaxQueued, st.Started = st.Running, st.Queued, 0
	}
}

func entityName(ref types.ManagedObjectReference) string {
	if e, ok := simulator.Map.Get(ref).(mo.Entity); ok {
		var name string
		simulator.Map.WithLock(e, func() { name = e.Entity().Name })
		return name
	}
	return ref.Value
}

// admit lets a provisioning call of call.method through the limit. It
// returns (release, false) when the call may run now (release frees its
// slots, once its task ends; nil when the call is not limited: not a
// provisioning call, or one the simulator refuses anyway), or answers the
// client itself with a queued task and returns (nil, true).
func (p *provisioner) admit(f *front, w http.ResponseWriter, r *http.Request, call soapCall, body []byte) (release func(), queued bool) {
	if !provisioningMethods[call.method] || !hasSOAPSession(r) {
		return nil, false // the simulator answers NotAuthenticated without a session
	}
	method, hosts := provisioningCall(body)
	if len(hosts) == 0 {
		return nil, false // the simulator answers (a missing VM, a bad request)
	}
	op := p.enter(hosts)
	select {
	case <-op.started:
		return func() { p.leave(op) }, false
	default:
	}
	name := strings.TrimSuffix(call.method, "_Task") + "Task"
	task := simulator.CreateTask(call.this, lowerFirst(name), nil) // reads queued; never Run
	nameTask(task.Self, call.method)
	writeTaskResponse(w, call.method, task.Self)
	go p.runQueued(f, op, task, call.method, method)
	return nil, true
}

// runQueued does a queued call once its slots are free, then ends its task
// after the method's task duration.
func (p *provisioner) runQueued(f *front, op *provisioningOp, task *simulator.Task, name string, call *simulator.Method) {
	select {
	case <-op.started:
	case <-f.stopping:
		return
	}
	simulator.Map.WithLock(task, func() {
		simulator.Map.Update(task, []types.PropertyChange{
			{Name: "info.state", Val: types.TaskInfoStateRunning},
			{Name: "info.startTime", Val: time.Now()},
			{Name: "info.progress", Val: int32(0)},
		})
	})
	fixClone := cloneFixer(call)
	simulator.InventoryChanges.RLock() // see waitupdates.go
	res := f.service.CallInternal(call)
	if ref, ok := returnedTask(res); ok && fixClone != nil {
		fixClone(ref)
	}
	simulator.InventoryChanges.RUnlock()
	final := callOutcome(res, name)
	finish := func() {
		final = append(final, types.PropertyChange{Name: "info.completeTime", Val: time.Now()})
		simulator.Map.WithLock(task, func() { simulator.Map.Update(task, final) })
		p.leave(op)
	}
	if d := f.tasks.get(name); d > 0 {
		time.AfterFunc(d, finish)
		return
	}
	finish()
}

// callOutcome is how the task of a queued call ends (but for completeTime):
// as the task the call returned ended, or in the fault the call was answered
// with.
func callOutcome(res soap.HasFault, name string) []types.PropertyChange {
	state, result, fault := types.TaskInfoStateError, types.AnyType(nil), &types.LocalizedMethodFault{
		Fault: &types.SystemError{Reason: "vsray-sim: no task"}, LocalizedMessage: "vsray-sim: no task",
	}
	if f := res.Fault(); f != nil {
		if mf, ok := f.Detail.Fault.(types.BaseMethodFault); ok {
			fault = &types.LocalizedMethodFault{Fault: mf, LocalizedMessage: f.String}
		}
	} else if ref, ok := returnedTask(res); ok {
		if inner, ok := simulator.Map.Get(ref).(*simulator.Task); ok {
			nameTask(ref, name)
			simulator.Map.WithLock(inner, func() {
				state, result, fault = inner.Info.State, inner.Info.Result, inner.Info.Error
			})
		}
	}
	return []types.PropertyChange{
		{Name: "info.state", Val: state},
		{Name: "info.result", Val: result},
		{Name: "info.error", Val: nilIfNil(fault)},
		{Name: "info.progress", Val: int32(100)},
	}
}

// returnedTask is the task a *_Task method's body returned.
func returnedTask(res soap.HasFault) (types.ManagedObjectReference, bool) {
	v := reflect.ValueOf(res)
	if v.Kind() != reflect.Ptr || v.Elem().Kind() != reflect.Struct {
		return types.ManagedObjectReference{}, false
	}
	r := v.Elem().FieldByName("Res")
	if !r.IsValid() || r.Kind() != reflect.Ptr || r.IsNil() {
		return types.ManagedObjectReference{}, false
	}
	ref, ok := r.Elem().FieldByName("Returnval").Interface().(types.ManagedObjectReference)
	return ref, ok
}

// provisioningCall decodes a provisioning call and finds the hosts it
// provisions on: the source VM's host, and the destination host it names
// if another. No hosts: the VM does not exist, has no host, or the call
// cannot be read.
func provisioningCall(body []byte) (*simulator.Method, []types.ManagedObjectReference) {
	method, err := simulator.UnmarshalBody(types.TypeFunc(), body)
	if err != nil {
		return nil, nil
	}
	vm, ok := simulator.Map.Get(method.This).(*simulator.VirtualMachine)
	if !ok {
		return nil, nil
	}
	var source *types.ManagedObjectReference
	simulator.Map.WithLock(vm, func() { source = vm.Runtime.Host })
	if source == nil {
		return nil, nil
	}
	hosts := []types.ManagedObjectReference{*source}
	var dest *types.ManagedObjectReference
	switch req := method.Body.(type) {
	case *types.CloneVM_Task:
		dest = req.Spec.Location.Host
	case *types.RelocateVM_Task:
		dest = req.Spec.Host
	case *types.MigrateVM_Task:
		dest = req.Host
	}
	if dest != nil && *dest != *source && simulator.Map.Get(*dest) != nil {
		hosts = append(hosts, *dest)
	}
	sort.Slice(hosts, func(i, j int) bool { return hosts[i].Value < hosts[j].Value })
	return method, hosts
}
