package main

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// newModel is govmomi's vCenter model sized by the command line. --vms is a
// total: the model counts VMs per cluster and per standalone host, so the
// total is spread over them and rounded up.
func newModel(cfg *config) *simulator.Model {
	m := simulator.VPX()
	m.Datacenter = cfg.datacenters
	m.Cluster = cfg.clusters
	m.ClusterHost = cfg.hosts
	m.Host = cfg.standaloneHosts
	m.Pool = cfg.pools
	m.Datastore = cfg.datastores
	m.Autostart = true

	if places := cfg.datacenters * (cfg.clusters + cfg.standaloneHosts); places > 0 {
		m.Machine = (cfg.vms + places - 1) / places
	}

	m.ServiceContent.About.ApiVersion = cfg.apiVersion
	m.ServiceContent.About.Version = cfg.apiVersion + ".0"
	return m
}

// connectModelNICs gives every model VM NICs of its own, connected when the
// VM runs, as powering on a VM does on vSphere. govmomi's model hands all VMs
// of a pool one shared, disconnected NIC object (with one MAC).
func connectModelNICs() {
	n := 0
	for _, e := range simulator.Map.All("VirtualMachine") {
		vm := e.(*simulator.VirtualMachine)
		simulator.Map.WithLock(vm, func() {
			running := vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn
			devices := make([]types.BaseVirtualDevice, len(vm.Config.Hardware.Device))
			copy(devices, vm.Config.Hardware.Device)
			changed := false
			for i, d := range devices {
				if _, ok := d.(types.BaseVirtualEthernetCard); !ok {
					continue
				}
				own := reflect.New(reflect.TypeOf(d).Elem())
				own.Elem().Set(reflect.ValueOf(d).Elem())
				card := own.Interface().(types.BaseVirtualEthernetCard).GetVirtualEthernetCard()
				n++
				card.MacAddress = fmt.Sprintf("00:50:56:%02x:%02x:%02x", (n>>16)&0xff, (n>>8)&0xff, n&0xff)
				if card.Connectable != nil {
					c := *card.Connectable
					if running && c.StartConnected {
						c.Connected = true
						c.Status = "ok"
					}
					card.Connectable = &c
				}
				devices[i] = own.Interface().(types.BaseVirtualDevice)
				changed = true
			}
			if changed {
				simulator.Map.Update(vm, []types.PropertyChange{{Name: "config.hardware.device", Val: devices}})
			}
		})
	}
}

// frozenVM is a frozen VM as the ready line and the control endpoint show it.
type frozenVM struct {
	Name string `json:"name"`
	ID   string `json:"id"`
	Host string `json:"host"`
}

// frozenMaker creates frozen VMs: powered on, runtime.instantCloneFrozen set,
// NICs disconnected (the guest froze itself before they were reconnected).
type frozenMaker struct {
	client *vim25.Client

	mu      sync.Mutex // one creation at a time: names must stay unique
	created []frozenVM
}

func newFrozenMaker(ctx context.Context, service *simulator.Service) (*frozenMaker, error) {
	c, err := vim25.NewClient(ctx, service)
	if err != nil {
		return nil, err
	}
	return &frozenMaker{client: c}, nil
}

func (f *frozenMaker) list() []frozenVM {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]frozenVM(nil), f.created...)
}

