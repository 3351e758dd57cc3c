package main

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// timingPreset is a set of delays that makes the simulator answer about as
// fast as a given kind of vCenter (see README.md for where the figures come
// from). Flags given explicitly win over the preset.
type timingPreset struct {
	latency       time.Duration
	taskDurations map[string]time.Duration
}

var timingPresets = map[string]timingPreset{
	// No delays at all: the default.
	"none": {},
	// A vSphere 7/8 vCenter on a LAN, lightly loaded.
	"vcenter": {
		latency: 10 * time.Millisecond,
		taskDurations: map[string]time.Duration{
			"InstantClone_Task": 1 * time.Second,
			"CloneVM_Task":      4 * time.Second,
			"CreateVM_Task":     1 * time.Second,
			"RelocateVM_Task":   4 * time.Second,
			"PowerOnVM_Task":    1 * time.Second,
			"PowerOffVM_Task":   500 * time.Millisecond,
			"Destroy_Task":      500 * time.Millisecond,
			"ReconfigVM_Task":   300 * time.Millisecond,
		},
	},
}

func timingPresetNames() string {
	names := make([]string, 0, len(timingPresets))
	for name := range timingPresets {
		names = append(names, name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// applyTimingPreset fills cfg with the preset's delays, except those set by
// flags given explicitly (set: the names of the flags given).
func applyTimingPreset(cfg *config, set map[string]bool) error {
	preset, ok := timingPresets[cfg.timing]
	if !ok {
		return fmt.Errorf("--timing %q: unknown preset (known: %s)", cfg.timing, timingPresetNames())
	}
	if !set["latency"] {
		cfg.latency = preset.latency
	}
	for method, d := range preset.taskDurations {
		if _, given := cfg.taskDuration[method]; !given {
			cfg.taskDuration[method] = d
		}
	}
	return nil
}
