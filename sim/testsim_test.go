package main

import (
	"context"
	"io"
	"net/url"
	"os"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
)

// One running vsray-sim for the tests that need one: govmomi's registry is
// global, so there is one per process. It serves HTTPS on a free loopback
// port and clients verify it against its CA, as real clients do.
var (
	testSimOnce sync.Once
	testSimErr  error
	testSim     *simulation
)

func TestMain(m *testing.M) {
	code := m.Run()
	if testSim != nil {
		testSim.close()
	}
	os.Exit(code)
}

func runningSim(t *testing.T) *simulation {
	t.Helper()
	testSimOnce.Do(func() {
		cfg, err := parseFlags([]string{"--hosts", "2", "--vms", "2", "--frozen-vm", "frozen@DC0_C0_H0"}, io.Discard)
		if err != nil {
			testSimErr = err
			return
		}
		testSim, testSimErr = start(cfg)
	})
	if testSimErr != nil {
		t.Fatal(testSimErr)
	}
	return testSim
}

// soapClient is a vim25 client of s without a session.
func soapClient(t *testing.T, s *simulation) *vim25.Client {
	t.Helper()
	u := *s.server.URL
	u.User = nil
	sc := soap.NewClient(&u, false)
	if err := sc.SetRootCAs(s.certs.caFile); err != nil {
		t.Fatal(err)
	}
	c, err := vim25.NewClient(context.Background(), sc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// login is a vim25 client of s with a session of its own.
func login(t *testing.T, s *simulation) *vim25.Client {
	t.Helper()
	c := soapClient(t, s)
	if err := session.NewManager(c).Login(context.Background(), url.UserPassword(s.cfg.username, s.cfg.password)); err != nil {
		t.Fatal(err)
	}
	return c
}

// waitUntil polls cond until it holds, failing the test after 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// modelVM is a VM of the model (not the frozen one) by name.
func modelVM(t *testing.T, name string) *simulator.VirtualMachine {
	t.Helper()
	for _, e := range simulator.Map.All("VirtualMachine") {
		if vm := e.(*simulator.VirtualMachine); vm.Name == name {
			return vm
		}
	}
	t.Fatalf("no VM %q", name)
	return nil
}

// vmHost is the host a VM runs on.
func vmHost(vm *simulator.VirtualMachine) string {
	var name string
	simulator.Map.WithLock(vm, func() {
		if vm.Runtime.Host != nil {
			name = simulator.Map.Get(*vm.Runtime.Host).(mo.Entity).Entity().Name
		}
	})
	return name
}

// faultName is the type name of the vim fault a call failed with, or "".
func errFaultName(err error) string {
	if err == nil || !soap.IsSoapFault(err) {
		return ""
	}
	if f := soap.ToSoapFault(err).VimFault(); f != nil {
		return reflect.Indirect(reflect.ValueOf(f)).Type().Name()
	}
	return ""
}
