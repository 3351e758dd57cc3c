package main

import (
	"fmt"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// guestOptions shape what the simulated VMware Tools report.
type guestOptions struct {
	delay             time.Duration
	ipv6First         bool
	needsNICConnected bool
}

// guestAgent plays VMware Tools in every VM. It watches the registry: when a
// VM powers on (or its NICs change while it runs), it reports guest.net and
// guest.ipAddress after the configured delay; when a VM powers off, it clears
// them at once. Addresses come from 127.0.0.0/8 so nothing a test does with
// them can leave the machine; each NIC keeps its address for its lifetime.
type guestAgent struct {
	opts guestOptions
	self types.ManagedObjectReference

	mu    sync.Mutex
	gen   map[types.ManagedObjectReference]uint64 // bumped by every change; stale reports are dropped
	addrs map[nicID]int                           // address number per NIC
	next  int
}

type nicID struct {
	vm  types.ManagedObjectReference
	key int32
}

func newGuestAgent(opts guestOptions) *guestAgent {
	return &guestAgent{
		opts:  opts,
		self:  types.ManagedObjectReference{Type: "VsraySimGuestAgent", Value: "guest-agent"},
		gen:   map[types.ManagedObjectReference]uint64{},
		addrs: map[nicID]int{},
	}
}

// attach registers the agent with the registry and starts the guests of the
// VMs already running. Call it once the inventory exists.
func (g *guestAgent) attach() {
	simulator.Map.AddHandler(g)
	for _, e := range simulator.Map.All("VirtualMachine") {
		vm := e.(*simulator.VirtualMachine)
		simulator.Map.WithLock(vm, func() { g.changed(&vm.VirtualMachine, true) })
	}
}

// Reference, PutObject, UpdateObject and RemoveObject implement
// simulator.RegisterObject.
func (g *guestAgent) Reference() types.ManagedObjectReference { return g.self }

func (g *guestAgent) PutObject(mo.Reference) {}

func (g *guestAgent) RemoveObject(ref types.ManagedObjectReference) {
	if ref.Type != "VirtualMachine" {
		return
	}
	g.mu.Lock()
	delete(g.gen, ref)
	g.mu.Unlock()
}

// UpdateObject runs inside Registry.Update, with the VM locked by whoever
// changed it, so it may read and update the VM directly.
func (g *guestAgent) UpdateObject(obj mo.Reference, changes []types.PropertyChange) {
	vm, ok := obj.(*mo.VirtualMachine)
	if !ok {
		return
	}
	power, devices := false, false
	for _, c := range changes {
		switch c.Name {
		case "runtime.powerState":
			power = true
		case "config.hardware.device":
			devices = true
		}
	}
	if power || devices {
		g.changed(vm, power)
	}
}

// changed reacts to a power state or device change of vm (locked).
func (g *guestAgent) changed(vm *mo.VirtualMachine, powerChanged bool) {
	g.mu.Lock()
	g.gen[vm.Self]++
	gen := g.gen[vm.Self]
	g.mu.Unlock()

	if vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
		if powerChanged {
			g.stop(vm)
		}
		return
	}
	if g.opts.delay == 0 {
		g.report(vm)
		return
	}
	ref := vm.Self
	time.AfterFunc(g.opts.delay, func() {
		obj, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine)
		if !ok {
			return
		}
		simulator.Map.WithLock(obj, func() {
			g.mu.Lock()
			current := g.gen[ref] == gen
			g.mu.Unlock()
			if current && obj.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn {
				g.report(&obj.VirtualMachine)
			}
		})
	})
}

// report publishes what Tools in a running vm would report.
func (g *guestAgent) report(vm *mo.VirtualMachine) {
	var nics []types.GuestNicInfo
	primary := ""
	for _, device := range vm.Config.Hardware.Device {
		nic, ok := device.(types.BaseVirtualEthernetCard)
		if !ok {
			continue
		}
		card := nic.GetVirtualEthernetCard()
		connected := card.Connectable != nil && card.Connectable.Connected
		info := types.GuestNicInfo{
			Network:        networkName(card),
			MacAddress:     card.MacAddress,
			Connected:      connected,
			DeviceConfigId: card.Key,
		}
		if connected || !g.opts.needsNICConnected {
			addrs := g.addresses(nicID{vm.Self, card.Key})
			info.IpConfig = &types.NetIpConfigInfo{}
			for _, a := range addrs {
				info.IpAddress = append(info.IpAddress, a.IpAddress)
				info.IpConfig.IpAddress = append(info.IpConfig.IpAddress, a)
			}
			if primary == "" {
				primary = addrs[0].IpAddress
			}
		}
		nics = append(nics, info)
	}

	running := string(types.VirtualMachineToolsRunningStatusGuestToolsRunning)
	simulator.Map.Update(vm, []types.PropertyChange{
		{Name: "guest.net", Val: nics},
		{Name: "guest.ipAddress", Val: primary},
		{Name: "guest.hostName", Val: vm.Name},
		{Name: "guest.guestState", Val: "running"},
		{Name: "guest.toolsStatus", Val: types.VirtualMachineToolsStatusToolsOk},
		{Name: "guest.toolsRunningStatus", Val: running},
		{Name: "summary.guest.ipAddress", Val: primary},
		{Name: "summary.guest.hostName", Val: vm.Name},
		{Name: "summary.guest.toolsStatus", Val: types.VirtualMachineToolsStatusToolsOk},
		{Name: "summary.guest.toolsRunningStatus", Val: running},
	})
}

