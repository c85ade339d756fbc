package main

import (
	"runtime/debug"
	"testing"

	"github.com/rs/zerolog"
)

func TestApplyGCPercent(t *testing.T) {
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)

	t.Setenv("GOGC", "")
	applyGCPercent(40, true, zerolog.Nop())
	if got := debug.SetGCPercent(100); got != 40 {
		t.Errorf("without GOGC, --gc-percent 40 left the collector at %d", got)
	}

	t.Setenv("GOGC", "200")
	applyGCPercent(40, true, zerolog.Nop())
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set, --gc-percent 40 changed the collector to %d, want it left alone", got)
	}
}
