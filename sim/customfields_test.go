package main

import (
	"reflect"
	"testing"

	"github.com/vmware/govmomi/vim25/types"
)

func TestParseCustomFieldCall(t *testing.T) {
	const setField = `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>
<SetField xmlns="urn:vim25"><_this type="CustomFieldsManager">CustomFieldsManager</_this>
<entity type="VirtualMachine">vm-42</entity><key>3</key><value>a &lt;b&gt;</value></SetField>
</soapenv:Body></soapenv:Envelope>`
	body := []byte(setField)
	call := parseSOAPCall(body)
	c, ok := parseCustomFieldCall(call, body)
	if !ok || c.entity != (types.ManagedObjectReference{Type: "VirtualMachine", Value: "vm-42"}) {
		t.Errorf("SetField: %+v, %v", c, ok)
	}
	if args := soapArgs(body); args["key"].text != "3" || args["value"].text != "a <b>" {
		t.Errorf("args = %+v", args)
	}

	remove := []byte(`<Envelope><Body><RemoveCustomFieldDef><_this type="CustomFieldsManager">c</_this>` +
		`<key>7</key></RemoveCustomFieldDef></Body></Envelope>`)
	if c, ok := parseCustomFieldCall(parseSOAPCall(remove), remove); !ok || c.key != 7 {
		t.Errorf("RemoveCustomFieldDef: %+v, %v", c, ok)
	}
	missing := []byte(`<Envelope><Body><SetField><_this type="CustomFieldsManager">c</_this><key>1</key></SetField></Body></Envelope>`)
	if _, ok := parseCustomFieldCall(parseSOAPCall(missing), missing); ok {
		t.Error("SetField without entity accepted")
	}
}

func TestLatestPerKey(t *testing.T) {
	v := func(key int32, value string) types.BaseCustomFieldValue {
		return &types.CustomFieldStringValue{CustomFieldValue: types.CustomFieldValue{Key: key}, Value: value}
	}
	in := []types.BaseCustomFieldValue{v(0, "a"), v(1, "b"), v(0, "c"), v(2, "d"), v(1, "e")}
	got := latestPerKey(in, nil)
	if want := []types.BaseCustomFieldValue{v(0, "c"), v(1, "e"), v(2, "d")}; !reflect.DeepEqual(got, want) {
		t.Errorf("latestPerKey = %v, want %v", got, want)
	}
	got = latestPerKey(in, []int32{0, 2})
	if want := []types.BaseCustomFieldValue{v(1, "e")}; !reflect.DeepEqual(got, want) {
		t.Errorf("latestPerKey without 0 and 2 = %v, want %v", got, want)
	}
	if got := latestPerKey(nil, nil); got == nil || len(got) != 0 {
		t.Errorf("latestPerKey(nil) = %#v, want an empty slice", got)
	}
}
