package main

import (
	"bytes"
	"encoding/xml"
	"strconv"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// Custom attributes (CustomFieldsManager) as vCenter keeps them. govmomi's
// simulator appends a new value on every SetField (the key then appears
// several times in customValue and value) and changes entities without
// telling the registry, so property collector filters never see custom
// attribute changes. vsray-sim lets the simulator do the call, then, before
// the client gets the answer, leaves one value per key (the last one set)
// and publishes customValue and value through the registry.

// customFieldCall is what the front needs to know about a SOAP call that
// changes custom attribute values.
type customFieldCall struct {
	entity types.ManagedObjectReference // SetField, setCustomValue
	key    int32                        // RemoveCustomFieldDef
	// holders are the entities with a value for key before RemoveCustomFieldDef.
	holders []types.ManagedObjectReference
}

// changesCustomFields reports whether method changes custom attribute values.
func changesCustomFields(method string) bool {
	switch method {
	case "SetField", "setCustomValue", "RemoveCustomFieldDef":
		return true
	}
	return false
}

// parseCustomFieldCall reads the arguments of a SetField, setCustomValue or
// RemoveCustomFieldDef call. ok is false if they are missing.
func parseCustomFieldCall(call soapCall, body []byte) (c customFieldCall, ok bool) {
	args := soapArgs(body)
	switch call.method {
	case "SetField":
		entity, found := args["entity"]
		c.entity = types.ManagedObjectReference{Type: entity.typ, Value: entity.text}
		return c, found && entity.text != ""
	case "setCustomValue":
		c.entity = call.this
		return c, call.this.Value != ""
	case "RemoveCustomFieldDef":
		key, err := strconv.ParseInt(args["key"].text, 10, 32)
		c.key = int32(key)
		return c, err == nil
	}
	return c, false
}

// soapArg is one simple argument of a SOAP call.
type soapArg struct {
	typ  string // its type attribute, for managed object references
	text string
}

// soapArgs returns the arguments of the SOAP call in body by name (the first
// of each name; the text of nested elements is concatenated).
func soapArgs(body []byte) map[string]soapArg {
	args := map[string]soapArg{}
	d := xml.NewDecoder(bytes.NewReader(body))
	depth, methodDepth := 0, -1
	inBody := false
	for {
		tok, err := d.Token()
		if err != nil {
			return args
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch {
			case !inBody:
				inBody = t.Name.Local == "Body"
			case methodDepth < 0:
				methodDepth = depth
			case depth == methodDepth+1:
				var arg struct {
					Type string `xml:"type,attr"`
					Text string `xml:",chardata"`
				}
				if d.DecodeElement(&arg, &t) != nil {
					return args
				}
				depth--
				if _, seen := args[t.Name.Local]; !seen {
					args[t.Name.Local] = soapArg{typ: arg.Type, text: arg.Text}
				}
			}
		case xml.EndElement:
			if depth == methodDepth {
				return args
			}
			depth--
		}
	}
}

// customValueHolders lists the entities holding a value for key.
func customValueHolders(key int32) []types.ManagedObjectReference {
	var holders []types.ManagedObjectReference
	for _, e := range simulator.Map.All("") {
		simulator.Map.WithLock(e, func() {
			me := e.Entity()
			if hasCustomValue(me.CustomValue, key) || hasCustomValue(me.Value, key) {
				holders = append(holders, me.Self)
			}
		})
	}
	return holders
}

func hasCustomValue(values []types.BaseCustomFieldValue, key int32) bool {
	for _, v := range values {
		if v.GetCustomFieldValue().Key == key {
			return true
		}
	}
	return false
}

// settle runs after a successful call: it leaves each entity concerned with
// one value per key and publishes the change.
func (c *customFieldCall) settle(method string) {
	if method == "RemoveCustomFieldDef" {
		// The simulator removes only the first value of the key, and quietly.
		for _, ref := range c.holders {
			publishCustomValues(ref, c.key)
		}
		return
	}
	publishCustomValues(c.entity)
}

// publishCustomValues rewrites customValue and value of the entity ref with
// one value per key (the last one set, where the key first appeared) and none
// for the removed keys, and reports both through the registry.
func publishCustomValues(ref types.ManagedObjectReference, removed ...int32) {
	obj := simulator.Map.Get(ref)
	e, ok := obj.(mo.Entity)
	if !ok {
		return
	}
	simulator.Map.WithLock(obj, func() {
		me := e.Entity()
		custom := latestPerKey(me.CustomValue, removed)
		value := latestPerKey(me.Value, removed)
		simulator.Map.Update(obj, []types.PropertyChange{
			{Name: "customValue", Val: custom},
			{Name: "value", Val: value},
		})
		// Registry.Update stored the reported slices in the entity; give it
		// copies, so that the simulator's in-place edits (RemoveCustomFieldDef
		// shifts elements) cannot change an update not yet sent.
		me.CustomValue = append([]types.BaseCustomFieldValue(nil), custom...)
		me.Value = append([]types.BaseCustomFieldValue(nil), value...)
	})
}

// latestPerKey returns a new slice with one value per key not in removed:
// the last of that key in values, at the position of the first. It never
// returns nil, so that an empty list is reported as such.
func latestPerKey(values []types.BaseCustomFieldValue, removed []int32) []types.BaseCustomFieldValue {
	out := make([]types.BaseCustomFieldValue, 0, len(values))
	at := make(map[int32]int, len(values))
	for _, key := range removed {
		at[key] = -1 // dropped
	}
	for _, v := range values {
		key := v.GetCustomFieldValue().Key
		if i, seen := at[key]; seen {
			if i >= 0 {
				out[i] = v
			}
			continue
		}
		at[key] = len(out)
		out = append(out, v)
	}
	return out
}
