package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

func started(op *provisioningOp) bool {
	select {
	case <-op.started:
		return true
	default:
		return false
	}
}

func TestProvisionerQueuesPerHost(t *testing.T) {
	a := types.ManagedObjectReference{Type: "HostSystem", Value: "host-a"}
	b := types.ManagedObjectReference{Type: "HostSystem", Value: "host-b"}
	p := newProvisioner(2)
	var ops []*provisioningOp
	for i := 0; i < 6; i++ {
		ops = append(ops, p.enter([]types.ManagedObjectReference{a}))
	}
	other := p.enter([]types.ManagedObjectReference{b})
	for i, op := range ops {
		if started(op) != (i < 2) {
			t.Fatalf("op %d started = %v", i, started(op))
		}
	}
	if !started(other) {
		t.Error("another host's op waits")
	}
	// Oldest first, one for one.
	p.leave(ops[1])
	if !started(ops[2]) || started(ops[3]) {
		t.Error("not FIFO")
	}
	// An op on two hosts waits for both, and later ops on those hosts wait
	// behind it.
	both := p.enter([]types.ManagedObjectReference{a, b})
	p.leave(other)
	if started(both) {
		t.Error("two-host op started while host-a is full")
	}
	p.leave(ops[0])
	p.leave(ops[2])
	if !started(ops[3]) || !started(ops[4]) || started(ops[5]) || started(both) {
		t.Errorf("after two slots free: %v %v %v %v", started(ops[3]), started(ops[4]), started(ops[5]), started(both))
	}
	st := p.hosts[a]
	if st.Running != 2 || st.Queued != 2 || st.MaxRunning != 2 || st.MaxQueued != 4 || st.Started != 5 {
		t.Errorf("host-a = %+v", *st)
	}
	// No limit: everything starts.
	p.setLimit(0)
	if !started(ops[5]) || !started(both) {
		t.Error("limit 0 left ops queued")
	}
	if st.Queued != 0 || st.Running != 4 {
		t.Errorf("host-a = %+v", *st)
	}
	p.resetCounts()
	if st.MaxRunning != 4 || st.Started != 0 {
		t.Errorf("after reset: %+v", *st)
	}
}

// taskInfo reads a task's info as a client does.
func taskInfo(t *testing.T, c *vim25.Client, ref types.ManagedObjectReference) types.TaskInfo {
	t.Helper()
	var task mo.Task
	if err := property.DefaultCollector(c).RetrieveOne(context.Background(), ref, []string{"info"}, &task); err != nil {
		t.Fatal(err)
	}
	return task.Info
}

// With a limit of 2, six instant clones started at once on one host run in
// three waves: two are answered running, four queued; at no time do more
// than two run; all end well, each queued one after a slot freed.
func TestInstantClonesQueueBeyondTheHostLimit(t *testing.T) {
	s := runningSim(t)
	c := login(t, s)
	ctx := context.Background()
	s.front.provisioning.setLimit(2)
	s.front.tasks.set("InstantClone_Task", 300*time.Millisecond)
	t.Cleanup(func() {
		s.front.provisioning.setLimit(defaultHostProvisioningLimit)
		s.front.tasks.set("InstantClone_Task", 0)
	})
	s.front.provisioning.resetCounts()
	frozen := object.NewVirtualMachine(c, modelVM(t, "frozen").Self)

	const n = 6
	refs := make([]types.ManagedObjectReference, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			task, err := frozen.InstantClone(ctx, types.VirtualMachineInstantCloneSpec{Name: fmt.Sprintf("wave-%d", i)})
			if err != nil {
				t.Error(err)
				return
			}
			refs[i] = task.Reference()
		}(i)
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	queued := 0
	for _, ref := range refs {
		if taskInfo(t, c, ref).State == types.TaskInfoStateQueued {
			queued++
		}
	}
	if queued != 4 {
		t.Errorf("%d tasks queued at first, want 4", queued)
	}

	var infos []types.TaskInfo
	for _, ref := range refs {
		info, err := object.NewTask(c, ref).WaitForResult(ctx, nil)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if info.Name != "InstantClone_Task" || info.StartTime == nil || info.CompleteTime == nil {
			t.Errorf("%s: %+v", ref, info)
		}
		infos = append(infos, *info)
	}
	// At each start, fewer than 2 others run.
	for _, a := range infos {
		running := 0
		for _, b := range infos {
			if b.Key != a.Key && !b.StartTime.After(*a.StartTime) && b.CompleteTime.After(*a.StartTime) {
				running++
			}
		}
		if running >= 2 {
			t.Errorf("%s started while %d others ran", a.Key, running)
		}
	}
	host := s.front.provisioning.report().Hosts["DC0_C0_H0"]
	if host == nil || host.MaxRunning != 2 || host.MaxQueued != 4 || host.Started != n || host.Running != 0 {
		t.Errorf("host DC0_C0_H0: %+v", host)
	}
	for i := 0; i < n; i++ {
		if vm := modelVM(t, fmt.Sprintf("wave-%d", i)); vmHost(vm) != "DC0_C0_H0" {
			t.Errorf("wave-%d on %s", i, vmHost(vm))
		}
	}
}