// create makes frozen VM name on the host named hostName ("" = first host by name).
func (f *frozenMaker) create(ctx context.Context, name, hostName string) (frozenVM, error) {
	f.mu.Lock()
	defer f.mu.Unlock()

	host, err := findHost(hostName)
	if err != nil {
		return frozenVM{}, err
	}
	dc, err := datacenterOf(host)
	if err != nil {
		return frozenVM{}, err
	}
	pool, err := rootPoolOf(host)
	if err != nil {
		return frozenVM{}, err
	}
	if len(host.Datastore) == 0 {
		return frozenVM{}, fmt.Errorf("host %s has no datastore", host.Name)
	}
	ds, ok := simulator.Map.Get(host.Datastore[0]).(*simulator.Datastore)
	if !ok {
		return frozenVM{}, fmt.Errorf("host %s: datastore not found", host.Name)
	}
	if vmNamed(dc, name) {
		return frozenVM{}, fmt.Errorf("a VM named %q already exists", name)
	}

	var devices object.VirtualDeviceList
	scsi, err := devices.CreateSCSIController("pvscsi")
	if err != nil {
		return frozenVM{}, err
	}
	devices = append(devices, scsi)
	disk := devices.CreateDisk(scsi.(types.BaseVirtualController), types.ManagedObjectReference{}, "")
	disk.CapacityInKB = 16 * 1024 * 1024
	nic, err := devices.CreateEthernetCard("vmxnet3", &types.VirtualEthernetCardNetworkBackingInfo{
		VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: "VM Network"},
	})
	if err != nil {
		return frozenVM{}, err
	}
	nic.GetVirtualDevice().Connectable = &types.VirtualDeviceConnectInfo{
		StartConnected:    false,
		AllowGuestControl: true,
		Connected:         false,
		Status:            "untried",
	}
	nic.GetVirtualDevice().Key = 4000
	devices = append(devices, disk, nic)
	changes, err := devices.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)
	if err != nil {
		return frozenVM{}, err
	}

	spec := types.VirtualMachineConfigSpec{
		Name:         name,
		GuestId:      string(types.VirtualMachineGuestOsIdentifierOtherLinux64Guest),
		NumCPUs:      2,
		MemoryMB:     4096,
		Files:        &types.VirtualMachineFileInfo{VmPathName: "[" + ds.Name + "]"},
		DeviceChange: changes,
	}
	folder := object.NewFolder(f.client, dc.VmFolder)
	task, err := folder.CreateVM(ctx, spec, object.NewResourcePool(f.client, pool), object.NewHostSystem(f.client, host.Self))
	if err != nil {
		return frozenVM{}, err
	}
	info, err := task.WaitForResult(ctx, nil)
	if err != nil {
		return frozenVM{}, fmt.Errorf("creating frozen VM %s: %v", name, err)
	}
	ref := info.Result.(types.ManagedObjectReference)
	vm := object.NewVirtualMachine(f.client, ref)
	task, err = vm.PowerOn(ctx)
	if err != nil {
		return frozenVM{}, err
	}
	if err := task.Wait(ctx); err != nil {
		return frozenVM{}, fmt.Errorf("powering on frozen VM %s: %v", name, err)
	}

	obj := simulator.Map.Get(ref).(*simulator.VirtualMachine)
	simulator.Map.WithLock(obj, func() {
		simulator.Map.Update(obj, []types.PropertyChange{{Name: "runtime.instantCloneFrozen", Val: true}})
	})

	frozen := frozenVM{Name: name, ID: ref.Value, Host: host.Name}
	f.created = append(f.created, frozen)
	return frozen, nil
}

// hostNames lists every host by name.
func hostNames() []string {
	var names []string
	for _, e := range simulator.Map.All("HostSystem") {
		names = append(names, e.Entity().Name)
	}
	sort.Strings(names)
	return names
}

func findHost(name string) (*simulator.HostSystem, error) {
	names := hostNames()
	if len(names) == 0 {
		return nil, errors.New("the inventory has no host")
	}
	if name == "" {
		name = names[0]
	}
	for _, e := range simulator.Map.All("HostSystem") {
		if e.Entity().Name == name {
			return e.(*simulator.HostSystem), nil
		}
	}
	return nil, fmt.Errorf("no host named %q (hosts: %s)", name, strings.Join(names, ", "))
}

func datacenterOf(e mo.Entity) (*simulator.Datacenter, error) {
	for parent := e.Entity().Parent; parent != nil; {
		obj := simulator.Map.Get(*parent)
		if dc, ok := obj.(*simulator.Datacenter); ok {
			return dc, nil
		}
		pe, ok := obj.(mo.Entity)
		if !ok {
			break
		}
		parent = pe.Entity().Parent
	}
	return nil, fmt.Errorf("%s is in no datacenter", e.Entity().Name)
}

