package main

import (
	"testing"

	"github.com/vmware/govmomi/vim25/types"
)

func TestParseFaultSpec(t *testing.T) {
	tests := []struct {
		spec   string
		target string
		rest   bool
		when   whenKind
		n      int
		p      float64
		action faultAction
	}{
		{"InstantClone_Task:2:task:InvalidState", "InstantClone_Task", false, whenNth, 2, 0, faultAction{kind: actionTask, fault: "InvalidState"}},
		{"RetrievePropertiesEx:3+:NotAuthenticated", "RetrievePropertiesEx", false, whenFrom, 3, 0, faultAction{kind: actionSOAP, fault: "NotAuthenticated"}},
		{"CurrentTime:*:http503", "CurrentTime", false, whenFrom, 1, 0, faultAction{kind: actionHTTP, status: 503}},
		{"Login:p=0.25:drop", "Login", false, whenProb, 0, 0.25, faultAction{kind: actionDrop}},
		{"POST /rest/com/vmware/cis/tagging:1:http500", "POST /rest/com/vmware/cis/tagging", true, whenNth, 1, 0, faultAction{kind: actionHTTP, status: 500}},
		// A route may contain ':' itself.
		{"GET /rest/x/id:urn:a:b:4:drop", "GET /rest/x/id:urn:a:b", true, whenNth, 4, 0, faultAction{kind: actionDrop}},
		// The kinds of holds.go, on SOAP methods and REST routes.
		{"InstantClone_Task:1:lost", "InstantClone_Task", false, whenNth, 1, 0, faultAction{kind: actionLost}},
		{"SetField:2:hold", "SetField", false, whenNth, 2, 0, faultAction{kind: actionHold}},
		{"InstantClone_Task:1:hold-answer", "InstantClone_Task", false, whenNth, 1, 0, faultAction{kind: actionHoldAnswer}},
		{"POST /api/cis/tagging/category:*:hang", "POST /api/cis/tagging/category", true, whenFrom, 1, 0, faultAction{kind: actionHang}},
		{"POST /api/session:1:lost", "POST /api/session", true, whenNth, 1, 0, faultAction{kind: actionLost}},
	}
	for _, tt := range tests {
		got, err := parseFaultSpec(tt.spec)
		if err != nil {
			t.Errorf("%q: %v", tt.spec, err)
			continue
		}
		if got.target != tt.target || got.rest != tt.rest || got.when != tt.when || got.n != tt.n || got.p != tt.p || got.action != tt.action {
			t.Errorf("%q: got %+v", tt.spec, got)
		}
		if staged := tt.action.kind >= actionLost; got.action.staged() != staged {
			t.Errorf("%q: staged = %v", tt.spec, got.action.staged())
		}
	}

	for _, bad := range []string{
		"", "CurrentTime", "CurrentTime:1", ":1:InvalidState", "CurrentTime:0:InvalidState",
		"CurrentTime:x:InvalidState", "CurrentTime:p=1.5:InvalidState", "CurrentTime:1:NoSuchFault",
		"CurrentTime:1:VirtualMachine", "CurrentTime:1:task:InvalidState", "X_Task:1:task:Nope",
		"POST /rest/x:1:InvalidState", "CurrentTime:1:http200", "CurrentTime:1:httpabc",
		"CurrentTime:1:held", "CurrentTime:1:hold-request", "X_Task:1:task:lost",
	} {
		if _, err := parseFaultSpec(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

func TestFaultSetCountsPerRule(t *testing.T) {
	s := newFaultSet(1)
	for _, spec := range []string{"CurrentTime:2:InvalidState", "CurrentTime:3+:http503", "POST /api/session:1:drop"} {
		parsed, err := parseFaultSpec(spec)
		if err != nil {
			t.Fatal(err)
		}
		s.add(parsed)
	}
	var got []string
	for i := 0; i < 4; i++ {
		switch a := s.matchSOAP("CurrentTime"); {
		case a == nil:
			got = append(got, "ok")
		case a.kind == actionSOAP:
			got = append(got, a.fault)
		case a.kind == actionHTTP:
			got = append(got, "503")
		}
	}
	want := []string{"ok", "InvalidState", "503", "503"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("calls: got %v, want %v", got, want)
		}
	}
	if a := s.matchSOAP("Login"); a != nil {
		t.Errorf("Login: got %+v", a)
	}
	if a := s.matchREST("POST /api/session", "POST /api/session"); a == nil || a.kind != actionDrop {
		t.Errorf("REST: got %+v", a)
	}
	if a := s.matchREST("POST /api/session", "POST /api/session"); a != nil {
		t.Errorf("REST 2nd call: got %+v", a)
	}
	if n := s.clear(); n != 3 {
		t.Errorf("clear: %d", n)
	}
}

func TestMethodlessRoutePrefix(t *testing.T) {
	s := newFaultSet(1)
	parsed, err := parseFaultSpec("/rest/com/vmware/cis/tagging:*:http503")
	if err != nil {
		t.Fatal(err)
	}
	s.add(parsed)
	if a := s.matchREST("GET /rest/com/vmware/cis/tagging/tag", "GET /rest/com/vmware/cis/tagging/tag"); a == nil {
		t.Error("GET not matched")
	}
	if a := s.matchREST("POST /rest/com/vmware/cis/session", "POST /rest/com/vmware/cis/session"); a != nil {
		t.Error("session matched")
	}
}

func TestFractionalFaultsAreSeeded(t *testing.T) {
	run := func(seed int64) []bool {
		s := newFaultSet(seed)
		parsed, _ := parseFaultSpec("CurrentTime:p=0.5:InvalidState")
		s.add(parsed)
		var out []bool
		for i := 0; i < 64; i++ {
			out = append(out, s.matchSOAP("CurrentTime") != nil)
		}
		return out
	}
	a, b := run(42), run(42)
	hits := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("same seed, different faults")
		}
		if a[i] {
			hits++
		}
	}
	if hits < 16 || hits > 48 {
		t.Errorf("p=0.5 fired %d of 64 times", hits)
	}
}

func TestNewFaultFillsObject(t *testing.T) {
	this := types.ManagedObjectReference{Type: "VirtualMachine", Value: "vm-7"}
	nf := newFault("ManagedObjectNotFound", this).(*types.ManagedObjectNotFound)
	if nf.Obj != this {
		t.Errorf("Obj = %v", nf.Obj)
	}
	na := newFault("NotAuthenticated", this).(*types.NotAuthenticated)
	if na.Object != this || na.PrivilegeId == "" {
		t.Errorf("NotAuthenticated = %+v", na)
	}
	ps := newFault("InvalidPowerState", this).(*types.InvalidPowerState)
	if ps.ExistingState == "" {
		t.Error("InvalidPowerState without existingState")
	}
}
