package main

import (
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// taskDurations says how long the tasks of each SOAP method stay running.
// Safe for concurrent use.
type taskDurations struct {
	mu sync.Mutex
	d  map[string]time.Duration
}

func newTaskDurations(initial map[string]time.Duration) *taskDurations {
	t := &taskDurations{d: map[string]time.Duration{}}
	for method, d := range initial {
		t.set(method, d)
	}
	return t
}

func (t *taskDurations) set(method string, d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if d <= 0 {
		delete(t.d, method)
		return
	}
	t.d[method] = d
}

func (t *taskDurations) get(method string) time.Duration {
	if !strings.HasSuffix(method, "_Task") {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.d[method]
}

// nameTask sets info.name to the method that created the task, as vCenter
// does ("PowerOnVM_Task"); the simulator uses names such as "PowerOn", which
// pyvmomi cannot resolve to a method.
func nameTask(ref types.ManagedObjectReference, method string) {
	task, ok := simulator.Map.Get(ref).(*simulator.Task)
	if !ok {
		return
	}
	simulator.Map.WithLock(task, func() {
		if task.Info.Name != method {
			simulator.Map.Update(task, []types.PropertyChange{{Name: "info.name", Val: method}})
		}
	})
}

// holdRunning makes a finished task read as running (no result, no error)
// for d, then restores how it ended, with completeTime then, and calls then
// (if not nil). The simulator runs every task to the end inside the call;
// this is how clients get to wait for one. Both changes go through the
// registry, so property collectors report them. With d <= 0 it only calls
// then.
func holdRunning(ref types.ManagedObjectReference, d time.Duration, then func()) {
	task, ok := simulator.Map.Get(ref).(*simulator.Task)
	if !ok || d <= 0 {
		if then != nil {
			then()
		}
		return
	}

	var final []types.PropertyChange
	simulator.Map.WithLock(task, func() {
		info := task.Info
		final = []types.PropertyChange{
			{Name: "info.state", Val: info.State},
			{Name: "info.result", Val: info.Result},
			{Name: "info.error", Val: nilIfNil(info.Error)},
			{Name: "info.progress", Val: nilIfNil(info.Progress)},
		}
		simulator.Map.Update(task, []types.PropertyChange{
			{Name: "info.state", Val: types.TaskInfoStateRunning},
			{Name: "info.result", Val: nil},
			{Name: "info.error", Val: nil},
			{Name: "info.completeTime", Val: nil},
			{Name: "info.progress", Val: int32(0)},
		})
	})

	time.AfterFunc(d, func() {
		final = append(final, types.PropertyChange{Name: "info.completeTime", Val: time.Now()})
		simulator.Map.WithLock(task, func() { simulator.Map.Update(task, final) })
		if then != nil {
			then()
		}
	})
}

// nilIfNil turns a typed nil pointer into an untyped nil: the registry would
// otherwise assign an empty value instead of clearing the property.
func nilIfNil(v interface{}) interface{} {
	switch p := v.(type) {
	case *types.LocalizedMethodFault:
		if p == nil {
			return nil
		}
	case *time.Time:
		if p == nil {
			return nil
		}
	case *int32:
		if p == nil {
			return nil
		}
	}
	return v
}