// stop clears the addresses of a VM that stopped running. The NIC entries
// stay (without addresses): the simulator's CustomizeVM counts them.
func (g *guestAgent) stop(vm *mo.VirtualMachine) {
	var nics []types.GuestNicInfo
	if vm.Guest != nil {
		for _, n := range vm.Guest.Net {
			nics = append(nics, types.GuestNicInfo{
				Network:        n.Network,
				MacAddress:     n.MacAddress,
				Connected:      n.Connected,
				DeviceConfigId: n.DeviceConfigId,
			})
		}
	}
	notRunning := string(types.VirtualMachineToolsRunningStatusGuestToolsNotRunning)
	simulator.Map.Update(vm, []types.PropertyChange{
		{Name: "guest.net", Val: nics},
		{Name: "guest.ipAddress", Val: ""},
		{Name: "guest.guestState", Val: "notRunning"},
		{Name: "guest.toolsRunningStatus", Val: notRunning},
		{Name: "summary.guest.ipAddress", Val: ""},
		{Name: "summary.guest.toolsRunningStatus", Val: notRunning},
	})
}

// addresses are the addresses of one NIC, in the order Tools reports them.
func (g *guestAgent) addresses(id nicID) []types.NetIpConfigInfoIpAddress {
	g.mu.Lock()
	n, ok := g.addrs[id]
	if !ok {
		g.next++
		n = g.next
		g.addrs[id] = n
	}
	g.mu.Unlock()

	v4 := address(guestIPv4(n), 8, "dhcp")
	if !g.opts.ipv6First {
		return []types.NetIpConfigInfoIpAddress{v4}
	}
	return []types.NetIpConfigInfoIpAddress{
		address(fmt.Sprintf("fd00::%x", n), 64, "dhcp"),
		address(fmt.Sprintf("fe80::20c:29ff:fe%02x:%x", (n>>16)&0xff, n&0xffff), 64, "linklayer"),
		address(guestLinkLocalIPv4(n), 16, "linklayer"),
		v4,
	}
}

func address(ip string, prefix int32, origin string) types.NetIpConfigInfoIpAddress {
	return types.NetIpConfigInfoIpAddress{
		IpAddress:    ip,
		PrefixLength: prefix,
		Origin:       origin,
		State:        string(types.NetIpConfigInfoIpAddressStatusPreferred),
	}
}

// guestIPv4 is the nth (n >= 1) guest address: 127.1.0.1, 127.1.0.2, ...,
// 127.1.0.254, 127.1.1.1, ... (never .0 or .255, never 127.0.0.0/16).
func guestIPv4(n int) string {
	block, host := (n-1)/254, (n-1)%254+1
	return fmt.Sprintf("127.%d.%d.%d", 1+block/256%255, block%256, host)
}

// guestLinkLocalIPv4 is the nth IPv4 link-local address, 169.254.1.1 onwards.
func guestLinkLocalIPv4(n int) string {
	block, host := (n-1)/254, (n-1)%254+1
	return fmt.Sprintf("169.254.%d.%d", 1+block%254, host)
}

// networkName is the name Tools reports for the network of a NIC.
func networkName(card *types.VirtualEthernetCard) string {
	switch b := card.Backing.(type) {
	case *types.VirtualEthernetCardNetworkBackingInfo:
		return b.DeviceName
	case *types.VirtualEthernetCardDistributedVirtualPortBackingInfo:
		ref := types.ManagedObjectReference{Type: "DistributedVirtualPortgroup", Value: b.Port.PortgroupKey}
		if pg, ok := simulator.Map.Get(ref).(mo.Entity); ok {
			return pg.Entity().Name
		}
	}
	return ""
}
