//go:build linux

package accounting

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// Delete refuses a group with a process, naming it, and removes nothing.
func TestDeleteRefusesNonEmpty(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		g := e.create("app")
		c := e.start("echo")
		if err := g.Add(c.pid()); err != nil {
			t.Fatal(err)
		}
		err := g.Delete()
		var ne *NotEmptyError
		if !errors.As(err, &ne) || !errors.Is(err, ErrNotEmpty) || !slices.Equal(ne.Pids, []int{c.pid()}) {
			t.Fatalf("Delete of a busy group = %v, want a NotEmptyError naming %d", err, c.pid())
		}
		for _, dir := range g.Paths() {
			if _, err := os.Stat(dir); err != nil {
				t.Errorf("refused Delete removed %s: %v", dir, err)
			}
		}
		if err := g.Destroy(); err != nil {
			t.Fatal(err)
		}
	})
}

// Delete removes the group, and cgroups an app made below it, from every
// cgroup mount (those accounting does not use included).
func TestDeleteRemovesEverywhere(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		g := e.create("app")
		for _, dir := range g.Paths() {
			if err := os.MkdirAll(filepath.Join(dir, "inner", "deeper"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := g.Delete(); err != nil {
			t.Fatal(err)
		}
		for _, mnt := range cgroupMounts(t) {
			dir := filepath.Join(mnt, e.parent, "app")
			if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("after Delete: %s (%v)", dir, err)
			}
		}
		if err := g.Delete(); !errors.Is(err, ErrNotFound) {
			t.Errorf("second Delete = %v, want ErrNotFound", err)
		}
		if _, err := g.Stats(); !errors.Is(err, ErrNotFound) {
			t.Errorf("Stats of a deleted group = %v, want ErrNotFound", err)
		}
	})
}

// Manager.Delete refuses while a group remains and then removes the
// parent from every hierarchy.
func TestManagerDelete(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		g := e.create("app")
		if err := e.m.Delete(); !errors.Is(err, ErrNotEmpty) {
			t.Fatalf("Manager.Delete with a group = %v, want ErrNotEmpty", err)
		}
		if _, err := e.m.Load("app"); err != nil {
			t.Fatalf("refused Manager.Delete broke the group: %v", err)
		}
		if err := g.Delete(); err != nil {
			t.Fatal(err)
		}
		if err := e.m.Delete(); err != nil {
			t.Fatal(err)
		}
		assertNoCgroup(t, e.parent)
		if err := e.m.Delete(); err != nil {
			t.Errorf("Manager.Delete again = %v, want nil", err)
		}
	})
}
