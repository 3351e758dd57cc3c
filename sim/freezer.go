package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// frozenImageKey marks a VM whose guest freezes itself at boot: a real
// frozen-VM image runs `vmware-rpctool "instantclone.freeze"` once it is up;
// the simulator has no guest, so this extraConfig key stands for that script.
// It comes from the OVF (vmw:ExtraConfig), a deployment property, CreateVM or
// ReconfigVM_Task. Instant clones do not inherit it (they resume the frozen
// guest, they don't boot it).
const frozenImageKey = "vsray.frozen_image"

// isFrozenImage tells whether an extraConfig says "frozen-VM image".
func isFrozenImage(extra []types.BaseOptionValue) bool {
	marked := false
	for _, o := range extra {
		opt := o.GetOptionValue()
		if opt.Key != frozenImageKey {
			continue
		}
		s, _ := opt.Value.(string)
		// The simulator appends a re-set key: the last one wins.
		marked = strings.EqualFold(s, "true") || s == "1"
	}
	return marked
}

// freezer plays the freeze script of frozen-VM images: after a VM with the
// marker powers on, it sets runtime.instantCloneFrozen once `delay` passed;
// a power-off unfreezes it at once.
type freezer struct {
	delay time.Duration
	self  types.ManagedObjectReference
}

func newFreezer(delay time.Duration) *freezer {
	return &freezer{delay: delay, self: types.ManagedObjectReference{Type: "VsraySimFreezer", Value: "freezer"}}
}

// attach registers the freezer with the registry.
func (f *freezer) attach() { simulator.Map.AddHandler(f) }

// Reference, PutObject, UpdateObject and RemoveObject implement
// simulator.RegisterObject.
func (f *freezer) Reference() types.ManagedObjectReference { return f.self }

func (f *freezer) PutObject(mo.Reference) {}

func (f *freezer) RemoveObject(types.ManagedObjectReference) {}

// UpdateObject runs inside Registry.Update with the VM locked.
func (f *freezer) UpdateObject(obj mo.Reference, changes []types.PropertyChange) {
	vm, ok := obj.(*mo.VirtualMachine)
	if !ok {
		return
	}
	power := false
	for _, c := range changes {
		power = power || c.Name == "runtime.powerState"
	}
	if !power {
		return
	}
	ref := vm.Self
	if vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
		if vm.Runtime.InstantCloneFrozen != nil && *vm.Runtime.InstantCloneFrozen {
			// Updating from inside an update: do it right after, under the lock.
			time.AfterFunc(0, func() { f.set(ref, false, false) })
		}
		return
	}
	if vm.Config == nil || !isFrozenImage(vm.Config.ExtraConfig) {
		return
	}
	time.AfterFunc(f.delay, func() { f.set(ref, true, true) })
}

// set changes runtime.instantCloneFrozen of a VM that still exists (and, when
// wantOn, is still powered on).
func (f *freezer) set(ref types.ManagedObjectReference, frozen, wantOn bool) {
	obj, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine)
	if !ok {
		return
	}
	simulator.Map.WithLock(obj, func() {
		if wantOn && obj.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
			return
		}
		simulator.Map.Update(obj, []types.PropertyChange{{Name: "runtime.instantCloneFrozen", Val: frozen}})
	})
}

// ovfExtraConfig is the simulator's /rest handler plus what vCenter does with
// an OVF's <vmw:ExtraConfig vmw:key=... vmw:value=.../> entries on a content
// library deploy: they land in the new VM's config.extraConfig (govmomi's
// OvfManager drops them). /api deploys reach /rest through it too.
type ovfExtraConfig struct {
	next http.Handler
}

func (o *ovfExtraConfig) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	const prefix = restOVFItem + "/id:"
	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, prefix) || r.URL.Query().Get("~action") != "deploy" {
		o.next.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	o.next.ServeHTTP(rec, r)
	if rec.Code == http.StatusOK {
		var reply struct {
			Value struct {
				Succeeded  bool `json:"succeeded"`
				ResourceID *struct {
					ID string `json:"id"`
				} `json:"resource_id"`
			} `json:"value"`
		}
		if json.Unmarshal(rec.Body.Bytes(), &reply) == nil && reply.Value.Succeeded && reply.Value.ResourceID != nil {
			item := strings.TrimPrefix(r.URL.Path, prefix)
			applyOVFExtraConfig(item, types.ManagedObjectReference{Type: "VirtualMachine", Value: reply.Value.ResourceID.ID})
		}
	}
	copyRecorded(w, rec)
}

// applyOVFExtraConfig adds the vmw:ExtraConfig entries of a library item's
// OVF descriptor to a VM's extraConfig.
func applyOVFExtraConfig(item string, ref types.ManagedObjectReference) {
	descriptor := libraryItemOVF(item)
	if descriptor == nil {
		return
	}
	entries := parseOVFExtraConfig(descriptor)
	if len(entries) == 0 {
		return
	}
	vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine)
	if !ok {
		return
	}
	simulator.Map.WithLock(vm, func() {
		extra := append([]types.BaseOptionValue(nil), vm.Config.ExtraConfig...)
		for _, e := range entries {
			extra = append(extra, &types.OptionValue{Key: e.Key, Value: e.Value})
		}
		simulator.Map.Update(vm, []types.PropertyChange{{Name: "config.extraConfig", Val: extra}})
	})
}

// libraryItemOVF reads the .ovf file of a library item. The simulator keeps
// item files under <datastore directory>/contentlib-<library>/<item>/.
func libraryItemOVF(item string) []byte {
	if item == "" || strings.ContainsAny(item, `/\*?[`) {
		return nil
	}
	for _, e := range simulator.Map.All("Datastore") {
		ds := e.(*simulator.Datastore)
		dir := ds.Info.GetDatastoreInfo().Url
		matches, _ := filepath.Glob(filepath.Join(dir, "contentlib-*", item, "*.ovf"))
		for _, m := range matches {
			if b, err := os.ReadFile(m); err == nil {
				return b
			}
		}
	}
	return nil
}

type ovfOption struct {
	Key   string
	Value string
}

// parseOVFExtraConfig returns the key/value of every ExtraConfig element
// (matched by local name, as namespace prefixes vary between tools).
func parseOVFExtraConfig(descriptor []byte) []ovfOption {
	var out []ovfOption
	dec := xml.NewDecoder(bytes.NewReader(descriptor))
	for {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		start, ok := tok.(xml.StartElement)
		if !ok || start.Name.Local != "ExtraConfig" {
			continue
		}
		var opt ovfOption
		for _, a := range start.Attr {
			switch a.Name.Local {
			case "key":
				opt.Key = a.Value
			case "value":
				opt.Value = a.Value
			}
		}
		if opt.Key != "" {
			out = append(out, opt)
		}
	}
}
