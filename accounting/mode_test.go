//go:build linux

package accounting

import (
	"errors"
	"testing"

	"github.com/containerd/cgroups/v3"
)

// Our detection agrees with containerd's on the real root.
func TestDetectModeMatchesContainerd(t *testing.T) {
	want := map[cgroups.CGMode]Mode{cgroups.Legacy: V1, cgroups.Hybrid: Hybrid, cgroups.Unified: V2}[cgroups.Mode()]
	got, err := detectMode(DefaultRoot)
	if want == 0 {
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("containerd sees no cgroups; detectMode = %v, %v", got, err)
		}
		return
	}
	if err != nil || got != want {
		t.Fatalf("detectMode = %v, %v; containerd says %v", got, err, want)
	}
}

func TestResolveMode(t *testing.T) {
	for _, c := range []struct {
		detected, forced, want Mode
	}{
		{V1, 0, V1}, {Hybrid, 0, Hybrid}, {V2, 0, V2},
		{Hybrid, V1, V1}, {V2, V2, V2},
		{V1, Hybrid, 0}, {V1, V2, 0}, {V2, V1, 0}, {Hybrid, V2, 0}, {V2, Hybrid, 0},
	} {
		got, err := resolveMode(c.detected, c.forced)
		if got != c.want || (c.want == 0) != errors.Is(err, ErrUnsupported) {
			t.Errorf("resolveMode(%v, %v) = %v, %v; want %v", c.detected, c.forced, got, err, c.want)
		}
	}
}

func TestModeString(t *testing.T) {
	for m, want := range map[Mode]string{V1: "v1", Hybrid: "hybrid", V2: "v2", 9: "Mode(9)"} {
		if m.String() != want {
			t.Errorf("Mode(%d).String() = %q, want %q", int(m), m.String(), want)
		}
	}
}

// NewManager refuses bad options and a root without cgroups, making
// nothing.
func TestNewManagerRefuses(t *testing.T) {
	for _, c := range []struct {
		parent string
		opts   []Option
		want   error
	}{
		{"", []Option{WithRoot("relative")}, ErrBadOption},
		{"", []Option{WithTimeout(0)}, ErrBadOption},
		{"", []Option{WithMode(7)}, ErrBadOption},
		{"", []Option{WithLeaf("a/b")}, ErrBadOption},
		{"..", nil, ErrBadName},
		{".", nil, ErrBadName},
		{"", []Option{WithRoot(t.TempDir())}, ErrUnavailable},
		{"", []Option{WithRoot("/nonexistent")}, ErrUnavailable},
	} {
		if _, err := NewManager(c.parent, c.opts...); !errors.Is(err, c.want) {
			t.Errorf("NewManager(%q, ...) = %v, want %v", c.parent, err, c.want)
		}
	}
}
