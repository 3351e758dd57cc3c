package main

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// gpuSpec is one --gpu flag (or POST /vsray/gpus): which hosts get which
// devices.
//
//	HOSTS:VENDOR:DEVICE:NAME[:OPTION]...
//
// HOSTS is "*" (every host), a host name or a glob (DC0_C0_H*); VENDOR and
// DEVICE are the PCI ids in hex (10de, 0x20f1); NAME is the device name
// (no ':'). Options:
//
//	xN             N such devices on each host (default 1)
//	vgpu=P1,P2     vGPU (shared direct) mode with these profiles, instead of
//	               passthrough (DirectPath I/O, fixed or dynamic)
//	mem=GB         frame buffer for vGPU capacity (default: the largest
//	               profile's size)
//	label=TEXT     custom label (assignable hardware attribute customLabel)
//	vendor=TEXT    vendor name (default from the vendor id)
//	class=HEX      PCI class (default 0302, 3D controller)
//	dynamic        accepted and ignored: every passthrough device serves both
//	               fixed and Dynamic DirectPath I/O, as on vSphere 7
type gpuSpec struct {
	hosts      string
	vendorID   uint16
	deviceID   uint16
	name       string
	count      int
	profiles   []string
	memGB      int
	label      string
	vendorName string
	classID    uint16
}

// defaultGPU is what --gpus-per-host gives: an NVIDIA A100 PCIe 40GB in
// passthrough mode.
func defaultGPU(count int) gpuSpec {
	return gpuSpec{
		hosts: "*", vendorID: 0x10de, deviceID: 0x20f1, name: "GA100 [A100 PCIe 40GB]",
		count: count, vendorName: vendorName(0x10de), classID: 0x0302,
	}
}

func parseGPUSpec(text string) (gpuSpec, error) {
	parts := strings.Split(text, ":")
	if len(parts) < 4 {
		return gpuSpec{}, fmt.Errorf("--gpu %q: want HOSTS:VENDOR:DEVICE:NAME[:OPTION]...", text)
	}
	s := gpuSpec{hosts: parts[0], name: strings.TrimSpace(parts[3]), count: 1, classID: 0x0302}
	if _, err := path.Match(s.hosts, ""); err != nil || s.hosts == "" {
		return s, fmt.Errorf("--gpu %q: bad host pattern %q", text, s.hosts)
	}
	var err error
	if s.vendorID, err = parseHex16(parts[1]); err != nil {
		return s, fmt.Errorf("--gpu %q: vendor id: %v", text, err)
	}
	if s.deviceID, err = parseHex16(parts[2]); err != nil {
		return s, fmt.Errorf("--gpu %q: device id: %v", text, err)
	}
	if s.name == "" {
		return s, fmt.Errorf("--gpu %q: empty device name", text)
	}
	for _, opt := range parts[4:] {
		if err := s.option(opt); err != nil {
			return s, fmt.Errorf("--gpu %q: %v", text, err)
		}
	}
	if s.vendorName == "" {
		s.vendorName = vendorName(s.vendorID)
	}
	return s, s.checkProfiles()
}

func (s *gpuSpec) option(opt string) error {
	key, value, hasValue := strings.Cut(opt, "=")
	switch {
	case !hasValue && strings.HasPrefix(opt, "x"):
		n, err := strconv.Atoi(opt[1:])
		if err != nil || n < 1 || n > 64 {
			return fmt.Errorf("bad count %q (x1..x64)", opt)
		}
		s.count = n
	case opt == "dynamic":
		// Every passthrough device serves fixed and Dynamic DirectPath alike,
		// as on vSphere 7: accepted, changes nothing.
	case key == "vgpu" && value != "":
		s.profiles = strings.Split(value, ",")
	case key == "mem":
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 {
			return fmt.Errorf("bad mem=%q (GB)", value)
		}
		s.memGB = n
	case key == "label" && value != "":
		s.label = value
	case key == "vendor" && value != "":
		s.vendorName = value
	case key == "class":
		c, err := parseHex16(value)
		if err != nil {
			return fmt.Errorf("bad class=%q: %v", value, err)
		}
		s.classID = c
	default:
		return fmt.Errorf("unknown option %q (xN, vgpu=, mem=, label=, vendor=, class=, dynamic)", opt)
	}
	return nil
}

// checkProfiles checks that every vGPU profile has a size and fits.
func (s *gpuSpec) checkProfiles() error {
	largest := 0
	for _, p := range s.profiles {
		size, ok := profileSizeGB(p)
		if !ok {
			return fmt.Errorf("--gpu: vGPU profile %q has no size (want a name like grid_a100-4c)", p)
		}
		if size > largest {
			largest = size
		}
	}
	if len(s.profiles) == 0 {
		return nil
	}
	if s.memGB == 0 {
		s.memGB = largest
	}
	if largest > s.memGB {
		return fmt.Errorf("--gpu: a %d GB vGPU profile does not fit in mem=%d", largest, s.memGB)
	}
	return nil
}

// vgpuProfileSize finds the frame buffer size of a vGPU profile name: the
// number of its last dash-separated part (grid_a100-4c: 4 GB,
// grid_a100-3-20c: 20 GB, grid_t4-16q: 16 GB).
var vgpuProfileSize = regexp.MustCompile(`-([0-9]+)[a-z]*$`)

func profileSizeGB(profile string) (int, bool) {
	m := vgpuProfileSize.FindStringSubmatch(profile)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	return n, err == nil && n > 0
}

func parseHex16(s string) (uint16, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "0x"), "0X")
	v, err := strconv.ParseUint(s, 16, 16)
	if err != nil {
		return 0, fmt.Errorf("%q is not a 16-bit hex number", s)
	}
	return uint16(v), nil
}

// vendorName is the PCI vendor name of well-known GPU vendors.
func vendorName(id uint16) string {
	switch id {
	case 0x10de:
		return "NVIDIA Corporation"
	case 0x1002:
		return "Advanced Micro Devices, Inc. [AMD/ATI]"
	case 0x8086:
		return "Intel Corporation"
	}
	return fmt.Sprintf("Vendor %04x", id)
}

// matchesHost reports whether the spec's host pattern selects a host name.
func (s *gpuSpec) matchesHost(name string) bool {
	if s.hosts == "*" || s.hosts == name {
		return true
	}
	ok, _ := path.Match(s.hosts, name)
	return ok
}