// rootPoolOf is the root resource pool of the host's cluster or standalone
// compute resource.
func rootPoolOf(host *simulator.HostSystem) (types.ManagedObjectReference, error) {
	if host.Parent != nil {
		switch cr := simulator.Map.Get(*host.Parent).(type) {
		case *simulator.ClusterComputeResource:
			if cr.ResourcePool != nil {
				return *cr.ResourcePool, nil
			}
		case *mo.ComputeResource:
			if cr.ResourcePool != nil {
				return *cr.ResourcePool, nil
			}
		}
	}
	return types.ManagedObjectReference{}, fmt.Errorf("host %s has no resource pool", host.Name)
}

func vmNamed(dc *simulator.Datacenter, name string) bool {
	for _, e := range simulator.Map.All("VirtualMachine") {
		if e.Entity().Name != name {
			continue
		}
		if vdc, err := datacenterOf(e); err == nil && vdc.Self == dc.Self {
			return true
		}
	}
	return false
}

// inventoryCounts is the inventory part of the ready line.
type inventoryCounts struct {
	Datacenters   int        `json:"datacenters"`
	Clusters      int        `json:"clusters"`
	Hosts         int        `json:"hosts"`
	ResourcePools int        `json:"resource_pools"`
	VMs           int        `json:"vms"`
	Datastores    int        `json:"datastores"`
	FrozenVMs     []frozenVM `json:"frozen_vms"`
}

func countInventory(frozen []frozenVM) inventoryCounts {
	if frozen == nil {
		frozen = []frozenVM{}
	}
	return inventoryCounts{
		Datacenters:   len(simulator.Map.All("Datacenter")),
		Clusters:      len(simulator.Map.All("ClusterComputeResource")),
		Hosts:         len(simulator.Map.All("HostSystem")),
		ResourcePools: len(simulator.Map.All("ResourcePool")),
		VMs:           len(simulator.Map.All("VirtualMachine")),
		Datastores:    len(simulator.Map.All("Datastore")),
		FrozenVMs:     frozen,
	}
}

// setMaintenanceMode sets runtime.inMaintenanceMode of the named host.
func setMaintenanceMode(hostName string, enabled bool) error {
	if hostName == "" {
		return errors.New("no host given")
	}
	host, err := findHost(hostName)
	if err != nil {
		return err
	}
	simulator.Map.WithLock(host, func() {
		simulator.Map.Update(host, []types.PropertyChange{
			{Name: "runtime.inMaintenanceMode", Val: enabled},
			{Name: "summary.runtime.inMaintenanceMode", Val: enabled},
		})
	})
	return nil
}

// addedHost is a host added at run time, as the control endpoint answers it.
type addedHost struct {
	Name    string `json:"name"`
	ID      string `json:"id"`
	Cluster string `json:"cluster"`
}

