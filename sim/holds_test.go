package main

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
)

func TestHoldTableReleasesAndDrops(t *testing.T) {
	table := newHoldTable()
	stopping := make(chan struct{})
	type outcome struct {
		id   int
		goOn bool
	}
	outcomes := make(chan outcome, 3)
	hold := func(method string, stage holdStage) {
		h := table.add(method, stage)
		go func() {
			goOn := table.wait(httptest.NewRequest("POST", "/sdk", nil), h, stopping)
			outcomes <- outcome{h.id, goOn}
			h.done()
		}()
	}
	hold("SetField", holdBefore)
	hold("InstantClone_Task", holdAnswer)
	hold("Destroy_Task", holdBefore)

	list := table.list()
	if len(list) != 3 || list[0].Method != "SetField" || list[1].Stage != holdAnswer || list[2].ID != 3 {
		t.Fatalf("list = %+v", list)
	}
	if n, err := table.release(2, true, stopping); n != 1 || err != nil {
		t.Fatalf("release 2: %d, %v", n, err)
	}
	// release returns once the call is done with.
	if o := <-outcomes; o != (outcome{2, true}) {
		t.Errorf("released: %+v", o)
	}
	if _, err := table.release(2, true, stopping); err != errNotHeld {
		t.Errorf("release 2 again: %v", err)
	}
	if n, err := table.release(0, false, stopping); n != 2 || err != nil {
		t.Fatalf("drop all: %d, %v", n, err)
	}
	for i := 0; i < 2; i++ {
		if o := <-outcomes; o.goOn {
			t.Errorf("dropped call went on: %+v", o)
		}
	}
	if list := table.list(); len(list) != 0 {
		t.Errorf("left: %+v", list)
	}
}

func TestHeldCallsEndWhenStopping(t *testing.T) {
	table := newHoldTable()
	stopping := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequest("POST", "/sdk", nil).WithContext(ctx)
	h := table.add("SetField", holdBefore)
	result := make(chan bool)
	go func() { result <- table.wait(r, h, stopping) }()

	// The client goes away: the call stays held, marked.
	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for list := table.list(); !list[0].ClientGone; list = table.list() {
		if time.Now().After(deadline) {
			t.Fatal("client_gone never set")
		}
		time.Sleep(time.Millisecond)
	}
	close(stopping)
	if <-result {
		t.Error("a call went on while the simulator stops")
	}
	if list := table.list(); len(list) != 0 {
		t.Errorf("left: %+v", list)
	}
}

// addFault adds a fault rule to the running simulator for one test.
func addFault(t *testing.T, s *simulation, spec string) {
	t.Helper()
	parsed, err := parseFaultSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	s.front.faults.add(parsed)
	t.Cleanup(func() { s.front.faults.clear() })
}

// customField adds a VM custom field and returns its key.
func customField(t *testing.T, c *vim25.Client, name string) int32 {
	t.Helper()
	def, err := object.NewCustomFieldsManager(c).Add(context.Background(), name, "VirtualMachine", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return def.Key
}

// fieldValue is a VM's value of a custom field, as vsray-sim holds it.
func fieldValue(vm *simulator.VirtualMachine, key int32) string {
	value := ""
	simulator.Map.WithLock(vm, func() {
		for _, v := range vm.CustomValue {
			if s, ok := v.(*types.CustomFieldStringValue); ok && s.Key == key {
				value = s.Value
			}
		}
	})
	return value
}

func TestLostCallsAreDone(t *testing.T) {
	s := runningSim(t)
	c := login(t, s)
	ctx := context.Background()
	vm := modelVM(t, "DC0_C0_RP0_VM0")
	key := customField(t, c, "lost")
	addFault(t, s, "InstantClone_Task:1:lost")
	addFault(t, s, "SetField:1:lost")

	frozen := object.NewVirtualMachine(c, modelVM(t, "frozen").Self)
	if _, err := frozen.InstantClone(ctx, types.VirtualMachineInstantCloneSpec{Name: "lost-clone"}); err == nil {
		t.Error("a lost InstantClone_Task was answered")
	}
	if clone := modelVM(t, "lost-clone"); vmHost(clone) != "DC0_C0_H0" {
		t.Errorf("lost clone on %q", vmHost(clone))
	}
	if err := object.NewCustomFieldsManager(c).Set(ctx, vm.Self, key, "set"); err == nil {
		t.Error("a lost SetField was answered")
	}
	if got := fieldValue(vm, key); got != "set" {
		t.Errorf("value after a lost SetField: %q", got)
	}
}

func TestHangDoesNothingAndNeverAnswers(t *testing.T) {
	s := runningSim(t)
	c := login(t, s)
	vm := modelVM(t, "DC0_C0_RP0_VM0")
	key := customField(t, c, "hung")
	addFault(t, s, "SetField:1:hang")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := object.NewCustomFieldsManager(c).Set(ctx, vm.Self, key, "never")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hung SetField: %v", err)
	}
	if got := fieldValue(vm, key); got != "" {
		t.Errorf("a hung SetField set %q", got)
	}
}

func TestHoldWaitsForARelease(t *testing.T) {
	s := runningSim(t)
	c := login(t, s)
	ctx := context.Background()
	vm := modelVM(t, "DC0_C0_RP0_VM0")
	key := customField(t, c, "held")
	addFault(t, s, "SetField:2:hold")
	fields := object.NewCustomFieldsManager(c)
	if err := fields.Set(ctx, vm.Self, key, "first"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- fields.Set(ctx, vm.Self, key, "second") }()
	waitUntil(t, "the 2nd SetField is held", func() bool {
		list := s.front.holds.list()
		return len(list) == 1 && list[0].Method == "SetField" && list[0].Stage == holdBefore
	})
	if got := fieldValue(vm, key); got != "first" {
		t.Errorf("held SetField done already: %q", got)
	}
	if n, err := s.front.holds.release(0, true, s.front.stopping); n != 1 || err != nil {
		t.Fatalf("release: %d, %v", n, err)
	}
	// The release returns once the call is done.
	if got := fieldValue(vm, key); got != "second" {
		t.Errorf("after release: %q", got)
	}
	if err := <-done; err != nil {
		t.Errorf("released SetField: %v", err)
	}
}

func TestHoldAnswerDoesTheCallFirst(t *testing.T) {
	s := runningSim(t)
	c := login(t, s)
	ctx := context.Background()
	addFault(t, s, "InstantClone_Task:1:hold-answer")
	frozen := object.NewVirtualMachine(c, modelVM(t, "frozen").Self)
	done := make(chan error, 1)
	go func() {
		task, err := frozen.InstantClone(ctx, types.VirtualMachineInstantCloneSpec{Name: "held-answer"})
		if err == nil {
			err = task.Wait(ctx)
		}
		done <- err
	}()
	waitUntil(t, "the answer is held", func() bool {
		list := s.front.holds.list()
		return len(list) == 1 && list[0].Stage == holdAnswer
	})
	modelVM(t, "held-answer") // exists already
	if n, err := s.front.holds.release(0, true, s.front.stopping); n != 1 || err != nil {
		t.Fatalf("release: %d, %v", n, err)
	}
	if err := <-done; err != nil {
		t.Errorf("released InstantClone_Task: %v", err)
	}
}
