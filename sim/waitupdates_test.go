package main

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

// watcher is a property collector of its own with one filter.
type watcher struct {
	c       *vim25.Client
	pc      types.ManagedObjectReference
	version string
}

func newWatcher(t *testing.T, c *vim25.Client, spec types.PropertyFilterSpec) *watcher {
	t.Helper()
	ctx := context.Background()
	res, err := methods.CreatePropertyCollector(ctx, c, &types.CreatePropertyCollector{This: c.ServiceContent.PropertyCollector})
	if err != nil {
		t.Fatal(err)
	}
	w := &watcher{c: c, pc: res.Returnval}
	if _, err := methods.CreateFilter(ctx, c, &types.CreateFilter{This: w.pc, Spec: spec, PartialUpdates: true}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = methods.DestroyPropertyCollector(ctx, c, &types.DestroyPropertyCollector{This: w.pc})
	})
	return w
}

func objectFilter(obj types.ManagedObjectReference, paths ...string) types.PropertyFilterSpec {
	return types.PropertyFilterSpec{
		ObjectSet: []types.ObjectSpec{{Obj: obj}},
		PropSet:   []types.PropertySpec{{Type: obj.Type, PathSet: paths}},
	}
}

// wait is one WaitForUpdatesEx round from the last version (nil max: no limit).
func (w *watcher) wait(ctx context.Context, max *int32) (*types.UpdateSet, error) {
	req := &types.WaitForUpdatesEx{This: w.pc, Version: w.version}
	if max != nil {
		req.Options = &types.WaitOptions{MaxWaitSeconds: max}
	}
	res, err := methods.WaitForUpdatesEx(ctx, w.c, req)
	if err != nil {
		return nil, err
	}
	if res.Returnval != nil {
		w.version = res.Returnval.Version
	}
	return res.Returnval, nil
}

func seconds(n int32) *int32 { return &n }

