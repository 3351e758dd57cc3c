package main

import (
	"context"
	"errors"
	"io"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/task"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// startSim runs a whole vsray-sim in the test process (one at a time: the
// simulator's registry is global) and stops it at the end of the test.
func startSim(t *testing.T, args ...string) *simulation {
	t.Helper()
	cfg, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatalf("flags %v: %v", args, err)
	}
	s, err := start(cfg)
	if err != nil {
		if s != nil {
			s.close()
		}
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(s.close)
	return s
}

// connect logs in to s over HTTPS, verifying its certificate.
func connect(t *testing.T, s *simulation, user, password string) *vim25.Client {
	t.Helper()
	ctx := context.Background()
	u, err := soap.ParseURL(s.ready().URL)
	if err != nil {
		t.Fatal(err)
	}
	sc := soap.NewClient(u, false)
	if err := sc.SetRootCAs(s.certs.caFile); err != nil {
		t.Fatal(err)
	}
	c, err := vim25.NewClient(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	if err := session.NewManager(c).Login(ctx, url.UserPassword(user, password)); err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func findVM(t *testing.T, c *vim25.Client, path string) *object.VirtualMachine {
	t.Helper()
	vm, err := find.NewFinder(c).VirtualMachine(testCtx(t), path)
	if err != nil {
		t.Fatalf("find %s: %v", path, err)
	}
	return vm
}

// taskFault waits for a task and returns the fault it ended with (nil on
// success).
func taskFault(t *testing.T, tk *object.Task, err error) types.BaseMethodFault {
	t.Helper()
	if err != nil {
		t.Fatalf("starting the task: %v", err)
	}
	_, err = tk.WaitForResult(testCtx(t))
	if err == nil {
		return nil
	}
	var te task.Error
	if errors.As(err, &te) {
		return te.Fault()
	}
	t.Fatalf("waiting for the task: %v", err)
	return nil
}

// soapFault is the fault detail of a failed call (nil if it succeeded).
func soapFault(t *testing.T, err error) interface{} {
	t.Helper()
	if err == nil {
		return nil
	}
	if soap.IsSoapFault(err) {
		return soap.ToSoapFault(err).VimFault()
	}
	t.Fatalf("not a SOAP fault: %v", err)
	return nil
}

// faultKind is a fault's type name without the "Fault" suffix the decoder
// adds (NoPermissionFault -> NoPermission); "" for nil.
func faultKind(f interface{}) string {
	if f == nil {
		return ""
	}
	name := reflect.Indirect(reflect.ValueOf(f)).Type().Name()
	if base := strings.TrimSuffix(name, "Fault"); base != name {
		if _, ok := vimTypes(base); ok {
			return base
		}
	}
	return name
}

// faultField reads a field of a fault (PrivilegeId, Object, ...).
func faultField(f interface{}, name string) interface{} {
	v := reflect.Indirect(reflect.ValueOf(f)).FieldByName(name)
	if !v.IsValid() {
		return nil
	}
	return v.Interface()
}

// simulatorRefs are the objects of a kind in the running simulator, sorted.
func simulatorRefs(kind string) []types.ManagedObjectReference {
	var refs []types.ManagedObjectReference
	for _, e := range simulator.Map.All(kind) {
		refs = append(refs, e.Reference())
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].Value < refs[j].Value })
	return refs
}

func queryConfigTarget(t *testing.T, c *vim25.Client, req *types.QueryConfigTarget) (*types.ConfigTarget, error) {
	res, err := methods.QueryConfigTarget(testCtx(t), c, req)
	if err != nil {
		return nil, err
	}
	return res.Returnval, nil
}