// addHost adds a connected host to a cluster ("" = the only cluster; a
// hostName of "" = <cluster>_H<n>), as AddHost_Task does on vCenter, and
// mounts on it every datastore of the cluster's other hosts (the model's
// datastores are shared by all hosts of a datacenter).
func addHost(ctx context.Context, c *vim25.Client, clusterName, hostName string) (addedHost, error) {
	var cluster *simulator.ClusterComputeResource
	var names []string
	for _, e := range simulator.Map.All("ClusterComputeResource") {
		cr := e.(*simulator.ClusterComputeResource)
		names = append(names, cr.Name)
		if cr.Name == clusterName || (clusterName == "" && cluster == nil) {
			cluster = cr
		}
	}
	sort.Strings(names)
	if cluster == nil || (clusterName == "" && len(names) != 1) {
		return addedHost{}, fmt.Errorf("no cluster named %q (clusters: %s)", clusterName, strings.Join(names, ", "))
	}
	var existing []types.ManagedObjectReference
	simulator.Map.WithLock(cluster, func() { existing = append(existing, cluster.Host...) })
	if hostName == "" {
		for n := len(existing); hostName == ""; n++ {
			candidate := fmt.Sprintf("%s_H%d", cluster.Name, n)
			if _, err := findHost(candidate); err != nil {
				hostName = candidate
			}
		}
	} else if _, err := findHost(hostName); err == nil {
		return addedHost{}, fmt.Errorf("a host named %q already exists", hostName)
	}

	task, err := object.NewClusterComputeResource(c, cluster.Self).AddHost(ctx,
		types.HostConnectSpec{HostName: hostName, UserName: "root", Force: true}, true, nil, nil)
	if err != nil {
		return addedHost{}, err
	}
	info, err := task.WaitForResult(ctx, nil)
	if err != nil {
		return addedHost{}, fmt.Errorf("adding host %s: %v", hostName, err)
	}
	ref := info.Result.(types.ManagedObjectReference)
	host := simulator.Map.Get(ref).(*simulator.HostSystem)

	var datastores []types.ManagedObjectReference
	for _, other := range existing {
		if h, ok := simulator.Map.Get(other).(*simulator.HostSystem); ok {
			simulator.Map.WithLock(h, func() { datastores = append(datastores, h.Datastore...) })
			break
		}
	}
	for _, dsRef := range datastores {
		ds, ok := simulator.Map.Get(dsRef).(*simulator.Datastore)
		if !ok {
			continue
		}
		simulator.Map.WithLock(ds, func() {
			mounts := append([]types.DatastoreHostMount(nil), ds.Host...)
			mounts = append(mounts, types.DatastoreHostMount{
				Key: ref,
				MountInfo: types.HostMountInfo{
					AccessMode: string(types.HostMountModeReadWrite),
					Mounted:    types.NewBool(true),
					Accessible: types.NewBool(true),
				},
			})
			simulator.Map.Update(ds, []types.PropertyChange{{Name: "host", Val: mounts}})
		})
	}
	simulator.Map.WithLock(host, func() {
		simulator.Map.Update(host, []types.PropertyChange{{Name: "datastore", Val: datastores}})
	})
	return addedHost{Name: hostName, ID: ref.Value, Cluster: cluster.Name}, nil
}

// fixDatastoreMounts makes every datastore's `host` list every host that
// mounts it, as on vCenter. govmomi's model mounts a datastore on each host
// of a datacenter in turn and keeps only the last host in the list.
func fixDatastoreMounts() {
	mounts := map[types.ManagedObjectReference][]types.ManagedObjectReference{}
	for _, e := range simulator.Map.All("HostSystem") {
		host := e.(*simulator.HostSystem)
		for _, ds := range host.Datastore {
			mounts[ds] = append(mounts[ds], host.Self)
		}
	}
	for ref, hosts := range mounts {
		ds, ok := simulator.Map.Get(ref).(*simulator.Datastore)
		if !ok {
			continue
		}
		simulator.Map.WithLock(ds, func() {
			known := map[types.ManagedObjectReference]bool{}
			list := append([]types.DatastoreHostMount(nil), ds.Host...)
			for _, m := range list {
				known[m.Key] = true
			}
			for _, h := range hosts {
				if known[h] {
					continue
				}
				list = append(list, types.DatastoreHostMount{
					Key: h,
					MountInfo: types.HostMountInfo{
						AccessMode: string(types.HostMountModeReadWrite),
						Mounted:    types.NewBool(true),
						Accessible: types.NewBool(true),
					},
				})
			}
			simulator.Map.Update(ds, []types.PropertyChange{{Name: "host", Val: list}})
		})
	}
}

// setConnectionState sets runtime.connectionState of the named host
// (connected, disconnected or notResponding).
func setConnectionState(hostName, state string) error {
	switch types.HostSystemConnectionState(state) {
	case types.HostSystemConnectionStateConnected, types.HostSystemConnectionStateDisconnected,
		types.HostSystemConnectionStateNotResponding:
	default:
		return fmt.Errorf("state %q is not connected, disconnected or notResponding", state)
	}
	host, err := findHost(hostName)
	if err != nil {
		return err
	}
	simulator.Map.WithLock(host, func() {
		simulator.Map.Update(host, []types.PropertyChange{
			{Name: "runtime.connectionState", Val: types.HostSystemConnectionState(state)},
			{Name: "summary.runtime.connectionState", Val: types.HostSystemConnectionState(state)},
		})
	})
	return nil
}