// changes lists "kind obj name=value" for every change in set.
func changes(set *types.UpdateSet) []string {
	var out []string
	if set == nil {
		return out
	}
	for _, fu := range set.FilterSet {
		for _, o := range fu.ObjectSet {
			if len(o.ChangeSet) == 0 {
				out = append(out, fmt.Sprintf("%s %s", o.Kind, o.Obj.Value))
			}
			for _, c := range o.ChangeSet {
				out = append(out, fmt.Sprintf("%s %s %s=%v", o.Kind, o.Obj.Value, c.Name, c.Val))
			}
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func annotate(vm *simulator.VirtualMachine, text string) {
	simulator.Map.WithLock(vm, func() {
		simulator.Map.Update(vm, []types.PropertyChange{{Name: "config.annotation", Val: text}})
	})
}

// A change made while a client waits reaches it at once, not at the next
// tick of the stock simulator's 250 ms ticker: most of the trials must see it
// well under 250 ms (a generous bound, machines are noisy; the figures are
// logged and measured by tools/measure_update_latency.py).
func TestWaitForUpdatesDeliversAChangeAtOnce(t *testing.T) {
	s := runningSim(t)
	vm := modelVM(t, "DC0_C0_RP0_VM0")
	w := newWatcher(t, login(t, s), objectFilter(vm.Self, "config.annotation"))
	annotate(vm, "start")
	if set, err := w.wait(context.Background(), nil); err != nil || len(changes(set)) != 1 {
		t.Fatalf("initial state: %v, %v", changes(set), err)
	}

	const trials = 20
	var latencies []time.Duration
	for i := 0; i < trials; i++ {
		type result struct {
			set *types.UpdateSet
			err error
			at  time.Time
		}
		done := make(chan result, 1)
		go func() {
			set, err := w.wait(context.Background(), seconds(30))
			done <- result{set, err, time.Now()}
		}()
		waitUntil(t, "the client waits", func() bool { return simulator.WaitingForUpdates() == 1 })
		began := time.Now()
		annotate(vm, fmt.Sprintf("a%d", i))
		r := <-done
		if r.err != nil {
			t.Fatal(r.err)
		}
		want := fmt.Sprintf("modify %s config.annotation=a%d", vm.Self.Value, i)
		if got := changes(r.set); len(got) != 1 || got[0] != want {
			t.Fatalf("trial %d: got %v, want [%s]", i, got, want)
		}
		latencies = append(latencies, r.at.Sub(began))
	}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	t.Logf("delivery latency over %d trials: min %v, median %v, max %v", trials, latencies[0], latencies[trials/2], latencies[trials-1])
	fast := 0
	for _, d := range latencies {
		if d < 100*time.Millisecond {
			fast++
		}
	}
	if fast < trials*3/4 {
		t.Errorf("only %d of %d changes arrived within 100 ms: %v", fast, trials, latencies)
	}
}

func TestWaitForUpdatesMaxWaitSeconds(t *testing.T) {
	s := runningSim(t)
	vm := modelVM(t, "DC0_C0_RP0_VM0")
	w := newWatcher(t, login(t, s), objectFilter(vm.Self, "config.annotation"))
	ctx := context.Background()
	if _, err := w.wait(ctx, seconds(0)); err != nil {
		t.Fatal(err)
	}
	// 0: one look, nothing changed: no result.
	if set, err := w.wait(ctx, seconds(0)); err != nil || set != nil {
		t.Errorf("maxWaitSeconds 0 without a change: %v, %v", changes(set), err)
	}
	// 0 with a change pending: the change.
	annotate(vm, "pending")
	if set, err := w.wait(ctx, seconds(0)); err != nil || len(changes(set)) != 1 {
		t.Errorf("maxWaitSeconds 0 with a change: %v, %v", changes(set), err)
	}
	// 1: nothing changes: no result once the second is over.
	began := time.Now()
	if set, err := w.wait(ctx, seconds(1)); err != nil || set != nil {
		t.Errorf("maxWaitSeconds 1 without a change: %v, %v", changes(set), err)
	}
	if waited := time.Since(began); waited < 900*time.Millisecond {
		t.Errorf("returned after %v, before maxWaitSeconds", waited)
	}
	// A change to a property the filter does not name wakes nothing up.
	simulator.Map.WithLock(vm, func() {
		simulator.Map.Update(vm, []types.PropertyChange{{Name: "summary.quickStats.overallCpuUsage", Val: int32(5)}})
	})
	if set, err := w.wait(ctx, seconds(0)); err != nil || set != nil {
		t.Errorf("unwatched property reported: %v, %v", changes(set), err)
	}
}

func TestCancelWaitForUpdates(t *testing.T) {
	s := runningSim(t)
	c := login(t, s)
	vm := modelVM(t, "DC0_C0_RP0_VM0")
	w := newWatcher(t, c, objectFilter(vm.Self, "config.annotation"))
	ctx := context.Background()
	if _, err := w.wait(ctx, nil); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := w.wait(ctx, nil) // no limit
		done <- err
	}()
	waitUntil(t, "the client waits", func() bool { return simulator.WaitingForUpdates() == 1 })
	if _, err := methods.CancelWaitForUpdates(ctx, c, &types.CancelWaitForUpdates{This: w.pc}); err != nil {
		t.Fatal(err)
	}
	err := <-done
	if errFaultName(err) != "RequestCanceled" {
		t.Errorf("canceled wait: %v", err)
	}
}

// A client that goes away ends its wait on the server.
func TestWaitForUpdatesEndsWhenTheClientGoesAway(t *testing.T) {
	s := runningSim(t)
	vm := modelVM(t, "DC0_C0_RP0_VM0")
	w := newWatcher(t, login(t, s), objectFilter(vm.Self, "config.annotation"))
	if _, err := w.wait(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := w.wait(ctx, nil)
		done <- err
	}()
	waitUntil(t, "the client waits", func() bool { return simulator.WaitingForUpdates() == 1 })
	cancel()
	if err := <-done; err == nil {
		t.Error("a canceled request succeeded")
	}
	waitUntil(t, "the server stops waiting", func() bool { return simulator.WaitingForUpdates() == 0 })
}

func TestWaitForUpdatesNeedsASession(t *testing.T) {
	s := runningSim(t)
	c := soapClient(t, s)
	_, err := methods.WaitForUpdatesEx(context.Background(), c, &types.WaitForUpdatesEx{
		This: c.ServiceContent.PropertyCollector, Version: "1", Options: &types.WaitOptions{MaxWaitSeconds: seconds(0)},
	})
	if errFaultName(err) != "NotAuthenticated" {
		t.Errorf("without a session: %v", err)
	}
}

// createWhileWaiting creates a VM while w waits, and checks that it is
// reported whole.
func createWhileWaiting(t *testing.T, c *vim25.Client, w *watcher, dc *simulator.Datacenter, name string) types.ManagedObjectReference {
	t.Helper()
	ctx := context.Background()
	type result struct {
		set *types.UpdateSet
		err error
	}
	first := make(chan result, 1)
	go func() {
		set, err := w.wait(ctx, seconds(30))
		first <- result{set, err}
	}()
	waitUntil(t, "the client waits", func() bool { return simulator.WaitingForUpdates() == 1 })
	folder := object.NewFolder(c, dc.VmFolder)
	pool := modelVM(t, "DC0_C0_RP0_VM0").ResourcePool
	task, err := folder.CreateVM(ctx, types.VirtualMachineConfigSpec{
		Name: name, GuestId: "otherGuest", NumCPUs: 3, Files: &types.VirtualMachineFileInfo{VmPathName: "[LocalDS_0]"},
	}, object.NewResourcePool(c, *pool), nil)
	if err != nil {
		t.Fatal(err)
	}
	info, err := task.WaitForResult(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	ref := info.Result.(types.ManagedObjectReference)
	r := <-first
	if r.err != nil {
		t.Fatal(r.err)
	}
	got := changes(r.set)
	for _, want := range []string{"name=" + name, "config.hardware.numCPU=3", "runtime.powerState=poweredOff"} {
		if !contains(got, fmt.Sprintf("enter %s %s", ref.Value, want)) {
			t.Errorf("%s entered as %v, without %s", name, got, want)
		}
	}
	// Later changes of the creation, if any, come in the next rounds.
	for {
		if set, err := w.wait(ctx, seconds(0)); err != nil || set == nil {
			return ref
		}
	}
}

// VMs that come into a container view are reported whole (enter), their
// changes as modify, their removal as leave; the older WaitForUpdates works
// the same way. A VM created while a client waits is reported once its
// creation is over (the simulator registers it first and fills it in
// afterwards, mostly without reporting it).
func TestWaitForUpdatesEnterModifyLeave(t *testing.T) {
	s := runningSim(t)
	c := login(t, s)
	ctx := context.Background()
	dc := simulator.Map.Any("Datacenter").(*simulator.Datacenter)
	view, err := methods.CreateContainerView(ctx, c, &types.CreateContainerView{
		This: *c.ServiceContent.ViewManager, Container: dc.VmFolder, Type: []string{"VirtualMachine"}, Recursive: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	w := newWatcher(t, c, types.PropertyFilterSpec{
		ObjectSet: []types.ObjectSpec{{Obj: view.Returnval, Skip: types.NewBool(true), SelectSet: []types.BaseSelectionSpec{
			&types.TraversalSpec{Type: "ContainerView", Path: "view"},
		}}},
		PropSet: []types.PropertySpec{{Type: "VirtualMachine", PathSet: []string{"name", "runtime.powerState", "config.hardware.numCPU"}}},
	})
	if _, err := w.wait(ctx, nil); err != nil {
		t.Fatal(err)
	}

	// Create while the client waits: enter, with the name and the hardware.
	// Without the ordering of InventoryChanges, about one creation in four
	// is reported half made (no name, no hardware).
	var ref types.ManagedObjectReference
	for i := 0; i < 20; i++ {
		ref = createWhileWaiting(t, c, w, dc, fmt.Sprintf("watched-%d", i))
	}

	// Change: modify (through the older WaitForUpdates too).
	vm := object.NewVirtualMachine(c, ref)
	task, err := vm.PowerOn(ctx)
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	old, err := methods.WaitForUpdates(ctx, c, &types.WaitForUpdates{This: w.pc, Version: w.version})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("modify %s runtime.powerState=poweredOn", ref.Value)
	if got := changes(&old.Returnval); !contains(got, want) {
		t.Errorf("power on: %v, want %s", got, want)
	}

	// Destroy: leave.
	if task, err = vm.PowerOff(ctx); err == nil {
		if err = task.Wait(ctx); err == nil {
			if task, err = vm.Destroy(ctx); err == nil {
				err = task.Wait(ctx)
			}
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	left := false
	for !left {
		set, err := w.wait(ctx, seconds(10))
		if err != nil || set == nil {
			t.Fatalf("waiting for the VM to leave: %v", err)
		}
		left = contains(changes(set), "leave "+ref.Value)
	}
}

// Two threads of a client waiting on one collector, each with its own filter
// and its own version (pyVim's WaitForTask on the session's collector): a
// change answered to one is not lost to the other, and a version may be
// passed again (vCenter's rule for non-truncated versions).
func TestConcurrentWaitsOnOneCollectorEachGetEveryChange(t *testing.T) {
	s := runningSim(t)
	c := login(t, s)
	ctx := context.Background()
	vm0, vm1 := modelVM(t, "DC0_C0_RP0_VM0"), modelVM(t, "DC0_C0_RP0_VM1")
	w := newWatcher(t, c, objectFilter(vm0.Self, "config.annotation"))
	if _, err := methods.CreateFilter(ctx, c, &types.CreateFilter{This: w.pc, Spec: objectFilter(vm1.Self, "config.annotation"), PartialUpdates: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.wait(ctx, nil); err != nil {
		t.Fatal(err)
	}
	start := w.version

	type result struct {
		got []string
		err error
	}
	results := make(chan result, 2)
	for i := 0; i < 2; i++ {
		go func() {
			other := &watcher{c: c, pc: w.pc, version: start}
			set, err := other.wait(ctx, seconds(30))
			results <- result{changes(set), err}
		}()
	}
	waitUntil(t, "both threads wait", func() bool { return simulator.WaitingForUpdates() == 2 })
	annotate(vm1, "b1")
	want := fmt.Sprintf("modify %s config.annotation=b1", vm1.Self.Value)
	for i := 0; i < 2; i++ {
		r := <-results
		if r.err != nil || !contains(r.got, want) {
			t.Fatalf("thread %d: %v, %v; want %s", i, r.got, r.err, want)
		}
	}

	// The starting version again: the same change, at once, and a newer version.
	again := &watcher{c: c, pc: w.pc, version: start}
	set, err := again.wait(ctx, seconds(0))
	if err != nil || !contains(changes(set), want) {
		t.Fatalf("version %s again: %v, %v", start, changes(set), err)
	}
	if again.version == start {
		t.Fatalf("the version did not advance past %s", start)
	}
	// From the newer version: nothing new.
	if set, err := again.wait(ctx, seconds(0)); err != nil || set != nil {
		t.Fatalf("from %s: %v, %v", again.version, changes(set), err)
	}
	// A version this collector never returned is refused.
	bad := &watcher{c: c, pc: w.pc, version: "-"}
	if _, err := bad.wait(ctx, seconds(0)); err == nil {
		t.Fatal("version - accepted")
	}
}
