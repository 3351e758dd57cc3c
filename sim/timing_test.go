package main

import (
	"io"
	"testing"
	"time"
)

func TestTimingPreset(t *testing.T) {
	cfg, err := parseFlags([]string{"--timing", "vcenter"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.latency != 10*time.Millisecond || cfg.taskDuration["InstantClone_Task"] != time.Second ||
		cfg.taskDuration["PowerOffVM_Task"] != 500*time.Millisecond || cfg.taskDuration["CloneVM_Task"] <= time.Second {
		t.Errorf("vcenter preset: latency %v, tasks %v", cfg.latency, cfg.taskDuration)
	}
	// Explicit flags win, before or after the preset.
	cfg, err = parseFlags([]string{"--latency", "0", "--timing", "vcenter", "--task-duration", "InstantClone_Task=3s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.latency != 0 || cfg.taskDuration["InstantClone_Task"] != 3*time.Second || cfg.taskDuration["Destroy_Task"] != 500*time.Millisecond {
		t.Errorf("overridden preset: latency %v, tasks %v", cfg.latency, cfg.taskDuration)
	}
	cfg, err = parseFlags(nil, io.Discard)
	if err != nil || cfg.latency != 0 || len(cfg.taskDuration) != 0 || cfg.hostProvisioningLimit != 8 {
		t.Errorf("defaults: %v, %+v", err, cfg)
	}
	for _, bad := range [][]string{{"--timing", "fast"}, {"--host-provisioning-limit", "-1"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("%v: accepted", bad)
		}
	}
}
