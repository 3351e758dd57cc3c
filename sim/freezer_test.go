package main

import (
	"reflect"
	"testing"

	"github.com/vmware/govmomi/vim25/types"
)

func TestIsFrozenImage(t *testing.T) {
	opt := func(k, v string) types.BaseOptionValue { return &types.OptionValue{Key: k, Value: v} }
	for _, c := range []struct {
		extra []types.BaseOptionValue
		want  bool
	}{
		{nil, false},
		{[]types.BaseOptionValue{opt("vsray.frozen_image", "TRUE")}, true},
		{[]types.BaseOptionValue{opt("vsray.frozen_image", "true")}, true},
		{[]types.BaseOptionValue{opt("vsray.frozen_image", "1")}, true},
		{[]types.BaseOptionValue{opt("vsray.frozen_image", "no")}, false},
		{[]types.BaseOptionValue{opt("other", "TRUE")}, false},
		// A re-set key is appended by the simulator: the last value wins.
		{[]types.BaseOptionValue{opt("vsray.frozen_image", "TRUE"), opt("vsray.frozen_image", "FALSE")}, false},
	} {
		if got := isFrozenImage(c.extra); got != c.want {
			t.Errorf("isFrozenImage(%v) = %v", c.extra, got)
		}
	}
}

func TestParseOVFExtraConfig(t *testing.T) {
	ovf := `<?xml version="1.0"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
    xmlns:vmw="http://www.vmware.com/schema/ovf">
  <VirtualSystem><VirtualHardwareSection>
    <vmw:ExtraConfig ovf:required="false" vmw:key="vsray.frozen_image" vmw:value="TRUE"/>
    <vmw:ExtraConfig vmw:key="guestinfo.x" vmw:value="1"/>
    <vmw:ExtraConfig vmw:value="no key"/>
  </VirtualHardwareSection></VirtualSystem>
</Envelope>`
	got := parseOVFExtraConfig([]byte(ovf))
	want := []ovfOption{{"vsray.frozen_image", "TRUE"}, {"guestinfo.x", "1"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseOVFExtraConfig = %v, want %v", got, want)
	}
	if got := parseOVFExtraConfig([]byte("not xml <")); len(got) != 0 {
		t.Errorf("garbage: %v", got)
	}
}
