package main

import (
	"io"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/vmware/govmomi/vim25/types"
)

func TestCheckLoopback(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:0", "127.3.4.5:8989", "[::1]:0", "localhost:443"} {
		if err := checkLoopback(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"0.0.0.0:0", ":0", "[::]:0", "10.0.0.1:443", "example.com:80", "127.0.0.1", "127.0.0.1:x"} {
		if err := checkLoopback(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags([]string{
		"--vms", "10", "--method-latency", "POST /rest/x?~action=y=20ms", "--task-duration", "PowerOnVM_Task=2s",
		"--frozen-vm", "a", "--frozen-vm", "b@DC0_H0",
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.vms != 10 || cfg.password != "pass" || cfg.username != "user" {
		t.Errorf("cfg = %+v", cfg)
	}
	if cfg.methodLatency["POST /rest/x?~action=y"] != 20*time.Millisecond {
		t.Errorf("method latency = %v", cfg.methodLatency)
	}
	if cfg.taskDuration["PowerOnVM_Task"] != 2*time.Second {
		t.Errorf("task duration = %v", cfg.taskDuration)
	}
	if name, host := splitFrozenSpec(cfg.frozenVMs[1]); name != "b" || host != "DC0_H0" {
		t.Errorf("frozen = %q@%q", name, host)
	}
	for _, bad := range [][]string{
		{"--listen", "0.0.0.0:0"}, {"--datastores", "0"}, {"--vms", "-1"}, {"--fault", "x"},
		{"--clusters", "0", "--standalone-hosts", "0"}, {"--task-duration", "X"}, {"extra"},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("%v: accepted", bad)
		}
	}
}

func TestGuestAddresses(t *testing.T) {
	seen := map[string]bool{}
	for n := 1; n <= 70000; n++ {
		ip := net.ParseIP(guestIPv4(n))
		if ip == nil || !ip.IsLoopback() || ip.Equal(net.IPv4(127, 0, 0, 1)) {
			t.Fatalf("guestIPv4(%d) = %s", n, guestIPv4(n))
		}
		if last := ip.To4()[3]; last == 0 || last == 255 {
			t.Fatalf("guestIPv4(%d) = %s", n, ip)
		}
		if seen[ip.String()] {
			t.Fatalf("guestIPv4(%d) = %s again", n, ip)
		}
		seen[ip.String()] = true
	}
	if guestIPv4(1) != "127.1.0.1" || guestIPv4(255) != "127.1.1.1" {
		t.Errorf("first addresses: %s, %s", guestIPv4(1), guestIPv4(255))
	}

	g := newGuestAgent(guestOptions{ipv6First: true})
	vm := types.ManagedObjectReference{Type: "VirtualMachine", Value: "vm-1"}
	addrs := g.addresses(nicID{vm, 4000})
	if len(addrs) != 4 {
		t.Fatalf("addresses = %v", addrs)
	}
	order := []func(net.IP) bool{
		func(ip net.IP) bool { return ip.To4() == nil && !ip.IsLinkLocalUnicast() },
		func(ip net.IP) bool { return ip.To4() == nil && ip.IsLinkLocalUnicast() },
		func(ip net.IP) bool { return ip.To4() != nil && ip.IsLinkLocalUnicast() },
		func(ip net.IP) bool { return ip.IsLoopback() },
	}
	for i, a := range addrs {
		if ip := net.ParseIP(a.IpAddress); ip == nil || !order[i](ip) {
			t.Errorf("address %d: %s", i, a.IpAddress)
		}
	}
	if again := g.addresses(nicID{vm, 4000}); again[3] != addrs[3] {
		t.Error("a NIC's address changed")
	}
	if other := g.addresses(nicID{vm, 4001}); other[3].IpAddress == addrs[3].IpAddress {
		t.Error("two NICs share an address")
	}
}

func TestParseSOAPCall(t *testing.T) {
	body := `<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
<soapenv:Header><x>1</x></soapenv:Header><soapenv:Body><InstantClone_Task xmlns="urn:vim25">
<_this type="VirtualMachine">vm-42</_this><spec><name>c</name></spec></InstantClone_Task></soapenv:Body></soapenv:Envelope>`
	call := parseSOAPCall([]byte(body))
	if call.method != "InstantClone_Task" || call.this != (types.ManagedObjectReference{Type: "VirtualMachine", Value: "vm-42"}) {
		t.Errorf("call = %+v", call)
	}
	if call := parseSOAPCall([]byte("not xml")); call.method != "" {
		t.Errorf("garbage: %+v", call)
	}
}

func TestTaskFromResponse(t *testing.T) {
	body := []byte(`<soapenv:Body><PowerOnVM_TaskResponse xmlns="urn:vim25"><returnval type="Task">task-12</returnval></PowerOnVM_TaskResponse></soapenv:Body>`)
	ref, ok := taskFromResponse(body)
	if !ok || ref.Value != "task-12" || ref.Type != "Task" {
		t.Errorf("got %v %v", ref, ok)
	}
	if _, ok := taskFromResponse([]byte(`<returnval type="VirtualMachine">vm-1</returnval>`)); ok {
		t.Error("found a task in a VM ref")
	}
}

func TestRESTRouteAndAPIMatch(t *testing.T) {
	r := httptest.NewRequest("POST", "/rest/com/vmware/cis/tagging/tag-association/id:urn:vmomi:x:GLOBAL?~action=attach", nil)
	if got := restRoute(r); got != "POST /rest/com/vmware/cis/tagging/tag-association/id:{id}?~action=attach" {
		t.Errorf("restRoute = %q", got)
	}

	a := &apiGateway{}
	cases := []struct {
		method, target, key, id string
	}{
		{"POST", "/api/session", "POST /api/session", ""},
		{"GET", "/api/cis/tagging/tag/urn%3Avmomi%3Ax", "GET /api/cis/tagging/tag/{id}", "urn:vmomi:x"},
		{"POST", "/api/cis/tagging/tag-association?action=attach-multiple-tags-to-object", "POST /api/cis/tagging/tag-association?action=attach-multiple-tags-to-object", ""},
		{"POST", "/api/cis/tagging/tag-association/t1?action=detach", "POST /api/cis/tagging/tag-association/{id}?action=detach", "t1"},
	}
	for _, c := range cases {
		route, id := a.match(httptest.NewRequest(c.method, c.target, nil))
		if route == nil || route.key() != c.key || id != c.id {
			t.Errorf("%s %s: route %v id %q", c.method, c.target, route, id)
		}
	}
	if route, _ := a.match(httptest.NewRequest("PUT", "/api/session", nil)); route != nil {
		t.Error("PUT /api/session matched")
	}
	if route, _ := a.match(httptest.NewRequest("GET", "/api/cis/tagging/tag/a/b", nil)); route != nil {
		t.Error("nested id matched")
	}
}
